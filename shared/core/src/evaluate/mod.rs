//! The incident engine's pure core: `evaluate(state, results, now, config) -> (state, events)`.
//!
//! No clock, no I/O: time is the `now` parameter, so tests can simulate hours of incidents in
//! microseconds, and the same input always gives the same output. The shells (the local runner,
//! the alert Lambda) store the state and publish the events.
//!
//! How a service is judged:
//! 1. Per check and region, Nagios-style soft/hard states: `retries` consecutive failures make a
//!    hard down, `recover_after` consecutive successes a hard up. Duplicate, out-of-order and stale
//!    results are ignored.
//! 2. Per check, across regions: down when at least the quorum of the regions currently reporting
//!    are hard down; degraded when fewer are, or when a reporting region is degraded (latency,
//!    certificate). A region silent for 3 intervals is left out of the quorum.
//! 3. Per service: the worst of its checks. A confirmed outage opens an incident (unless the
//!    service is in maintenance, or a service it depends on already has one, which then lists it).

mod flapping;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use flapping::percent_state_change;

use crate::config::{Config, Service};
use crate::result::{Outcome, ProbeResult, Reason};
use chrono::{DateTime, Duration as TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Everything the engine remembers between evaluations. Serializable: the shells store it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// When the engine first evaluated (silence is only judged after a region had time to report).
    pub started_at: Option<DateTime<Utc>>,
    pub regions: BTreeMap<String, RegionState>,
    pub checks: BTreeMap<String, CheckState>,
    pub incidents: BTreeMap<String, Incident>,
    /// Maintenance notices already sent, by key (service, window start, kind).
    pub maintenance_sent: BTreeSet<String>,
    /// Resolutions held back while the service was in maintenance: (incident, service), sent
    /// when the window ends.
    pub deferred_resolutions: BTreeSet<(String, String)>,
    pub next_incident: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionState {
    pub last_seen: Option<DateTime<Utc>>,
    pub silent: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    #[default]
    Up,
    Degraded,
    Down,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckState {
    pub regions: BTreeMap<String, CheckRegion>,
    pub verdict: Verdict,
    pub flapping: bool,
}

/// One check in one region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckRegion {
    /// The newest result applied; anything not newer is a duplicate or out of order.
    pub last_at: DateTime<Utc>,
    pub fails: u32,
    pub oks: u32,
    pub hard_down: bool,
    pub outcome: Outcome,
    pub reason: Reason,
    pub detail: String,
    pub latency_ms: f64,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    /// The last results, oldest first, `true` = not down (for flap detection).
    pub history: Vec<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Investigating => "investigating",
            Phase::Identified => "identified",
            Phase::Monitoring => "monitoring",
            Phase::Resolved => "resolved",
        }
    }
}

/// A failing check in a region, as operators see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub check: String,
    pub region: String,
    pub reason: Reason,
    pub detail: String,
    pub latency_ms: f64,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    /// The service whose outage opened it.
    pub service: String,
    /// Services that depend on it and are down with it: no incident of their own.
    pub affected: Vec<String>,
    pub phase: Phase,
    /// When the first failure that led to it began.
    pub started_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub escalated: bool,
    pub last_operator_notice: DateTime<Utc>,
    /// Per affected service: when its customer last heard from us.
    pub last_customer_update: BTreeMap<String, DateTime<Utc>>,
    /// Services whose customers were told it opened and not yet that it is resolved: only they
    /// get updates and the resolution.
    pub told: BTreeSet<String>,
    pub reopened: u32,
    /// The failing checks and regions, refreshed while the incident is open.
    pub failures: Vec<Failure>,
    /// Every message sent about this incident.
    pub timeline: Vec<TimelineEntry>,
    /// Numbers the incident's events, for their ids.
    pub seq: u64,
}

impl State {
    /// Incidents that are new or different in `self` compared with `before`: what a store
    /// writes to its incidents table along with the state.
    pub fn changed_incidents<'a>(
        &'a self,
        before: &'a State,
    ) -> impl Iterator<Item = &'a Incident> {
        self.incidents
            .iter()
            .filter(move |(id, i)| before.incidents.get(*id) != Some(*i))
            .map(|(_, i)| i)
    }
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.phase != Phase::Resolved
    }
    /// Every service whose customers hear about this incident.
    pub fn services(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.service).chain(self.affected.iter())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub kind: EventKind,
    pub audience: Audience,
    pub service: Option<String>,
    pub phase: Phase,
    pub text: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Reminder,
    Escalated,
    Update,
    HumanUpdate,
    Resolved,
    MaintenanceScheduled,
    MaintenanceStarted,
    MaintenanceEnded,
    Flapping,
    RegionSilent,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Reminder => "reminder",
            EventKind::Escalated => "escalated",
            EventKind::Update => "update",
            EventKind::HumanUpdate => "human_update",
            EventKind::Resolved => "resolved",
            EventKind::MaintenanceScheduled => "maintenance_scheduled",
            EventKind::MaintenanceStarted => "maintenance_started",
            EventKind::MaintenanceEnded => "maintenance_ended",
            EventKind::Flapping => "flapping",
            EventKind::RegionSilent => "region_silent",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Operators,
    Customers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Something to tell operators or one customer. The renderer turns it into a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and deterministic: the outbox's idempotency key.
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub audience: Audience,
    pub severity: Severity,
    pub incident: Option<String>,
    pub service: Option<String>,
    /// For customer events: whose.
    pub customer: Option<String>,
    pub check: Option<String>,
    pub region: Option<String>,
    /// For flapping and region_silent: the condition ended (stopped flapping, region back).
    pub ended: bool,
    pub phase: Option<Phase>,
    /// A human update's text, or a maintenance note.
    pub text: Option<String>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Evaluates new results at `now`. Pure: the same inputs give the same outputs.
pub fn evaluate(
    state: &State,
    results: &[ProbeResult],
    now: DateTime<Utc>,
    config: &Config,
) -> (State, Vec<Event>) {
    let mut e = Evaluator {
        state: state.clone(),
        events: Vec::new(),
        now,
        config,
    };
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

/// What an operator can do to an incident.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Stops the reminders and the escalation.
    Acknowledge { by: String },
    /// Sends `message` to the affected customers as written (framed in their language).
    Update { phase: Phase, message: String },
    /// Resolves by hand, with an optional closing message for the customers.
    Resolve { message: Option<String> },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("no incident {0}")]
    Unknown(String),
    #[error("incident {0} is resolved")]
    Resolved(String),
    #[error("an update needs a message")]
    EmptyMessage,
}

/// Applies an operator's action to an incident.
pub fn act(
    state: &State,
    incident: &str,
    action: Action,
    now: DateTime<Utc>,
    config: &Config,
) -> Result<(State, Vec<Event>), ActionError> {
    let mut e = Evaluator {
        state: state.clone(),
        events: Vec::new(),
        now,
        config,
    };
    let inc = e
        .state
        .incidents
        .get(incident)
        .ok_or_else(|| ActionError::Unknown(incident.to_string()))?;
    if !inc.is_open() {
        return Err(ActionError::Resolved(incident.to_string()));
    }
    match action {
        Action::Acknowledge { by } => {
            if let Some(inc) = e.state.incidents.get_mut(incident) {
                inc.acknowledged_at = Some(now);
                inc.acknowledged_by = Some(by);
            }
        }
        Action::Update { phase, message } => {
            if message.trim().is_empty() {
                return Err(ActionError::EmptyMessage);
            }
            if let Some(inc) = e.state.incidents.get_mut(incident) {
                inc.phase = if phase == Phase::Resolved {
                    inc.phase
                } else {
                    phase
                };
            }
            e.incident_event(
                incident,
                EventKind::HumanUpdate,
                Audience::Operators,
                None,
                Severity::Info,
                Some(message.clone()),
            );
            e.customer_events(incident, EventKind::HumanUpdate, Some(message));
        }
        Action::Resolve { message } => {
            e.resolve(incident, message);
        }
    }
    Ok((e.state, e.events))
}

struct Evaluator<'a> {
    state: State,
    events: Vec<Event>,
    now: DateTime<Utc>,
    config: &'a Config,
}

impl Evaluator<'_> {
    fn apply_results(&mut self, results: &[ProbeResult]) {
        let mut sorted: Vec<&ProbeResult> = results.iter().collect();
        sorted.sort_by(|a, b| (a.at, &a.check, &a.region).cmp(&(b.at, &b.check, &b.region)));
        for r in sorted {
            let Some(check) = self.config.check(&r.check) else {
                continue;
            };
            if !check.regions.contains(&r.region) || r.at > self.now {
                continue;
            }
            // Stale: older than three intervals; it says nothing about now.
            if r.at < self.now - delta(check.interval * 3) {
                continue;
            }
            let region = self.state.regions.entry(r.region.clone()).or_default();
            region.last_seen = Some(region.last_seen.map_or(r.at, |s| s.max(r.at)));
            let cs = self.state.checks.entry(r.check.clone()).or_default();
            let ok = r.outcome != Outcome::Down;
            let cr = cs
                .regions
                .entry(r.region.clone())
                .or_insert_with(|| CheckRegion {
                    last_at: DateTime::<Utc>::MIN_UTC,
                    fails: 0,
                    oks: 0,
                    hard_down: false,
                    outcome: Outcome::Up,
                    reason: Reason::Ok,
                    detail: String::new(),
                    latency_ms: 0.0,
                    failing_since: None,
                    history: Vec::new(),
                });
            if r.at <= cr.last_at {
                continue; // duplicate or out of order
            }
            cr.last_at = r.at;
            if ok {
                cr.oks += 1;
                cr.fails = 0;
                if cr.hard_down && cr.oks >= check.recover_after {
                    cr.hard_down = false;
                }
                if !cr.hard_down {
                    cr.failing_since = None;
                }
            } else {
                cr.fails += 1;
                cr.oks = 0;
                cr.failing_since.get_or_insert(r.at);
                if cr.fails >= check.retries {
                    cr.hard_down = true;
                }
            }
            cr.outcome = r.outcome;
            cr.reason = r.reason;
            cr.detail = r.detail.clone();
            cr.latency_ms = r.latency_ms;
            cr.history.push(ok);
            if cr.history.len() > flapping::WINDOW {
                cr.history.remove(0);
            }
        }
    }

    /// The shortest interval among the checks that run in `region`.
    fn region_interval(&self, region: &str) -> Duration {
        self.config
            .checks
            .iter()
            .filter(|c| c.regions.iter().any(|r| r == region))
            .map(|c| c.interval)
            .min()
            .unwrap_or(crate::config::DEFAULT_INTERVAL)
    }

    fn judge_regions(&mut self) {
        let started = self.state.started_at.unwrap_or(self.now);
        for region in self.config.settings.regions.clone() {
            let limit = delta(self.region_interval(&region) * 3);
            let rs = self.state.regions.entry(region.clone()).or_default();
            let heard = rs.last_seen.unwrap_or(started);
            let silent = self.now - heard > limit;
            if silent == rs.silent {
                continue;
            }
            rs.silent = silent;
            let at = rs.last_seen.map(|t| t.timestamp()).unwrap_or(0);
            let id = format!(
                "region/{region}/{}/{}",
                if silent { "silent" } else { "back" },
                if silent { at } else { self.now.timestamp() }
            );
            self.events.push(Event {
                id,
                at: self.now,
                kind: EventKind::RegionSilent,
                audience: Audience::Operators,
                severity: if silent {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                incident: None,
                service: None,
                customer: None,
                check: None,
                region: Some(region),
                ended: !silent,
                phase: None,
                text: None,
            });
        }
    }

    /// The regions of a check that count now: not silent, and heard from within 3 intervals.
    fn reporting<'s>(&'s self, check: &crate::config::Check) -> Vec<(&'s String, &'s CheckRegion)> {
        let Some(cs) = self.state.checks.get(&check.id) else {
            return Vec::new();
        };
        cs.regions
            .iter()
            .filter(|(region, cr)| {
                !self.state.regions.get(*region).is_some_and(|r| r.silent)
                    && self.now - cr.last_at <= delta(check.interval * 3)
            })
            .collect()
    }

    fn judge_checks(&mut self) {
        for check in &self.config.checks {
            let reporting = self.reporting(check);
            let down = reporting.iter().filter(|(_, cr)| cr.hard_down).count();
            let degraded = reporting
                .iter()
                .any(|(_, cr)| cr.outcome == Outcome::Degraded);
            let needed = self.config.settings.quorum.needed(reporting.len());
            let verdict = if reporting.is_empty() {
                None // nothing to go on: keep what we knew
            } else if down >= needed {
                Some(Verdict::Down)
            } else if down > 0 || degraded {
                Some(Verdict::Degraded)
            } else {
                Some(Verdict::Up)
            };
            let change = reporting
                .iter()
                .map(|(_, cr)| percent_state_change(&cr.history))
                .fold(0.0, f64::max);
            let cs = self.state.checks.entry(check.id.clone()).or_default();
            if let Some(v) = verdict {
                cs.verdict = v;
            }
            let settings = &self.config.settings;
            let flapping = if cs.flapping {
                change >= settings.flapping_stop
            } else {
                change >= settings.flapping_start
            };
            if flapping != cs.flapping {
                cs.flapping = flapping;
                self.events.push(Event {
                    id: format!(
                        "check/{}/flapping/{}/{}",
                        check.id,
                        if flapping { "start" } else { "stop" },
                        self.now.timestamp()
                    ),
                    at: self.now,
                    kind: EventKind::Flapping,
                    audience: Audience::Operators,
                    severity: if flapping {
                        Severity::Warning
                    } else {
                        Severity::Info
                    },
                    incident: None,
                    service: Some(check.service.clone()),
                    customer: None,
                    check: Some(check.id.clone()),
                    region: None,
                    ended: !flapping,
                    phase: None,
                    text: None,
                });
            }
        }
    }

    fn service_checks<'c>(
        &'c self,
        service: &'c str,
    ) -> impl Iterator<Item = &'c crate::config::Check> {
        self.config
            .checks
            .iter()
            .filter(move |c| c.service == service)
    }

    fn verdict(&self, check: &str) -> Verdict {
        self.state
            .checks
            .get(check)
            .map(|c| c.verdict)
            .unwrap_or_default()
    }

    fn service_down(&self, service: &str) -> bool {
        self.service_checks(service)
            .any(|c| self.verdict(&c.id) == Verdict::Down)
    }

    fn service_flapping(&self, service: &str) -> bool {
        self.service_checks(service)
            .any(|c| self.state.checks.get(&c.id).is_some_and(|s| s.flapping))
    }

    /// True when the quorum of reporting regions still sees a failure right now (soft or hard).
    fn service_failing_now(&self, service: &str) -> bool {
        self.service_checks(service).any(|c| {
            let reporting = self.reporting(c);
            let failing = reporting
                .iter()
                .filter(|(_, cr)| cr.outcome == Outcome::Down)
                .count();
            !reporting.is_empty() && failing >= self.config.settings.quorum.needed(reporting.len())
        })
    }

    /// A service it depends on (transitively) is failing now, soft or hard: its own outage is
    /// probably that one, so it waits to be attached to the dependency's incident rather than
    /// paging operators separately.
    fn dependency_failing(&self, service: &Service) -> bool {
        self.dependencies(&service.id)
            .iter()
            .any(|s| self.service_failing_now(s) || self.service_down(s))
    }

    /// Every service `service` depends on, directly or not (validation rules out cycles; the
    /// walk stops on repeats all the same).
    fn dependencies(&self, service: &str) -> Vec<String> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut stack: Vec<String> = self
            .config
            .service(service)
            .map(|s| s.depends_on.clone())
            .unwrap_or_default();
        let mut out = Vec::new();
        while let Some(s) = stack.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            if let Some(svc) = self.config.service(&s) {
                stack.extend(svc.depends_on.iter().cloned());
            }
            out.push(s);
        }
        out
    }

    fn in_maintenance(&self, service: &Service) -> bool {
        service
            .maintenance
            .iter()
            .any(|m| m.start <= self.now && self.now < m.end)
    }

    fn failures(&self, service: &str) -> (Vec<Failure>, Option<DateTime<Utc>>) {
        let mut out = Vec::new();
        for c in self.service_checks(service) {
            if let Some(cs) = self.state.checks.get(&c.id) {
                for (region, cr) in &cs.regions {
                    if let (Some(since), true) = (
                        cr.failing_since,
                        cr.outcome == Outcome::Down || cr.hard_down,
                    ) {
                        out.push(Failure {
                            check: c.id.clone(),
                            region: region.clone(),
                            reason: cr.reason,
                            detail: cr.detail.clone(),
                            latency_ms: cr.latency_ms,
                            since,
                        });
                    }
                }
            }
        }
        let first = out.iter().map(|f| f.since).min();
        (out, first)
    }

    /// The open incident of `service` or of a service it depends on (transitively).
    fn open_incident_covering(&self, service: &str) -> Option<String> {
        std::iter::once(service.to_string())
            .chain(self.dependencies(service))
            .find_map(|s| {
                self.state
                    .incidents
                    .values()
                    .find(|i| i.is_open() && (i.service == s || i.affected.contains(&s)))
                    .map(|i| i.id.clone())
            })
    }

    /// Services with the ones they depend on first.
    fn services_in_dependency_order(&self) -> Vec<&Service> {
        fn visit<'c>(
            s: &'c Service,
            config: &'c Config,
            seen: &mut BTreeSet<&'c str>,
            out: &mut Vec<&'c Service>,
        ) {
            if !seen.insert(s.id.as_str()) {
                return;
            }
            for dep in &s.depends_on {
                if let Some(d) = config.service(dep) {
                    visit(d, config, seen, out);
                }
            }
            out.push(s);
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for s in &self.config.services {
            visit(s, self.config, &mut seen, &mut out);
        }
        out
    }

    fn judge_services(&mut self) {
        let services: Vec<Service> = self
            .services_in_dependency_order()
            .into_iter()
            .cloned()
            .collect();
        for service in &services {
            if self.service_flapping(&service.id) {
                continue; // no per-change noise while flapping: one `flapping` notice instead
            }
            let down = self.service_down(&service.id);
            let covering = self.open_incident_covering(&service.id);
            match (down, covering) {
                // Hard down and still failing: a service that failed during maintenance and is
                // passing again when the window ends is not an outage.
                (true, None)
                    if !self.in_maintenance(service)
                        && self.service_failing_now(&service.id)
                        && !self.dependency_failing(service) =>
                {
                    self.open(service)
                }
                (true, Some(id)) => {
                    let own = self.state.incidents.get(&id).is_some_and(|i| {
                        i.service == service.id || i.affected.contains(&service.id)
                    });
                    if own {
                        self.still_down(&id, service);
                    } else {
                        self.attach(&id, service);
                    }
                }
                // Its own incident, and no longer down anywhere near a quorum (each region that
                // was down has had `recover_after` successes): resolved.
                (false, Some(id))
                    if self
                        .state
                        .incidents
                        .get(&id)
                        .is_some_and(|i| i.service == service.id) =>
                {
                    self.resolve(&id, None)
                }
                _ => {}
            }
        }
    }

    /// Lets go of resolved incidents that can no longer re-open (past `reopen_within`) and
    /// have nothing held back: the state keeps only live incidents, so it stays small however
    /// long the history. Stores keep every incident in a table of its own (see
    /// `State::changed_incidents`).
    fn archive(&mut self) {
        let limit = self.now - delta(self.config.settings.reopen_within);
        let deferred = &self.state.deferred_resolutions;
        self.state.incidents.retain(|id, i| {
            i.resolved_at.is_none_or(|r| r >= limit) || deferred.iter().any(|(d, _)| d == id)
        });
    }

    fn open(&mut self, service: &Service) {
        let (failures, first) = self.failures(&service.id);
        let started_at = first.unwrap_or(self.now);
        // A relapse soon after a resolution re-opens the same incident.
        let reopen_limit = self.now - delta(self.config.settings.reopen_within);
        let recent = self
            .state
            .incidents
            .values()
            .filter(|i| i.service == service.id && i.resolved_at.is_some_and(|r| r >= reopen_limit))
            .max_by_key(|i| i.resolved_at)
            .map(|i| i.id.clone());
        let id = match recent {
            Some(id) => {
                if let Some(inc) = self.state.incidents.get_mut(&id) {
                    inc.phase = Phase::Investigating;
                    inc.resolved_at = None;
                    inc.reopened += 1;
                    // Dependents join again if they are still down and not covered otherwise.
                    inc.affected.clear();
                    inc.failures = failures;
                    inc.last_operator_notice = self.now;
                    inc.escalated = false;
                    inc.acknowledged_at = None;
                    inc.acknowledged_by = None;
                }
                id
            }
            None => {
                self.state.next_incident += 1;
                let id = format!("inc-{}", self.state.next_incident);
                self.state.incidents.insert(
                    id.clone(),
                    Incident {
                        id: id.clone(),
                        service: service.id.clone(),
                        affected: Vec::new(),
                        phase: Phase::Investigating,
                        started_at,
                        opened_at: self.now,
                        resolved_at: None,
                        acknowledged_at: None,
                        acknowledged_by: None,
                        escalated: false,
                        last_operator_notice: self.now,
                        last_customer_update: BTreeMap::new(),
                        told: BTreeSet::new(),
                        reopened: 0,
                        failures,
                        timeline: Vec::new(),
                        seq: 0,
                    },
                );
                id
            }
        };
        self.incident_event(
            &id,
            EventKind::Opened,
            Audience::Operators,
            None,
            Severity::Warning,
            None,
        );
        self.customer_events(&id, EventKind::Opened, None);
    }

    fn attach(&mut self, id: &str, service: &Service) {
        if let Some(inc) = self.state.incidents.get_mut(id) {
            inc.affected.push(service.id.clone());
        }
        self.incident_event(
            id,
            EventKind::Update,
            Audience::Operators,
            Some(service.id.clone()),
            Severity::Warning,
            None,
        );
        self.customer_event(id, &service.id, EventKind::Opened, None);
    }

    fn still_down(&mut self, id: &str, service: &Service) {
        let (failures, _) = self.failures(&service.id);
        let relapsed = self
            .state
            .incidents
            .get(id)
            .is_some_and(|i| i.service == service.id && i.phase == Phase::Monitoring);
        if let Some(inc) = self.state.incidents.get_mut(id) {
            if inc.service == service.id && !failures.is_empty() {
                inc.failures = failures;
            }
        }
        if relapsed && self.service_failing_now(&service.id) {
            self.move_to(id, Phase::Investigating, Severity::Warning);
        } else if !relapsed && !self.service_failing_now(&service.id) {
            let moved = self
                .state
                .incidents
                .get(id)
                .is_some_and(|i| i.service == service.id && i.phase < Phase::Monitoring);
            if moved {
                self.move_to(id, Phase::Monitoring, Severity::Info);
            }
        }
    }

    /// An automatic phase change, told to operators and customers.
    fn move_to(&mut self, id: &str, phase: Phase, severity: Severity) {
        if let Some(inc) = self.state.incidents.get_mut(id) {
            inc.phase = phase;
        }
        self.incident_event(
            id,
            EventKind::Update,
            Audience::Operators,
            None,
            severity,
            None,
        );
        self.customer_events(id, EventKind::Update, None);
    }

    fn resolve(&mut self, id: &str, message: Option<String>) {
        if let Some(inc) = self.state.incidents.get_mut(id) {
            inc.phase = Phase::Resolved;
            inc.resolved_at = Some(self.now);
        }
        self.incident_event(
            id,
            EventKind::Resolved,
            Audience::Operators,
            None,
            Severity::Info,
            message.clone(),
        );
        self.customer_events(id, EventKind::Resolved, message);
    }

    fn maintenance(&mut self) {
        let mut ended = Vec::new();
        for service in &self.config.services {
            for m in &service.maintenance {
                let key = |kind: &str| format!("{}/{}/{kind}", service.id, m.start.timestamp());
                let mut due = Vec::new();
                if let Some(before) = m.announce_before {
                    if self.now >= m.start - delta(before) && self.now < m.start {
                        due.push(("scheduled", EventKind::MaintenanceScheduled));
                    }
                }
                if self.now >= m.start && self.now < m.end {
                    due.push(("started", EventKind::MaintenanceStarted));
                }
                // Ended is only told to those who were told it started.
                if self.now >= m.end && self.state.maintenance_sent.contains(&key("started")) {
                    due.push(("ended", EventKind::MaintenanceEnded));
                }
                for (name, kind) in due {
                    if !self.state.maintenance_sent.insert(key(name)) {
                        continue;
                    }
                    if kind == EventKind::MaintenanceEnded {
                        ended.push(service.id.clone());
                    }
                    for audience in [Audience::Operators, Audience::Customers] {
                        self.events.push(Event {
                            id: format!(
                                "maintenance/{}/{}",
                                key(name),
                                if audience == Audience::Operators {
                                    "operators"
                                } else {
                                    "customers"
                                }
                            ),
                            at: self.now,
                            kind,
                            audience,
                            severity: Severity::Info,
                            incident: None,
                            service: Some(service.id.clone()),
                            customer: (audience == Audience::Customers)
                                .then(|| service.customer.clone()),
                            check: None,
                            region: None,
                            ended: false,
                            phase: None,
                            text: m.note.clone(),
                        });
                    }
                }
            }
        }
        // Resolutions that came during the window reach the customers now.
        for service in ended {
            let held: Vec<(String, String)> = self
                .state
                .deferred_resolutions
                .iter()
                .filter(|(_, s)| *s == service)
                .cloned()
                .collect();
            for (incident, service) in held {
                self.state
                    .deferred_resolutions
                    .remove(&(incident.clone(), service.clone()));
                if let Some(inc) = self.state.incidents.get_mut(&incident) {
                    inc.told.insert(service.clone());
                }
                self.customer_event(&incident, &service, EventKind::Resolved, None);
            }
        }
    }

    fn cadence(&mut self) {
        let ops = &self.config.settings.operators;
        let open: Vec<String> = self
            .state
            .incidents
            .values()
            .filter(|i| i.is_open())
            .map(|i| i.id.clone())
            .collect();
        for id in open {
            let Some(inc) = self.state.incidents.get(&id) else {
                continue;
            };
            let unacknowledged = inc.acknowledged_at.is_none();
            if unacknowledged
                && !inc.escalated
                && self.now - inc.opened_at >= delta(ops.escalate_after)
            {
                if let Some(inc) = self.state.incidents.get_mut(&id) {
                    inc.escalated = true;
                    inc.last_operator_notice = self.now;
                }
                self.incident_event(
                    &id,
                    EventKind::Escalated,
                    Audience::Operators,
                    None,
                    Severity::Critical,
                    None,
                );
            } else if unacknowledged
                && self.now - inc.last_operator_notice >= delta(ops.renotify_every)
            {
                let severity = if inc.escalated {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                if let Some(inc) = self.state.incidents.get_mut(&id) {
                    inc.last_operator_notice = self.now;
                }
                self.incident_event(
                    &id,
                    EventKind::Reminder,
                    Audience::Operators,
                    None,
                    severity,
                    None,
                );
            }
            let Some(inc) = self.state.incidents.get(&id) else {
                continue;
            };
            let due: Vec<String> = inc
                .services()
                .filter(|s| inc.told.contains(*s))
                .filter(|s| {
                    let every = self
                        .config
                        .service(s)
                        .and_then(|svc| self.config.customer(&svc.customer))
                        .map(|c| c.update_every)
                        .unwrap_or(Duration::from_secs(1800));
                    inc.last_customer_update
                        .get(*s)
                        .is_some_and(|last| self.now - *last >= delta(every))
                })
                .cloned()
                .collect();
            for service in due {
                self.customer_event(&id, &service, EventKind::Update, None);
            }
        }
    }

    fn incident_event(
        &mut self,
        id: &str,
        kind: EventKind,
        audience: Audience,
        service: Option<String>,
        severity: Severity,
        text: Option<String>,
    ) {
        let Some(inc) = self.state.incidents.get_mut(id) else {
            return;
        };
        inc.seq += 1;
        let event_id = format!("{id}/{}/{}", inc.seq, kind.as_str());
        let service = service.or_else(|| Some(inc.service.clone()));
        inc.timeline.push(TimelineEntry {
            at: self.now,
            event: event_id.clone(),
            kind,
            audience,
            service: service.clone(),
            phase: inc.phase,
            text: text.clone(),
        });
        self.events.push(Event {
            id: event_id,
            at: self.now,
            kind,
            audience,
            severity,
            incident: Some(id.to_string()),
            service,
            customer: None,
            check: None,
            region: None,
            ended: false,
            phase: Some(inc.phase),
            text,
        });
    }

    /// One customer event per affected service.
    fn customer_events(&mut self, id: &str, kind: EventKind, text: Option<String>) {
        let services: Vec<String> = self
            .state
            .incidents
            .get(id)
            .map(|i| i.services().cloned().collect())
            .unwrap_or_default();
        for s in services {
            self.customer_event(id, &s, kind, text.clone());
        }
    }

    /// One message to one service's customers, under the rules that keep the conversation whole:
    /// updates and the resolution go only to customers who were told it opened; nothing goes to a
    /// service's customers during its maintenance, and a resolution within the window is sent when
    /// the window ends.
    fn customer_event(&mut self, id: &str, service: &str, kind: EventKind, text: Option<String>) {
        let Some(svc) = self.config.service(service) else {
            return;
        };
        let customer = svc.customer.clone();
        let in_maintenance = self.in_maintenance(svc);
        let told = self
            .state
            .incidents
            .get(id)
            .is_some_and(|i| i.told.contains(service));
        let key = (id.to_string(), service.to_string());
        if kind == EventKind::Opened && self.state.deferred_resolutions.remove(&key) {
            // A relapse before a held-back resolution was sent: for these customers the
            // incident never ended, so the conversation simply goes on.
            if let Some(inc) = self.state.incidents.get_mut(id) {
                inc.told.insert(service.to_string());
            }
            return;
        }
        match kind {
            EventKind::Opened if in_maintenance || told => return,
            EventKind::Opened => {}
            _ if !told => return,
            EventKind::Resolved if in_maintenance => {
                self.state
                    .deferred_resolutions
                    .insert((id.to_string(), service.to_string()));
                if let Some(inc) = self.state.incidents.get_mut(id) {
                    inc.told.remove(service);
                }
                return;
            }
            _ if in_maintenance => return,
            _ => {}
        }
        let Some(inc) = self.state.incidents.get_mut(id) else {
            return;
        };
        inc.seq += 1;
        let event_id = format!("{id}/{}/{}/{service}", inc.seq, kind.as_str());
        inc.last_customer_update
            .insert(service.to_string(), self.now);
        match kind {
            EventKind::Opened => {
                inc.told.insert(service.to_string());
            }
            EventKind::Resolved => {
                inc.told.remove(service);
            }
            _ => {}
        }
        inc.timeline.push(TimelineEntry {
            at: self.now,
            event: event_id.clone(),
            kind,
            audience: Audience::Customers,
            service: Some(service.to_string()),
            phase: inc.phase,
            text: text.clone(),
        });
        self.events.push(Event {
            id: event_id,
            at: self.now,
            kind,
            audience: Audience::Customers,
            severity: Severity::Info,
            incident: Some(id.to_string()),
            service: Some(service.to_string()),
            customer: Some(customer),
            check: None,
            region: None,
            ended: false,
            phase: Some(inc.phase),
            text,
        });
    }
}
