//! The results table: each probe run's results packed per region into compressed items (what
//! keeps the cost per check a fraction of a write unit), written in batches, read back by region.

use super::stats::item_size;
use super::{get_s, micros, s, sdk, DynamoStore, Item, BATCH, MAX_PACKED_BYTES, RESULTS_PER_ITEM};
use crate::StoreError;
use atalaya_core::ProbeResult;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    // Level 6: level 3 wrote 40 % more bytes (and write units) for no CPU the bench could see.
    // JSON of states and results compresses about tenfold: room for that from the start.
    let out = Vec::with_capacity(bytes.len() / 8);
    let mut e = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// The most a stored item decompresses to: an item holds 400 KB; JSON of results or of a state
/// compresses about tenfold, so this is far above any real item and far below a gzip bomb.
const MAX_UNPACKED_BYTES: u64 = 64 << 20;

pub(super) fn gunzip(bytes: &[u8], what: &str) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_UNPACKED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Invalid(format!("{what} is not valid gzip: {e}")))?;
    if out.len() as u64 > MAX_UNPACKED_BYTES {
        return Err(StoreError::Invalid(format!(
            "{what} decompresses to more than {} MiB",
            MAX_UNPACKED_BYTES >> 20
        )));
    }
    Ok(out)
}

/// Packs results into compressed blobs of at most [`RESULTS_PER_ITEM`] results and
/// [`MAX_PACKED_BYTES`] bytes each (what one results item holds).
pub fn pack_results(results: &[ProbeResult]) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut out = Vec::new();
    let mut todo: Vec<&[ProbeResult]> = results.chunks(RESULTS_PER_ITEM).rev().collect();
    while let Some(chunk) = todo.pop() {
        let packed = gzip(&serde_json::to_vec(chunk)?);
        if packed.len() > MAX_PACKED_BYTES && chunk.len() > 1 {
            let (a, b) = chunk.split_at(chunk.len() / 2);
            todo.push(b);
            todo.push(a);
        } else {
            out.push(packed);
        }
    }
    Ok(out)
}

/// The results of one packed item (as read from the table or from its stream).
pub fn unpack_results(blob: &[u8]) -> Result<Vec<ProbeResult>, StoreError> {
    Ok(serde_json::from_slice(&gunzip(blob, "a results item")?)?)
}

impl DynamoStore {
    /// Results items for `results`, grouped by region: each holds up to [`RESULTS_PER_ITEM`]
    /// results, compressed. The key is deterministic (region, first time, content hash), so
    /// writing the same results again overwrites the same item.
    fn result_items(&self, results: &[ProbeResult]) -> Result<Vec<(usize, Item)>, StoreError> {
        let mut by_region: BTreeMap<&str, Vec<ProbeResult>> = BTreeMap::new();
        for r in results {
            by_region.entry(&r.region).or_default().push(r.clone());
        }
        let mut items = Vec::new();
        for (region, mut rs) in by_region {
            rs.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.check.cmp(&b.check)));
            for blob in pack_results(&rs)? {
                let inside = unpack_results(&blob)?;
                let (first, last) = (inside[0].at, inside[inside.len() - 1].at);
                let expires = last.timestamp() + self.results_ttl.as_secs() as i64;
                let item = HashMap::from([
                    ("pk".to_string(), s(region)),
                    (
                        "sk".to_string(),
                        s(format!(
                            "{}#{:016x}",
                            micros(first),
                            atalaya_core::schedule::stable_hash(&blob)
                        )),
                    ),
                    (
                        "count".to_string(),
                        AttributeValue::N(inside.len().to_string()),
                    ),
                    ("results".to_string(), AttributeValue::B(Blob::new(blob))),
                    ("ttl".to_string(), AttributeValue::N(expires.to_string())),
                ]);
                items.push((inside.len(), item));
            }
        }
        Ok(items)
    }

    /// The results of one region in the items whose first result is at or after `since`
    /// (a run's results share an item), oldest item first.
    pub(super) async fn read_results(
        &self,
        region: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.tables.results)
            .key_condition_expression("pk = :r AND sk >= :since")
            .expression_attribute_values(":r", s(region))
            .expression_attribute_values(":since", s(micros(since)))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk("read results", e))?;
        let mut out = Vec::new();
        for item in &items {
            let blob = item
                .get("results")
                .and_then(|v| v.as_b().ok())
                .ok_or_else(|| StoreError::Invalid("results item without results".into()))?;
            out.extend(unpack_results(blob.as_ref())?);
        }
        Ok(out)
    }

    /// Packs the results per region (see [`pack_results`]) and writes the items in batches of
    /// [`BATCH`], resending what DynamoDB leaves unprocessed with exponential backoff until
    /// `deadline`. Returns how many results were written; never `Ok` with one unwritten.
    pub(super) async fn write_results(
        &self,
        results: &[ProbeResult],
        deadline: Instant,
    ) -> Result<usize, StoreError> {
        let items = self.result_items(results)?;
        let mut written = 0;
        for chunk in items.chunks(BATCH) {
            let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
            let mut requests = Vec::with_capacity(chunk.len());
            for (n, item) in chunk {
                let sk = get_s(item, "sk")?.to_string();
                counts.insert(sk, (*n, item_size(item)));
                let put = PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            let mut backoff = Duration::from_millis(50);
            let mut pending = requests;
            loop {
                let sent: Vec<String> = pending
                    .iter()
                    .filter_map(|w| w.put_request())
                    .filter_map(|p| p.item().get("sk"))
                    .filter_map(|v| v.as_s().ok().cloned())
                    .collect();
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.tables.results, pending)
                    .send()
                    .await
                    .map_err(|e| sdk("write results", e))?;
                let left: Vec<WriteRequest> = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.tables.results))
                    .unwrap_or_default();
                let unwritten: Vec<String> = left
                    .iter()
                    .filter_map(|w| w.put_request())
                    .filter_map(|p| p.item().get("sk"))
                    .filter_map(|v| v.as_s().ok().cloned())
                    .collect();
                for sk in sent.iter().filter(|sk| !unwritten.contains(sk)) {
                    if let Some((n, size)) = counts.get(sk) {
                        written += n;
                        self.stats.add(&self.tables.results, *size, false);
                    }
                }
                if left.is_empty() {
                    break;
                }
                if Instant::now() + backoff > deadline {
                    return Err(StoreError::Aws {
                        what: "write results".into(),
                        retryable: true,
                        detail: format!(
                            "{} results items still unprocessed at the deadline",
                            left.len()
                        ),
                    });
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                pending = left;
            }
        }
        Ok(written)
    }
}

impl DynamoStore {
    /// The `ttl` attribute (epoch seconds) of each results item of `region`, oldest first.
    pub async fn result_ttls(&self, region: &str) -> Result<Vec<i64>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.results)
            .key_condition_expression("pk = :r")
            .expression_attribute_values(":r", s(region))
            .send()
            .await
            .map_err(|e| sdk("read results", e))?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| i.get("ttl").and_then(|v| v.as_n().ok()))
            .filter_map(|n| n.parse().ok())
            .collect())
    }
}
