//! Heartbeats' ping logs in SQLite.

use super::SqliteStore;
use crate::{PingLogs, StoreError};
use atalaya_core::kinds::heartbeat::{EndpointMark, PingLog};
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

const ENDPOINT: &str = "heartbeat_endpoint";

impl PingLogs for SqliteStore {
    async fn ping_logs(&self, checks: &[String]) -> Result<BTreeMap<String, PingLog>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT log FROM ping_logs WHERE check_id = ?1")?;
        let mut out = BTreeMap::new();
        for c in checks {
            let log: Option<String> = stmt.query_row(params![c], |r| r.get(0)).optional()?;
            if let Some(log) = log {
                out.insert(c.clone(), serde_json::from_str(&log)?);
            }
        }
        Ok(out)
    }

    async fn ping_log(&self, check: &str) -> Result<(PingLog, u64), StoreError> {
        let row: Option<(String, i64)> = self
            .conn()
            .query_row(
                "SELECT log, version FROM ping_logs WHERE check_id = ?1",
                params![check],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((log, v)) => Ok((serde_json::from_str(&log)?, v.max(0) as u64)),
            None => Ok((PingLog::default(), 0)),
        }
    }

    async fn put_ping_log(
        &self,
        check: &str,
        log: &PingLog,
        version: u64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(log)?;
        let n = self.conn().execute(
            "INSERT INTO ping_logs (check_id, log, version) VALUES (?1, ?2, ?3 + 1)
             ON CONFLICT (check_id) DO UPDATE SET log = excluded.log, version = excluded.version
             WHERE ping_logs.version = ?3",
            params![check, json, version as i64],
        )?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict { expected: version })
        }
    }

    async fn endpoint_mark(&self) -> Result<EndpointMark, StoreError> {
        match self.meta(ENDPOINT)? {
            Some(json) => Ok(serde_json::from_str(&json)?),
            None => Ok(EndpointMark::default()),
        }
    }

    async fn put_endpoint_mark(&self, mark: &EndpointMark) -> Result<(), StoreError> {
        self.set_meta(ENDPOINT, &serde_json::to_string(mark)?)
    }
}
