//! Rollups in SQLite: per service (and per check in a region) and hour, the time in each condition
//! (`atalaya_core::rollup`), kept 400 days; and each service's mark (when its time was last
//! accrued, in what condition), so that the next round accrues from there.

use super::{ts, SqliteStore};
use crate::StoreError;
use atalaya_core::rollup::{Condition, Detail, Hours, Latency, Millis};
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{params, OptionalExtension};
use std::collections::{BTreeMap, HashMap};

/// One service's time and latency since its mark, and its new mark.
pub struct Accrual<'a> {
    /// A service id, or a check in a region (`atalaya_core::rollup::check_key`).
    pub subject: &'a str,
    pub hours: Hours,
    pub latency: BTreeMap<DateTime<Utc>, Latency>,
    pub mark: (DateTime<Utc>, Condition),
}

/// How long hours are kept.
pub const KEEP_DAYS: i64 = 400;

impl SqliteStore {
    /// Adds each accrual's hours and latency to its service's and moves its mark, all in one
    /// transaction (one per round of the runner, whatever the number of services); hours older
    /// than [`KEEP_DAYS`] are let go.
    pub fn accrue(&self, accruals: &[Accrual<'_>]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let empty = Millis::default();
        for a in accruals {
            let touched: std::collections::BTreeSet<&DateTime<Utc>> =
                a.hours.keys().chain(a.latency.keys()).collect();
            for hour in touched {
                let stored: Option<(String, Option<String>)> = tx
                    .query_row(
                        "SELECT millis, latency FROM rollups WHERE service = ?1 AND hour = ?2",
                        params![a.subject, ts(*hour)],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let (mut m, mut l): (Millis, Latency) = match stored {
                    Some((m, l)) => (
                        serde_json::from_str(&m)?,
                        l.map(|l| serde_json::from_str(&l))
                            .transpose()?
                            .unwrap_or_default(),
                    ),
                    None => Default::default(),
                };
                m.merge(a.hours.get(hour).unwrap_or(&empty));
                if let Some(more) = a.latency.get(hour) {
                    l.merge(more);
                }
                tx.execute(
                    "INSERT INTO rollups (service, hour, millis, latency) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (service, hour) DO UPDATE SET millis = excluded.millis, latency = excluded.latency",
                    params![a.subject, ts(*hour), serde_json::to_string(&m)?, serde_json::to_string(&l)?],
                )?;
            }
            tx.execute(
                "INSERT INTO rollup_marks (service, at, condition) VALUES (?1, ?2, ?3)
                 ON CONFLICT (service) DO UPDATE SET at = excluded.at, condition = excluded.condition",
                params![a.subject, ts(a.mark.0), serde_json::to_string(&a.mark.1)?],
            )?;
        }
        if let Some(latest) = accruals.iter().map(|a| a.mark.0).max() {
            tx.execute(
                "DELETE FROM rollups WHERE hour < ?1",
                params![ts(latest - TimeDelta::days(KEEP_DAYS))],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Where every service's accounting stands, by service.
    pub fn rollup_marks(&self) -> Result<HashMap<String, (DateTime<Utc>, Condition)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT service, at, condition FROM rollup_marks")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (service, at, c) = row?;
            let at = DateTime::parse_from_rfc3339(&at)
                .map_err(|e| StoreError::Invalid(format!("rollup mark of {service}: {e}")))?
                .with_timezone(&Utc);
            out.insert(service, (at, serde_json::from_str(&c)?));
        }
        Ok(out)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use atalaya_core::rollup::accrue;

    #[test]
    fn hours_add_up_across_rounds_and_the_mark_moves() {
        let s = SqliteStore::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let t: DateTime<Utc> = "2026-11-01T09:59:00Z".parse().unwrap_or_default();
        assert!(s.rollup_marks().unwrap_or_default().is_empty());
        for (i, c) in [Condition::Up, Condition::Down, Condition::Down]
            .into_iter()
            .enumerate()
        {
            let from = t + TimeDelta::minutes(i as i64);
            let mut hours = Hours::new();
            accrue(&mut hours, c, from, from + TimeDelta::minutes(1));
            s.accrue(&[Accrual {
                subject: "shop",
                hours,
                latency: BTreeMap::new(),
                mark: (from + TimeDelta::minutes(1), c),
            }])
            .unwrap_or_else(|e| panic!("{e}"));
        }
        let hours = s
            .hours("shop", t - TimeDelta::hours(1), t + TimeDelta::hours(2))
            .unwrap_or_else(|e| panic!("{e}"));
        let ten: DateTime<Utc> = "2026-11-01T10:00:00Z".parse().unwrap_or_default();
        assert_eq!(hours[&(ten - TimeDelta::hours(1))].up, 60_000);
        assert_eq!(hours[&ten].down, 120_000);
        assert_eq!(
            s.rollup_marks().unwrap_or_default().get("shop"),
            Some(&(t + TimeDelta::minutes(3), Condition::Down))
        );
        assert!(s.hours("blog", t, ten).unwrap_or_default().is_empty());
    }
}
