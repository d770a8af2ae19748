//! The SQLite store: WAL, versioned migrations, one file.

use crate::{Store, StoreError, Versioned};
use atalaya_core::evaluate::State;
use atalaya_core::{Message, ProbeResult};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// Each entry upgrades the schema by one version (PRAGMA user_version). Append, never edit.
const MIGRATIONS: &[&str] = &[
    // 1: results, the engine's state, the outbox.
    "CREATE TABLE results (
        check_id TEXT NOT NULL,
        region TEXT NOT NULL,
        at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (check_id, region, at)
     );
     CREATE INDEX results_at ON results (at);
     CREATE TABLE engine_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        state TEXT NOT NULL
     );
     CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        message TEXT NOT NULL,
        published_at TEXT
     );
     CREATE INDEX outbox_pending ON outbox (published_at, seq);",
    // 2: what the runner ran with (checks file, outbox path), for the incident commands.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
];

pub struct SqliteStore {
    conn: Connection,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
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
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::Invalid(format!(
                "the database has schema version {version}, newer than this atalaya knows ({known}): upgrade atalaya; nothing was changed"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(SqliteStore { conn })
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every message ever enqueued, in order (for `atalaya` commands and tests).
    pub fn outbox(&self) -> Result<Vec<(Message, bool)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT message, published_at IS NOT NULL FROM outbox ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (json, published) = row?;
            out.push((serde_json::from_str(&json)?, published));
        }
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn put_results(&mut self, results: &[ProbeResult]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
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

    fn load_state(&self) -> Result<Versioned, StoreError> {
        let row: Option<(i64, String)> = self
            .conn
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
            },
            None => Versioned::default(),
        })
    }

    fn commit(
        &mut self,
        version: u64,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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

    fn publish_pending(
        &mut self,
        publish: &mut dyn FnMut(&Message) -> std::io::Result<()>,
    ) -> Result<usize, StoreError> {
        // IMMEDIATE: the write lock is held while publishing, so two processes never publish the
        // same message.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pending: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(
                "SELECT seq, message FROM outbox WHERE published_at IS NULL ORDER BY seq",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut done = 0;
        for (seq, json) in pending {
            let message: Message = serde_json::from_str(&json)?;
            if let Err(e) = publish(&message) {
                tx.commit()?; // what was published stays marked
                return Err(StoreError::Invalid(format!(
                    "publishing {} failed: {e}",
                    message.id
                )));
            }
            tx.execute(
                "UPDATE outbox SET published_at = ?1 WHERE seq = ?2",
                params![ts(Utc::now()), seq],
            )?;
            done += 1;
        }
        tx.commit()?;
        Ok(done)
    }

    fn recent_results(&self, check: &str, limit: usize) -> Result<Vec<ProbeResult>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT result FROM results WHERE check_id = ?1 ORDER BY at DESC LIMIT ?2")?;
        let rows = stmt.query_map(params![check, limit as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?)?);
        }
        Ok(out)
    }

    fn prune_results(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM results WHERE at < ?1", params![ts(before)])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atalaya_core::evaluate::Audience;
    use atalaya_core::{Outcome, Phases, Reason};

    fn result(at: &str) -> ProbeResult {
        ProbeResult {
            check: "home".into(),
            region: "local".into(),
            at: at.parse().unwrap(),
            outcome: Outcome::Up,
            reason: Reason::Ok,
            detail: "status 200 OK".into(),
            latency_ms: 1.5,
            phases: Phases::default(),
            http_status: Some(200),
            cert_days_left: None,
        }
    }

    fn message(id: &str) -> Message {
        Message {
            id: id.into(),
            at: "2026-11-24T10:00:00Z".parse().unwrap(),
            topic: Audience::Operators,
            subject: "s".into(),
            body: "b".into(),
            attributes: Default::default(),
        }
    }

    #[test]
    fn results_are_kept_once_and_read_newest_first() {
        let mut s = SqliteStore::in_memory().unwrap();
        let rs = [
            result("2026-11-24T10:00:00Z"),
            result("2026-11-24T10:01:00Z"),
        ];
        assert_eq!(s.put_results(&rs).unwrap(), 2);
        assert_eq!(s.put_results(&rs).unwrap(), 0, "duplicates ignored");
        let back = s.recent_results("home", 10).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], rs[1]);
        assert_eq!(
            s.prune_results("2026-11-24T10:00:30Z".parse().unwrap())
                .unwrap(),
            1
        );
    }

    #[test]
    fn a_stale_version_cannot_overwrite_the_state() {
        let mut s = SqliteStore::in_memory().unwrap();
        let v = s.load_state().unwrap();
        let mut state = v.state.clone();
        state.next_incident = 7;
        assert_eq!(s.commit(v.version, &state, &[]).unwrap(), 1);
        assert!(matches!(
            s.commit(v.version, &State::default(), &[]),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(s.load_state().unwrap().state.next_incident, 7);
    }

    #[test]
    fn outbox_enqueues_each_message_once_and_publishes_in_order() {
        let mut s = SqliteStore::in_memory().unwrap();
        s.commit(0, &State::default(), &[message("a"), message("b")])
            .unwrap();
        s.commit(1, &State::default(), &[message("b"), message("c")])
            .unwrap();
        let mut seen = Vec::new();
        assert_eq!(
            s.publish_pending(&mut |m| {
                seen.push(m.id.clone());
                Ok(())
            })
            .unwrap(),
            3
        );
        assert_eq!(seen, ["a", "b", "c"]);
        assert_eq!(
            s.publish_pending(&mut |_| panic!("nothing left")).unwrap(),
            0
        );
    }

    #[test]
    fn a_failed_publish_keeps_the_rest_pending() {
        let mut s = SqliteStore::in_memory().unwrap();
        s.commit(0, &State::default(), &[message("a"), message("b")])
            .unwrap();
        let err = s.publish_pending(&mut |m| {
            if m.id == "b" {
                Err(std::io::Error::other("disk full"))
            } else {
                Ok(())
            }
        });
        assert!(err.is_err());
        let mut seen = Vec::new();
        s.publish_pending(&mut |m| {
            seen.push(m.id.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["b"]);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atalaya.db");
        std::fs::write(&path, "these are my notes, not a database ".repeat(100)).unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(
            err.to_string().contains("is not an atalaya database"),
            "{err}"
        );
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("these are my notes"));
    }

    #[test]
    fn migrations_run_once_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atalaya.db");
        assert_eq!(
            SqliteStore::open(&path).unwrap().schema_version().unwrap(),
            MIGRATIONS.len() as i64
        );
        assert_eq!(
            SqliteStore::open(&path).unwrap().schema_version().unwrap(),
            MIGRATIONS.len() as i64
        );
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(
            err.to_string().contains("newer than this atalaya knows"),
            "{err}"
        );
    }
}
