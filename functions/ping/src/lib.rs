//! The ping function: heartbeats on AWS, in the home region. One artefact, two functions:
//!
//! - **the ping endpoint** (behind a throttled HTTP API, payload format 2.0): `/ping/<token>`, `/start`,
//!   `/fail`, `/<exit status>` from the jobs (`atalaya_app::heartbeat::receive`: matched by
//!   token, rate-limited per token, kept in the check's ping log), each judged at once and its
//!   result written to the results table (region `heartbeats`); `/alive` answers the judge;
//! - **the judge** (a schedule, once a minute): calls the endpoint's `/alive` through its public
//!   URL (the monitor watching itself: an endpoint that does not answer makes every heartbeat
//!   unknown, never down, and keeps the gap in mind), then judges every heartbeat and writes
//!   the results. The alert function evaluates them like any probe's; a judge that stops makes
//!   the region `heartbeats` silent.
//!
//! Generic over the store: moto tests (tests/aws/ping_fn.rs) run both on the real SDK.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::heartbeat::{self, Tokens};
use atalaya_core::kinds::heartbeat::{Endpoint, MAX_BODY};
use atalaya_core::{Config, Outcome, ProbeResult};
use atalaya_store::{PingLogs, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The path the judge calls to see that the endpoint takes pings.
pub const ALIVE: &str = "/alive";

/// How long a write may take before the invocation gives up (retryable).
const WRITE_WITHIN: Duration = Duration::from_secs(10);

/// Is this event an HTTP request (payload format 2.0; else: the judge's schedule)?
pub fn is_request(event: &Value) -> bool {
    event.get("requestContext").is_some() && event.get("rawPath").is_some()
}

fn respond(status: u16, text: &str, retry_after: Option<u64>) -> Value {
    let mut headers = json!({
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
    });
    if let Some(s) = retry_after {
        headers["retry-after"] = json!(s.to_string());
    }
    json!({ "statusCode": status, "headers": headers, "body": format!("{text}\n") })
}

/// What one request did (logged, counted).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Answered {
    pub status: u16,
    pub check: Option<String>,
}

/// Answers one HTTP request at `now`: a ping, or the judge's `/alive`.
pub async fn answer<S: PingLogs + Store>(
    store: &S,
    config: &Config,
    tokens: &Tokens,
    event: &Value,
    now: DateTime<Utc>,
) -> (Value, Answered) {
    let path = event["rawPath"].as_str().unwrap_or("/");
    if path == ALIVE {
        // The endpoint takes pings when it can read what it keeps.
        return match store.endpoint_mark().await {
            Ok(_) => (
                respond(200, "OK", None),
                Answered {
                    status: 200,
                    check: None,
                },
            ),
            Err(e) => {
                tracing::error!(error = %e, "the ping endpoint cannot read its table");
                (
                    respond(503, "the ping endpoint cannot read its table", Some(5)),
                    Answered {
                        status: 503,
                        check: None,
                    },
                )
            }
        };
    }
    // A job's output is kept from its start: the rest of a large body is never decoded.
    let body = atalaya_aws::request_body_prefix(event, MAX_BODY);
    let body = &body[..];
    // The endpoint is taking pings: this one proves it.
    let received = match heartbeat::receive(
        store,
        config,
        tokens,
        path,
        body,
        now,
        Endpoint::AvailableSince(now),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "a ping could not be kept");
            return (
                respond(503, "the ping could not be kept; send it again", Some(5)),
                Answered {
                    status: 503,
                    check: None,
                },
            );
        }
    };
    let check = received.result.as_ref().map(|r| r.check.clone());
    if let Some(result) = &received.result {
        if let Err(e) = store
            .put_results(std::slice::from_ref(result), Instant::now() + WRITE_WITHIN)
            .await
        {
            // Kept in the ping log: the judge's next minute says it.
            tracing::error!(error = %e, check = %result.check, "a ping's result was not written");
        }
    }
    (
        respond(received.status, &received.message, received.retry_after),
        Answered {
            status: received.status,
            check,
        },
    )
}

/// The check the judge runs against the endpoint: `GET <url>/alive` within 5 s, expecting 200.
pub fn alive_check(url: &str, config: &Config) -> Result<atalaya_core::Check, String> {
    atalaya_app::alive::check(&format!("{}{ALIVE}", url.trim_end_matches('/')), config)
        .map_err(|e| format!("ATALAYA_PING_URL is not a usable address: {e}"))
}

/// Calls the endpoint's `/alive` through its public `url` with the monitor's own prober: up,
/// or why not.
pub async fn look(
    engine: &atalaya_probe::Engine,
    url: Option<&str>,
    config: &Config,
) -> Result<(), String> {
    let Some(url) = url else {
        return Err("ATALAYA_PING_URL is not set: the judge cannot see the endpoint".into());
    };
    let check = alive_check(url, config)?;
    match engine.probe(&check).await {
        Ok(r) if r.outcome == Outcome::Up => Ok(()),
        Ok(r) => Err(format!("the ping endpoint did not answer: {}", r.detail)),
        Err(e) => Err(format!("the ping endpoint could not be called: {e}")),
    }
}

/// What the judge did.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Judged {
    pub endpoint_ok: bool,
    /// Why the endpoint was not taking pings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_problem: Option<String>,
    pub heartbeats: usize,
    pub up: usize,
    pub degraded: usize,
    pub down: usize,
    pub unknown: usize,
}

/// The judge at `now`: `alive` is what calling the endpoint's `/alive` gave (up, or why not).
/// Keeps the endpoint's mark, judges every heartbeat of `config`, writes the results.
pub async fn judge<S: PingLogs + Store>(
    store: &S,
    config: &Config,
    tokens: &Tokens,
    now: DateTime<Utc>,
    alive: Result<(), String>,
) -> Result<Judged, StoreError> {
    let mark = store.endpoint_mark().await?;
    let (mark, endpoint) = mark.look(alive.is_ok(), now);
    store.put_endpoint_mark(&mark).await?;
    let mut results: Vec<ProbeResult> =
        heartbeat::judge_all(store, &config.checks, tokens, now, endpoint).await?;
    if let Err(why) = &alive {
        for r in &mut results {
            r.detail = format!("{} ({why})", r.detail);
        }
    }
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let out = Judged {
        endpoint_ok: alive.is_ok(),
        endpoint_problem: alive.err(),
        heartbeats: results.len(),
        up: count(Outcome::Up),
        degraded: count(Outcome::Degraded),
        down: count(Outcome::Down),
        unknown: count(Outcome::Unknown),
    };
    if !results.is_empty() {
        store
            .put_results(&results, Instant::now() + WRITE_WITHIN)
            .await?;
    }
    Ok(out)
}

/// The judge's CloudWatch metrics (EMF): `PingEndpointDown` (alarmed), `HeartbeatsDown`,
/// `HeartbeatsUnknown`.
pub fn judge_emf(out: &Judged, now: DateTime<Utc>) -> Value {
    atalaya_aws::emf(
        now.timestamp_millis(),
        &[("Function", "ping")],
        &[
            (
                "PingEndpointDown",
                "Count",
                if out.endpoint_ok { 0.0 } else { 1.0 },
            ),
            ("HeartbeatsDown", "Count", out.down as f64),
            ("HeartbeatsUnknown", "Count", out.unknown as f64),
        ],
    )
}

/// A request's CloudWatch metrics (EMF): `PingsReceived`, `PingsRefused` (rate-limited),
/// `PingsUnknownToken`, `PingsFailed` (not kept).
pub fn ping_emf(a: &Answered, now: DateTime<Utc>) -> Value {
    let is = |s: u16| if a.status == s { 1.0 } else { 0.0 };
    atalaya_aws::emf(
        now.timestamp_millis(),
        &[("Function", "ping")],
        &[
            ("PingsReceived", "Count", is(200)),
            ("PingsRefused", "Count", is(429)),
            ("PingsUnknownToken", "Count", is(404)),
            ("PingsFailed", "Count", is(503)),
        ],
    )
}
