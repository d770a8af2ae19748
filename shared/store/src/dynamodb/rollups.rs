//! Rollups in the state table.
//!
//! - Services: one item per service and UTC day (`pk = rollup#<service>#<YYYY-MM-DD>`) with an
//!   attribute per completed hour (`h00` … `h23`: milliseconds up, degraded, down, unknown, in
//!   maintenance), written by the alert function once the hour is over (setting an hour twice
//!   writes the same thing).
//! - Checks per region and latency: one item per service, UTC hour and region
//!   (`pk = rollup#<service>#<YYYY-MM-DDTHH>#<region>`, `detail`: gzip of the JSON of
//!   [`Detail`]: each of the service's checks' time in that region, latency sketches of each and
//!   of the service there), put by the hourly job from the results table
//!   (`atalaya_app::rollup_job`), which then puts `pk = rollups-done#<YYYY-MM-DDTHH>#<region>`.
//!   An item per region, not a part per region in one item: DynamoDB bills an update by the
//!   whole item, so five regions' parts in one item would cost three times their bytes.
//! - The evaluator's pulse (`pk = alive#evaluate`): when it last ran, so the time it was not
//!   running is counted unknown.
//!
//! All kept [`KEEP_DAYS`] (`expires`, the table's TTL).

use super::results::{gunzip, gzip, unpack_results};
use super::{micros, s, sdk, DynamoStore};
use crate::{HourlyRollups, Rollups, StoreError, Written};
use atalaya_core::rollup::{Detail, Hours, Millis, Subject};
use atalaya_core::ProbeResult;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Timelike, Utc};
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How long hours are kept (beyond the 400 days reports and pages may read).
pub const KEEP_DAYS: i64 = 400;
const ALIVE: &str = "alive#evaluate";

fn key(service: &str, day: NaiveDate) -> String {
    format!("rollup#{service}#{}", day.format("%Y-%m-%d"))
}

fn hour_key(service: &str, hour: DateTime<Utc>, region: &str) -> String {
    format!("rollup#{service}#{}#{region}", hour.format("%Y-%m-%dT%H"))
}

fn done_key(hour: DateTime<Utc>, region: &str) -> String {
    format!("rollups-done#{}#{region}", hour.format("%Y-%m-%dT%H"))
}

/// The most one region's part of a service's hour may take (docs/performance.md: no item over
/// 100 KB; a part is about 300 bytes a check).
pub const MAX_PART_BYTES: usize = 64 * 1024;

/// Hours from `from` to `to` (starts of hours; `from` rounded down), at most a year and a bit.
fn hours_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut h = from.duration_trunc(TimeDelta::hours(1)).unwrap_or(from);
    while h < to && out.len() < 24 * 2 * KEEP_DAYS as usize {
        out.push(h);
        h += TimeDelta::hours(1);
    }
    out
}

fn expires(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N((t + TimeDelta::days(KEEP_DAYS + 1)).timestamp().to_string())
}

fn encode(m: &Millis) -> String {
    format!(
        "{},{},{},{},{}",
        m.up, m.degraded, m.down, m.unknown, m.maintenance
    )
}

fn decode(v: &str) -> Result<Millis, StoreError> {
    let n: Vec<u64> = v
        .split(',')
        .map(|x| x.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Invalid(format!("rollup hour {v:?}: {e}")))?;
    match n[..] {
        [up, degraded, down, unknown, maintenance] => Ok(Millis {
            up,
            degraded,
            down,
            unknown,
            maintenance,
        }),
        _ => Err(StoreError::Invalid(format!(
            "rollup hour {v:?}: five numbers expected"
        ))),
    }
}

/// The time a pulse item holds.
fn pulse(item: Option<&HashMap<String, AttributeValue>>) -> Option<DateTime<Utc>> {
    item.and_then(|a| a.get("at"))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis)
}

impl DynamoStore {
    /// Each hour of `service` from `from` to `to` the hourly job wrote in these `regions`,
    /// the regions' parts merged.
    async fn hour_details(
        &self,
        service: &str,
        regions: &BTreeSet<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<DateTime<Utc>, Detail>, StoreError> {
        let mut keys = Vec::new();
        let mut by_key: HashMap<String, DateTime<Utc>> = HashMap::new();
        for h in hours_between(from, to) {
            for r in regions {
                let k = hour_key(service, h, r);
                by_key.insert(k.clone(), h);
                keys.push(k);
            }
        }
        // A month in five regions is 3,600 keys: 36 calls of 100, 8 in flight.
        let chunks: Vec<Vec<String>> = keys.chunks(100).map(<[String]>::to_vec).collect();
        let pages: Vec<Vec<_>> = futures::stream::iter(chunks)
            .map(|chunk| async move {
                self.batch_get(&self.tables.state, &chunk, false, "read rollups")
                    .await
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        let mut out: BTreeMap<DateTime<Utc>, Detail> = BTreeMap::new();
        for item in pages.into_iter().flatten() {
            let Some((pk, hour)) = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .and_then(|k| by_key.get(k).map(|h| (k, *h)))
            else {
                continue;
            };
            if let Some(AttributeValue::B(b)) = item.get("detail") {
                let what = format!("the rollup {pk}");
                let part: Detail = serde_json::from_slice(&gunzip(b.as_ref(), &what)?)?;
                out.entry(hour).or_default().merge(&part);
            }
        }
        Ok(out)
    }

    /// The hours of `service`'s day items.
    async fn read_hours(
        &self,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Hours, StoreError> {
        let mut days = Vec::new();
        let mut d = from.date_naive();
        while d <= to.date_naive() && days.len() < 2 * KEEP_DAYS as usize {
            days.push(d);
            d += TimeDelta::days(1);
        }
        let keys: Vec<String> = days.iter().map(|d| key(service, *d)).collect();
        let mut out = Hours::new();
        for item in self
            .batch_get(&self.tables.state, &keys, false, "read rollups")
            .await?
        {
            let Some(day) = item
                .get("day")
                .and_then(|v| v.as_s().ok())
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            for h in 0..24u32 {
                if let Some(AttributeValue::S(v)) = item.get(&format!("h{h:02}")) {
                    let t = day.and_hms_opt(h, 0, 0).unwrap_or_default().and_utc();
                    if from <= t && t < to {
                        out.insert(t, decode(v)?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Sets these hour attributes of `service`'s item for `day`.
    async fn set_hours(
        &self,
        service: &str,
        day: NaiveDate,
        hours: &[(String, &Millis)],
    ) -> Result<(), StoreError> {
        let expires = (day + TimeDelta::days(KEEP_DAYS + 1))
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp();
        let mut set = vec!["#day = :day".to_string(), "#exp = :exp".to_string()];
        let mut u = self
            .client
            .update_item()
            .table_name(&self.tables.state)
            .key("pk", s(key(service, day)))
            .expression_attribute_names("#day", "day")
            .expression_attribute_names("#exp", "expires")
            .expression_attribute_values(":day", s(day.format("%Y-%m-%d").to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(expires.to_string()));
        for (i, (name, m)) in hours.iter().enumerate() {
            set.push(format!("#a{i} = :a{i}"));
            u = u
                .expression_attribute_names(format!("#a{i}"), name.clone())
                .expression_attribute_values(format!(":a{i}"), s(encode(m)));
        }
        u.update_expression(format!("SET {}", set.join(", ")))
            .send()
            .await
            .map_err(|e| sdk("write rollups", e))?;
        self.stats
            .add(&self.rollups_stats(), 64 + 48 * hours.len(), false);
        Ok(())
    }
}

impl Rollups for DynamoStore {
    async fn service_hours(
        &self,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Hours, StoreError> {
        self.read_hours(service, from, to).await
    }

    async fn check_hours(
        &self,
        service: &str,
        check: &str,
        region: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Hours, StoreError> {
        let key = atalaya_core::rollup::check_key(check, region);
        Ok(self
            .hour_details(service, &BTreeSet::from([region]), from, to)
            .await?
            .into_iter()
            .filter_map(|(h, d)| d.checks.get(&key).map(|m| (h, *m)))
            .collect())
    }

    async fn detail(
        &self,
        service: &str,
        subjects: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Detail, StoreError> {
        // The regions are those the subjects name (`<check>@<region>`).
        let regions: BTreeSet<&str> = subjects
            .iter()
            .filter_map(|k| match Subject::parse(k) {
                Subject::Check { region, .. } => Some(region),
                Subject::Service(_) => None,
            })
            .collect();
        let mut out = Detail::default();
        for d in self
            .hour_details(service, &regions, from, to)
            .await?
            .values()
        {
            out.merge(d);
        }
        out.checks.retain(|k, _| subjects.contains(k));
        out.latency
            .retain(|k, _| k == service || subjects.contains(k));
        Ok(out)
    }

    async fn write_hours(
        &self,
        by_service: &BTreeMap<String, BTreeMap<String, Hours>>,
    ) -> Result<(), StoreError> {
        for (service, subjects) in by_service {
            // By day: one update per service and day sets every hour of it at once.
            let mut by_day: BTreeMap<NaiveDate, Vec<(String, &Millis)>> = BTreeMap::new();
            for (subject, hours) in subjects {
                if subject != service {
                    // Each check's hours per region are the hourly job's (HourlyRollups).
                    return Err(StoreError::Invalid(format!(
                        "rollups of {subject}: on DynamoDB only services' hours are written this way"
                    )));
                }
                for (t, m) in hours {
                    by_day
                        .entry(t.date_naive())
                        .or_default()
                        .push((format!("h{:02}", t.hour()), m));
                }
            }
            for (day, list) in by_day {
                // An update expression stays well under DynamoDB's 4 KB by taking 40 at a time.
                for chunk in list.chunks(40) {
                    self.set_hours(service, day, chunk).await?;
                }
            }
        }
        Ok(())
    }

    async fn alive(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.state)
            .key("pk", s(ALIVE))
            .update_expression("SET #at = :now")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|e| sdk("record the evaluator's pulse", e))?;
        self.stats.add(&self.tables.state, 64, false);
        Ok(pulse(out.attributes.as_ref()))
    }

    async fn last_alive(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("pk", s(ALIVE))
            .send()
            .await
            .map_err(|e| sdk("read the evaluator's pulse", e))?;
        Ok(pulse(out.item.as_ref()))
    }
}

/// One region's part of a service's hour, compressed, under [`MAX_PART_BYTES`]: when each
/// check's latency does not fit, the part keeps the service's (and says it was trimmed).
fn part(service: &str, d: &Detail) -> Result<(Vec<u8>, bool), StoreError> {
    let blob = gzip(&serde_json::to_vec(d)?);
    if blob.len() <= MAX_PART_BYTES {
        return Ok((blob, false));
    }
    let mut trimmed = d.clone();
    trimmed.latency.retain(|k, _| k == service);
    let blob = gzip(&serde_json::to_vec(&trimmed)?);
    if blob.len() <= MAX_PART_BYTES {
        return Ok((blob, true));
    }
    trimmed.checks.clear();
    Ok((gzip(&serde_json::to_vec(&trimmed)?), true))
}

impl HourlyRollups for DynamoStore {
    async fn regions_done(
        &self,
        hours: &[DateTime<Utc>],
        regions: &BTreeSet<String>,
    ) -> Result<BTreeMap<DateTime<Utc>, BTreeSet<String>>, StoreError> {
        let mut by_key: HashMap<String, (DateTime<Utc>, &String)> = HashMap::new();
        for h in hours {
            for r in regions {
                by_key.insert(done_key(*h, r), (*h, r));
            }
        }
        let keys: Vec<String> = by_key.keys().cloned().collect();
        let mut out: BTreeMap<DateTime<Utc>, BTreeSet<String>> = BTreeMap::new();
        for item in self
            .batch_get(
                &self.tables.state,
                &keys,
                true,
                "read the rollup job's progress",
            )
            .await?
        {
            if let Some((h, r)) = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .and_then(|k| by_key.get(k))
            {
                out.entry(*h).or_default().insert(r.to_string());
            }
        }
        Ok(out)
    }

    async fn each_results_page(
        &self,
        region: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: &mut (dyn FnMut(Vec<ProbeResult>) + Send),
    ) -> Result<(usize, usize), StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.results)
            .key_condition_expression("pk = :r AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":r", s(region))
            .expression_attribute_values(":from", s(micros(from)))
            // Every key of a run that started before `to` sorts before this one.
            .expression_attribute_values(":to", s(micros(to)))
            // Names, not words: a projection must not meet DynamoDB's reserved words.
            .projection_expression("#sk, #results")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_names("#results", "results")
            .into_paginator()
            .send();
        let (mut read, mut unreadable) = (0, 0);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("read results", e))?;
            let mut results = Vec::new();
            for item in page.items() {
                let unpacked = item
                    .get("results")
                    .and_then(|v| v.as_b().ok())
                    .ok_or_else(|| StoreError::Invalid("results item without results".into()))
                    .and_then(|b| unpack_results(b.as_ref()));
                match unpacked {
                    Ok(r) => results.extend(r),
                    Err(e) => {
                        unreadable += 1;
                        tracing::error!(region, sk = ?item.get("sk"), error = %e, "unreadable results item left out of the rollups");
                    }
                }
            }
            read += results.len();
            each(results);
        }
        Ok((read, unreadable))
    }

    async fn write_region_hour(
        &self,
        region: &str,
        hour: DateTime<Utc>,
        by_service: &BTreeMap<String, Detail>,
    ) -> Result<Written, StoreError> {
        let parts: Vec<(String, Vec<u8>, bool)> = by_service
            .iter()
            .map(|(service, d)| {
                part(service, d).map(|(b, t)| (hour_key(service, hour, region), b, t))
            })
            .collect::<Result<_, _>>()?;
        let hour_text = hour.format("%Y-%m-%dT%H").to_string();
        let sizes: Vec<(usize, bool)> = futures::stream::iter(parts)
            .map(|(pk, blob, trimmed)| {
                let hour_text = hour_text.clone();
                async move {
                    let size = blob.len() + pk.len() + 60;
                    self.client
                        .put_item()
                        .table_name(&self.tables.state)
                        .item("pk", s(pk))
                        .item("detail", AttributeValue::B(Blob::new(blob)))
                        .item("hour", s(hour_text))
                        .item("expires", expires(hour))
                        .send()
                        .await
                        .map_err(|e| sdk("write rollups", e))?;
                    self.stats.add(&self.rollups_stats(), size, false);
                    Ok::<_, StoreError>((size, trimmed))
                }
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
        self.client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", s(done_key(hour, region)))
            .item(
                "at",
                AttributeValue::N(chrono::Utc::now().timestamp_millis().to_string()),
            )
            // The progress is worth a few days (the job looks back a day).
            .item(
                "expires",
                AttributeValue::N((hour + TimeDelta::days(7)).timestamp().to_string()),
            )
            .send()
            .await
            .map_err(|e| sdk("record the rollup job's progress", e))?;
        self.stats.add(&self.rollups_stats(), 64, false);
        Ok(Written {
            items: sizes.len(),
            bytes: sizes.iter().map(|x| x.0).sum(),
            largest: sizes.iter().map(|x| x.0).max().unwrap_or(0),
            trimmed: sizes.iter().filter(|x| x.1).count(),
        })
    }
}
