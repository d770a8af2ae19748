//! Heartbeats' pings: what is kept of each heartbeat's pings ([`PingLog`], small and versioned:
//! two pings at once never lose one), and where the ping endpoint stands ([`EndpointMark`]).

use crate::StoreError;
use atalaya_core::kinds::heartbeat::{EndpointMark, PingLog};
use std::collections::BTreeMap;
use std::future::Future;

/// Written against by the ping endpoints (the local runner's, the ping function) and the judge.
pub trait PingLogs {
    /// The logs of `checks` that have any (a check never pinged has none).
    fn ping_logs(
        &self,
        checks: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, PingLog>, StoreError>> + Send;
    /// One check's log and its version (0: none yet), read consistently.
    fn ping_log(
        &self,
        check: &str,
    ) -> impl Future<Output = Result<(PingLog, u64), StoreError>> + Send;
    /// Writes `log` as version `version + 1`, if the stored version is still `version`
    /// (`StoreError::Conflict` otherwise: read again and retry).
    fn put_ping_log(
        &self,
        check: &str,
        log: &PingLog,
        version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Where the ping endpoint stood at the judge's last look.
    fn endpoint_mark(&self) -> impl Future<Output = Result<EndpointMark, StoreError>> + Send;
    fn put_endpoint_mark(
        &self,
        mark: &EndpointMark,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
