//! A partition's completed hours (`State.rollup`) written to the store's rollups, then let go
//! of. At most [`FLUSH`] services' per evaluation, several at once: the first evaluations of an
//! hour share the writes instead of one of them taking them all. What was written is let go of
//! by the partition's next evaluation in its own commit ([`written`]), not by a transition of
//! its own (a read and a write more per partition at every turn of the hour). Setting an hour
//! twice writes the same thing, so hours written by a process that stopped, or by another
//! invocation, are harmlessly written again.

use crate::evaluation::{Evaluated, IN_FLIGHT};
use crate::Checks;
use atalaya_core::rollup::{Hours, Subject};
use atalaya_core::Config;
use atalaya_store::{Rollups, Store};
use std::collections::{BTreeMap, BTreeSet};

/// Services whose completed hours one evaluation writes at most.
const FLUSH: usize = 200;

/// Completed hours by the service they belong to (a check's go with its service's); those of
/// subjects no longer in the file are left out (and let go of).
fn by_service(
    config: &Config,
    completed: &BTreeMap<String, Hours>,
) -> BTreeMap<String, BTreeMap<String, Hours>> {
    let mut out: BTreeMap<String, BTreeMap<String, Hours>> = BTreeMap::new();
    for (subject, hours) in completed {
        if let Some(service) = Subject::parse(subject).service_in(config) {
            out.entry(service.to_string())
                .or_default()
                .insert(subject.clone(), hours.clone());
        }
    }
    out
}

/// Writes each partition's completed hours (`(key, its part of the file, hours)`) and keeps
/// what was written for the partition's next evaluation to let go of; counts them in `out`.
/// The partitions go side by side: at the turn of an hour one evaluation waits on one round
/// trip for them, not one per partition.
pub(crate) async fn flush<S: Store + Rollups>(
    store: &S,
    checks: &Checks,
    parts: Vec<(&str, &Config, BTreeMap<String, Hours>)>,
    out: &mut Evaluated,
) {
    use futures::StreamExt;
    let mut budget = FLUSH;
    let mut jobs = Vec::new();
    for (key, config, completed) in parts {
        if budget == 0 || completed.is_empty() {
            continue;
        }
        let mut grouped = by_service(config, &completed);
        let keep: Vec<String> = grouped.keys().skip(budget).cloned().collect();
        for k in &keep {
            grouped.remove(k);
        }
        budget = budget.saturating_sub(grouped.len());
        jobs.push(flush_part(store, checks, key, config, completed, grouped));
    }
    let flushed: Vec<(BTreeSet<String>, usize)> = futures::stream::iter(jobs)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for (services, hours) in flushed {
        out.hours_of.extend(services);
        out.rollup_hours += hours;
    }
}

/// One partition's part of [`flush`]: the services whose hours were written, and how many
/// hours were (or were let go of, their subjects gone from the file).
async fn flush_part<S: Store + Rollups>(
    store: &S,
    checks: &Checks,
    key: &str,
    config: &Config,
    completed: BTreeMap<String, Hours>,
    grouped: BTreeMap<String, BTreeMap<String, Hours>>,
) -> (BTreeSet<String>, usize) {
    use futures::StreamExt;
    let writes = futures::stream::iter(grouped.into_iter().map(|(service, subjects)| async move {
        let one = BTreeMap::from([(service, subjects)]);
        store.write_hours(&one).await.map(|_| one)
    }))
    .buffer_unordered(IN_FLIGHT)
    .collect::<Vec<_>>()
    .await;
    let mut services = BTreeSet::new();
    let mut done: BTreeMap<String, Hours> = BTreeMap::new();
    for w in writes {
        match w {
            Ok(one) => {
                services.extend(one.keys().cloned());
                done.extend(one.into_values().flatten());
            }
            Err(e) => {
                tracing::error!(partition = %key, error = %e, "rollup hours not written; kept for the next evaluation")
            }
        }
    }
    if done.is_empty() {
        return (services, 0);
    }
    // Subjects no longer in the file have nowhere to go: let go of them too.
    for (k, h) in &completed {
        if Subject::parse(k).service_in(config).is_none() {
            done.insert(k.clone(), h.clone());
        }
    }
    let hours = done.values().map(|h| h.len()).sum::<usize>();
    let mut flushed = checks.flushed.lock().unwrap_or_else(|p| p.into_inner());
    let kept = flushed.entry(key.to_string()).or_default();
    for (subject, h) in done {
        kept.entry(subject).or_default().extend(h);
    }
    (services, hours)
}

/// The hours this process wrote for partition `key` since its last evaluation, for the
/// evaluation to let go of (`Marks::forget`); taken: if that evaluation is not committed, the
/// hours are still pending in the state, and are written again.
pub(crate) fn written(checks: &Checks, key: &str) -> BTreeMap<String, Hours> {
    checks
        .flushed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(key)
        .unwrap_or_default()
}
