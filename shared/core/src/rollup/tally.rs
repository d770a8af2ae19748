//! An hour of every check in every region, worked out from the results alone.

use super::*;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// One hour (or any span) of every check in every region, worked out from the results alone
/// (what the hourly job reading the results table has): each check-region's time per condition
/// and latency sketches, per check-region and per service. Also what the DynamoDB store keeps
/// per service and hour (one part per region) and what a report reads back, merged.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Detail {
    /// By check in a region ([`check_key`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Millis>,
    /// By service id or check in a region.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency: BTreeMap<String, Latency>,
}

impl Detail {
    pub fn merge(&mut self, o: &Detail) {
        for (k, m) in &o.checks {
            self.checks.entry(k.clone()).or_default().merge(m);
        }
        for (k, l) in &o.latency {
            self.latency.entry(k.clone()).or_default().merge(l);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.latency.is_empty()
    }
}

/// What one result says of its check's condition in its region, before retries are counted.
#[derive(Clone, Copy)]
enum Seen {
    Unknown,
    Failed,
    Degraded,
    Up,
}

/// [`Detail`] for `[from, to)`, built from results as they come (in any order, page by page):
/// it keeps 16 bytes per result and the sketches, never the results themselves, so an hour of
/// 20,000 checks in a region (1.2 million results) fits a small function.
///
/// Each result is taken as the check's condition in its region from its time until the next
/// one, or until three intervals later (then unknown, as the engine judges staleness): a
/// monitoring fault is unknown; a failure is down once `retries` failures in a row were seen
/// there (the engine's hard down), degraded before; in a maintenance window of its service,
/// maintenance. The results should start a few intervals before `from` (the counters of retries
/// need them, [`Tally::lookback`]).
pub struct Tally<'c> {
    config: &'c Config,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// By region, then check (looked up by `&str`: no allocation per result).
    subjects: HashMap<String, HashMap<String, Subject>>,
    /// By service.
    services: BTreeMap<String, Latency>,
}

/// One check in one region: what each result said, and the latency of those in the span.
#[derive(Default)]
struct Subject {
    seen: Vec<(i64, Seen)>,
    latency: Latency,
}

impl<'c> Tally<'c> {
    pub fn new(config: &'c Config, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Tally {
            config,
            from,
            to,
            subjects: HashMap::new(),
            services: BTreeMap::new(),
        }
    }

    /// How far before `from` results matter: the most any check needs for its retries or its
    /// staleness (four of its intervals, or one more than its retries), at most an hour.
    pub fn lookback(config: &Config) -> TimeDelta {
        config
            .checks
            .iter()
            .map(|c| {
                TimeDelta::from_std(c.interval * (c.retries.max(3) + 1))
                    .unwrap_or(TimeDelta::hours(1))
            })
            .max()
            .unwrap_or_default()
            .clamp(TimeDelta::minutes(5), TimeDelta::hours(1))
    }

    /// Takes one result into account (one of a check the file no longer has is left out).
    pub fn add(&mut self, r: &crate::result::ProbeResult) {
        use crate::result::Outcome;
        let Some(check) = self.config.check(&r.check) else {
            return;
        };
        if r.at >= self.to {
            return;
        }
        let seen = if !r.is_real() {
            Seen::Unknown
        } else {
            match r.outcome {
                Outcome::Down => Seen::Failed,
                Outcome::Degraded => Seen::Degraded,
                Outcome::Up => Seen::Up,
                Outcome::Unknown => Seen::Unknown,
            }
        };
        let region = match self.subjects.get_mut(r.region.as_str()) {
            Some(m) => m,
            None => self.subjects.entry(r.region.clone()).or_default(),
        };
        let subject = match region.get_mut(r.check.as_str()) {
            Some(s) => s,
            None => region.entry(r.check.clone()).or_default(),
        };
        subject.seen.push((r.at.timestamp_micros(), seen));
        if self.from <= r.at {
            subject.latency.record(r);
            match self.services.get_mut(check.service.as_str()) {
                Some(l) => l.record(r),
                None => self
                    .services
                    .entry(check.service.clone())
                    .or_default()
                    .record(r),
            }
        }
    }

    /// How many results were taken.
    pub fn len(&self) -> usize {
        self.subjects
            .values()
            .flat_map(HashMap::values)
            .map(|s| s.seen.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    pub fn finish(self) -> Detail {
        let (from, to) = (self.from, self.to);
        let mut out = Detail {
            checks: BTreeMap::new(),
            latency: self.services,
        };
        let subjects = self.subjects.into_iter().flat_map(|(region, checks)| {
            checks
                .into_iter()
                .map(move |(check, s)| (check, region.clone(), s))
        });
        for (check_id, region, subject) in subjects {
            let Subject {
                seen: mut rs,
                latency,
            } = subject;
            if !latency.phases.is_empty() {
                out.latency.insert(check_key(&check_id, &region), latency);
            }
            let Some(check) = self.config.check(&check_id) else {
                continue;
            };
            let maintenance = self
                .config
                .service(&check.service)
                .map(|s| s.maintenance.as_slice())
                .unwrap_or_default();
            rs.sort_by_key(|(at, _)| *at);
            rs.dedup_by_key(|(at, _)| *at);
            let at = |us: i64| DateTime::from_timestamp_micros(us).unwrap_or(from);
            let mut total = Millis::default();
            let mut add = |c: Condition, a: DateTime<Utc>, b: DateTime<Utc>| {
                let (a, b) = (a.max(from), b.min(to));
                if a < b {
                    total.add(c, (b - a).num_milliseconds().max(0) as u64);
                }
            };
            // Before the first result nothing was seen.
            add(Condition::Unknown, from, rs.first().map_or(to, |r| at(r.0)));
            let mut fails = 0u32;
            for (i, (t0, seen)) in rs.iter().enumerate() {
                let t0 = at(*t0);
                let until = rs.get(i + 1).map_or(to, |n| at(n.0));
                let condition = match seen {
                    Seen::Failed => {
                        fails += 1;
                        if fails >= check.retries {
                            Condition::Down
                        } else {
                            Condition::Degraded
                        }
                    }
                    Seen::Degraded => {
                        fails = 0;
                        Condition::Degraded
                    }
                    Seen::Up => {
                        fails = 0;
                        Condition::Up
                    }
                    Seen::Unknown => Condition::Unknown,
                };
                let seen_until = if condition == Condition::Unknown {
                    until
                } else {
                    until.min(crate::evaluate::after(t0, check.stale_after))
                };
                // Maintenance windows cut across: their time is maintenance whatever was seen.
                let mut t = t0;
                for (end, c) in [(seen_until, condition), (until, Condition::Unknown)] {
                    while t < end {
                        let window = maintenance.iter().find(|m| m.start <= t && t < m.end);
                        let next = maintenance
                            .iter()
                            .filter(|m| m.start > t)
                            .map(|m| m.start)
                            .min()
                            .unwrap_or(end);
                        let stop = match window {
                            Some(m) => m.end.min(end),
                            None => next.min(end),
                        };
                        add(
                            if window.is_some() {
                                Condition::Maintenance
                            } else {
                                c
                            },
                            t,
                            stop,
                        );
                        t = stop;
                    }
                }
            }
            out.checks.insert(check_key(&check_id, &region), total);
        }
        out
    }
}

/// [`Tally`] over a slice of results.
pub fn from_results(
    config: &Config,
    results: &[crate::result::ProbeResult],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Detail {
    let mut t = Tally::new(config, from, to);
    for r in results {
        t.add(r);
    }
    t.finish()
}
