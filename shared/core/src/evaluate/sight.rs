//! What the monitor can see: silent regions, per-check verdicts (up, degraded, down, unknown),
//! blindness and monitoring faults, told to operators.

use super::events::{About, Audience, Event, EventKind, Severity};
use super::notes::{Blindness, CheckSight, FaultNote};
use super::notices::{Told, Turn};
use super::state::{CheckRegion, FaultState, Verdict};
use super::{after, elapsed, percent_state_change, Evaluator};
use crate::config::{Check, DEFAULT_INTERVAL};
use crate::result::{Outcome, Reason};
use std::collections::BTreeMap;
use std::time::Duration;

/// One region's view of a check now.
pub(super) enum View<'s> {
    Sees(&'s CheckRegion),
    Blind(Blindness),
}

impl Evaluator<'_> {
    /// The shortest interval among the checks that run in `region`.
    pub(super) fn region_interval(&self, region: &str) -> Duration {
        self.region_intervals
            .get(region)
            .copied()
            .unwrap_or(DEFAULT_INTERVAL)
    }

    /// A region is silent after 3 × its shortest interval without any result, counted from
    /// when the monitor started watching (a fresh start or a restart is not silence). A silent
    /// region is back only when a result arrives.
    pub(super) fn judge_regions(&mut self) {
        let watching = self.state.watching_since().unwrap_or(self.now);
        for region in self.config.settings.regions.clone() {
            let limit = self.region_interval(&region) * 3;
            let rs = self.state.regions.entry(region.clone()).or_default();
            let heard = if rs.silent {
                rs.last_seen
            } else {
                Some(rs.last_seen.map_or(watching, |l| l.max(watching)))
            };
            let silent = heard.is_none_or(|h| after(h, limit) < self.now);
            if silent == rs.silent {
                continue;
            }
            rs.silent = silent;
            if !self.config.settings.scope.region_events {
                continue; // another partition tells operators
            }
            let at = rs.last_seen.map(|t| t.timestamp()).unwrap_or(0);
            let id = format!(
                "region/{region}/{}/{}",
                if silent { "silent" } else { "back" },
                if silent { at } else { self.now.timestamp() }
            );
            self.events.push(Event::new(
                id,
                self.now,
                EventKind::RegionSilent,
                Audience::Operators,
                if silent {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                About::Region {
                    region,
                    back: !silent,
                },
            ));
        }
    }

    /// How each of the check's regions sees it now. A region sees a check when it is not
    /// silent, its newest result of the check is real (not a monitoring fault) and fresh (within
    /// three intervals).
    pub(super) fn views<'s>(&'s self, check: &'s Check) -> Vec<(&'s String, View<'s>)> {
        let states = self.state.checks.get(&check.id);
        check
            .regions
            .iter()
            .map(|region| {
                let rs = self.state.regions.get(region);
                let cr = states.and_then(|c| c.regions.get(region));
                let real_last = cr
                    .map(|c| c.last_at)
                    .filter(|t| *t > chrono::DateTime::<chrono::Utc>::MIN_UTC);
                let view = match (rs, cr) {
                    (Some(rs), _) if rs.silent => {
                        View::Blind(Blindness::Silent { last: rs.last_seen })
                    }
                    (_, Some(cr)) if cr.fault.is_some() => View::Blind(Blindness::Fault(
                        cr.fault
                            .as_ref()
                            .map(|f| f.reason)
                            .unwrap_or(crate::Reason::Blocked),
                    )),
                    (_, Some(cr)) if after(cr.last_at, check.stale_after) >= self.now => {
                        View::Sees(cr)
                    }
                    _ => View::Blind(Blindness::NoResult { last: real_last }),
                };
                (region, view)
            })
            .collect()
    }

    /// The regions that see `check` now.
    fn seeing<'s>(&'s self, check: &'s Check) -> Vec<&'s CheckRegion> {
        self.views(check)
            .into_iter()
            .filter_map(|(_, v)| match v {
                View::Sees(cr) => Some(cr),
                View::Blind(_) => None,
            })
            .collect()
    }

    /// How many regions must agree: the quorum of the check's regions.
    pub(super) fn needed(&self, check: &Check) -> usize {
        self.config.settings.quorum.needed(check.regions.len())
    }

    /// At least the quorum of regions see `check` and say `pred`.
    fn quorum_says(&self, check: &Check, pred: impl Fn(&CheckRegion) -> bool) -> bool {
        self.seeing(check).into_iter().filter(|cr| pred(cr)).count() >= self.needed(check)
    }

    /// The quorum's newest results fail (soft or hard).
    pub(super) fn failing_now(&self, check: &Check) -> bool {
        self.quorum_says(check, |cr| cr.outcome == Outcome::Down)
    }

    /// The quorum's newest results pass: it works again (maybe not yet for `recover_after`).
    pub(super) fn working_now(&self, check: &Check) -> bool {
        self.quorum_says(check, |cr| cr.outcome != Outcome::Down)
    }

    /// The quorum's newest results pass and each of those regions has recovered.
    pub(super) fn clear(&self, check: &Check) -> bool {
        self.quorum_says(check, |cr| cr.outcome != Outcome::Down && !cr.hard_down)
    }

    pub(super) fn verdict(&self, check: &str) -> Verdict {
        self.state
            .checks
            .get(check)
            .map(|c| c.verdict)
            .unwrap_or(Verdict::Unknown)
    }

    /// Why the monitor cannot see `check` now: each region that cannot, when it is unknown.
    pub(super) fn unseen_sight(&self, check: &Check) -> Option<CheckSight> {
        if self.verdict(&check.id) != Verdict::Unknown {
            return None;
        }
        let regions = self
            .views(check)
            .into_iter()
            .filter_map(|(r, v)| match v {
                View::Blind(b) => Some((r.clone(), b)),
                View::Sees(_) => None,
            })
            .collect();
        Some(CheckSight {
            check: check.id.clone(),
            service: check.service.clone(),
            since: self
                .state
                .checks
                .get(&check.id)
                .and_then(|c| c.unknown_since)
                .unwrap_or(self.now),
            regions,
        })
    }

    /// A check starts or stops flapping (operators).
    fn flapping_event(&mut self, check: &Check, flapping: bool) {
        self.events.push(Event::new(
            format!(
                "check/{}/flapping/{}/{}",
                check.id,
                if flapping { "start" } else { "stop" },
                self.now.timestamp()
            ),
            self.now,
            EventKind::Flapping,
            Audience::Operators,
            if flapping {
                Severity::Warning
            } else {
                Severity::Info
            },
            About::Flapping {
                check: check.id.clone(),
                service: check.service.clone(),
                stopped: !flapping,
            },
        ));
    }

    /// One notice of the checks that became unknown, one of those seen again.
    fn sight_notices(&mut self, blind: Vec<CheckSight>, restored: Vec<CheckSight>) {
        for (kind, list, severity) in [
            (EventKind::MonitoringBlind, blind, Severity::Warning),
            (EventKind::MonitoringRestored, restored, Severity::Info),
        ] {
            if list.is_empty() {
                continue;
            }
            self.events.push(Event::new(
                format!(
                    "monitor/{}/{}/{}",
                    if kind == EventKind::MonitoringBlind {
                        "blind"
                    } else {
                        "restored"
                    },
                    self.now.timestamp(),
                    list[0].check
                ),
                self.now,
                kind,
                Audience::Operators,
                severity,
                About::Sight(list),
            ));
        }
    }

    pub(super) fn judge_checks(&mut self) {
        // A check that left the checks file is forgotten (with its faults and notices).
        let config = self.config;
        self.state.checks.retain(|id, _| config.check(id).is_some());
        let mut blind = Vec::new();
        let mut restored = Vec::new();
        for check in &config.checks {
            let views = self.views(check);
            let seeing: Vec<&CheckRegion> = views
                .iter()
                .filter_map(|(_, v)| match v {
                    View::Sees(cr) => Some(*cr),
                    View::Blind(_) => None,
                })
                .collect();
            let needed = self.needed(check);
            let hard = seeing.iter().filter(|cr| cr.hard_down).count();
            let verdict = if seeing.len() < needed {
                Verdict::Unknown
            } else if hard >= needed {
                Verdict::Down
            } else if seeing
                .iter()
                .any(|cr| cr.hard_down || cr.outcome != Outcome::Up)
            {
                Verdict::Degraded
            } else {
                Verdict::Up
            };
            let change = seeing
                .iter()
                .map(|cr| percent_state_change(&cr.history))
                .fold(0.0, f64::max);
            let sees_none = seeing.is_empty();
            let blindness: Vec<(String, Blindness)> = views
                .into_iter()
                .filter_map(|(r, v)| match v {
                    View::Blind(b) => Some((r.clone(), b)),
                    View::Sees(_) => None,
                })
                .collect();
            let watching = self.state.watching_since().unwrap_or(self.now);
            let faults = self.region_faults(check);
            let settings = &self.config.settings;
            let cs = self.state.checks.entry(check.id.clone()).or_default();
            cs.verdict = verdict;
            // While unknown, flapping is frozen with everything else.
            let flapping = if sees_none {
                cs.flapping
            } else if cs.flapping {
                change >= settings.flapping_stop
            } else {
                change >= settings.flapping_start
            };
            if verdict == Verdict::Unknown {
                let since = *cs.unknown_since.get_or_insert(self.now);
                // Blindness a fault explains is told as that fault; the rest is told once,
                // after the regions had time to report since the monitor started watching.
                let unexplained = blindness
                    .iter()
                    .any(|(_, b)| !matches!(b, Blindness::Fault(_)));
                if !cs.blind_told && unexplained && elapsed(watching, self.now, check.stale_after) {
                    cs.blind_told = true;
                    blind.push(CheckSight {
                        check: check.id.clone(),
                        service: check.service.clone(),
                        since,
                        regions: blindness,
                    });
                }
            } else if let Some(since) = cs.unknown_since.take() {
                if std::mem::take(&mut cs.blind_told) {
                    restored.push(CheckSight {
                        check: check.id.clone(),
                        service: check.service.clone(),
                        since,
                        regions: Vec::new(),
                    });
                }
            }
            if flapping != cs.flapping {
                cs.flapping = flapping;
                self.flapping_event(check, flapping);
            }
            self.judge_faults(check, faults);
            self.judge_early(check);
            self.judge_degraded(check);
        }
        self.sight_notices(blind, restored);
    }

    /// The check's regions whose newest result is a monitoring fault, by reason code.
    fn region_faults(&self, check: &Check) -> BTreeMap<Reason, FaultNote> {
        let mut out: BTreeMap<Reason, FaultNote> = BTreeMap::new();
        let Some(cs) = self.state.checks.get(&check.id) else {
            return out;
        };
        for region in &check.regions {
            let Some(f) = cs.regions.get(region).and_then(|cr| cr.fault.as_ref()) else {
                continue;
            };
            let note = out.entry(f.reason).or_insert_with(|| FaultNote {
                reason: f.reason,
                detail: f.detail.clone(),
                regions: Vec::new(),
                since: f.at,
                reminder: false,
            });
            note.regions.push(region.clone());
            if f.at >= note.since {
                note.detail.clone_from(&f.detail);
            }
            note.since = note.since.min(f.at);
        }
        out
    }

    /// One operator event per check and fault when it starts, a reminder at the operators'
    /// cadence while it lasts, and one when it ends (`notices::turns`).
    fn judge_faults(&mut self, check: &Check, mut current: BTreeMap<Reason, FaultNote>) {
        let renotify = self.config.settings.operators.renotify_every;
        let now = self.now;
        let Some(cs) = self.state.checks.get_mut(&check.id) else {
            return;
        };
        let fresh = current
            .iter()
            .map(|(reason, note)| {
                (
                    *reason,
                    FaultState {
                        reason: note.reason,
                        since: note.since,
                        last_notice: now,
                        notices: 1,
                    },
                )
            })
            .collect();
        let mut out = Vec::new();
        for (reason, turn) in super::notices::turns(&mut cs.faults, fresh, now, renotify) {
            let (kind, severity, state, note) = match turn {
                Turn::Ended(f) => (
                    EventKind::MonitoringFaultCleared,
                    Severity::Info,
                    f.clone(),
                    FaultNote {
                        reason: f.reason,
                        detail: String::new(),
                        regions: Vec::new(),
                        since: f.since,
                        reminder: false,
                    },
                ),
                Turn::Began(f) | Turn::Again(f) => {
                    let Some(mut note) = current.remove(&reason) else {
                        continue;
                    };
                    note.reminder = f.notices() > 1;
                    note.since = f.since;
                    (EventKind::MonitoringFault, Severity::Warning, f, note)
                }
            };
            let id = match kind {
                EventKind::MonitoringFaultCleared => format!(
                    "check/{}/fault/{}/{}/cleared",
                    check.id,
                    reason.as_str(),
                    state.since.timestamp()
                ),
                _ => format!(
                    "check/{}/fault/{}/{}/{}",
                    check.id,
                    reason.as_str(),
                    state.since.timestamp(),
                    state.notices
                ),
            };
            out.push((id, kind, severity, note));
        }
        for (id, kind, severity, fault) in out {
            self.events.push(Event::new(
                id,
                now,
                kind,
                Audience::Operators,
                severity,
                About::Fault {
                    check: check.id.clone(),
                    service: check.service.clone(),
                    fault,
                },
            ));
        }
    }
}
