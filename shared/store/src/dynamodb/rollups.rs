//! Rollups in the state table: one item per service and UTC day (`pk = rollup#<service>#<day>`)
//! with an attribute per completed hour (`h00` … `h23`: milliseconds up, degraded, down,
//! unknown, in maintenance), and one per hour for each of its checks in each region
//! (`h00:<check>@<region>`), written by the alert function once the hour is over (setting an
//! hour twice writes the same thing), kept [`KEEP_DAYS`] (`expires`, the table's TTL). And the
//! evaluator's pulse (`pk = alive#evaluate`): when it last ran, so the time it was not running
//! is counted unknown.

use super::{s, sdk, DynamoStore};
use crate::{Rollups, StoreError};
use atalaya_core::rollup::{Hours, Millis};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use std::collections::{BTreeMap, HashMap};

/// How long hours are kept (beyond the 400 days reports and pages may read).
pub const KEEP_DAYS: i64 = 400;
const ALIVE: &str = "alive#evaluate";

fn key(service: &str, day: NaiveDate) -> String {
    format!("rollup#{service}#{}", day.format("%Y-%m-%d"))
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
    /// The hours of `service`'s day items whose attributes end with `suffix` (empty: the
    /// service's own; `:<check>@<region>`: a check's in a region).
    async fn read_hours(
        &self,
        service: &str,
        suffix: &str,
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
                if let Some(AttributeValue::S(v)) = item.get(&format!("h{h:02}{suffix}")) {
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
            .add(&self.tables.state, 64 + 48 * hours.len(), false);
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
        self.read_hours(service, "", from, to).await
    }

    async fn check_hours(
        &self,
        service: &str,
        check: &str,
        region: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Hours, StoreError> {
        let suffix = format!(":{}", atalaya_core::rollup::check_key(check, region));
        self.read_hours(service, &suffix, from, to).await
    }

    async fn write_hours(
        &self,
        by_service: &BTreeMap<String, BTreeMap<String, Hours>>,
    ) -> Result<(), StoreError> {
        for (service, subjects) in by_service {
            // By day: one update per service and day sets every hour of it at once.
            let mut by_day: BTreeMap<NaiveDate, Vec<(String, &Millis)>> = BTreeMap::new();
            for (subject, hours) in subjects {
                let suffix = if subject == service {
                    String::new()
                } else {
                    format!(":{subject}")
                };
                for (t, m) in hours {
                    by_day
                        .entry(t.date_naive())
                        .or_default()
                        .push((format!("h{:02}{suffix}", t.hour()), m));
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
