//! The probe function: invoked each minute in each region by EventBridge Scheduler with
//! `{"region": "eu-west-1", "shard": 0, "shards": 4}` (shard optional). Runs the checks due this
//! minute for that region and shard with the probe engine, writes their results to DynamoDB in
//! batches, and logs CloudWatch EMF metrics. Silence of a region is judged by the alert function
//! from the results themselves.
//!
//! Sub-minute checks (10, 15, 20, 30 s) run within the same invocation, each at its seconds of
//! the minute (`schedule::runs_in_minute`): the invocation waits for each round's second, runs
//! the checks due then, and writes their results at once, so the evaluator hears them as they
//! come.
//!
//! The handler is a plain async function over its dependencies (any `Store`), so tests call it
//! directly against local targets, with SQLite or DynamoDB on moto.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_core::schedule::{runs_in_minute, selection};
use atalaya_core::{Check, Config, Outcome, ProbeResult};
use atalaya_probe::{CheckError, Engine, Sink};
use atalaya_store::Store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Deserialize)]
pub struct ProbeEvent {
    pub region: String,
    /// A number, or a string of digits (the SAM template's loop writes the shard as a string).
    #[serde(default, deserialize_with = "number")]
    pub shard: u32,
    #[serde(default = "one", deserialize_with = "number")]
    pub shards: u32,
}

fn one() -> u32 {
    1
}

fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        N(u32),
        S(String),
    }
    match Number::deserialize(d)? {
        Number::N(n) => Ok(n),
        Number::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a shard number"))),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeOutput {
    pub region: String,
    pub checks: usize,
    pub failures: usize,
    pub check_errors: usize,
    /// Results that are monitoring faults (blocked targets, checks that cannot run).
    pub monitoring_faults: usize,
    pub written: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeFnError {
    #[error("bad event: {0}")]
    Event(String),
    #[error(transparent)]
    Store(#[from] atalaya_store::StoreError),
}

struct Collect {
    results: Vec<ProbeResult>,
    errors: usize,
    region: String,
    now: DateTime<Utc>,
}

impl Sink for Collect {
    fn result(&mut self, r: ProbeResult) {
        self.results.push(r);
    }
    /// A check that cannot run is written as a monitoring fault: the alert function tells the
    /// operators (and never the customers).
    fn check_error(&mut self, check: &Check, error: CheckError) {
        self.errors += 1;
        tracing::error!(check = %check.id, error = %error, "check cannot run");
        self.results
            .push(error.to_result(check, &self.region, self.now));
    }
}

/// Waits for a moment of the minute: the clock, or a test's.
pub trait Pacer: Sync {
    fn until(&self, at: DateTime<Utc>) -> impl std::future::Future<Output = ()> + Send;
}

/// The wall clock.
pub struct WallClock;

impl Pacer for WallClock {
    async fn until(&self, at: DateTime<Utc>) {
        if let Ok(wait) = (at - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// One invocation. `deadline` is when the function must be done (its timeout minus a margin).
pub async fn handle<S: Store>(
    event: ProbeEvent,
    config: &Config,
    engine: &Arc<Engine>,
    store: &S,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Result<ProbeOutput, ProbeFnError> {
    handle_paced(event, config, engine, store, now, deadline, &WallClock).await
}

/// [`handle`], waiting for each round's second with `pacer`.
pub async fn handle_paced<S: Store, P: Pacer>(
    event: ProbeEvent,
    config: &Config,
    engine: &Arc<Engine>,
    store: &S,
    now: DateTime<Utc>,
    deadline: Instant,
    pacer: &P,
) -> Result<ProbeOutput, ProbeFnError> {
    if event.shards == 0 || event.shard >= event.shards {
        return Err(ProbeFnError::Event(format!(
            "shard {} of {} does not exist",
            event.shard, event.shards
        )));
    }
    if !config.settings.regions.contains(&event.region) {
        return Err(ProbeFnError::Event(format!(
            "region {} is not in settings.regions",
            event.region
        )));
    }
    let started = Instant::now();
    let selected = selection(config, &event.region, event.shard, event.shards, now);
    // The rounds of this minute: the second each starts at, and its checks.
    let minute = now.timestamp().div_euclid(60);
    let minute_start = DateTime::from_timestamp(minute * 60, 0).unwrap_or(now);
    let mut rounds: std::collections::BTreeMap<u32, Vec<Check>> = Default::default();
    for c in selected {
        for second in runs_in_minute(&c, minute) {
            rounds.entry(second).or_default().push(c.clone());
        }
    }
    let mut output = ProbeOutput {
        region: event.region.clone(),
        checks: 0,
        failures: 0,
        check_errors: 0,
        monitoring_faults: 0,
        written: 0,
    };
    for (second, checks) in rounds {
        let at = minute_start + chrono::TimeDelta::seconds(i64::from(second));
        // A round that could not finish before the deadline is left to the next minute's.
        let longest = checks.iter().map(|c| c.timeout).max().unwrap_or_default();
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        if second > 0 && Instant::now() + wait + longest > deadline {
            tracing::warn!(
                second,
                checks = checks.len(),
                "round skipped: it would not end before the deadline"
            );
            continue;
        }
        if second > 0 {
            pacer.until(at).await;
        }
        let checks: Arc<[Check]> = checks.into();
        let mut sink = Collect {
            results: Vec::with_capacity(checks.len()),
            errors: 0,
            region: event.region.clone(),
            now: at.max(now),
        };
        engine.run(checks.clone(), &mut sink).await;
        // The scheduler's event names the region; results carry it whatever the engine was
        // built with.
        for r in &mut sink.results {
            r.region.clone_from(&event.region);
        }
        output.written += store.put_results(&sink.results, deadline).await?;
        output.checks += checks.len();
        output.check_errors += sink.errors;
        output.failures += sink
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Down)
            .count();
        output.monitoring_faults += sink
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Unknown)
            .count();
    }
    println!("{}", emf(&output, started.elapsed(), now));
    Ok(output)
}

/// A CloudWatch embedded-metric-format log line: CloudWatch turns it into metrics.
pub fn emf(o: &ProbeOutput, duration: Duration, now: DateTime<Utc>) -> serde_json::Value {
    atalaya_aws::emf(
        now.timestamp_millis(),
        &[("Region", &o.region)],
        &[
            ("ChecksRun", "Count", o.checks as f64),
            ("CheckFailures", "Count", o.failures as f64),
            ("CheckErrors", "Count", o.check_errors as f64),
            ("MonitoringFaults", "Count", o.monitoring_faults as f64),
            (
                "ProbeDuration",
                "Milliseconds",
                duration.as_secs_f64() * 1000.0,
            ),
        ],
    )
}

/// The shell's EMF line, by region: `ChecksFileRejected`, 1 when a published checks file was
/// refused (an alarm says so; the last good one keeps running).
pub fn shell_emf(region: &str, checks_rejected: u8, now: DateTime<Utc>) -> serde_json::Value {
    atalaya_aws::emf(
        now.timestamp_millis(),
        &[("Region", region)],
        &[("ChecksFileRejected", "Count", f64::from(checks_rejected))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_with_an_optional_shard() {
        let e: ProbeEvent = serde_json::from_str(r#"{"region": "eu-west-1"}"#).unwrap();
        assert_eq!((e.shard, e.shards), (0, 1));
        let e: ProbeEvent =
            serde_json::from_str(r#"{"region": "eu-west-1", "shard": 2, "shards": 4}"#).unwrap();
        assert_eq!((e.shard, e.shards), (2, 4));
        let e: ProbeEvent =
            serde_json::from_str(r#"{"region": "eu-west-1", "shard": "3", "shards": 4}"#).unwrap();
        assert_eq!((e.shard, e.shards), (3, 4));
        let e = serde_json::from_str::<ProbeEvent>(r#"{"region": "r", "shard": "x"}"#);
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("\"x\" is not a shard number"));
    }
}
