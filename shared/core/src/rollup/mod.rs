//! Rollups: how long each service was up, degraded, down, unknown or in maintenance, per hour
//! (days and months are sums of hours), and uptime under an accounting policy that says how it
//! was counted. Pure: the shells accrue the time between two evaluations to the condition the
//! service was in during it, and keep the hours.
//!
//! A service's condition (`service_condition`), most serious first: in a maintenance window →
//! maintenance; a check down by the quorum → down (only the quorum confirms downtime: an
//! incident kept open while its resolution is confirmed does not extend it); a check the monitor
//! cannot see → unknown (the monitor never counts what it did not see as up); a check degraded,
//! or failing in fewer regions than the quorum → degraded; else up.

use crate::config::{Config, Service};
use crate::evaluate::{State, Verdict};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a service was, for a stretch of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Up,
    Degraded,
    Down,
    /// The monitor could not see it (silent regions, faults): counted apart, never as up.
    Unknown,
    Maintenance,
}

/// Milliseconds in each condition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Millis {
    pub up: u64,
    pub degraded: u64,
    pub down: u64,
    pub unknown: u64,
    pub maintenance: u64,
}

impl Millis {
    fn slot(&mut self, c: Condition) -> &mut u64 {
        match c {
            Condition::Up => &mut self.up,
            Condition::Degraded => &mut self.degraded,
            Condition::Down => &mut self.down,
            Condition::Unknown => &mut self.unknown,
            Condition::Maintenance => &mut self.maintenance,
        }
    }

    pub fn add(&mut self, c: Condition, ms: u64) {
        *self.slot(c) += ms;
    }

    pub fn merge(&mut self, o: &Millis) {
        self.up += o.up;
        self.degraded += o.degraded;
        self.down += o.down;
        self.unknown += o.unknown;
        self.maintenance += o.maintenance;
    }

    pub fn total(&self) -> u64 {
        self.up + self.degraded + self.down + self.unknown + self.maintenance
    }
}

/// Hours of one service: by the hour's start.
pub type Hours = BTreeMap<DateTime<Utc>, Millis>;

/// Adds the time from `from` to `to` in condition `c`, split at each hour.
pub fn accrue(hours: &mut Hours, c: Condition, from: DateTime<Utc>, to: DateTime<Utc>) {
    let mut t = from;
    while t < to {
        let hour = t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t);
        let end = (hour + TimeDelta::hours(1)).min(to);
        let ms = (end - t).num_milliseconds().max(0) as u64;
        hours.entry(hour).or_default().add(c, ms);
        t = end;
    }
}

/// The hours from `from` (included) to `to` (excluded), summed.
pub fn sum(hours: &Hours, from: DateTime<Utc>, to: DateTime<Utc>) -> Millis {
    let mut out = Millis::default();
    for (_, m) in hours.range(from..to) {
        out.merge(m);
    }
    out
}

/// The condition of `service` in `state` at `now`.
pub fn service_condition(
    state: &State,
    config: &Config,
    service: &Service,
    now: DateTime<Utc>,
) -> Condition {
    if service
        .maintenance
        .iter()
        .any(|m| m.start <= now && now < m.end)
    {
        return Condition::Maintenance;
    }
    let verdicts: Vec<Verdict> = config
        .checks
        .iter()
        .filter(|c| c.service == service.id)
        .map(|c| {
            state
                .checks
                .get(&c.id)
                .map_or(Verdict::Unknown, |s| s.verdict)
        })
        .collect();
    if verdicts.contains(&Verdict::Down) {
        Condition::Down
    } else if verdicts.contains(&Verdict::Unknown) {
        Condition::Unknown
    } else if verdicts.contains(&Verdict::Degraded) {
        Condition::Degraded
    } else {
        Condition::Up
    }
}

/// What a rollup counts: a service (keyed by its id), or one check in one region (keyed
/// `shop-home@eu-west-1`; ids cannot hold `@`), kept beside the services' own. Keys are made
/// by [`Subject::key`] and read by [`Subject::parse`] alone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject<'a> {
    Service(&'a str),
    Check { check: &'a str, region: &'a str },
}

impl<'a> Subject<'a> {
    pub fn key(&self) -> String {
        match self {
            Subject::Service(id) => (*id).to_string(),
            Subject::Check { check, region } => format!("{check}@{region}"),
        }
    }

    pub fn parse(key: &'a str) -> Subject<'a> {
        match key.split_once('@') {
            Some((check, region)) => Subject::Check { check, region },
            None => Subject::Service(key),
        }
    }

    /// The service the subject's hours belong to in `config` (none: it left the file).
    pub fn service_in(&self, config: &'a Config) -> Option<&'a str> {
        match self {
            Subject::Service(id) => config.service(id).map(|s| s.id.as_str()),
            Subject::Check { check, .. } => config.check(check).map(|c| c.service.as_str()),
        }
    }
}

/// The rollup key of one check in one region ([`Subject::Check`]).
pub fn check_key(check: &str, region: &str) -> String {
    Subject::Check { check, region }.key()
}

/// The condition of `check` in `region` at `now`, as that region saw it: in its service's
/// maintenance window → maintenance; no result yet, a monitoring fault, a silent region or a
/// result older than three intervals → unknown; failing past its retries → down (in that
/// region: the service's down needs the quorum); failing within its retries, or degraded →
/// degraded; else up.
pub fn check_condition(
    state: &State,
    config: &Config,
    check: &crate::config::Check,
    region: &str,
    now: DateTime<Utc>,
) -> Condition {
    use crate::result::Outcome;
    if config
        .service(&check.service)
        .is_some_and(|s| s.maintenance.iter().any(|m| m.start <= now && now < m.end))
    {
        return Condition::Maintenance;
    }
    let silent = state.regions.get(region).is_some_and(|r| r.silent);
    let Some(cr) = state
        .checks
        .get(&check.id)
        .and_then(|c| c.regions.get(region))
    else {
        return Condition::Unknown;
    };
    let fresh = crate::evaluate::after(cr.last_at, check.stale_after) >= now;
    if silent || cr.fault.is_some() || !fresh {
        return Condition::Unknown;
    }
    match cr.outcome {
        Outcome::Down if cr.hard_down => Condition::Down,
        Outcome::Down | Outcome::Degraded => Condition::Degraded,
        Outcome::Up => Condition::Up,
        Outcome::Unknown => Condition::Unknown,
    }
}

mod latency;
mod marks;
mod policy;
mod tally;

pub use latency::*;
pub use marks::*;
pub use policy::*;
pub use tally::*;

#[cfg(test)]
mod tests;
