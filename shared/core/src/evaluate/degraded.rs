//! A check degraded — one region failing while the quorum sees it work, slower than its
//! `latency.degraded`, a heartbeat running past its `max_run` — is told to operators only,
//! once it has lasted an interval (a single slow result pages no one; a failing region counts once
//! its retries confirmed the failure), with a reminder at their
//! cadence while it lasts and one notice when it ends. Customers hear nothing (their status
//! page shows it). While the check is unknown nothing changes.

use super::events::{About, Audience, Event, EventKind, Severity};
use super::notes::DegradedNote;
use super::notices::{turns, Turn};
use super::state::{EarlyState, Verdict};
use super::Evaluator;
use crate::config::Check;
use crate::result::Outcome;
use std::collections::BTreeMap;

impl Evaluator<'_> {
    pub(super) fn judge_degraded(&mut self, check: &Check) {
        let (now, renotify) = (self.now, self.config.settings.operators.renotify_every);
        let Some(cs) = self.state.checks.get_mut(&check.id) else {
            return;
        };
        let verdict = cs.verdict;
        if verdict == Verdict::Unknown {
            return;
        }
        // A region's failure counts once its retries confirmed it (`hard_down`): a single
        // failed result is noise until the next result says otherwise, and waiting an interval
        // for that result is not enough when it comes a little late. A slow result is a
        // degradation of its own.
        let confirmed = cs
            .regions
            .values()
            .any(|cr| cr.hard_down || cr.outcome == Outcome::Degraded);
        let since = if verdict == Verdict::Degraded && confirmed {
            Some(*cs.degraded_since.get_or_insert(now))
        } else {
            cs.degraded_since = None;
            None
        };
        let lasted = since.filter(|s| {
            now - *s >= chrono::TimeDelta::from_std(check.interval).unwrap_or_default()
        });
        let fresh: Vec<((), EarlyState)> = lasted
            .map(|since| {
                (
                    (),
                    EarlyState {
                        since,
                        last_notice: now,
                        notices: 1,
                    },
                )
            })
            .into_iter()
            .collect();
        let mut told: BTreeMap<(), EarlyState> =
            cs.degraded.take().map(|d| ((), d)).into_iter().collect();
        let turned = turns(&mut told, fresh, now, renotify);
        cs.degraded = told.remove(&());
        let regions: Vec<_> = cs
            .regions
            .iter()
            .filter(|(_, cr)| cr.outcome != Outcome::Up || cr.hard_down)
            .map(|(r, cr)| (r.clone(), cr.outcome, cr.reason, cr.detail.clone()))
            .collect();
        for (_, turn) in turned {
            let (kind, severity, state, now_is) = match turn {
                Turn::Ended(s) => (
                    EventKind::DegradedCleared,
                    Severity::Info,
                    s,
                    Some(verdict_word(verdict)),
                ),
                Turn::Began(s) | Turn::Again(s) => {
                    (EventKind::Degraded, Severity::Warning, s, None)
                }
            };
            let id = match kind {
                EventKind::DegradedCleared => format!(
                    "check/{}/degraded/{}/cleared",
                    check.id,
                    state.since.timestamp()
                ),
                _ => format!(
                    "check/{}/degraded/{}/{}",
                    check.id,
                    state.since.timestamp(),
                    state.notices
                ),
            };
            let note = DegradedNote {
                regions: if kind == EventKind::Degraded {
                    regions.clone()
                } else {
                    Vec::new()
                },
                since: state.since,
                reminder: state.notices > 1,
                now: now_is.map(str::to_string),
            };
            self.events.push(Event::new(
                id,
                now,
                kind,
                Audience::Operators,
                severity,
                About::Degraded {
                    check: check.id.clone(),
                    service: check.service.clone(),
                    note,
                },
            ));
        }
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Up => "up",
        Verdict::Degraded => "degraded",
        Verdict::Down => "down",
        Verdict::Unknown => "unknown",
    }
}
