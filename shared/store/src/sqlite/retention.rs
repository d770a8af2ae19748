//! What the local runner's database lets go of, so that it stops growing: results, delivered
//! messages and sent mails past the retention (`settings.retention.results`), hourly rollups
//! past 400 days, the hourly job's progress past a few days, the ping logs of heartbeats no
//! longer in the file. Incidents are kept. Freed pages are handed back to the file system a
//! little at a time (incremental vacuum), so a database in steady state keeps its size.

use super::{ts, SqliteStore};
use crate::StoreError;
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::params;
use std::collections::BTreeSet;

/// How long hourly rollups are kept (as on DynamoDB).
pub const KEEP_DAYS: i64 = 400;
/// Delivered messages are kept at least this long: the status site shows 90 days of incidents
/// in the words their customers were sent.
const KEEP_MESSAGES_DAYS: i64 = 100;
/// Free pages given back at most per pass (4 KiB each: 16 MiB).
const VACUUM_PAGES: i64 = 4096;

/// What one pass let go of.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub results: usize,
    pub messages: usize,
    pub mails: usize,
    pub rollups: usize,
    pub ping_logs: usize,
}

impl SqliteStore {
    /// Lets go of what is older than `retention` at `now` (see the module), keeping the ping
    /// logs of `heartbeats` only, then gives some free pages back.
    pub fn prune(
        &self,
        now: DateTime<Utc>,
        retention: std::time::Duration,
        heartbeats: &BTreeSet<String>,
    ) -> Result<Pruned, StoreError> {
        let keep = TimeDelta::from_std(retention).unwrap_or(TimeDelta::days(30));
        let before = ts(now - keep);
        let messages_before = ts(now - keep.max(TimeDelta::days(KEEP_MESSAGES_DAYS)));
        let mut out = Pruned::default();
        {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            out.results = tx.execute("DELETE FROM results WHERE at < ?1", params![before])?;
            tx.execute(
                "DELETE FROM deliveries WHERE message_id IN
                   (SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < ?1)",
                params![messages_before],
            )?;
            out.messages = tx.execute(
                "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?1",
                params![messages_before],
            )?;
            out.mails = tx.execute(
                "DELETE FROM mails WHERE sent_at IS NOT NULL AND sent_at < ?1",
                params![before],
            )?;
            out.rollups = tx.execute(
                "DELETE FROM rollups WHERE hour < ?1",
                params![ts(now - TimeDelta::days(KEEP_DAYS))],
            )?;
            tx.execute(
                "DELETE FROM rollup_done WHERE hour < ?1",
                params![ts(now - TimeDelta::days(3))],
            )?;
            let logs: Vec<String> = {
                let mut stmt = tx.prepare("SELECT check_id FROM ping_logs")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for id in logs.iter().filter(|id| !heartbeats.contains(*id)) {
                out.ping_logs +=
                    tx.execute("DELETE FROM ping_logs WHERE check_id = ?1", params![id])?;
            }
            tx.commit()?;
        }
        self.conn()
            .execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES});"))?;
        Ok(out)
    }

    /// The database file's size as SQLite counts it: pages in use and free, in bytes.
    pub fn size(&self) -> Result<(u64, u64), StoreError> {
        let conn = self.conn();
        let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let count: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        Ok(((count * page) as u64, (free * page) as u64))
    }
}
