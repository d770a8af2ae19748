//! The hourly rollup job on AWS: each check's time per region and the latency sketches, worked
//! out after each hour from the results table (`atalaya_core::rollup::Tally`), a region at a
//! time, and kept per service and hour (`HourlyRollups`). The alert function keeps the
//! services' hours as it evaluates; doing this there too would rewrite every partition with
//! every batch (docs/architecture.md, "Rollups").
//!
//! Each run takes the hours of the last [`LOOK_BACK_HOURS`] not yet done in some region, oldest
//! first, and stops before its deadline: a run that failed or was cut short leaves the rest to
//! the next, and an hour done twice is written the same.

use atalaya_core::config::Config;
use atalaya_core::rollup::{check_key, Detail, Millis, Tally};
use atalaya_store::{HourlyRollups, StoreError, Written};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How far back the job looks for hours not done (results are kept 30 days; a day covers an
/// outage of the job itself).
pub const LOOK_BACK_HOURS: i64 = 24;

/// How long after an hour ends its results are taken as all in (a probe run's writes and the
/// stream's lag).
pub const SETTLE: TimeDelta = TimeDelta::minutes(5);

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct JobOutput {
    /// The hours done, with their region.
    pub done: Vec<(DateTime<Utc>, String)>,
    /// Hour-regions of the window still to do after this run (the next run takes them).
    pub pending: usize,
    pub results: usize,
    /// Results items that could not be read (logged; left out).
    pub unreadable: usize,
    pub written: Written,
}

/// The hours (starts) the job may take at `now`: the last [`LOOK_BACK_HOURS`] that are over
/// and settled, oldest first.
pub fn window(now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let last = (now - SETTLE)
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or(now)
        - TimeDelta::hours(1);
    (0..LOOK_BACK_HOURS)
        .rev()
        .map(|i| last - TimeDelta::hours(i))
        .collect()
}

/// The regions the checks file probes from.
pub fn regions(config: &Config) -> BTreeSet<String> {
    config
        .checks
        .iter()
        .flat_map(|c| c.regions.iter().cloned())
        .collect()
}

/// One region's hour, by service: what [`Tally`] made of its results. A check the file runs in
/// that region that sent nothing all hour, while the region sent other results, was unknown
/// all hour; a region that sent nothing at all leaves no hour (its time is the services'
/// unknown, counted by the alert function).
pub fn by_service(config: &Config, region: &str, detail: Detail) -> BTreeMap<String, Detail> {
    let mut out: BTreeMap<String, Detail> = BTreeMap::new();
    if detail.is_empty() {
        return out;
    }
    let Detail {
        mut checks,
        mut latency,
    } = detail;
    let whole = Millis {
        unknown: (TimeDelta::hours(1)).num_milliseconds() as u64,
        ..Millis::default()
    };
    for c in config
        .checks
        .iter()
        .filter(|c| c.regions.iter().any(|r| r == region))
    {
        let key = check_key(&c.id, region);
        let d = out.entry(c.service.clone()).or_default();
        d.checks
            .insert(key.clone(), checks.remove(&key).unwrap_or(whole));
        if let Some(l) = latency.remove(&key) {
            d.latency.insert(key, l);
        }
    }
    for (service, d) in out.iter_mut() {
        if let Some(l) = latency.remove(service) {
            d.latency.insert(service.clone(), l);
        }
    }
    out
}

/// Runs the job at `now` until `deadline`.
pub async fn run<S: HourlyRollups>(
    store: &S,
    config: &Config,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Result<JobOutput, StoreError> {
    let hours = window(now);
    let regions = regions(config);
    let done = store.regions_done(&hours, &regions).await?;
    let mut todo: Vec<(DateTime<Utc>, &String)> = Vec::new();
    for h in &hours {
        for r in &regions {
            if !done.get(h).is_some_and(|d| d.contains(r)) {
                todo.push((*h, r));
            }
        }
    }
    let mut out = JobOutput {
        pending: todo.len(),
        ..JobOutput::default()
    };
    let lookback = Tally::lookback(config);
    let mut longest = Duration::from_secs(5);
    for (hour, region) in todo {
        // Another region-hour only when it would end well before the deadline.
        if Instant::now() + longest * 2 > deadline {
            break;
        }
        let started = Instant::now();
        let to = hour + TimeDelta::hours(1);
        let mut tally = Tally::new(config, hour, to);
        let (read, unreadable) = store
            .each_results_page(region, hour - lookback, to, &mut |page| {
                for r in &page {
                    tally.add(r);
                }
            })
            .await?;
        let parts = by_service(config, region, tally.finish());
        let w = store.write_region_hour(region, hour, &parts).await?;
        tracing::info!(%hour, region, results = read, services = parts.len(), bytes = w.bytes, "rollup hour done");
        out.results += read;
        out.unreadable += unreadable;
        out.written.items += w.items;
        out.written.bytes += w.bytes;
        out.written.largest = out.written.largest.max(w.largest);
        out.written.trimmed += w.trimmed;
        out.done.push((hour, region.clone()));
        out.pending -= 1;
        longest = longest.max(started.elapsed());
    }
    Ok(out)
}
