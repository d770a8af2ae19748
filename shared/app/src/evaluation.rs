//! Evaluating a batch of results (or a tick) against a store, in partitions of the engine's
//! state (`atalaya_core::partition`): many on DynamoDB (the alert function), one on SQLite (the
//! local runner), the same steps either way.
//!
//! 1. [`away`]: whether the monitor was away before now (its pulse older than three ticks, or
//!    the first round of the store's only evaluator): then the time since is unknown in the
//!    hours, and the engine watches again from now (`resume`: silence and blindness are counted
//!    from its return, not from before it left).
//! 2. The regions' partition on every result (it alone says a region went silent or came
//!    back); with one partition it is the whole state, evaluated once.
//! 3. Each partition its results touch (every one on a tick), each a transition of its own,
//!    several at once; each keeps its services' rollup marks (`State.rollup`).
//! 4. [`crate::hours::flush`]: completed hours written to the store's rollups; the partition's
//!    next evaluation lets go of them (step 3, `crate::hours::written`).
//! 5. Incidents whose service moved to another partition follow it (`crate::handover`).
//!
//! A partition that fails does not stop the others; the first failure is returned, so a stream
//! batch is handed back and evaluated again (results already applied are recognised as such).

use crate::transition::{transition_in, transition_owned, Mode, TransitionError};
use crate::Checks;
use atalaya_core::evaluate::{evaluate_owned, resume, Event, Incident, RegionState, State};
use atalaya_core::partition::{Part, Plan};
use atalaya_core::{Config, ProbeResult};
use atalaya_store::{Rollups, Store, ENGINE};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

/// Partitions evaluated at once (and rollup writes in flight): all 64 of a deployment's, so that
/// an evaluation waits on DynamoDB one round trip per step, not four (docs/performance.md,
/// "Scale"); their work on the CPU still takes turns.
pub(crate) const IN_FLIGHT: usize = 64;
/// A tick leaves out a partition evaluated less than this ago.
pub const RECENT: chrono::TimeDelta = chrono::TimeDelta::seconds(30);
/// The monitor was away when its pulse is older than this many ticks.
const ABSENT_TICKS: i32 = 3;

/// What to evaluate.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// The results (none on a tick of the alert function).
    pub results: &'a [ProbeResult],
    pub now: DateTime<Utc>,
    /// A tick of the evaluator's own clock: it records the evaluator's pulse. (A batch of the
    /// alert function's stream reads it only: one write less per batch.)
    pub tick: bool,
    /// This process is the store's only evaluator (the local runner): the time before its
    /// first round, since the last pulse, is the monitor's absence whatever its length.
    pub sole: bool,
}

/// What an evaluation did.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// Events committed (each became messages).
    pub events: usize,
    /// Partitions whose state was written.
    pub committed: usize,
    /// Partitions evaluated.
    pub evaluated: usize,
    /// Configured regions with no result for three intervals.
    pub silent_regions: usize,
    /// Service-hours of rollups written.
    pub rollup_hours: usize,
    /// What each evaluated service's status page shows, as a fingerprint
    /// (`crate::status_site::signature`): the round rebuilds the pages whose changed.
    pub pages: BTreeMap<String, u64>,
    /// Services whose completed hours were written: their bars changed.
    pub hours_of: BTreeSet<String>,
    /// When the monitor was away before this evaluation, if it was.
    pub away_since: Option<DateTime<Utc>>,
    /// When a region last reported, in the partitions evaluated: the status site's
    /// "last checked" (`atalaya_status::live`).
    pub seen_at: Option<DateTime<Utc>>,
}

impl Evaluated {
    fn add(&mut self, t: &crate::Transition, config: &Config, now: DateTime<Utc>) {
        self.evaluated += 1;
        self.committed += usize::from(t.committed);
        self.events += if t.committed { t.events.len() } else { 0 };
        self.pages
            .extend(crate::status_site::signatures(&t.state, config, now));
        let seen = t.state.regions.values().filter_map(|r| r.last_seen).max();
        self.seen_at = self.seen_at.max(seen);
    }
}

/// Each service's condition in `state` (a partition's services), as the rollups count it. (Its
/// checks per region are not kept here: their marks would make every partition item half as big
/// again, rewritten with every batch, and their hours twenty times the writes; measured with
/// `make bench-scale`, docs/performance.md. The hourly job tallies them from the results.)
fn conditions(
    state: &State,
    config: &Config,
    now: DateTime<Utc>,
) -> BTreeMap<String, atalaya_core::rollup::Condition> {
    config
        .services
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                atalaya_core::rollup::service_condition(state, config, s, now),
            )
        })
        .collect()
}

/// When the monitor was away before `batch.now`, if it was: the last pulse, when it is older
/// than three ticks or this is the first round of the store's only evaluator. A tick records
/// the pulse.
pub async fn away<S: Rollups>(
    store: &S,
    checks: &Checks,
    batch: &Batch<'_>,
) -> Option<DateTime<Utc>> {
    let first = checks.first_round();
    let last = if batch.tick {
        store.alive(batch.now).await
    } else {
        store.last_alive().await
    };
    let absent = chrono::TimeDelta::from_std(checks.config.settings.tick)
        .unwrap_or(chrono::TimeDelta::minutes(1))
        * ABSENT_TICKS;
    match last {
        Ok(Some(t)) if (batch.sole && first) || batch.now - t > absent => Some(t.min(batch.now)),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the evaluator's pulse could not be read; an absence is not counted this time");
            None
        }
    }
}

/// One partition's step: the monitor's return (if it was away), drift, what the regions'
/// partition heard, the evaluation, and the services' rollup marks.
fn step(
    s: State,
    results: &[ProbeResult],
    config: &Config,
    batch: &Batch<'_>,
    away: Option<DateTime<Utc>>,
    drift: &crate::drift::Seen,
    heard: Option<&BTreeMap<String, RegionState>>,
) -> (State, Vec<Event>) {
    let now = batch.now;
    let mut s = if away.is_some() { resume(&s, now) } else { s };
    crate::drift::apply(&mut s, drift, config);
    // What the regions' partition heard: every partition judges silence alike.
    for (region, rs) in heard.into_iter().flatten() {
        let own = s.regions.entry(region.clone()).or_default();
        own.last_seen = own.last_seen.max(rs.last_seen);
    }
    let (mut s, events) = evaluate_owned(s, results, now, config);
    let current = conditions(&s, config, now);
    s.rollup.advance(now, &current, away);
    (s, events)
}

/// Evaluates `batch` and commits what changes (see the module's steps).
pub async fn evaluate_batch<S: Store + Rollups>(
    store: &S,
    checks: &Checks,
    batch: Batch<'_>,
) -> Result<Evaluated, TransitionError<Infallible>> {
    let away = away(store, checks, &batch).await;
    evaluate_away(store, checks, batch, away).await
}

/// [`evaluate_batch`] with the monitor's absence already read ([`away`]: the round reads it
/// while it takes the lease).
pub(crate) async fn evaluate_away<S: Store + Rollups>(
    store: &S,
    checks: &Checks,
    batch: Batch<'_>,
    away: Option<DateTime<Utc>>,
) -> Result<Evaluated, TransitionError<Infallible>> {
    let config = &checks.config;
    let now = batch.now;
    // Once an hour, on a tick: latency drift from the rollups (`crate::drift`).
    let drift = if batch.tick || batch.results.is_empty() {
        crate::drift::due(store, checks, now).await
    } else {
        Default::default()
    };
    let mut out = Evaluated {
        away_since: away,
        ..Evaluated::default()
    };
    if store.partitions() <= 1 {
        let written = crate::hours::written(checks, ENGINE);
        let whole = |s: &State| {
            let (mut s, events) =
                step(s.clone(), batch.results, config, &batch, away, &drift, None);
            s.rollup.forget(&written);
            Ok((s, events))
        };
        let t = transition_in(store, ENGINE, &checks.renderer, config, whole, Mode::Commit).await?;
        out.add(&t, config, now);
        out.silent_regions = t.state.regions.values().filter(|r| r.silent).count();
        let completed = t.state.rollup.completed(now);
        crate::hours::flush(store, checks, vec![(ENGINE, config, completed)], &mut out).await;
        return Ok(out);
    }
    let plan = checks.plan(store.partitions());
    let regions = &plan.regions;
    let t = transition_in(
        store,
        &regions.key,
        &checks.renderer,
        &regions.config,
        |s: &State| {
            let s = if away.is_some() {
                resume(s, now)
            } else {
                s.clone()
            };
            Ok(evaluate_owned(s, batch.results, now, &regions.config))
        },
        Mode::Commit,
    )
    .await?;
    out.add(&t, &regions.config, now);
    out.silent_regions = t.state.regions.values().filter(|r| r.silent).count();
    let heard: BTreeMap<String, RegionState> = t.state.regions;
    let by_part = by_partition(checks, &plan, &batch, &drift);
    let done = evaluate_parts(store, checks, &plan, &by_part, &batch, away, &drift, &heard).await;
    let mut first_error = None;
    let mut strays: Vec<(&str, Incident)> = Vec::new();
    let mut completed: Vec<(&str, &Config, _)> = Vec::new();
    for (part, t) in done {
        match t {
            Ok(t) => {
                out.add(&t, &part.config, now);
                let hours = t.state.rollup.completed(now);
                if !hours.is_empty() {
                    completed.push((part.key.as_str(), &part.config, hours));
                }
                checks
                    .evaluated
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(part.key.clone(), now);
                // Incidents of services this partition no longer holds (a new dependency
                // joined their group to another one's partition).
                for i in t.state.incidents.values() {
                    if part.config.service(&i.service).is_none() {
                        strays.push((part.key.as_str(), i.clone()));
                    }
                }
            }
            Err(e) => {
                tracing::error!(partition = %part.key, error = %e, "partition not evaluated");
                first_error.get_or_insert(e);
            }
        }
    }
    crate::hours::flush(store, checks, completed, &mut out).await;
    for (from, incident) in strays {
        if let Err(e) = crate::handover::hand_over(store, checks, &plan, from, incident).await {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The results of each partition the batch touches; on a tick every partition, but those a
/// batch evaluated less than [`RECENT`] ago (their `settings.tick` allows for it: a promised
/// update is never late); and every partition the hour's drift concerns.
fn by_partition<'p>(
    checks: &Checks,
    plan: &'p Plan,
    batch: &Batch<'_>,
    drift: &crate::drift::Seen,
) -> BTreeMap<&'p str, Vec<ProbeResult>> {
    let mut by_part: BTreeMap<&str, Vec<ProbeResult>> = BTreeMap::new();
    // The hour's drift is judged once: every partition it concerns takes it now, however
    // recently it was evaluated (else it would be lost until the hour after).
    for check in drift.keys() {
        if let Some(p) = plan.of_check(check) {
            by_part.entry(p.key.as_str()).or_default();
        }
    }
    if batch.results.is_empty() {
        let evaluated = checks.evaluated.lock().unwrap_or_else(|p| p.into_inner());
        for p in &plan.parts {
            let recent = evaluated
                .get(&p.key)
                .is_some_and(|at| *at <= batch.now && batch.now - *at < RECENT);
            if !recent {
                by_part.entry(p.key.as_str()).or_default();
            }
        }
    } else {
        for r in batch.results {
            if let Some(p) = plan.of_check(&r.check) {
                by_part.entry(p.key.as_str()).or_default().push(r.clone());
            }
        }
    }
    by_part
}

/// Each partition with results (or on a tick), several at once, each its own read and write.
#[allow(clippy::too_many_arguments)]
async fn evaluate_parts<'p, S: Store>(
    store: &S,
    checks: &Checks,
    plan: &'p Plan,
    by_part: &BTreeMap<&str, Vec<ProbeResult>>,
    batch: &Batch<'_>,
    away: Option<DateTime<Utc>>,
    drift: &crate::drift::Seen,
    heard: &BTreeMap<String, RegionState>,
) -> Vec<(
    &'p Part,
    Result<crate::Transition, TransitionError<Infallible>>,
)> {
    use futures::StreamExt;
    futures::stream::iter(
        plan.parts
            .iter()
            .filter(|p| by_part.contains_key(p.key.as_str())),
    )
    .map(|part| {
        let mine = &by_part[part.key.as_str()];
        async move {
            let written = crate::hours::written(checks, &part.key);
            let one = |s: State| {
                let (mut s, events) = step(s, mine, &part.config, batch, away, drift, Some(heard));
                s.rollup.forget(&written);
                (s, events)
            };
            let (key, renderer, config) = (&part.key, &checks.renderer, &part.config);
            // With results the partition changes (their stamps at least): evaluated in place.
            // Without (a tick), a copy tells whether anything changed at all.
            let t = if mine.is_empty() {
                let copy = |s: &State| Ok(one(s.clone()));
                transition_in(store, key, renderer, config, copy, Mode::Commit).await
            } else {
                transition_owned(store, key, renderer, config, one).await
            };
            (part, t)
        }
    })
    .buffer_unordered(IN_FLIGHT)
    .collect()
    .await
}
