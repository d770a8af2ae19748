//! DynamoDB: the store the Lambda functions use.
//!
//! Tables (docs/data-model.md):
//! - results: `pk` = region, `sk` = `<first result's time>#<content hash>`; the results of one
//!   probe run packed together, gzip-compressed JSON (`results`, binary), with a `ttl` so
//!   DynamoDB expires them. Packing is what keeps the cost per check a fraction of a write unit.
//! - state: `pk` = `engine` with `version` and the engine state (gzip-compressed JSON); written
//!   only with a condition on the version read.
//! - incidents: `pk` = incident id; the incident with its timeline, written in the same
//!   transaction as the state whenever it changes.
//! - outbox: `pk` = event id; `message` as JSON; `pending` = `1` while unsent (a sparse index on it
//!   lists what is left to publish).

use crate::{Store, StoreError, Versioned};
use atalaya_core::evaluate::{Incident, State};
use atalaya_core::{Message, ProbeResult};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, PutRequest, ScalarAttributeType, TransactWriteItem,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most items in one BatchWriteItem call (a DynamoDB limit moto does not enforce).
pub const BATCH: usize = 25;
/// Most items in one TransactWriteItems call.
pub const TRANSACTION: usize = 100;
/// Results packed into one item at most (a run's results are split into items of this many).
pub const RESULTS_PER_ITEM: usize = 400;
/// A packed item's compressed size at most; bigger packs are split (DynamoDB's item limit is
/// 400 KB, and a stream batch must fit Lambda's 6 MB event).
pub const MAX_PACKED_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug)]
pub struct Tables {
    pub results: String,
    pub state: String,
    pub incidents: String,
    pub outbox: String,
}

impl Tables {
    /// `<prefix>results`, `<prefix>state`, `<prefix>incidents`, `<prefix>outbox`.
    pub fn with_prefix(prefix: &str) -> Self {
        Tables {
            results: format!("{prefix}results"),
            state: format!("{prefix}state"),
            incidents: format!("{prefix}incidents"),
            outbox: format!("{prefix}outbox"),
        }
    }

    /// From the environment: `ATALAYA_TABLE_PREFIX` (default `atalaya-`), each name
    /// overridable with `ATALAYA_RESULTS_TABLE`, `ATALAYA_STATE_TABLE`,
    /// `ATALAYA_INCIDENTS_TABLE`, `ATALAYA_OUTBOX_TABLE`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let prefix = var("ATALAYA_TABLE_PREFIX").unwrap_or_else(|| "atalaya-".into());
        let mut t = Tables::with_prefix(&prefix);
        for (name, slot) in [
            ("ATALAYA_RESULTS_TABLE", &mut t.results),
            ("ATALAYA_STATE_TABLE", &mut t.state),
            ("ATALAYA_INCIDENTS_TABLE", &mut t.incidents),
            ("ATALAYA_OUTBOX_TABLE", &mut t.outbox),
        ] {
            if let Some(v) = var(name) {
                *slot = v;
            }
        }
        t
    }
}

/// What a store wrote, per table: items, bytes (DynamoDB's item size: attribute names plus
/// values) and write request units (1 per KB or part of one, per item; twice that inside a
/// transaction). The cost figures of docs/data-model.md are computed from these.
#[derive(Debug, Default)]
pub struct WriteStats {
    tables: Mutex<BTreeMap<String, TableWrites>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct TableWrites {
    pub items: u64,
    pub bytes: u64,
    pub write_units: u64,
}

impl WriteStats {
    fn add(&self, table: &str, size: usize, transactional: bool) {
        let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let w = t.entry(table.to_string()).or_default();
        w.items += 1;
        w.bytes += size as u64;
        w.write_units += (size.max(1) as u64).div_ceil(1024) * if transactional { 2 } else { 1 };
    }

    /// Writes so far, by table name.
    pub fn snapshot(&self) -> BTreeMap<String, TableWrites> {
        self.tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// DynamoDB's size of an attribute value (numbers approximated by their digits).
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => 3 + item_size(m),
        _ => 0,
    }
}

/// DynamoDB's size of an item: each attribute's name plus its value.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// A DynamoDB item.
type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    tables: Tables,
    results_ttl: Duration,
    stats: Arc<WriteStats>,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

fn gunzip(bytes: &[u8], what: &str) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Invalid(format!("{what} is not valid gzip: {e}")))?;
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

fn micros(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn sdk<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    e: aws_sdk_dynamodb::error::SdkError<E>,
) -> StoreError {
    let f = atalaya_aws::classify(&e);
    StoreError::Aws {
        what: what.to_string(),
        retryable: f.retryable,
        detail: f.detail,
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, key: &str) -> Result<&'a str, StoreError> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Invalid(format!("item without {key}")))
}

impl DynamoStore {
    /// A client for `region`, at `endpoint` when given (moto in tests); retries and timeouts as
    /// in [`atalaya_aws::sdk_config`].
    pub async fn connect(
        region: &str,
        endpoint: Option<&str>,
        tables: Tables,
        results_ttl: Duration,
    ) -> Self {
        let config = atalaya_aws::sdk_config(region, endpoint).await;
        DynamoStore {
            client: Client::new(&config),
            tables,
            results_ttl,
            stats: Arc::default(),
        }
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// What this store has written so far.
    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Creates the four tables (on-demand billing) and turns on the results' TTL. Deployments
    /// create them from the templates; this is for tests and development.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attr")
        };
        self.client
            .create_table()
            .table_name(&self.tables.results)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            // The alert function is triggered by this stream.
            .stream_specification(
                aws_sdk_dynamodb::types::StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| sdk("create results table", e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.tables.results)
            .time_to_live_specification(
                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("ttl")
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| sdk("enable the results' TTL", e))?;
        for (table, what) in [
            (&self.tables.state, "create state table"),
            (&self.tables.incidents, "create incidents table"),
        ] {
            self.client
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(key("pk", KeyType::Hash))
                .attribute_definitions(attr("pk"))
                .send()
                .await
                .map_err(|e| sdk(what, e))?;
        }
        let pending = GlobalSecondaryIndex::builder()
            .index_name("pending")
            .key_schema(key("pending", KeyType::Hash))
            .key_schema(key("created", KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("index");
        self.client
            .create_table()
            .table_name(&self.tables.outbox)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("pending"))
            .attribute_definitions(attr("created"))
            .global_secondary_indexes(pending)
            .send()
            .await
            .map_err(|e| sdk("create outbox table", e))?;
        Ok(())
    }

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
    pub async fn results(
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

    /// Records messages in the outbox, each once: a conditional put keyed by the event id, so a
    /// retried invocation or a duplicate stream delivery records nothing twice. Returns how many
    /// were new.
    pub async fn enqueue(&self, messages: &[Message]) -> Result<usize, StoreError> {
        let mut new = 0;
        for m in messages {
            let item = outbox_item(m)?;
            let size = item_size(&item);
            let result = self
                .client
                .put_item()
                .table_name(&self.tables.outbox)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match result {
                Ok(_) => {
                    new += 1;
                    self.stats.add(&self.tables.outbox, size, false);
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk("record message", e)),
            }
        }
        Ok(new)
    }

    /// Writes incidents outside a transaction (only those that did not fit in one).
    async fn put_incidents(&self, incidents: &[&Incident]) -> Result<(), StoreError> {
        for i in incidents {
            let item = incident_item(i)?;
            self.stats
                .add(&self.tables.incidents, item_size(&item), false);
            self.client
                .put_item()
                .table_name(&self.tables.incidents)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| sdk("write incident", e))?;
        }
        Ok(())
    }

    /// An update of a message item (claims, marks), counted as one write unit.
    fn count_update(&self) {
        self.stats.add(&self.tables.outbox, 1, false);
    }
}

fn outbox_item(m: &Message) -> Result<HashMap<String, AttributeValue>, StoreError> {
    Ok(HashMap::from([
        ("pk".to_string(), s(m.id.clone())),
        ("message".to_string(), s(serde_json::to_string(m)?)),
        ("pending".to_string(), s("1")),
        (
            "created".to_string(),
            s(format!("{}#{}", micros(m.at), m.id)),
        ),
    ]))
}

fn incident_item(i: &Incident) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item = HashMap::from([
        ("pk".to_string(), s(i.id.clone())),
        ("service".to_string(), s(i.service.clone())),
        ("opened_at".to_string(), s(micros(i.opened_at))),
        ("incident".to_string(), s(serde_json::to_string(i)?)),
    ]);
    if i.is_open() {
        item.insert("open".to_string(), s("1"));
    }
    Ok(item)
}

fn put(table: &str, item: HashMap<String, AttributeValue>) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Store for DynamoStore {
    /// Packs the results per region (see [`pack_results`]) and writes the items in batches of
    /// [`BATCH`], resending what DynamoDB leaves unprocessed with exponential backoff until
    /// `deadline`. Returns how many results were written; never `Ok` with one unwritten.
    async fn put_results(
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

    async fn load_state(&self) -> Result<Versioned, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("pk", s("engine"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read state", e))?;
        let Some(item) = out.item else {
            return Ok(Versioned::default());
        };
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Invalid("state without version".into()))?;
        let state = match item.get("state") {
            Some(AttributeValue::B(b)) => {
                serde_json::from_slice(&gunzip(b.as_ref(), "the stored state")?)?
            }
            _ => return Err(StoreError::Invalid("state item without state".into())),
        };
        Ok(Versioned { state, version })
    }

    /// Saves `state` over `base`, the incidents that changed, and records `messages` in one
    /// transaction: either the new state, its incidents and all its messages are stored, or
    /// nothing is (a version conflict, or messages already recorded by a racing invocation that
    /// committed this very transition). What does not fit in one transaction (100 items) is
    /// written right after, each message once.
    async fn commit(
        &self,
        base: &Versioned,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError> {
        let version = base.version;
        let next = version + 1;
        let state_item = HashMap::from([
            ("pk".to_string(), s("engine")),
            ("version".to_string(), AttributeValue::N(next.to_string())),
            (
                "state".to_string(),
                AttributeValue::B(Blob::new(gzip(&serde_json::to_vec(state)?))),
            ),
        ]);
        let mut sizes = vec![(self.tables.state.as_str(), item_size(&state_item))];
        let mut state_put = Put::builder()
            .table_name(&self.tables.state)
            .set_item(Some(state_item));
        state_put = if version == 0 {
            state_put.condition_expression("attribute_not_exists(pk)")
        } else {
            state_put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        };
        let mut items = vec![TransactWriteItem::builder()
            .put(
                state_put
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .build()];
        let changed: Vec<&Incident> = state.changed_incidents(&base.state).collect();
        let room = TRANSACTION - 1;
        let (incidents_now, incidents_later) = changed.split_at(changed.len().min(room));
        for i in incidents_now {
            let item = incident_item(i)?;
            sizes.push((self.tables.incidents.as_str(), item_size(&item)));
            items.push(
                TransactWriteItem::builder()
                    .put(put(&self.tables.incidents, item)?)
                    .build(),
            );
        }
        let room = TRANSACTION - items.len();
        let (now, later) = messages.split_at(messages.len().min(room));
        for m in now {
            let item = outbox_item(m)?;
            sizes.push((self.tables.outbox.as_str(), item_size(&item)));
            let put = Put::builder()
                .table_name(&self.tables.outbox)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => {
                for (table, size) in sizes {
                    self.stats.add(table, size, true);
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                return Err(StoreError::Conflict { expected: version });
            }
            Err(e) => return Err(sdk("commit state, incidents and messages", e)),
        }
        self.put_incidents(incidents_later).await?;
        self.enqueue(later).await?;
        Ok(next)
    }

    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        let mut scan = self.client.scan().table_name(&self.tables.incidents);
        if open_only {
            scan = scan
                .filter_expression("attribute_exists(#o)")
                .expression_attribute_names("#o", "open");
        }
        let items = scan
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk("read incidents", e))?;
        let mut out: Vec<Incident> = items
            .iter()
            .map(|i| Ok(serde_json::from_str(get_s(i, "incident")?)?))
            .collect::<Result<_, StoreError>>()?;
        out.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| b.id.cmp(&a.id)));
        Ok(out)
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.incidents)
            .key("pk", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read incident", e))?;
        out.item
            .map(|i| Ok(serde_json::from_str(get_s(&i, "incident")?)?))
            .transpose()
    }

    /// BatchGetItem, 100 keys at a time, asking again for what DynamoDB leaves unprocessed.
    async fn messages(&self, ids: &[String]) -> Result<Vec<Message>, StoreError> {
        let mut found: HashMap<String, Message> = HashMap::new();
        for chunk in ids.chunks(100) {
            let keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|id| HashMap::from([("pk".to_string(), s(id.clone()))]))
                .collect();
            let mut request = Some(
                aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            );
            for _ in 0..10 {
                let Some(keys) = request.take() else { break };
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.outbox, keys)
                    .send()
                    .await
                    .map_err(|e| sdk("read messages", e))?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.tables.outbox)
                    .unwrap_or_default()
                {
                    let m: Message = serde_json::from_str(get_s(&item, "message")?)?;
                    found.insert(m.id.clone(), m);
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.tables.outbox))
                    .filter(|k| !k.keys.is_empty());
            }
            if request.is_some() {
                return Err(StoreError::Aws {
                    what: "read messages".into(),
                    retryable: true,
                    detail: "DynamoDB kept keys unprocessed; try again".into(),
                });
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Messages recorded and not yet published, oldest first.
    async fn pending(&self) -> Result<Vec<Message>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.tables.outbox)
            .index_name("pending")
            .key_condition_expression("pending = :p")
            .expression_attribute_values(":p", s("1"))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk("read outbox", e))?;
        let out = items
            .iter()
            .map(|i| Ok(serde_json::from_str(get_s(i, "message")?)?))
            .collect::<Result<Vec<Message>, StoreError>>()?;
        Ok(out)
    }

    /// Claims a pending message for publishing, for `lease`: of several invocations publishing
    /// at once, only the one that claims it publishes it. A claim left by an invocation that
    /// died expires, and the message is published by the next one.
    async fn claim(
        &self,
        id: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = now + chrono::TimeDelta::from_std(lease).unwrap_or_default();
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("SET claimed_until = :until")
            .condition_expression("attribute_exists(pending) AND (attribute_not_exists(claimed_until) OR claimed_until < :now)")
            .expression_attribute_values(":until", AttributeValue::N(until.timestamp_millis().to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp_millis().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => {
                self.count_update();
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk("claim message", e)),
        }
    }

    /// Gives a claim back (the publish failed): the next invocation may publish at once.
    async fn release(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("REMOVE claimed_until")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk("release message", e))?;
        self.count_update();
        Ok(())
    }

    /// Marks a message published: it leaves the pending index.
    async fn mark_sent(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("REMOVE pending SET sent_at = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", s(chrono::Utc::now().to_rfc3339()))
            .send()
            .await
            .map_err(|e| sdk("mark message sent", e))?;
        self.count_update();
        Ok(())
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
