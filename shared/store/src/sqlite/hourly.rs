//! The hourly rollup job's side of SQLite (`HourlyRollups`), as on AWS: a region's results of
//! an hour read page by page, each check's time and the latency sketches written per subject
//! and hour into `rollups` (a service's own time, kept by the evaluation, is left as it is), and
//! the hours done per region.

use super::{ts, SqliteStore};
use crate::{HourlyRollups, StoreError, Written};
use atalaya_core::rollup::{Detail, Latency, Millis};
use atalaya_core::ProbeResult;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use std::collections::{BTreeMap, BTreeSet};

/// Results read at once.
const PAGE: usize = 2_000;

fn hour_of(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Invalid(format!("rollup hour {text}: {e}")))
}

impl HourlyRollups for SqliteStore {
    async fn regions_done(
        &self,
        hours: &[DateTime<Utc>],
        regions: &BTreeSet<String>,
    ) -> Result<BTreeMap<DateTime<Utc>, BTreeSet<String>>, StoreError> {
        let (Some(first), Some(last)) = (hours.iter().min(), hours.iter().max()) else {
            return Ok(BTreeMap::new());
        };
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT hour, region FROM rollup_done WHERE hour >= ?1 AND hour <= ?2",
        )?;
        let rows = stmt.query_map(params![ts(*first), ts(*last)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out: BTreeMap<DateTime<Utc>, BTreeSet<String>> = BTreeMap::new();
        for row in rows {
            let (hour, region) = row?;
            let hour = hour_of(&hour)?;
            if hours.contains(&hour) && regions.contains(&region) {
                out.entry(hour).or_default().insert(region);
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
        let (mut read, mut unreadable) = (0, 0);
        let mut after = (ts(from), String::new());
        loop {
            // A page at a time, from where the last one ended (the connection is not held
            // while `each` works).
            let rows: Vec<(String, String, String)> = {
                let conn = self.conn();
                let mut stmt = conn.prepare_cached(
                    "SELECT at, check_id, result FROM results
                     WHERE region = ?1 AND at < ?2 AND (at > ?3 OR (at = ?3 AND check_id > ?4))
                     ORDER BY at, check_id LIMIT ?5",
                )?;
                let first = after.1.is_empty();
                let rows = stmt.query_map(
                    params![
                        region,
                        ts(to),
                        if first {
                            ts(from - chrono::TimeDelta::microseconds(1))
                        } else {
                            after.0.clone()
                        },
                        after.1,
                        PAGE as i64
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                rows.collect::<Result<_, _>>()?
            };
            let Some(last) = rows.last() else {
                break;
            };
            after = (last.0.clone(), last.1.clone());
            let full = rows.len() == PAGE;
            let mut page = Vec::with_capacity(rows.len());
            for (_, check, json) in rows {
                match serde_json::from_str::<ProbeResult>(&json) {
                    Ok(r) => page.push(r),
                    Err(e) => {
                        unreadable += 1;
                        tracing::error!(region, check, error = %e, "unreadable result left out of the rollups");
                    }
                }
            }
            read += page.len();
            each(page);
            if !full {
                break;
            }
        }
        Ok((read, unreadable))
    }

    async fn write_region_hour(
        &self,
        region: &str,
        hour: DateTime<Utc>,
        by_service: &BTreeMap<String, Detail>,
    ) -> Result<Written, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut written = Written::default();
        let empty = serde_json::to_string(&Millis::default())?;
        for d in by_service.values() {
            for (subject, m) in &d.checks {
                let text = serde_json::to_string(m)?;
                tx.execute(
                    "INSERT INTO rollups (service, hour, millis) VALUES (?1, ?2, ?3)
                     ON CONFLICT (service, hour) DO UPDATE SET millis = excluded.millis",
                    params![subject, ts(hour), text],
                )?;
                written.items += 1;
                written.bytes += text.len();
            }
            // Latency per subject: the service's and each check's in this region. A service
            // keeps its own time (written by the evaluation); its latency is this region's
            // merged with what other regions wrote.
            for (subject, l) in &d.latency {
                let stored: Option<Option<String>> = tx
                    .query_row(
                        "SELECT latency FROM rollups WHERE service = ?1 AND hour = ?2",
                        params![subject, ts(hour)],
                        |r| r.get(0),
                    )
                    .optional()?;
                let mut merged = if subject.contains('@') {
                    Latency::default()
                } else {
                    stored
                        .flatten()
                        .map(|t| serde_json::from_str::<Latency>(&t))
                        .transpose()?
                        .unwrap_or_default()
                };
                merged.merge(l);
                let text = serde_json::to_string(&merged)?;
                tx.execute(
                    "INSERT INTO rollups (service, hour, millis, latency) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (service, hour) DO UPDATE SET latency = excluded.latency",
                    params![subject, ts(hour), empty, text],
                )?;
                written.bytes += text.len();
                written.largest = written.largest.max(text.len());
            }
        }
        tx.execute(
            "INSERT OR IGNORE INTO rollup_done (hour, region) VALUES (?1, ?2)",
            params![ts(hour), region],
        )?;
        tx.commit()?;
        Ok(written)
    }
}
