//! Evaluating a batch of results (or a tick) against a store, whether it keeps the engine's
//! state in one document (SQLite, the local runner) or split into partitions (DynamoDB, the
//! alert function; `atalaya_core::partition`).
//!
//! Split, an evaluation:
//! 1. runs the regions' partition on every result (it alone says a region went silent or came
//!    back), and reads what it heard from each region;
//! 2. runs each partition its results touch (every partition on a tick) with its own results and
//!    the regions' news, each a transition of its own: a partition's item is read and written
//!    only when it has something to evaluate, and is as large as its share of the file.
//!
//! A partition that fails does not stop the others; the first failure is returned, so a stream
//! batch is handed back and evaluated again (results already applied are recognised as such).

use crate::transition::{transition, transition_in, Mode, TransitionError};
use crate::Checks;
use atalaya_core::evaluate::{evaluate, Incident, RegionState, State};
use atalaya_core::ProbeResult;
use atalaya_store::{Rollups, Store};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::convert::Infallible;

/// Partitions evaluated at once (and rollup writes in flight).
const IN_FLIGHT: usize = 16;
/// Services whose completed hours one evaluation writes at most.
const FLUSH: usize = 200;
/// A tick leaves out a partition evaluated less than this ago.
pub const RECENT: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

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
    /// Customers whose services had news (events, written hours): their status pages change.
    pub customers: std::collections::BTreeSet<String>,
    /// An event about no one service (a region, the monitor's sight): every page may change.
    pub everyone: bool,
}

/// The evaluator missed this many minutes of ticks: the time since it last ran is unknown.
const ABSENT: chrono::TimeDelta = chrono::TimeDelta::minutes(3);

/// Each service's condition in `state` (a partition's services), as the rollups count it. (Its
/// checks per region are not kept here: their marks would make every partition item half as big
/// again, rewritten with every batch, and their hours twenty times the writes; measured with
/// `make bench-scale`, docs/performance.md.)
fn conditions(
    state: &State,
    config: &atalaya_core::Config,
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

/// Completed hours by the service they belong to (a check's go with its service's); those of
/// subjects no longer in the file are left out (and let go of).
fn by_service(
    config: &atalaya_core::Config,
    completed: &BTreeMap<String, atalaya_core::rollup::Hours>,
) -> BTreeMap<String, BTreeMap<String, atalaya_core::rollup::Hours>> {
    let mut out: BTreeMap<String, BTreeMap<String, atalaya_core::rollup::Hours>> = BTreeMap::new();
    for (subject, hours) in completed {
        let service = match subject.split_once('@') {
            Some((check, _)) => config.check(check).map(|c| c.service.clone()),
            None => config.service(subject).map(|s| s.id.clone()),
        };
        if let Some(service) = service {
            out.entry(service)
                .or_default()
                .insert(subject.clone(), hours.clone());
        }
    }
    out
}

/// Evaluates `results` at `now` (a tick: none) and commits what changes. Split into
/// partitions, each partition also keeps its services' rollup marks (`State.rollup`): their
/// completed hours are written to the store's rollups and then let go; a tick records that the
/// evaluator ran, and an evaluation after an absence counts it unknown.
pub async fn evaluate_batch<S: Store + Rollups>(
    store: &S,
    checks: &Checks,
    results: &[ProbeResult],
    now: DateTime<Utc>,
) -> Result<Evaluated, TransitionError<Infallible>> {
    let config = &checks.config;
    let n = store.partitions();
    // Once an hour, on a tick: latency drift from the rollups (`crate::drift`).
    let drift = if results.is_empty() {
        crate::drift::due(store, checks, now).await
    } else {
        Default::default()
    };
    let drift = &drift;
    if n <= 1 {
        let t = transition(
            store,
            checks,
            |s: &State| {
                let mut s = s.clone();
                crate::drift::apply(&mut s, drift, config);
                Ok(evaluate(&s, results, now, config))
            },
            Mode::Commit,
        )
        .await?;
        return Ok(Evaluated {
            events: if t.committed { t.events.len() } else { 0 },
            committed: usize::from(t.committed),
            evaluated: 1,
            silent_regions: t.state.regions.values().filter(|r| r.silent).count(),
            everyone: t.committed && !t.events.is_empty(),
            ..Evaluated::default()
        });
    }
    let plan = checks.plan(n);
    let mut out = Evaluated::default();
    // When the evaluator last ran (a tick records it): after an absence, that time is unknown.
    let last = if results.is_empty() {
        store.alive(now).await
    } else {
        store.last_alive().await
    };
    let blind_from = match last {
        Ok(Some(t)) if now - t > ABSENT => Some(t),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the evaluator's pulse could not be read; absences are not counted this time");
            None
        }
    };
    // 1. The regions.
    let regions = &plan.regions;
    let t = transition_in(
        store,
        &regions.key,
        &checks.renderer,
        &regions.config,
        |s: &State| Ok(evaluate(s, results, now, &regions.config)),
        Mode::Commit,
    )
    .await?;
    out.evaluated += 1;
    out.committed += usize::from(t.committed);
    out.events += if t.committed { t.events.len() } else { 0 };
    out.everyone |= t.committed && !t.events.is_empty();
    out.silent_regions = t.state.regions.values().filter(|r| r.silent).count();
    let heard: BTreeMap<String, RegionState> = t.state.regions;
    // 2. The partitions with results (every one on a tick).
    let mut by_part: BTreeMap<&str, Vec<ProbeResult>> = BTreeMap::new();
    if results.is_empty() {
        // The tick: every partition but those a batch evaluated less than RECENT ago (their
        // partitions' `settings.tick` allows for it: a promised update is never late).
        let evaluated = checks.evaluated.lock().unwrap_or_else(|p| p.into_inner());
        for p in &plan.parts {
            let recent = evaluated
                .get(&p.key)
                .is_some_and(|at| *at <= now && now - *at < RECENT);
            if !recent {
                by_part.entry(p.key.as_str()).or_default();
            }
        }
    } else {
        for r in results {
            if let Some(p) = plan.of_check(&r.check) {
                by_part.entry(p.key.as_str()).or_default().push(r.clone());
            }
        }
    }
    // Partitions are independent: several are evaluated at once (each its own read and write).
    use futures::StreamExt;
    let done: Vec<_> = futures::stream::iter(
        plan.parts
            .iter()
            .filter(|p| by_part.contains_key(p.key.as_str())),
    )
    .map(|part| {
        let (heard, mine, renderer) = (&heard, &by_part[part.key.as_str()], &checks.renderer);
        async move {
            let step = |s: &State| {
                let mut s = s.clone();
                crate::drift::apply(&mut s, drift, &part.config);
                // What the regions' partition heard: every partition judges silence alike.
                for (region, rs) in heard {
                    let own = s.regions.entry(region.clone()).or_default();
                    own.last_seen = own.last_seen.max(rs.last_seen);
                }
                let (mut s, events) = evaluate(&s, mine, now, &part.config);
                let current = conditions(&s, &part.config, now);
                s.rollup.advance(now, &current, blind_from);
                Ok((s, events))
            };
            let t =
                transition_in(store, &part.key, renderer, &part.config, step, Mode::Commit).await;
            (part, t)
        }
    })
    .buffer_unordered(IN_FLIGHT)
    .collect()
    .await;
    let mut first_error = None;
    let mut strays: Vec<(&str, Incident)> = Vec::new();
    let mut written: Vec<(
        &atalaya_core::partition::Part,
        BTreeMap<String, atalaya_core::rollup::Hours>,
    )> = Vec::new();
    for (part, t) in done {
        match t {
            Ok(t) => {
                if t.committed {
                    for e in &t.events {
                        match e.service().and_then(|s| part.config.service(s)) {
                            Some(s) => {
                                out.customers.insert(s.customer.clone());
                            }
                            None => out.everyone = true,
                        }
                    }
                }
                let completed = t.state.rollup.completed(now);
                if !completed.is_empty() {
                    written.push((part, completed));
                }
                out.evaluated += 1;
                out.committed += usize::from(t.committed);
                out.events += if t.committed { t.events.len() } else { 0 };
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
    // Completed hours: written (setting an hour twice is harmless), then let go of. At most
    // FLUSH services' per evaluation, several at once: the first evaluations of an hour share
    // the writes instead of one of them taking them all.
    let mut budget = FLUSH;
    for (part, completed) in written {
        if budget == 0 {
            break;
        }
        let mut grouped = by_service(&part.config, &completed);
        let keep: Vec<String> = grouped.keys().skip(budget).cloned().collect();
        for k in &keep {
            grouped.remove(k);
        }
        budget = budget.saturating_sub(grouped.len());
        let writes =
            futures::stream::iter(grouped.into_iter().map(|(service, subjects)| async move {
                let one = BTreeMap::from([(service, subjects)]);
                store.write_hours(&one).await.map(|_| one)
            }))
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        let mut done: BTreeMap<String, atalaya_core::rollup::Hours> = BTreeMap::new();
        for w in writes {
            match w {
                Ok(one) => done.extend(one.into_values().flatten()),
                Err(e) => {
                    tracing::error!(partition = %part.key, error = %e, "rollup hours not written; kept for the next evaluation")
                }
            }
        }
        if done.is_empty() {
            continue;
        }
        // Subjects no longer in the file have nowhere to go: let go of them too.
        for (k, h) in &completed {
            let gone = match k.split_once('@') {
                Some((check, _)) => part.config.check(check).is_none(),
                None => part.config.service(k).is_none(),
            };
            if gone {
                done.insert(k.clone(), h.clone());
            }
        }
        let forget = transition_in(
            store,
            &part.key,
            &checks.renderer,
            &part.config,
            |s: &State| {
                let mut s = s.clone();
                s.rollup.forget(&done);
                Ok::<_, Infallible>((s, Vec::new()))
            },
            Mode::Commit,
        )
        .await;
        if let Err(e) = forget {
            tracing::warn!(partition = %part.key, error = %e, "written rollup hours not let go of; written again next time");
        }
        out.rollup_hours += done.values().map(|h| h.len()).sum::<usize>();
        for k in done.keys() {
            if let Some(s) = part.config.service(k) {
                out.customers.insert(s.customer.clone());
            }
        }
    }
    for (from, incident) in strays {
        if let Err(e) = hand_over(store, checks, &plan, from, incident).await {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Moves an incident to the partition that now evaluates its service: first it is added there
/// (if it is not already), then taken out of where it was, so that a failure between the two
/// leaves it in both, never in neither; the next evaluation finishes the move. Its id stays (the
/// incidents table and every message already sent name it). An incident whose service left the
/// file stays where it is.
async fn hand_over<S: Store>(
    store: &S,
    checks: &Checks,
    plan: &atalaya_core::partition::Plan,
    from: &str,
    incident: Incident,
) -> Result<(), TransitionError<Infallible>> {
    let Some(to) = plan.of_service(&incident.service) else {
        return Ok(());
    };
    if to.key == from {
        return Ok(());
    }
    tracing::info!(incident = %incident.id, from, to = %to.key, "an incident moves with its service to another partition");
    let id = incident.id.clone();
    transition_in(
        store,
        &to.key,
        &checks.renderer,
        &to.config,
        |s: &State| {
            let mut s = s.clone();
            s.incidents
                .entry(id.clone())
                .or_insert_with(|| incident.clone());
            Ok((s, Vec::new()))
        },
        Mode::Commit,
    )
    .await?;
    let source = plan
        .parts
        .iter()
        .find(|p| p.key == from)
        .map_or(&plan.regions.config, |p| &p.config);
    transition_in(
        store,
        from,
        &checks.renderer,
        source,
        |s: &State| {
            let mut s = s.clone();
            s.incidents.remove(&id);
            s.deferred_resolutions.retain(|(i, _)| i != &id);
            Ok((s, Vec::new()))
        },
        Mode::Commit,
    )
    .await?;
    Ok(())
}
