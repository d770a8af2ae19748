//! Probes against real servers on 127.0.0.1, well-behaved and hostile. Every probe asserts its
//! outcome, its reason code, and that it finished within its timeout + 100 ms.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod dns;
mod flow;
mod flow_values;
mod guard;
mod http;
mod redirects;
mod tcp;
mod tls;
mod tls_client;

use atalaya_core::{Outcome, ProbeResult, Reason};
use atalaya_probe::Engine;
use std::time::{Duration, Instant};

/// Probes the single check in `checks` and checks the deadline held.
pub async fn probe(engine: &Engine, checks: &str) -> ProbeResult {
    let config = atalaya_tests::config(checks);
    let check = &config.checks[0];
    let start = Instant::now();
    let result = engine.probe(check).await.unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed <= check.timeout + Duration::from_millis(100),
        "{} took {elapsed:?}, past its timeout {:?} + 100ms",
        check.id,
        check.timeout
    );
    result
}

#[track_caller]
pub fn assert_result(r: &ProbeResult, outcome: Outcome, reason: Reason) {
    assert_eq!(
        (r.outcome, r.reason),
        (outcome, reason),
        "unexpected result: {r:#?}"
    );
}
