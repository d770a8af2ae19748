//! Rollups in SQLite: per service (and per check in a region) and hour, the time in each
//! condition (`atalaya_core::rollup`) and the latency sketches, kept 400 days. A service's hours
//! are written by the evaluations once complete (`Rollups::write_hours`), each check's and the
//! latency by the hourly job (`HourlyRollups`, `hourly.rs`), as on DynamoDB.

use super::{ts, SqliteStore};
use crate::StoreError;
use atalaya_core::rollup::{Detail, Hours, Latency};
use chrono::{DateTime, Utc};
use rusqlite::params;
use std::collections::BTreeMap;

impl SqliteStore {
    /// `service`'s latency from `from` (included) to `to` (excluded), its hours merged.
    pub fn latency(
        &self,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Latency, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT latency FROM rollups WHERE service = ?1 AND hour >= ?2 AND hour < ?3 AND latency IS NOT NULL",
        )?;
        let rows = stmt.query_map(params![service, ts(from), ts(to)], |r| {
            r.get::<_, String>(0)
        })?;
        let mut out = Latency::default();
        for row in rows {
            out.merge(&serde_json::from_str(&row?)?);
        }
        Ok(out)
    }

    /// `service`'s hours from `from` (included) to `to` (excluded).
    pub fn hours(
        &self,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Hours, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT hour, millis FROM rollups WHERE service = ?1 AND hour >= ?2 AND hour < ?3 ORDER BY hour",
        )?;
        let rows = stmt.query_map(params![service, ts(from), ts(to)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Hours::new();
        for row in rows {
            let (hour, millis) = row?;
            let hour = DateTime::parse_from_rfc3339(&hour)
                .map_err(|e| StoreError::Invalid(format!("rollup hour {hour}: {e}")))?
                .with_timezone(&Utc);
            out.insert(hour, serde_json::from_str(&millis)?);
        }
        Ok(out)
    }
}

impl crate::Rollups for SqliteStore {
    async fn service_hours(
        &self,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Hours, StoreError> {
        self.hours(service, from, to)
    }

    async fn check_hours(
        &self,
        _service: &str,
        check: &str,
        region: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Hours, StoreError> {
        self.hours(&atalaya_core::rollup::check_key(check, region), from, to)
    }

    async fn detail(
        &self,
        service: &str,
        subjects: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Detail, StoreError> {
        let mut out = Detail::default();
        for subject in subjects {
            let hours = self.hours(subject, from, to)?;
            if !hours.is_empty() {
                out.checks
                    .insert(subject.clone(), atalaya_core::rollup::sum(&hours, from, to));
            }
        }
        for subject in subjects.iter().map(String::as_str).chain([service]) {
            let l = self.latency(subject, from, to)?;
            if !l.phases.is_empty() {
                out.latency.insert(subject.to_string(), l);
            }
        }
        Ok(out)
    }

    async fn write_hours(
        &self,
        by_service: &BTreeMap<String, BTreeMap<String, Hours>>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (subject, hours) in by_service.values().flatten() {
            for (hour, m) in hours {
                tx.execute(
                    "INSERT INTO rollups (service, hour, millis) VALUES (?1, ?2, ?3)
                     ON CONFLICT (service, hour) DO UPDATE SET millis = excluded.millis",
                    params![subject, ts(*hour), serde_json::to_string(m)?],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    async fn alive(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let before = self.last_alive().await?;
        self.set_meta("alive", &ts(now))?;
        Ok(before)
    }

    async fn last_alive(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .meta("alive")?
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)))
    }
}
