//! The SQLite store: WAL, versioned migrations, one file.
//!
//! The calls are short local transactions; they run inline on the caller's task.

mod heartbeats;
mod hourly;
mod migrations;
mod retention;
mod rollups;
pub use retention::Pruned;
mod subscribers;

use crate::{Delivery, Pending, Store, StoreError, Versioned};
use atalaya_core::evaluate::{Incident, State};
use atalaya_core::message::episode::Episode;
use atalaya_core::{Message, ProbeResult};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn put_incident(tx: &rusqlite::Transaction<'_>, i: &Incident) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO incidents (id, opened_at, open, incident) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET opened_at = excluded.opened_at, open = excluded.open,
         incident = excluded.incident",
    )?
    .execute(params![
        i.id,
        ts(i.opened_at),
        i.is_open(),
        serde_json::to_string(i)?
    ])?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn).map_err(|e| match e {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::NotADatabase =>
            {
                StoreError::Invalid(format!(
                    "{} is not an atalaya database (not SQLite); nothing was changed",
                    path.display()
                ))
            }
            other => other,
        })
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Switching to WAL needs the database to itself; a process migrating the same new file
        // at that moment makes SQLite answer "busy" at once, without its busy handler. Wait it
        // out, up to ten seconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Self::prepare(&mut conn) {
                Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)))
                    if f.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
                Ok(()) => break,
            }
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn prepare(conn: &mut Connection) -> Result<(), StoreError> {
        // Free pages can be given back a little at a time (`prune`). It takes effect at once on
        // a new database; an older one is rebuilt with it once (VACUUM), when nothing else has
        // it open.
        let auto_vacuum: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
        if auto_vacuum != 2 {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
            let tables: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if tables > 0 {
                if let Err(e) = conn.execute_batch("VACUUM;") {
                    tracing::info!(error = %e, "the database is kept as it is for now; incremental vacuum from its next quiet start");
                }
            }
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(conn)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done transaction behind (SQLite
        // rolls it back), so the connection is still good.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every message ever recorded, in order, and whether every channel is done with it.
    pub fn outbox(&self) -> Result<Vec<(Message, bool)>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT message, published_at IS NOT NULL FROM outbox ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (json, published) = row?;
            out.push((serde_json::from_str(&json)?, published));
        }
        Ok(out)
    }

    /// Results of one check, newest first.
    pub fn recent_results(
        &self,
        check: &str,
        limit: usize,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT result FROM results WHERE check_id = ?1 ORDER BY at DESC LIMIT ?2")?;
        let rows = stmt.query_map(params![check, limit as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?)?);
        }
        Ok(out)
    }

    /// Forgets results older than `before` (DynamoDB does this itself, by TTL).
    pub fn prune_results(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM results WHERE at < ?1", params![ts(before)])?)
    }
}

impl Store for SqliteStore {
    async fn put_results(
        &self,
        results: &[ProbeResult],
        _deadline: Instant,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut added = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO results (check_id, region, at, outcome, result) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in results {
                added += stmt.execute(params![
                    r.check,
                    r.region,
                    ts(r.at),
                    r.outcome.as_str(),
                    serde_json::to_string(r)?
                ])?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    async fn load_state(&self) -> Result<Versioned, StoreError> {
        let row: Option<(i64, String)> = self
            .conn()
            .query_row(
                "SELECT version, state FROM engine_state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            Some((version, json)) => Versioned {
                state: serde_json::from_str(&json)?,
                version: version as u64,
                stamps: 0,
                stored: None,
            },
            None => Versioned::default(),
        })
    }

    async fn commit(
        &self,
        base: &Versioned,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError> {
        let version = base.version;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<i64> = tx
            .query_row("SELECT version FROM engine_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        if current.unwrap_or(0) as u64 != version {
            return Err(StoreError::Conflict { expected: version });
        }
        let next = version + 1;
        tx.execute(
            "INSERT INTO engine_state (id, version, state) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state",
            params![next as i64, serde_json::to_string(state)?],
        )?;
        for i in state.changed_incidents(&base.state) {
            put_incident(&tx, i)?;
        }
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR IGNORE INTO outbox (id, message) VALUES (?1, ?2)")?;
            for m in messages {
                stmt.execute(params![m.id, serde_json::to_string(m)?])?;
            }
        }
        tx.commit()?;
        Ok(next)
    }

    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT incident FROM incidents WHERE open >= ?1 ORDER BY opened_at DESC, id DESC",
        )?;
        let rows = stmt.query_map(params![open_only], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?)?);
        }
        Ok(out)
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT incident FROM incidents WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    async fn messages(&self, ids: &[String]) -> Result<Vec<Message>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT message FROM outbox WHERE id = ?1")?;
        let mut out = Vec::new();
        for id in ids {
            let json: Option<String> = stmt.query_row(params![id], |r| r.get(0)).optional()?;
            if let Some(json) = json {
                out.push(serde_json::from_str(&json)?);
            }
        }
        Ok(out)
    }

    async fn pending(&self) -> Result<Vec<Pending>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT o.message, group_concat(d.channel, ' ') FROM outbox o
             LEFT JOIN deliveries d ON d.message_id = o.id
             WHERE o.published_at IS NULL GROUP BY o.id ORDER BY o.seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (json, done) = row?;
            out.push(Pending {
                message: serde_json::from_str(&json)?,
                done: done
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            });
        }
        Ok(out)
    }

    async fn results(
        &self,
        region: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT result FROM results WHERE region = ?1 AND at >= ?2 ORDER BY at, check_id",
        )?;
        let rows = stmt.query_map(params![region, ts(since)], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?)?);
        }
        Ok(out)
    }

    async fn record_delivery(
        &self,
        id: &str,
        channel: &str,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        let gave_up = match delivery {
            Delivery::Sent => None,
            Delivery::GaveUp(why) => Some(why.as_str()),
        };
        self.conn().execute(
            "INSERT INTO deliveries (message_id, channel, at, gave_up) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (message_id, channel) DO UPDATE SET at = excluded.at, gave_up = excluded.gave_up",
            params![id, channel, ts(Utc::now()), gave_up],
        )?;
        Ok(())
    }

    async fn claim(
        &self,
        id: &str,
        channel: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = now + chrono::TimeDelta::from_std(lease).unwrap_or_default();
        let conn = self.conn();
        let pending: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM outbox WHERE id = ?1 AND published_at IS NULL",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        if pending.is_none() {
            return Ok(false);
        }
        let n = conn.execute(
            "INSERT INTO claims (message_id, channel, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (message_id, channel) DO UPDATE SET until = excluded.until
             WHERE claims.until < ?4",
            params![
                id,
                channel,
                until.timestamp_millis(),
                now.timestamp_millis()
            ],
        )?;
        Ok(n == 1)
    }

    async fn release(&self, id: &str, channel: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM claims WHERE message_id = ?1 AND channel = ?2",
            params![id, channel],
        )?;
        Ok(())
    }

    async fn mark_sent(&self, id: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE outbox SET published_at = ?1, claimed_until = NULL WHERE id = ?2",
            params![ts(Utc::now()), id],
        )?;
        conn.execute("DELETE FROM claims WHERE message_id = ?1", params![id])?;
        if n == 0 {
            return Err(StoreError::Invalid(format!(
                "no message {id} in the outbox"
            )));
        }
        Ok(())
    }

    async fn thread(&self, channel: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT reference FROM threads WHERE channel = ?1 AND key = ?2",
                params![channel, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    async fn keep_thread(
        &self,
        channel: &str,
        key: &str,
        reference: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO threads (channel, key, reference, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (channel, key) DO UPDATE SET reference = excluded.reference, at = excluded.at",
            params![channel, key, reference, ts(Utc::now())],
        )?;
        Ok(())
    }

    async fn episode(&self) -> Result<(Episode, u64), StoreError> {
        let row: Option<(String, i64)> = self
            .conn()
            .query_row("SELECT doc, version FROM episode WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match row {
            Some((doc, version)) => Ok((serde_json::from_str(&doc)?, version.max(0) as u64)),
            None => Ok((Episode::default(), 0)),
        }
    }

    async fn keep_episode(&self, episode: &Episode, version: u64) -> Result<bool, StoreError> {
        let doc = serde_json::to_string(episode)?;
        let n = self.conn().execute(
            "INSERT INTO episode (id, doc, version) VALUES (1, ?1, ?2 + 1)
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, version = excluded.version
             WHERE episode.version = ?2",
            params![doc, i64::try_from(version).unwrap_or(i64::MAX)],
        )?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests;
