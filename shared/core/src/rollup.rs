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
use std::collections::{BTreeMap, HashMap};

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

/// Latency percentiles, per phase, from mergeable sketches (DDSketch, 1 % relative accuracy):
/// hours merge into days and months without keeping samples.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    /// By phase: `total`, `dns`, `connect`, `tls`, `ttfb`.
    pub phases: BTreeMap<String, sketches_ddsketch::DDSketch>,
}

/// p50, p95 and p99 of one phase, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub samples: usize,
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: BTreeMap<&String, usize> =
            self.phases.iter().map(|(p, s)| (p, s.count())).collect();
        f.debug_struct("Latency").field("samples", &counts).finish()
    }
}

impl Latency {
    fn add(&mut self, phase: &str, ms: f64) {
        if ms.is_finite() && ms >= 0.0 {
            self.phases
                .entry(phase.to_string())
                .or_insert_with(|| sketches_ddsketch::DDSketch::new(Default::default()))
                .add(ms);
        }
    }

    /// Adds what a real result measured (a monitoring fault measured nothing).
    pub fn record(&mut self, r: &crate::result::ProbeResult) {
        if !r.is_real() {
            return;
        }
        self.add("total", r.latency_ms);
        let p = &r.phases;
        for (phase, v) in [
            ("dns", p.dns_ms),
            ("connect", p.connect_ms),
            ("tls", p.tls_ms),
            ("ttfb", p.ttfb_ms),
        ] {
            if let Some(v) = v {
                self.add(phase, v);
            }
        }
    }

    pub fn merge(&mut self, o: &Latency) {
        for (phase, sk) in &o.phases {
            match self.phases.get_mut(phase) {
                // Sketches made with the same configuration always merge.
                Some(mine) => {
                    let _ = mine.merge(sk);
                }
                None => {
                    self.phases.insert(phase.clone(), sk.clone());
                }
            }
        }
    }

    pub fn percentiles(&self, phase: &str) -> Option<Percentiles> {
        let sk = self.phases.get(phase)?;
        let q = |q: f64| sk.quantile(q).ok().flatten();
        Some(Percentiles {
            p50: q(0.5)?,
            p95: q(0.95)?,
            p99: q(0.99)?,
            samples: sk.count(),
        })
    }
}

/// One phase an hour's median left its usual for: (phase, the hour's p50, the usual p50), ms.
pub type PhaseDrift = (String, f64, f64);

/// Fewest samples an hour needs to be compared, and weeks of the same hour a usual needs.
pub const DRIFT_MIN_SAMPLES: usize = 5;
pub const DRIFT_MIN_WEEKS: usize = 2;

/// Whether `hour`'s latency drifted from `usual` (the same hour of the week in the weeks
/// before), phase by phase: a phase drifts when the hour's median is `factor` times the median
/// of the weeks' medians or more. `None` when there is too little to say (fewer than
/// [`DRIFT_MIN_SAMPLES`] in the hour, or fewer than [`DRIFT_MIN_WEEKS`] weeks with some);
/// `Some(empty)` when nothing drifted.
pub fn drift(hour: &Latency, usual: &[Latency], factor: f64) -> Option<Vec<PhaseDrift>> {
    let total = hour.percentiles("total")?;
    if total.samples < DRIFT_MIN_SAMPLES {
        return None;
    }
    let weeks = usual
        .iter()
        .filter(|l| {
            l.percentiles("total")
                .is_some_and(|p| p.samples >= DRIFT_MIN_SAMPLES)
        })
        .count();
    if weeks < DRIFT_MIN_WEEKS {
        return None;
    }
    let mut out = Vec::new();
    for phase in hour.phases.keys() {
        let Some(now) = hour.percentiles(phase).map(|p| p.p50) else {
            continue;
        };
        let mut medians: Vec<f64> = usual
            .iter()
            .filter_map(|l| l.percentiles(phase))
            .filter(|p| p.samples >= DRIFT_MIN_SAMPLES)
            .map(|p| p.p50)
            .collect();
        if medians.len() < DRIFT_MIN_WEEKS {
            continue;
        }
        medians.sort_by(f64::total_cmp);
        let usual = medians[medians.len() / 2];
        // A phase of a millisecond or two drifts on noise alone.
        if usual > 0.0 && now >= 5.0 && now >= factor * usual {
            out.push((phase.clone(), now, usual));
        }
    }
    Some(out)
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

/// Where each subject's accounting stands, kept in the engine's state by shells that write
/// rollups elsewhere (the alert function): the condition each has been in since when, and the
/// completed time not yet written. It changes when a condition changes and once an hour, so a
/// calm state is not rewritten for it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Marks {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<String, (DateTime<Utc>, Condition)>,
    /// Accrued time by subject and hour; hours before the current one are complete.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, Hours>,
}

fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

impl Marks {
    pub fn is_empty(&self) -> bool {
        self.since.is_empty() && self.pending.is_empty()
    }

    /// Moves every subject to its condition at `now`: the time since its mark goes to the
    /// condition it was in, up to `now` if that changed, else up to the start of `now`'s hour
    /// (so each completed hour is whole once an evaluation runs in the next). `blind_from`: the
    /// monitor itself was not running from then (the shell knows); that time is unknown.
    /// Subjects no longer given are accrued to `now` and dropped.
    pub fn advance(
        &mut self,
        now: DateTime<Utc>,
        current: &BTreeMap<String, Condition>,
        blind_from: Option<DateTime<Utc>>,
    ) {
        let hour = hour_of(now);
        let gone: Vec<String> = self
            .since
            .keys()
            .filter(|k| !current.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some((at, c)) = self.since.remove(&k) {
                accrue(self.pending.entry(k).or_default(), c, at, now);
            }
        }
        for (k, c) in current {
            let Some((at, was)) = self.since.get(k).copied() else {
                self.since.insert(k.clone(), (now, *c));
                continue;
            };
            if at >= now {
                continue;
            }
            let hours = self.pending.entry(k.clone()).or_default();
            match blind_from {
                Some(b) if at < b => {
                    accrue(hours, was, at, b);
                    accrue(hours, Condition::Unknown, b, now);
                    self.since.insert(k.clone(), (now, *c));
                }
                _ if was != *c => {
                    accrue(hours, was, at, now);
                    self.since.insert(k.clone(), (now, *c));
                }
                _ if at < hour => {
                    accrue(hours, was, at, hour);
                    self.since.insert(k.clone(), (hour, was));
                }
                _ => {}
            }
            if hours.is_empty() {
                self.pending.remove(k);
            }
        }
    }

    /// `subject`'s time not yet written, up to `now`: what is accrued, and the time since its
    /// mark in the condition it is in (for a look at the hour under way; the rollups count an
    /// hour once it is complete).
    pub fn so_far(&self, subject: &str, now: DateTime<Utc>) -> Hours {
        let mut hours = self.pending.get(subject).cloned().unwrap_or_default();
        if let Some((at, c)) = self.since.get(subject) {
            accrue(&mut hours, *c, *at, now);
        }
        hours
    }

    /// The completed hours (before `now`'s hour) waiting to be written, by subject.
    pub fn completed(&self, now: DateTime<Utc>) -> BTreeMap<String, Hours> {
        let hour = hour_of(now);
        self.pending
            .iter()
            .map(|(k, h)| {
                (
                    k.clone(),
                    h.range(..hour).map(|(t, m)| (*t, *m)).collect::<Hours>(),
                )
            })
            .filter(|(_, h)| !h.is_empty())
            .collect()
    }

    /// Lets go of hours that were written.
    pub fn forget(&mut self, written: &BTreeMap<String, Hours>) {
        for (k, hours) in written {
            if let Some(p) = self.pending.get_mut(k) {
                for t in hours.keys() {
                    p.remove(t);
                }
                if p.is_empty() {
                    self.pending.remove(k);
                }
            }
        }
    }
}

/// The rollup key of one check in one region (`shop-home@eu-west-1`; ids cannot hold `@`), kept
/// beside the services' own.
pub fn check_key(check: &str, region: &str) -> String {
    format!("{check}@{region}")
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

/// What time the monitor could not see counts as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownAs {
    /// Left out of the period (the default: nothing is claimed about it).
    #[default]
    Exclude,
    Up,
    Down,
}

/// How uptime is counted (`settings.sla`), stated with every figure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The target, in percent (e.g. 99.9).
    pub target: f64,
    /// Maintenance windows left out of the period (else they count as downtime).
    pub exclude_maintenance: bool,
    /// How much of degraded time counts as downtime (0 to 1; Statuspage counts a partial
    /// outage as 0.3).
    pub partial_weight: f64,
    pub unknown: UnknownAs,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            target: 99.9,
            exclude_maintenance: true,
            partial_weight: 0.3,
            unknown: UnknownAs::Exclude,
        }
    }
}

/// Uptime under a policy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Uptime {
    /// In percent; `None` when nothing in the period was counted.
    pub percent: Option<f64>,
    /// Milliseconds counted (the period less what the policy leaves out).
    pub counted_ms: u64,
    /// Milliseconds of downtime (degraded weighted).
    pub downtime_ms: f64,
    /// Of the downtime the target allows in the counted time, the share used (1 = all).
    pub budget_used: Option<f64>,
}

impl Policy {
    pub fn uptime(&self, m: &Millis) -> Uptime {
        let mut counted = m.up + m.degraded + m.down;
        let mut downtime = m.down as f64 + self.partial_weight * m.degraded as f64;
        if !self.exclude_maintenance {
            counted += m.maintenance;
            downtime += m.maintenance as f64;
        }
        match self.unknown {
            UnknownAs::Exclude => {}
            UnknownAs::Up => counted += m.unknown,
            UnknownAs::Down => {
                counted += m.unknown;
                downtime += m.unknown as f64;
            }
        }
        let percent = (counted > 0).then(|| 100.0 * (1.0 - downtime / counted as f64));
        let allowed = counted as f64 * (1.0 - self.target / 100.0);
        Uptime {
            percent,
            counted_ms: counted,
            downtime_ms: downtime,
            budget_used: (allowed > 0.0).then(|| downtime / allowed),
        }
    }
}

#[cfg(test)]
mod tests;
