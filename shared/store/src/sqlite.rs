//! The SQLite store: WAL, versioned migrations, one file.
//!
//! The calls are short local transactions; they run inline on the caller's task.

use crate::{Store, StoreError, Versioned};
use atalaya_core::evaluate::{Incident, State};
use atalaya_core::{Message, ProbeResult};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    // 3: incidents in a table of their own (the state keeps only live ones); publishers claim
    // messages. The incidents already in the state are copied over by `backfill_incidents`.
    "CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        opened_at TEXT NOT NULL,
        open INTEGER NOT NULL,
        incident TEXT NOT NULL
     );
     CREATE INDEX incidents_opened ON incidents (opened_at);
     ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;",
];

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
            if i + 1 == 3 {
                Self::backfill_incidents(&tx)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// Copies the incidents a version-2 database kept in its state into the incidents table.
    fn backfill_incidents(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        let json: Option<String> = tx
            .query_row("SELECT state FROM engine_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(json) = json {
            let state: State = serde_json::from_str(&json)?;
            for i in state.incidents.values() {
                put_incident(tx, i)?;
            }
        }
        Ok(())
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

    /// Every message ever recorded, in order, and whether it was published.
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
        let tx = conn.transaction()?;
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

    async fn pending(&self) -> Result<Vec<Message>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT message FROM outbox WHERE published_at IS NULL ORDER BY seq")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?)?);
        }
        Ok(out)
    }

    async fn claim(
        &self,
        id: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = now + chrono::TimeDelta::from_std(lease).unwrap_or_default();
        let n = self.conn().execute(
            "UPDATE outbox SET claimed_until = ?1 WHERE id = ?2 AND published_at IS NULL
             AND (claimed_until IS NULL OR claimed_until < ?3)",
            params![until.timestamp_millis(), id, now.timestamp_millis()],
        )?;
        Ok(n == 1)
    }

    async fn release(&self, id: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET claimed_until = NULL WHERE id = ?1",
            params![id],
        )?;
        Ok(())
    }

    async fn mark_sent(&self, id: &str) -> Result<(), StoreError> {
        let n = self.conn().execute(
            "UPDATE outbox SET published_at = ?1, claimed_until = NULL WHERE id = ?2",
            params![ts(Utc::now()), id],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!(
                "no message {id} in the outbox"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish_pending;
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

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    async fn publish_all(s: &SqliteStore) -> Vec<String> {
        let mut seen = Vec::new();
        let out = publish_pending(s, async |m: &Message| {
            seen.push(m.id.clone());
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();
        assert_eq!(out.failures, 0);
        seen
    }

    #[tokio::test]
    async fn results_are_kept_once_and_read_newest_first() {
        let s = SqliteStore::in_memory().unwrap();
        let rs = [
            result("2026-11-24T10:00:00Z"),
            result("2026-11-24T10:01:00Z"),
        ];
        assert_eq!(s.put_results(&rs, later()).await.unwrap(), 2);
        assert_eq!(
            s.put_results(&rs, later()).await.unwrap(),
            0,
            "duplicates ignored"
        );
        let back = s.recent_results("home", 10).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], rs[1]);
        assert_eq!(
            s.prune_results("2026-11-24T10:00:30Z".parse().unwrap())
                .unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn a_stale_version_cannot_overwrite_the_state() {
        let s = SqliteStore::in_memory().unwrap();
        let v = s.load_state().await.unwrap();
        let mut state = v.state.clone();
        state.next_incident = 7;
        assert_eq!(s.commit(&v, &state, &[]).await.unwrap(), 1);
        assert!(matches!(
            s.commit(&v, &State::default(), &[]).await,
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(s.load_state().await.unwrap().state.next_incident, 7);
    }

    #[tokio::test]
    async fn outbox_records_each_message_once_and_publishes_in_order() {
        let s = SqliteStore::in_memory().unwrap();
        let v0 = Versioned::default();
        s.commit(&v0, &State::default(), &[message("a"), message("b")])
            .await
            .unwrap();
        let v1 = s.load_state().await.unwrap();
        s.commit(&v1, &State::default(), &[message("b"), message("c")])
            .await
            .unwrap();
        assert_eq!(publish_all(&s).await, ["a", "b", "c"]);
        assert!(publish_all(&s).await.is_empty(), "nothing left");
        assert!(s.outbox().unwrap().iter().all(|(_, sent)| *sent));
    }

    #[tokio::test]
    async fn a_failed_publish_keeps_that_message_pending() {
        let s = SqliteStore::in_memory().unwrap();
        s.commit(
            &Versioned::default(),
            &State::default(),
            &[message("a"), message("b")],
        )
        .await
        .unwrap();
        let out = publish_pending(&s, async |m: &Message| {
            if m.id == "b" {
                Err(std::io::Error::other("disk full"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!((out.published, out.failures), (1, 1));
        assert!(out.first_error.unwrap().contains("disk full"));
        assert_eq!(publish_all(&s).await, ["b"], "released, so retried at once");
    }

    #[tokio::test]
    async fn a_claimed_message_is_published_by_its_claimant_only() {
        let s = SqliteStore::in_memory().unwrap();
        s.commit(&Versioned::default(), &State::default(), &[message("a")])
            .await
            .unwrap();
        let now = Utc::now();
        let lease = Duration::from_secs(60);
        assert!(s.claim("a", now, lease).await.unwrap());
        assert!(!s.claim("a", now, lease).await.unwrap(), "held");
        assert!(
            publish_all(&s).await.is_empty(),
            "another publisher skips it"
        );
        assert!(
            s.claim("a", now + chrono::TimeDelta::seconds(61), lease)
                .await
                .unwrap(),
            "an expired claim is taken over"
        );
        s.mark_sent("a").await.unwrap();
        assert!(!s
            .claim("a", now + chrono::TimeDelta::hours(1), lease)
            .await
            .unwrap());
        assert!(s.mark_sent("nope").await.is_err());
    }

    #[tokio::test]
    async fn incidents_are_kept_after_the_state_lets_them_go() {
        let s = SqliteStore::in_memory().unwrap();
        let text = "settings:\n  regions: [local]\n  quorum: 1\n  defaults: {interval: 1m, timeout: 5s, retries: 1, recover_after: 1}\ncustomers:\n  - {id: acme, name: ACME, language: en}\nservices:\n  - {id: shop, name: Shop, customer: acme}\nchecks:\n  - {id: home, service: shop, http: {url: 'https://shop.example.com/'}}\n";
        let config = atalaya_core::load_str(text, "t.yaml", atalaya_core::Target::Local).unwrap();
        let t0: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
        let mut v = s.load_state().await.unwrap();
        let feed = |m: i64, outcome| {
            let mut r = result("2026-11-24T10:00:00Z");
            r.at = t0 + chrono::TimeDelta::minutes(m);
            r.outcome = outcome;
            vec![r]
        };
        for (m, o) in [
            (0, Outcome::Down),
            (1, Outcome::Down),
            (2, Outcome::Up),
            (90, Outcome::Up),
        ] {
            let now = t0 + chrono::TimeDelta::minutes(m) + chrono::TimeDelta::seconds(5);
            let (state, _) = atalaya_core::evaluate::evaluate(&v.state, &feed(m, o), now, &config);
            s.commit(&v, &state, &[]).await.unwrap();
            v = s.load_state().await.unwrap();
            if m == 1 {
                assert_eq!(s.incidents(true).await.unwrap().len(), 1, "open");
            }
        }
        assert!(v.state.incidents.is_empty(), "archived from the state");
        let all = s.incidents(false).await.unwrap();
        assert_eq!(all.len(), 1);
        assert!(!all[0].is_open());
        assert!(s.incidents(true).await.unwrap().is_empty());
        assert_eq!(
            s.incident(&all[0].id).await.unwrap().as_ref(),
            Some(&all[0])
        );
        assert!(s.incident("inc-404").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_version_2_database_keeps_its_incidents_on_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atalaya.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            let mut state = State::default();
            let inc: Incident = serde_json::from_value(serde_json::json!({
                "id": "inc-1", "service": "shop", "affected": [], "phase": "investigating",
                "started_at": "2026-11-24T10:00:00Z", "opened_at": "2026-11-24T10:01:00Z",
                "resolved_at": null, "acknowledged_at": null, "acknowledged_by": null,
                "escalated": false, "last_operator_notice": "2026-11-24T10:01:00Z",
                "last_customer_update": {}, "told": [], "reopened": 0, "failures": [],
                "timeline": [], "seq": 1
            }))
            .unwrap();
            state.incidents.insert("inc-1".into(), inc);
            conn.execute(
                "INSERT INTO engine_state (id, version, state) VALUES (1, 5, ?1)",
                params![serde_json::to_string(&state).unwrap()],
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(s.incident("inc-1").await.unwrap().unwrap().service, "shop");
        assert_eq!(s.load_state().await.unwrap().version, 5);
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
