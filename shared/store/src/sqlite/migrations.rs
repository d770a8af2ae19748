//! The schema, one version at a time (PRAGMA user_version). Append, never edit.

use super::put_incident;
use crate::StoreError;
use atalaya_core::evaluate::State;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// Each entry upgrades the schema by one version (PRAGMA user_version). Append, never edit.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 4: deliveries per message and channel (a channel that failed is tried again alone).
    "CREATE TABLE deliveries (
        message_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        at TEXT NOT NULL,
        gave_up TEXT,
        PRIMARY KEY (message_id, channel)
     );",
    // 5: email subscribers, and per message and subscriber whether the mail went out.
    "CREATE TABLE subscribers (
        id TEXT PRIMARY KEY,
        customer TEXT NOT NULL,
        email TEXT NOT NULL,
        subscriber TEXT NOT NULL
     );
     CREATE INDEX subscribers_customer ON subscribers (customer, email);
     CREATE TABLE mails (
        key TEXT PRIMARY KEY,
        sent_at TEXT,
        claimed_until INTEGER
     );",
    // 6: rollups: per service and hour, the time in each condition; where each service's
    // accounting stands (when it was last accrued, and in what condition).
    "CREATE TABLE rollups (
        service TEXT NOT NULL,
        hour TEXT NOT NULL,
        millis TEXT NOT NULL,
        PRIMARY KEY (service, hour)
     );
     CREATE INDEX rollups_hour ON rollups (hour);
     CREATE TABLE rollup_marks (
        service TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        condition TEXT NOT NULL
     );",
    // 7: per service and hour, latency sketches per phase.
    "ALTER TABLE rollups ADD COLUMN latency TEXT;",
    // Heartbeats: what is kept of each one's pings, versioned.
    "CREATE TABLE ping_logs (
        check_id TEXT PRIMARY KEY,
        log TEXT NOT NULL,
        version INTEGER NOT NULL
     );",
    // 9: the hourly rollup job's progress (each region's hours done), as on AWS; results by
    // region and time for it.
    "CREATE TABLE rollup_done (
        hour TEXT NOT NULL,
        region TEXT NOT NULL,
        PRIMARY KEY (hour, region)
     );
     CREATE INDEX results_region_at ON results (region, at);",
    // 10: where a channel keeps the messages about one thing together (Slack's thread).
    "CREATE TABLE threads (
        channel TEXT NOT NULL,
        key TEXT NOT NULL,
        reference TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (channel, key)
     );",
    // 11: the monitor's episode of blindness, told once whatever the partitions.
    "CREATE TABLE episode (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        doc TEXT NOT NULL,
        version INTEGER NOT NULL
     );",
    // 12: claims per message and channel (a slow channel holds up no other).
    "CREATE TABLE claims (
        message_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        until INTEGER NOT NULL,
        PRIMARY KEY (message_id, channel)
     );",
];

/// Brings the schema up to date in one immediate transaction that reads the version inside it:
/// of two processes opening a new database at once, one migrates and the other, waiting on the
/// lock, finds nothing left to do.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::Invalid(format!(
            "the database has schema version {version}, newer than this atalaya knows ({known}): upgrade atalaya; nothing was changed"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        if i + 1 == 3 {
            backfill_incidents(&tx)?;
        }
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
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
