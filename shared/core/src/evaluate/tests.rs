//! Scenarios on a simulated clock: hours of incidents in microseconds.

use super::*;
use crate::result::{Outcome, Reason};
use crate::result::{Phases, ProbeResult};
use crate::{load_str, Target};
use std::collections::BTreeSet;

const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];

pub(super) fn config(extra_services: &str, extra_checks: &str) -> Config {
    let text = format!(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  quorum: majority
  defaults: {{ interval: 1m, timeout: 10s, retries: 2, recover_after: 2 }}
  operators: {{ renotify_every: 30m, escalate_after: 15m }}
customers:
  - {{ id: acme, name: ACME, language: es, update_every: 30m }}
  - {{ id: globex, name: Globex, update_every: 20m }}
services:
  - {{ id: shop, customer: acme, name: Tienda online }}
{extra_services}checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'https://shop.acme.example/' }} }}
{extra_checks}"
    );
    load_str(&text, "sim.yaml", Target::Lambda).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn t(minute: i64) -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minute)
}

pub(super) fn result(
    check: &str,
    region: &str,
    at: DateTime<Utc>,
    outcome: Outcome,
) -> ProbeResult {
    let (reason, detail, status) = match outcome {
        Outcome::Down => (Reason::HttpStatus, "status 503, expected 2xx", Some(503)),
        Outcome::Unknown => (
            Reason::Blocked,
            "refused to connect to 10.0.0.5: private addresses are blocked; add the range to settings.allow_networks to allow it",
            None,
        ),
        _ => (Reason::Ok, "status 200 OK", Some(200)),
    };
    ProbeResult {
        check: check.into(),
        region: region.into(),
        at,
        outcome,
        reason,
        detail: detail.into(),
        latency_ms: 12.5,
        phases: Phases::default(),
        http_status: status,
        cert_days_left: None,
    }
}

/// A simulation: the engine's state, the clock, and every event so far.
pub(super) struct Sim {
    pub config: Config,
    pub state: State,
    pub events: Vec<Event>,
    /// Every event rendered right after the evaluation that produced it, as the shells do.
    pub messages: Vec<crate::message::Message>,
    renderer: crate::message::Renderer,
}

impl Sim {
    pub fn new(config: Config) -> Self {
        Sim {
            config,
            state: State::default(),
            events: Vec::new(),
            messages: Vec::new(),
            renderer: crate::message::Renderer::new(),
        }
    }

    /// One minute: `outcome(check, region)` for every check in every region (None: no result).
    pub fn minute(
        &mut self,
        m: i64,
        outcome: impl Fn(&str, &str) -> Option<Outcome>,
    ) -> Vec<Event> {
        let mut results = Vec::new();
        for c in &self.config.checks {
            for r in &c.regions {
                if let Some(o) = outcome(&c.id, r) {
                    results.push(result(&c.id, r, t(m), o));
                }
            }
        }
        let (state, events) = evaluate(
            &self.state,
            &results,
            t(m) + TimeDelta::seconds(5),
            &self.config,
        );
        self.state = state;
        self.record(&events);
        events
    }

    /// An evaluation at `now` with whatever results are given (none: a tick).
    pub fn at(&mut self, now: DateTime<Utc>, results: &[ProbeResult]) -> Vec<Event> {
        let (state, events) = evaluate(&self.state, results, now, &self.config);
        self.state = state;
        self.record(&events);
        events
    }

    /// Records events and their messages, rendered as the shells do.
    pub fn record(&mut self, events: &[Event]) {
        for e in events {
            self.messages.push(
                self.renderer
                    .render(e, &self.state, &self.config)
                    .unwrap_or_else(|err| panic!("{e:?}: {err}")),
            );
        }
        self.events.extend(events.iter().cloned());
    }

    /// The customer messages so far.
    pub fn customer_messages(&self) -> Vec<&crate::message::Message> {
        self.messages
            .iter()
            .filter(|m| m.topic == Audience::Customers)
            .collect()
    }

    pub fn count(&self, kind: EventKind, audience: Audience) -> usize {
        self.events
            .iter()
            .filter(|e| e.kind == kind && e.audience == audience)
            .count()
    }
}

pub(super) fn up(_: &str, _: &str) -> Option<Outcome> {
    Some(Outcome::Up)
}

#[test]
fn outage_in_two_of_three_regions_opens_one_incident_with_updates_and_one_resolution() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    for m in 1..=60 {
        let events = sim.minute(m, |_, r| {
            Some(if r == "ap-southeast-2" {
                Outcome::Up
            } else {
                Outcome::Down
            })
        });
        if m == 1 {
            assert!(events.is_empty(), "one failure is soft: {events:?}");
        }
        if m == 2 {
            let kinds: Vec<(EventKind, Audience)> =
                events.iter().map(|e| (e.kind, e.audience)).collect();
            assert_eq!(
                kinds,
                [
                    (EventKind::Opened, Audience::Operators),
                    (EventKind::Opened, Audience::Customers)
                ],
                "confirmed after the retries, customers told in the same evaluation"
            );
        }
    }
    for m in 61..=70 {
        sim.minute(m, up);
    }
    assert_eq!(sim.count(EventKind::Opened, Audience::Operators), 1);
    assert_eq!(sim.count(EventKind::Opened, Audience::Customers), 1);
    let customer_updates: Vec<DateTime<Utc>> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Update && e.audience == Audience::Customers)
        .map(|e| e.at)
        .collect();
    // Every 30 minutes while open: opened at minute 2, updates at 32 and 61 (the first success
    // puts it in monitoring, which customers hear about), none after resolution.
    assert_eq!(customer_updates.len(), 2, "{customer_updates:?}");
    assert_eq!(customer_updates[0], t(32) + TimeDelta::seconds(5));
    assert_eq!(sim.count(EventKind::Resolved, Audience::Customers), 1);
    assert_eq!(sim.count(EventKind::Resolved, Audience::Operators), 1);
    let inc = sim.state.incidents.values().next().unwrap();
    assert_eq!(inc.phase, Phase::Resolved);
    assert_eq!(
        inc.started_at,
        t(1),
        "the outage began with the first failure"
    );
    assert_eq!(
        inc.resolved_at,
        Some(t(62) + TimeDelta::seconds(5)),
        "after recover_after (2) successes"
    );
    assert_eq!(
        inc.timeline.len(),
        sim.events
            .iter()
            .filter(|e| e.incident() == Some(inc.id.as_str()))
            .count()
    );
    let regions: BTreeSet<&str> = inc.failures.iter().map(|f| f.region.as_str()).collect();
    assert_eq!(regions, BTreeSet::from(["eu-west-1", "us-east-1"]));
}

#[test]
fn outage_in_one_region_is_degraded_for_operators_and_nothing_for_customers() {
    let mut sim = Sim::new(config("", ""));
    for m in 0..30 {
        sim.minute(m, |_, r| {
            Some(if r == "eu-west-1" && m > 0 {
                Outcome::Down
            } else {
                Outcome::Up
            })
        });
    }
    assert_eq!(sim.state.checks["shop-home"].verdict, Verdict::Degraded);
    assert!(
        sim.events.iter().all(|e| e.audience != Audience::Customers),
        "{:?}",
        sim.events
    );
    assert!(sim.state.incidents.is_empty());
}

#[test]
fn silent_region_is_reported_once_left_out_of_the_quorum_and_reported_back() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    for m in 1..=10 {
        sim.minute(m, |_, r| (r != "ap-southeast-2").then_some(Outcome::Up));
    }
    let silent: Vec<&Event> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::RegionSilent)
        .collect();
    assert_eq!(silent.len(), 1, "told once: {silent:?}");
    assert_eq!(
        (silent[0].region(), silent[0].ended(), silent[0].audience),
        (Some("ap-southeast-2"), false, Audience::Operators)
    );
    // With ap-southeast-2 silent, the quorum is a majority of the two reporting regions.
    for m in 11..=13 {
        sim.minute(m, |_, r| (r != "ap-southeast-2").then_some(Outcome::Down));
    }
    assert_eq!(sim.count(EventKind::Opened, Audience::Customers), 1);
    sim.minute(14, up);
    let back: Vec<&Event> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::RegionSilent && e.ended())
        .collect();
    assert_eq!(back.len(), 1);
}

#[test]
fn flapping_check_gives_one_notice_instead_of_an_alert_per_change() {
    let mut sim = Sim::new(config("", ""));
    for m in 0..10 {
        sim.minute(m, up);
    }
    // Down two minutes, up two minutes: each swing would open and resolve an incident.
    let mut flapping_at = None;
    for m in 10..80 {
        let down = (m / 2) % 2 == 0;
        let events = sim.minute(m, |_, _| {
            Some(if down { Outcome::Down } else { Outcome::Up })
        });
        if flapping_at.is_none() && events.iter().any(|e| e.kind == EventKind::Flapping) {
            flapping_at = Some(m);
        }
    }
    let started = flapping_at.expect("flapping detected");
    let flapping: Vec<&Event> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Flapping)
        .collect();
    assert_eq!(flapping.len(), 1, "one notice: {flapping:?}");
    assert_eq!(flapping[0].audience, Audience::Operators);
    let noise_after = sim
        .events
        .iter()
        .filter(|e| {
            e.at > t(started) + TimeDelta::seconds(5)
                && matches!(e.kind, EventKind::Opened | EventKind::Resolved)
        })
        .count();
    assert_eq!(noise_after, 0, "no per-change incidents while flapping");
    for m in 80..120 {
        sim.minute(m, up);
    }
    assert!(
        sim.events
            .iter()
            .any(|e| e.kind == EventKind::Flapping && e.ended()),
        "flapping ends once it settles"
    );
    assert!(!sim.state.checks["shop-home"].flapping);
}

#[test]
fn maintenance_is_announced_started_and_ended_and_opens_no_incident() {
    let services = "  - id: api\n    customer: globex\n    name: API\n    maintenance:\n      - { start: 2026-11-24T12:00:00Z, end: 2026-11-24T13:00:00Z, announce_before: 1h, note: Database upgrade }\n";
    let checks = "  - { id: api-health, service: api, http: { url: 'https://api.globex.example/health' } }\n";
    let mut sim = Sim::new(config(services, checks));
    for m in 0..=200 {
        let in_window = (120..180).contains(&m);
        sim.minute(m, |c, _| {
            Some(if c == "api-health" && in_window {
                Outcome::Down
            } else {
                Outcome::Up
            })
        });
    }
    for (kind, minute) in [
        (EventKind::MaintenanceScheduled, 60),
        (EventKind::MaintenanceStarted, 120),
        (EventKind::MaintenanceEnded, 180),
    ] {
        let sent: Vec<&Event> = sim.events.iter().filter(|e| e.kind == kind).collect();
        assert_eq!(sent.len(), 2, "{kind:?} once to each audience: {sent:?}");
        assert_eq!(sent[0].at, t(minute) + TimeDelta::seconds(5), "{kind:?}");
        let customer = sent
            .iter()
            .find(|e| e.audience == Audience::Customers)
            .unwrap();
        assert_eq!(
            (customer.customer(), customer.text()),
            (Some("globex"), Some("Database upgrade"))
        );
    }
    assert!(
        sim.state.incidents.is_empty(),
        "no incident during maintenance"
    );
}

#[test]
fn dependency_gives_one_operator_incident_and_tells_the_dependent_services_customers() {
    let services = "  - { id: dns, customer: globex, name: DNS }\n  - { id: portal, customer: globex, name: Portal, depends_on: [dns] }\n";
    let checks = "  - { id: dns-a, service: dns, dns: { name: globex.example } }\n  - { id: portal-home, service: portal, http: { url: 'https://portal.globex.example/' } }\n";
    let mut sim = Sim::new(config(services, checks));
    sim.minute(0, up);
    for m in 1..=5 {
        sim.minute(m, |c, _| {
            Some(if c == "dns-a" || c == "portal-home" {
                Outcome::Down
            } else {
                Outcome::Up
            })
        });
    }
    assert_eq!(
        sim.count(EventKind::Opened, Audience::Operators),
        1,
        "one operator incident"
    );
    let inc = sim.state.incidents.values().next().unwrap();
    assert_eq!(
        (inc.service.as_str(), inc.affected.clone()),
        ("dns", vec!["portal".to_string()])
    );
    let told: BTreeSet<&str> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Opened && e.audience == Audience::Customers)
        .filter_map(|e| e.service())
        .collect();
    assert_eq!(told, BTreeSet::from(["dns", "portal"]));
    // Each customer message names only its own service.
    for m in sim.messages.iter().filter(|m| {
        m.topic == Audience::Customers && m.attributes.service.as_deref() == Some("portal")
    }) {
        assert!(
            m.body.contains("Portal") && !m.body.contains("DNS"),
            "{}",
            m.body
        );
    }
    for m in 6..=9 {
        sim.minute(m, up);
    }
    let resolved: BTreeSet<&str> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Resolved && e.audience == Audience::Customers)
        .filter_map(|e| e.service())
        .collect();
    assert_eq!(resolved, BTreeSet::from(["dns", "portal"]));
}

#[test]
fn escalation_then_reminders_until_acknowledged() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    for m in 1..=20 {
        sim.minute(m, |_, _| Some(Outcome::Down));
    }
    let escalated: Vec<&Event> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Escalated)
        .collect();
    assert_eq!(escalated.len(), 1);
    assert_eq!(
        (escalated[0].severity, escalated[0].at),
        (Severity::Critical, t(17) + TimeDelta::seconds(5)),
        "15 minutes after opening at minute 2"
    );
    for m in 21..=50 {
        sim.minute(m, |_, _| Some(Outcome::Down));
    }
    assert_eq!(
        sim.count(EventKind::Reminder, Audience::Operators),
        1,
        "30 minutes after the escalation"
    );
    let id = sim.state.incidents.keys().next().unwrap().clone();
    let (state, events) = act(
        &sim.state,
        &id,
        Action::Acknowledge { by: "ana".into() },
        t(50),
        &sim.config,
    )
    .unwrap();
    let kinds: Vec<(EventKind, Audience)> = events.iter().map(|e| (e.kind, e.audience)).collect();
    assert_eq!(
        kinds,
        [(EventKind::Acknowledged, Audience::Operators)],
        "operators hear who is on it; customers nothing"
    );
    sim.state = state;
    for m in 51..=150 {
        sim.minute(m, |_, _| Some(Outcome::Down));
    }
    assert_eq!(
        sim.count(EventKind::Reminder, Audience::Operators),
        1,
        "no reminders once acknowledged"
    );
    assert!(
        sim.count(EventKind::Update, Audience::Customers) >= 4,
        "customers keep hearing from us"
    );
}

#[test]
fn human_update_goes_to_customers_as_written_and_manual_resolution_closes() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    for m in 1..=3 {
        sim.minute(m, |_, _| Some(Outcome::Down));
    }
    let id = sim.state.incidents.keys().next().unwrap().clone();
    let (state, events) = act(
        &sim.state,
        &id,
        Action::Update {
            phase: Phase::Identified,
            texts: Texts {
                default: None,
                by_language: [(
                    crate::Language::Es,
                    "Hemos localizado el fallo en la pasarela de pago.".to_string(),
                )]
                .into(),
            },
            force: false,
        },
        t(4),
        &sim.config,
    )
    .unwrap();
    let customer = events
        .iter()
        .find(|e| e.audience == Audience::Customers)
        .unwrap();
    assert_eq!(
        (customer.kind, customer.text(), customer.phase()),
        (
            EventKind::HumanUpdate,
            Some("Hemos localizado el fallo en la pasarela de pago."),
            Some(Phase::Identified)
        )
    );
    // Still failing: a resolution by hand is refused unless forced.
    let refused = act(
        &state,
        &id,
        Action::Resolve {
            texts: None,
            force: false,
        },
        t(5),
        &sim.config,
    );
    assert!(
        matches!(&refused, Err(ActionError::Refused(r)) if r.iter().any(|r| matches!(r, Refusal::NotSeenPassing { checks } if checks[0].0 == "shop-home"))),
        "{refused:?}"
    );
    let (state, events) = act(
        &state,
        &id,
        Action::Resolve {
            texts: None,
            force: true,
        },
        t(5),
        &sim.config,
    )
    .unwrap();
    assert!(state.incidents[&id].forced);
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::Resolved && e.audience == Audience::Customers));
    assert_eq!(
        act(
            &state,
            &id,
            Action::Acknowledge { by: "x".into() },
            t(6),
            &sim.config
        ),
        Err(ActionError::Resolved(id.clone()))
    );
    assert_eq!(
        act(
            &state,
            "inc-99",
            Action::Resolve {
                texts: None,
                force: false
            },
            t(6),
            &sim.config
        ),
        Err(ActionError::Unknown("inc-99".into()))
    );
}

#[test]
fn relapse_within_the_window_reopens_the_same_incident() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    let down = |_: &str, _: &str| Some(Outcome::Down);
    for m in 1..=5 {
        sim.minute(m, down);
    }
    for m in 6..=10 {
        sim.minute(m, up);
    }
    for m in 11..=15 {
        sim.minute(m, down);
    }
    assert_eq!(sim.state.incidents.len(), 1, "re-opened, not a new one");
    let inc = sim.state.incidents.values().next().unwrap();
    assert_eq!((inc.reopened, inc.phase), (1, Phase::Investigating));
    let first = inc.id.clone();
    for m in 16..=20 {
        sim.minute(m, up);
    }
    for m in 21..=47 {
        sim.minute(m, up);
    }
    assert!(
        sim.state.incidents.contains_key(&first),
        "kept while it may still re-open"
    );
    sim.minute(52, up);
    assert!(
        sim.state.incidents.is_empty(),
        "past reopen_within (30m) a resolved incident leaves the state (stores keep it)"
    );
    for m in 60..=65 {
        sim.minute(m, down);
    }
    let ids: Vec<_> = sim.state.incidents.keys().cloned().collect();
    assert_eq!(ids.len(), 1, "past reopen_within it is a new incident");
    assert_ne!(ids[0], first);
}

#[test]
fn changed_incidents_are_the_new_and_the_different() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    let before = sim.state.clone();
    let down = |_: &str, _: &str| Some(Outcome::Down);
    for m in 1..=5 {
        sim.minute(m, down);
    }
    let opened = sim.state.clone();
    assert_eq!(opened.changed_incidents(&before).count(), 1, "a new one");
    assert_eq!(opened.changed_incidents(&opened).count(), 0);
}

#[test]
fn duplicate_out_of_order_and_stale_results_change_nothing() {
    let cfg = config("", "");
    let mut state = State::default();
    let mut all = Vec::new();
    for m in 0..=5 {
        let results: Vec<ProbeResult> = REGIONS
            .iter()
            .map(|r| {
                result(
                    "shop-home",
                    r,
                    t(m),
                    if m > 0 { Outcome::Down } else { Outcome::Up },
                )
            })
            .collect();
        let (s, _) = evaluate(&state, &results, t(m), &cfg);
        state = s;
        all.extend(results);
    }
    // The same results again, shuffled: no new events, same state.
    let mut again = all.clone();
    again.reverse();
    let (s2, events) = evaluate(&state, &again, t(5), &cfg);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(s2, state);
    // An old success arriving late does not reset the failure count.
    let late = vec![result("shop-home", "eu-west-1", t(3), Outcome::Up)];
    let (s3, events) = evaluate(&state, &late, t(5), &cfg);
    assert!(events.is_empty());
    assert_eq!(
        s3.checks["shop-home"].regions["eu-west-1"].fails,
        state.checks["shop-home"].regions["eu-west-1"].fails
    );
    // A result older than three intervals is stale.
    let stale = vec![result("shop-home", "eu-west-1", t(-10), Outcome::Up)];
    assert_eq!(evaluate(&state, &stale, t(5), &cfg).0, state);
}

#[test]
fn evaluation_is_deterministic() {
    let cfg = config("", "");
    let results: Vec<ProbeResult> = REGIONS
        .iter()
        .map(|r| result("shop-home", r, t(1), Outcome::Down))
        .collect();
    let (a, ea) = evaluate(&State::default(), &results, t(1), &cfg);
    let (b, eb) = evaluate(&State::default(), &results, t(1), &cfg);
    assert_eq!((a, ea), (b, eb));
}

#[test]
fn a_dependent_service_that_fails_first_waits_for_its_failing_dependency() {
    let services = "  - { id: dns, customer: globex, name: DNS }\n  - { id: portal, customer: globex, name: Portal, depends_on: [dns] }\n";
    let checks = "  - { id: dns-a, service: dns, dns: { name: globex.example } }\n  - { id: portal-home, service: portal, http: { url: 'https://portal.globex.example/' } }\n";
    let mut sim = Sim::new(config(services, checks));
    sim.minute(0, up);
    // portal-home fails a minute before dns-a does: its second failure comes while dns is soft down.
    sim.minute(1, |c, _| {
        Some(if c == "portal-home" {
            Outcome::Down
        } else {
            Outcome::Up
        })
    });
    sim.minute(2, |c, _| {
        Some(if c == "portal-home" || c == "dns-a" {
            Outcome::Down
        } else {
            Outcome::Up
        })
    });
    assert!(
        sim.state.incidents.is_empty(),
        "portal waits while dns is failing"
    );
    for m in 3..=5 {
        sim.minute(m, |c, _| {
            Some(if c == "portal-home" || c == "dns-a" {
                Outcome::Down
            } else {
                Outcome::Up
            })
        });
    }
    assert_eq!(sim.count(EventKind::Opened, Audience::Operators), 1);
    let inc = sim.state.incidents.values().next().unwrap();
    assert_eq!(
        (inc.service.as_str(), inc.affected.clone()),
        ("dns", vec!["portal".to_string()])
    );
}

#[test]
fn customer_times_are_in_their_zone_and_operators_get_the_runbook() {
    let text = "settings:
  regions: [eu-west-1]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME, language: es, timezone: Europe/Madrid }
  - { id: initech, name: Initech, timezone: America/New_York }
services:
  - { id: shop, customer: acme, name: Tienda online, runbook: 'https://wiki.example/runbooks/shop' }
  - { id: portal, customer: initech, name: Portal }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: portal-home, service: portal, http: { url: 'https://portal.initech.example/' } }
";
    let cfg = load_str(text, "tz.yaml", Target::Lambda).unwrap();
    let mut sim = Sim::new(cfg);
    sim.minute(0, up);
    sim.minute(1, |_, _| Some(Outcome::Down));
    let body = |audience: Audience, service: &str| {
        sim.messages
            .iter()
            .find(|m| m.topic == audience && m.attributes.service.as_deref() == Some(service))
            .unwrap()
            .body
            .clone()
    };
    assert!(
        body(Audience::Customers, "shop")
            .contains("Desde las 11:01 (hora de Madrid) del 24 de noviembre de 2026"),
        "{}",
        body(Audience::Customers, "shop")
    );
    assert!(
        body(Audience::Customers, "portal")
            .contains("Since 05:01 (New York time) on 24 November 2026"),
        "{}",
        body(Audience::Customers, "portal")
    );
    assert!(
        body(Audience::Operators, "shop").contains("Runbook: https://wiki.example/runbooks/shop")
    );
    assert!(!body(Audience::Customers, "shop").contains("wiki.example"));
}

#[test]
fn a_sub_minute_check_on_lambda_stays_seen_between_the_streams_batches() {
    let cfg = config(
        "",
        "  - { id: pay, service: shop, interval: 10s, timeout: 5s, http: { url: 'https://pay.acme.example/' } }\n",
    );
    let at = |s: i64| t(0) + TimeDelta::seconds(s);
    let results: Vec<ProbeResult> = REGIONS
        .iter()
        .map(|r| result("pay", r, at(0), Outcome::Up))
        .collect();
    let (state, _) = evaluate(&State::default(), &results, at(1), &cfg);
    assert_eq!(state.checks["pay"].verdict, Verdict::Up);
    // A minute later (three intervals would be 30 s), the next batch not in yet: still seen.
    let (state, events) = evaluate(&state, &[], at(61), &cfg);
    assert_eq!(state.checks["pay"].verdict, Verdict::Up, "{events:?}");
    // Past 90 s with nothing: the monitor says it cannot see.
    let (state, _) = evaluate(&state, &[], at(92), &cfg);
    assert_eq!(state.checks["pay"].verdict, Verdict::Unknown);
}

#[test]
fn a_certificate_in_its_warning_tier_warns_operators_early_reminds_and_clears_when_renewed() {
    let cfg = config(
        "",
        "  - { id: shop-cert, service: shop, tls: { host: shop.acme.example }, expect: { cert_warn_before: 21d, cert_valid_for: 7d } }\n",
    );
    let mut state = State::default();
    let mut all = Vec::new();
    // A day a minute of results: 25 days left, then 20 (the tier), 19 for an hour and a half,
    // then renewed (90).
    let days_at = |m: i64| match m {
        0..=1 => 25,
        2..=95 => 20 - (m / 60),
        _ => 90,
    };
    for m in 0..=97 {
        let results: Vec<ProbeResult> = REGIONS
            .iter()
            .map(|r| ProbeResult {
                cert_days_left: Some(days_at(m)),
                ..result("shop-cert", r, t(m), Outcome::Up)
            })
            .collect();
        let (s, events) = evaluate(&state, &results, t(m) + TimeDelta::seconds(5), &cfg);
        state = s;
        all.extend(events.into_iter().map(|e| (m, e)));
    }
    let early: Vec<(i64, &Event)> = all
        .iter()
        .filter(|(_, e)| {
            matches!(
                e.kind,
                EventKind::EarlyWarning | EventKind::EarlyWarningCleared
            )
        })
        .map(|(m, e)| (*m, e))
        .collect();
    // The first at minute 2, reminders every 30 minutes (the operators' cadence), cleared at
    // the first result that sees the renewed certificate.
    let kinds: Vec<(i64, &str)> = early.iter().map(|(m, e)| (*m, e.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (2, "early_warning"),
            (32, "early_warning"),
            (62, "early_warning"),
            (92, "early_warning"),
            (96, "early_warning_cleared"),
        ]
    );
    assert!(early.iter().all(|(_, e)| e.audience == Audience::Operators));
    // Nobody else heard anything, and nothing was judged worse than up.
    assert!(
        all.iter().all(|(_, e)| e.audience == Audience::Operators),
        "{all:?}"
    );
    assert!(state.incidents.is_empty());
    assert_eq!(state.checks["shop-cert"].verdict, Verdict::Up);
    assert!(state.checks["shop-cert"].early.is_empty());
    // The operators' words.
    let r = crate::Renderer::default();
    let m = r
        .render(early[0].1, &state, &cfg)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.subject, "[EARLY WARNING] shop-cert: certificate expiring");
    assert!(
        m.body.starts_with("Check shop-cert (service shop (Tienda online)): the certificate expires in 20 day(s) (about 2026-12-14), as seen from ap-southeast-2"),
        "{}",
        m.body
    );
    assert!(
        m.body.contains("customers have been told nothing"),
        "{}",
        m.body
    );
    let reminder = r
        .render(early[1].1, &state, &cfg)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(reminder.subject.ends_with("(reminder)") && reminder.body.starts_with("Still coming."));
    let cleared = r
        .render(early[4].1, &state, &cfg)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        cleared
            .subject
            .starts_with("[EARLY WARNING CLEARED] shop-cert"),
        "{}",
        cleared.subject
    );
}

#[test]
fn a_blind_monitor_never_clears_an_early_warning() {
    let cfg = config(
        "",
        "  - { id: shop-cert, service: shop, tls: { host: shop.acme.example }, expect: { cert_warn_before: 21d } }\n",
    );
    let results = |m: i64, days: i64| -> Vec<ProbeResult> {
        REGIONS
            .iter()
            .map(|r| ProbeResult {
                cert_days_left: Some(days),
                ..result("shop-cert", r, t(m), Outcome::Up)
            })
            .collect()
    };
    let (state, events) = evaluate(&State::default(), &results(0, 10), t(0), &cfg);
    assert!(events.iter().any(|e| e.kind == EventKind::EarlyWarning));
    // Ten minutes without a result: the monitor cannot see the check; the warning stands.
    let (state, events) = evaluate(&state, &[], t(10), &cfg);
    assert!(
        events
            .iter()
            .all(|e| e.kind != EventKind::EarlyWarningCleared),
        "{events:?}"
    );
    assert!(state.checks["shop-cert"]
        .early
        .contains_key(&crate::evaluate::Cause::Certificate));
    // Seen again, renewed: now it clears.
    let (state, events) = evaluate(&state, &results(11, 90), t(11), &cfg);
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::EarlyWarningCleared));
    assert!(state.checks["shop-cert"].early.is_empty());
}
