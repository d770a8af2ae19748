//! Services and their incidents: open, attach dependents, follow the phases, resolve.

use super::events::{Audience, EventKind, Note, Severity};
use super::state::{Failure, Incident, Phase, Verdict};
use super::{before, Evaluator, Texts};
use crate::config::{Check, Config, Service};
use crate::result::Outcome;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

impl Evaluator<'_> {
    pub(super) fn service_checks<'c>(
        &'c self,
        service: &'c str,
    ) -> impl Iterator<Item = &'c Check> {
        self.config
            .checks
            .iter()
            .filter(move |c| c.service == service)
    }

    /// The worst of its checks; a confirmed outage outweighs what cannot be seen.
    pub(super) fn service_verdict(&self, service: &str) -> Verdict {
        let verdicts: Vec<Verdict> = self
            .service_checks(service)
            .map(|c| self.verdict(&c.id))
            .collect();
        [Verdict::Down, Verdict::Unknown, Verdict::Degraded]
            .into_iter()
            .find(|v| verdicts.contains(v))
            .unwrap_or(Verdict::Up)
    }

    fn service_down(&self, service: &str) -> bool {
        self.service_verdict(service) == Verdict::Down
    }

    fn service_flapping(&self, service: &str) -> bool {
        self.service_checks(service)
            .any(|c| self.state.checks.get(&c.id).is_some_and(|s| s.flapping))
    }

    /// The quorum still sees a failure right now (soft or hard).
    fn service_failing_now(&self, service: &str) -> bool {
        self.service_checks(service).any(|c| self.failing_now(c))
    }

    /// Every service on the incident: every check seen passing by the quorum.
    pub(super) fn incident_working_now(&self, id: &str) -> bool {
        self.incident_services(id)
            .iter()
            .all(|s| self.service_checks(s).all(|c| self.working_now(c)))
    }

    /// The checks that keep the incident from being resolved: not seen passing and recovered
    /// by the quorum, with what the monitor says of them.
    pub(super) fn not_clear(&self, id: &str) -> Vec<(String, Verdict)> {
        self.incident_services(id)
            .iter()
            .flat_map(|s| self.service_checks(s))
            .filter(|c| !self.clear(c))
            .map(|c| (c.id.clone(), self.verdict(&c.id)))
            .collect()
    }

    /// The incident's checks the monitor cannot see now, with why.
    pub(super) fn incident_unseen_checks(&self, id: &str) -> Vec<super::notes::CheckSight> {
        self.incident_services(id)
            .iter()
            .flat_map(|s| self.service_checks(s))
            .filter_map(|c| self.unseen_sight(c))
            .collect()
    }

    /// A check of the incident is seen down by the quorum now: what the monitor sees is still
    /// an outage, whatever it cannot see beside it.
    pub(super) fn incident_seen_down(&self, id: &str) -> bool {
        self.incident_services(id)
            .iter()
            .flat_map(|s| self.service_checks(s))
            .any(|c| self.verdict(&c.id) == Verdict::Down)
    }

    fn incident_services(&self, id: &str) -> Vec<String> {
        self.state
            .incidents
            .get(id)
            .map(|i| i.services().cloned().collect())
            .unwrap_or_default()
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

    /// A resolution forced while the service still failed holds off a new incident until its
    /// checks are seen passing (or the resolved incident leaves the state after `reopen_within`).
    fn held_by_forced_resolution(&self, service: &str) -> bool {
        self.state
            .incidents
            .values()
            .any(|i| i.service == service && !i.is_open() && i.forced)
    }

    pub(super) fn judge_services(&mut self) {
        let config = self.config;
        for service in services_in_dependency_order(config) {
            if self.service_checks(&service.id).all(|c| self.clear(c)) {
                for inc in self.state.incidents.values_mut() {
                    if inc.service == service.id && !inc.is_open() {
                        inc.forced = false;
                    }
                }
            }
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
                        && !self.dependency_failing(service)
                        && !self.held_by_forced_resolution(&service.id) =>
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
                // Its own incident and no longer down: resolved once every check of every
                // service on it is seen passing and recovered; working again (monitoring) once
                // they pass. Unknown checks change nothing.
                (false, Some(id))
                    if self
                        .state
                        .incidents
                        .get(&id)
                        .is_some_and(|i| i.service == service.id) =>
                {
                    if self.not_clear(&id).is_empty() {
                        self.resolve(&id, None, Vec::new());
                    } else {
                        self.monitoring_if_working(&id);
                    }
                }
                _ => {}
            }
        }
    }

    fn monitoring_if_working(&mut self, id: &str) {
        let before_monitoring = self
            .state
            .incidents
            .get(id)
            .is_some_and(|i| i.phase < Phase::Monitoring);
        if before_monitoring && self.incident_working_now(id) {
            self.move_to(id, Phase::Monitoring, Severity::Info);
        }
    }

    /// Lets go of resolved incidents that can no longer re-open (past `reopen_within`) and
    /// have nothing held back: the state keeps only live incidents, so it stays small however
    /// long the history. Stores keep every incident in a table of its own (see
    /// `State::changed_incidents`).
    pub(super) fn archive(&mut self) {
        let limit = before(self.now, self.config.settings.reopen_within);
        let deferred = &self.state.deferred_resolutions;
        self.state.incidents.retain(|id, i| {
            i.resolved_at.is_none_or(|r| r >= limit) || deferred.iter().any(|(d, _)| d == id)
        });
    }

    fn open(&mut self, service: &Service) {
        let (failures, first) = self.failures(&service.id);
        let started_at = first.unwrap_or(self.now);
        // A relapse soon after a resolution re-opens the same incident.
        let reopen_limit = before(self.now, self.config.settings.reopen_within);
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
                    inc.forced = false;
                }
                id
            }
            None => {
                self.state.next_incident += 1;
                let id = format!(
                    "inc-{}{}",
                    self.config.settings.scope.incident_prefix, self.state.next_incident
                );
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
                        acknowledgements: Vec::new(),
                        escalated: false,
                        last_operator_notice: self.now,
                        last_customer_update: BTreeMap::new(),
                        told: BTreeSet::new(),
                        reopened: 0,
                        forced: false,
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
        self.customer_events(&id, EventKind::Opened, |_| None);
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
        let primary = self
            .state
            .incidents
            .get(id)
            .is_some_and(|i| i.service == service.id);
        if !primary {
            return;
        }
        let (failures, _) = self.failures(&service.id);
        if let Some(inc) = self.state.incidents.get_mut(id) {
            if !failures.is_empty() {
                inc.failures = failures;
            }
        }
        let monitoring = self
            .state
            .incidents
            .get(id)
            .is_some_and(|i| i.phase == Phase::Monitoring);
        if monitoring {
            if self.service_failing_now(&service.id) {
                self.move_to(id, Phase::Investigating, Severity::Warning);
            }
        } else {
            self.monitoring_if_working(id);
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
        self.customer_events(id, EventKind::Update, |_| None);
    }

    /// Resolves the incident. `forced`: the checks the monitor did not see passing when an
    /// operator resolved it anyway (marked on the timeline; holds off a new incident).
    pub(super) fn resolve(&mut self, id: &str, texts: Option<&Texts>, forced: Vec<String>) {
        if let Some(inc) = self.state.incidents.get_mut(id) {
            inc.phase = Phase::Resolved;
            inc.resolved_at = Some(self.now);
            inc.forced = !forced.is_empty();
        }
        let operators_text = texts.and_then(Texts::summary).map(|t| {
            if forced.is_empty() {
                t
            } else {
                format!(
                    "{t} (resolved by hand while {} not seen passing)",
                    forced.join(", ")
                )
            }
        });
        let operators_text = operators_text.or_else(|| {
            (!forced.is_empty()).then(|| {
                format!(
                    "resolved by hand while {} not seen passing",
                    forced.join(", ")
                )
            })
        });
        let note = if forced.is_empty() {
            texts.map(|t| Note::Texts(t.by_key()))
        } else {
            Some(Note::ForcedResolution { checks: forced })
        };
        if let Some(e) = self.incident_event(
            id,
            EventKind::Resolved,
            Audience::Operators,
            None,
            Severity::Info,
            operators_text,
        ) {
            if let Some(n) = note {
                e.set_note(n);
            }
        }
        let config = self.config;
        self.customer_events(id, EventKind::Resolved, |service| {
            let language = config
                .service(service)
                .and_then(|s| config.customer(&s.customer))
                .map(|c| c.language)
                .unwrap_or_default();
            texts.and_then(|t| t.for_customer(language).map(str::to_string))
        });
    }
}

/// Services with the ones they depend on first.
fn services_in_dependency_order(config: &Config) -> Vec<&Service> {
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
    for s in &config.services {
        visit(s, config, &mut seen, &mut out);
    }
    out
}
