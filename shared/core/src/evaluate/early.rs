//! Early warnings: what operators should act on before customers feel anything. A certificate
//! that expires within `expect.cert_warn_before` (as the regions that see the check saw it; the
//! soonest) is one, from the first evaluation that sees it until it is renewed. As with a
//! monitoring fault: one event when it starts, a reminder at the operators' cadence while it
//! lasts, one when it ends; never a word to customers, never an incident.

use super::events::{About, Audience, Event, EventKind, Severity};
use super::notes::EarlyNote;
use super::notices::{turns, Turn};
use super::state::EarlyState;
use super::Evaluator;
use crate::config::Check;
use std::collections::{BTreeMap, BTreeSet};

/// What an early warning is about. Kept in the state and in event ids by its key
/// (`certificate`, `latency@<region>`; [`Cause::key`]), read back with [`Cause::parse`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// A certificate that expires within `expect.cert_warn_before`.
    Certificate,
    /// The latency in a region drifting from its usual (`expect.latency.drift`).
    Latency { region: String },
}

impl Cause {
    pub fn key(&self) -> String {
        match self {
            Cause::Certificate => "certificate".to_string(),
            Cause::Latency { region } => format!("latency@{region}"),
        }
    }

    pub fn parse(key: &str) -> Option<Cause> {
        match key.split_once('@') {
            None if key == "certificate" => Some(Cause::Certificate),
            Some(("latency", region)) if !region.is_empty() => Some(Cause::Latency {
                region: region.to_string(),
            }),
            _ => None,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

impl serde::Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> serde::Deserialize<'de> for Cause {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cause, D::Error> {
        let key = String::deserialize(d)?;
        Cause::parse(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("not an early warning's cause: {key}")))
    }
}

/// A drift as operators read it.
fn drift_words(region: &str, seen: &super::state::DriftSeen, factor: f64) -> String {
    let phases: Vec<String> = seen
        .phases
        .iter()
        .map(|(phase, now, usual)| {
            format!(
                "{phase} {now:.0} ms against a usual {usual:.0} ms ({:.1}x)",
                now / usual
            )
        })
        .collect();
    format!(
        "in {region}, the hour from {} had a median latency of {} for that hour of the week over the last weeks (the warning is at {factor}x)",
        seen.hour.format("%Y-%m-%d %H:%M UTC"),
        phases.join(", ")
    )
}

impl Evaluator<'_> {
    /// The causes in force for `check` now, with what was seen; and the causes the monitor
    /// cannot tell about now (a blind monitor knows nothing: such a warning stands, neither
    /// repeated nor cleared).
    fn early_causes(&self, check: &Check) -> (BTreeMap<Cause, String>, BTreeSet<Cause>) {
        let mut current = BTreeMap::new();
        let mut unknown = BTreeSet::new();
        let Some(cs) = self.state.checks.get(&check.id) else {
            return (current, unknown);
        };
        if let Some(before) = check.expect.cert_warn_before {
            // The soonest expiry any region that sees the check now reports.
            let soonest = cs
                .regions
                .iter()
                .filter(|(_, cr)| super::after(cr.last_at, check.stale_after) >= self.now)
                .filter_map(|(region, cr)| cr.cert_days.map(|d| (d, region)))
                .min();
            match soonest {
                None => {
                    unknown.insert(Cause::Certificate);
                }
                Some((days, region)) if (days.max(0) as f64) * 86_400.0 < before.as_secs_f64() => {
                    let date = (self.now + chrono::TimeDelta::days(days)).format("%Y-%m-%d");
                    current.insert(
                        Cause::Certificate,
                        format!(
                            "the certificate expires in {days} day(s) (about {date}), as seen from {region}; the warning tier starts at {} day(s)",
                            before.as_secs() / 86_400
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        if let Some(factor) = check.expect.latency_drift {
            for region in &check.regions {
                let cause = Cause::Latency {
                    region: region.clone(),
                };
                match cs.drift.get(region) {
                    // An hour judged within the last two: what it says stands.
                    Some(seen) if self.now - seen.hour <= chrono::TimeDelta::hours(2) => {
                        if !seen.phases.is_empty() {
                            current.insert(cause, drift_words(region, seen, factor));
                        }
                    }
                    _ => {
                        unknown.insert(cause);
                    }
                }
            }
        }
        (current, unknown)
    }

    pub(super) fn judge_early(&mut self, check: &Check) {
        // Warnings the checks file no longer asks for are let go without a word.
        if check.expect.cert_warn_before.is_none() {
            if let Some(cs) = self.state.checks.get_mut(&check.id) {
                cs.early.remove(&Cause::Certificate);
            }
        }
        let (current, unknown) = self.early_causes(check);
        let renotify = self.config.settings.operators.renotify_every;
        let now = self.now;
        let Some(cs) = self.state.checks.get_mut(&check.id) else {
            return;
        };
        // What cannot be told now is set aside, untouched, and put back after.
        let aside: Vec<(Cause, EarlyState)> = unknown
            .iter()
            .filter_map(|c| cs.early.remove(c).map(|e| (c.clone(), e)))
            .collect();
        let fresh = current
            .keys()
            .map(|cause| {
                (
                    cause.clone(),
                    EarlyState {
                        since: now,
                        last_notice: now,
                        notices: 1,
                    },
                )
            })
            .collect();
        let mut out = Vec::new();
        for (cause, turn) in turns(&mut cs.early, fresh, now, renotify) {
            let (kind, severity, id, detail, state) = match turn {
                Turn::Ended(e) => (
                    EventKind::EarlyWarningCleared,
                    Severity::Info,
                    format!(
                        "check/{}/early/{cause}/{}/cleared",
                        check.id,
                        e.since.timestamp()
                    ),
                    String::new(),
                    e,
                ),
                Turn::Began(e) | Turn::Again(e) => (
                    EventKind::EarlyWarning,
                    Severity::Warning,
                    format!(
                        "check/{}/early/{cause}/{}/{}",
                        check.id,
                        e.since.timestamp(),
                        e.notices
                    ),
                    current.get(&cause).cloned().unwrap_or_default(),
                    e,
                ),
            };
            out.push((
                id,
                kind,
                severity,
                EarlyNote {
                    cause,
                    detail,
                    since: state.since,
                    reminder: kind == EventKind::EarlyWarning && state.notices > 1,
                },
            ));
        }
        cs.early.extend(aside);
        for (id, kind, severity, note) in out {
            self.events.push(Event::new(
                id,
                now,
                kind,
                Audience::Operators,
                severity,
                About::Early {
                    check: check.id.clone(),
                    service: check.service.clone(),
                    note,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cause;
    use crate::evaluate::CheckState;
    use crate::result::Reason;

    #[test]
    fn causes_and_reasons_keep_the_keys_states_were_stored_with() {
        let stored = r#"{"regions":{},"verdict":"up","flapping":false,
            "faults":{"check_error":{"reason":"check_error","since":"2026-12-01T00:00:00Z","last_notice":"2026-12-01T00:00:00Z","notices":1}},
            "early":{"certificate":{"since":"2026-12-01T00:00:00Z","last_notice":"2026-12-01T00:00:00Z","notices":2},
                     "latency@eu-west-1":{"since":"2026-12-01T00:00:00Z","last_notice":"2026-12-01T00:00:00Z","notices":1}}}"#;
        let cs: CheckState = serde_json::from_str(stored).unwrap_or_else(|e| panic!("{e}"));
        assert!(cs.faults.contains_key(&Reason::CheckError));
        let eu = Cause::Latency {
            region: "eu-west-1".into(),
        };
        assert_eq!(
            cs.early.keys().collect::<Vec<_>>(),
            [&Cause::Certificate, &eu]
        );
        let again = serde_json::to_value(&cs).unwrap_or_default();
        assert!(again["early"]["latency@eu-west-1"].is_object(), "{again}");
        assert!(again["faults"]["check_error"].is_object(), "{again}");
        for bad in ["latency@", "latency", "cert", "certificate@x", ""] {
            assert_eq!(Cause::parse(bad), None, "{bad}");
        }
    }
}
