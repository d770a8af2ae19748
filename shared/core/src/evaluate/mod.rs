//! The incident engine's pure core: `evaluate(state, results, now, config) -> (state, events)`.
//!
//! No clock, no I/O: time is the `now` parameter, so tests can simulate hours of incidents in
//! microseconds, and the same input always gives the same output. The shells (the local runner,
//! the alert Lambda) store the state and publish the events.
//!
//! How a service is judged:
//! 1. Per check and region, Nagios-style soft/hard states: `retries` consecutive failures make a
//!    hard down, `recover_after` consecutive successes a hard up. Duplicate, out-of-order and stale
//!    results are ignored. A monitoring fault (`blocked`, `check_error`) is not a result about the
//!    target: it leaves the counters alone and blinds that region (`results.rs`).
//! 2. Per check, across regions (`sight.rs`): only regions with a fresh, real result see it. When
//!    fewer than the quorum see it, it is **unknown**: nothing changes because of it (no recovery,
//!    no resolution, no new incident, no escalation), customers get no good news, and operators
//!    are told once that the monitor is blind, and once when it sees again. Otherwise it is down
//!    when the quorum is hard down, degraded when some region fails, up otherwise.
//! 3. Per service (`incidents.rs`): the worst of its checks. A confirmed outage opens an incident
//!    (unless the service is in maintenance, or a service it depends on already has one, which
//!    then lists it). Good news (working again, resolved) needs every check of every service on
//!    the incident seen passing by the quorum.

mod act;
#[cfg(test)]
mod act_tests;
mod cadence;
#[cfg(test)]
mod cadence_tests;
mod degraded;
#[cfg(test)]
mod degraded_tests;
mod early;
mod events;
mod flapping;
mod incidents;
mod maintenance;
#[cfg(test)]
mod message_tests;
mod notes;
mod notices;
#[cfg(test)]
mod properties;
mod results;
mod sight;
#[cfg(test)]
mod sight_tests;
mod state;
mod terms;
#[cfg(test)]
mod tests;

pub use act::{act, verdict_words, Action, ActionError, Refusal, Texts};
pub use early::Cause;
pub use events::{About, Audience, Event, EventKind, Note, Severity};
pub use flapping::percent_state_change;
pub use notes::{Blindness, CheckSight, DegradedNote, EarlyNote, FaultNote};
pub use state::{
    Acknowledgement, CheckRegion, CheckState, DriftSeen, EarlyState, Failure, FaultState, Incident,
    Phase, RegionFault, RegionState, State, TimelineEntry, Verdict,
};

use crate::config::Config;
use crate::result::ProbeResult;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use std::time::Duration;

/// A configured duration as a time span; saturating, so a huge value cannot overflow.
fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `t - d`, or the earliest time there is.
pub(crate) fn before(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `t + d`, or the latest time there is.
pub(crate) fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Has at least `d` passed from `since` to `now`?
fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>, d: Duration) -> bool {
    after(since, d) <= now
}

/// Evaluates new results at `now`. Pure: the same inputs give the same outputs.
pub fn evaluate(
    state: &State,
    results: &[ProbeResult],
    now: DateTime<Utc>,
    config: &Config,
) -> (State, Vec<Event>) {
    evaluate_owned(state.clone(), results, now, config)
}

/// [`evaluate`] on a state the caller gives up (one copy of it less).
pub fn evaluate_owned(
    state: State,
    results: &[ProbeResult],
    now: DateTime<Utc>,
    config: &Config,
) -> (State, Vec<Event>) {
    let mut e = Evaluator::new(state, now, config);
    e.state.started_at.get_or_insert(now);
    e.apply_results(results);
    e.judge_regions();
    e.judge_checks();
    e.judge_services();
    e.maintenance();
    e.cadence();
    e.archive();
    (e.state, e.events)
}

/// The monitor starts watching again after a stop (the local runner's restart): the time it
/// was away is its own gap, not silence of the regions. Until fresh results arrive its checks
/// are unknown (their last results are stale), without `region_silent` or `monitoring_blind`
/// noise while the first round of probes runs.
pub fn resume(state: &State, now: DateTime<Utc>) -> State {
    let mut s = state.clone();
    if s.started_at.is_some() {
        s.resumed_at = Some(now);
    }
    s
}

pub(crate) struct Evaluator<'a> {
    state: State,
    events: Vec<Event>,
    now: DateTime<Utc>,
    config: &'a Config,
    /// The shortest interval of each region's checks (the scope's, or this file's).
    region_intervals: std::collections::BTreeMap<String, Duration>,
}

impl<'a> Evaluator<'a> {
    fn new(state: State, now: DateTime<Utc>, config: &'a Config) -> Self {
        let scope = &config.settings.scope.region_intervals;
        Evaluator {
            state,
            events: Vec::new(),
            now,
            config,
            region_intervals: if scope.is_empty() {
                config.region_intervals()
            } else {
                scope.clone()
            },
        }
    }

    fn in_maintenance(&self, service: &crate::config::Service) -> bool {
        service
            .maintenance
            .iter()
            .any(|m| m.start <= self.now && self.now < m.end)
    }
}
