//! Properties over random result sequences: whatever the targets do, the conversation stays
//! whole and the engine stays deterministic.

use super::*;
use crate::result::{Outcome, Reason};
use crate::result::{Phases, ProbeResult};
use crate::{load_str, Target};
use proptest::prelude::*;
use std::collections::BTreeMap;

const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];
const CHECKS: [&str; 3] = ["dns-a", "shop-home", "shop-api"];

fn config() -> Config {
    let text = "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 2, recover_after: 2 }
  operators: { renotify_every: 20m, escalate_after: 10m }
customers:
  - { id: acme, name: ACME, language: es, update_every: 15m }
  - { id: globex, name: Globex Corporation }
services:
  - id: dns
    customer: acme
    name: Dominio
  - id: shop
    customer: acme
    name: Tienda
    depends_on: [dns]
    maintenance:
      - { start: 2026-11-24T11:00:00Z, end: 2026-11-24T11:30:00Z, announce_before: 30m }
checks:
  - { id: dns-a, service: dns, dns: { name: acme.example } }
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: shop-api, service: shop, http: { url: 'https://api.acme.example/' } }
";
    load_str(text, "prop.yaml", Target::Lambda).unwrap_or_else(|e| panic!("{e}"))
}

fn t(minute: i64) -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minute)
}

/// One minute of the world: per check and region, 0 = no result, 1 = up, 2 = degraded, 3 = down,
/// 4 = a monitoring fault (`blocked`). Failures come in runs so that outages, recoveries and
/// flapping all happen, and whole regions fall silent for runs of minutes.
fn minutes() -> impl Strategy<Value = Vec<[[u8; 3]; 3]>> {
    let minute = prop::array::uniform3(prop::array::uniform3(
        prop_oneof![1 => Just(0u8), 6 => Just(1u8), 1 => Just(2u8), 3 => Just(3u8), 1 => Just(4u8)],
    ));
    let silent = prop::array::uniform3(prop_oneof![5 => Just(false), 1 => Just(true)]);
    prop::collection::vec((minute, silent, 1usize..6), 10..40).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(mut m, silent, n)| {
                for per_check in m.iter_mut() {
                    for (ri, v) in per_check.iter_mut().enumerate() {
                        if silent[ri] {
                            *v = 0;
                        }
                    }
                }
                std::iter::repeat_n(m, n)
            })
            .collect()
    })
}

fn results_at(m: i64, world: &[[u8; 3]; 3]) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    for (ci, check) in CHECKS.iter().enumerate() {
        for (ri, region) in REGIONS.iter().enumerate() {
            let (outcome, reason) = match world[ci][ri] {
                0 => continue,
                1 => (Outcome::Up, Reason::Ok),
                2 => (Outcome::Degraded, Reason::Ok),
                3 => (Outcome::Down, Reason::Timeout),
                _ => (Outcome::Unknown, Reason::Blocked),
            };
            out.push(ProbeResult {
                check: check.to_string(),
                region: region.to_string(),
                at: t(m),
                outcome,
                reason,
                detail: "no response headers within 10s (phase: ttfb) from 203.0.113.7:443".into(),
                latency_ms: 10.0,
                phases: Phases::default(),
                http_status: None,
                cert_days_left: None,
            });
        }
    }
    out
}

/// The latest real result per (check, region), as the world produced it.
#[derive(Default)]
struct Latest(BTreeMap<(String, String), (DateTime<Utc>, Outcome)>);

impl Latest {
    fn record(&mut self, results: &[ProbeResult]) {
        for r in results.iter().filter(|r| r.is_real()) {
            self.0
                .insert((r.check.clone(), r.region.clone()), (r.at, r.outcome));
        }
    }

    /// In how many regions the latest real result of `check`, fresh at `now`, satisfies `pred`.
    fn regions(&self, check: &str, now: DateTime<Utc>, pred: impl Fn(Outcome) -> bool) -> usize {
        REGIONS
            .iter()
            .filter(|r| {
                self.0
                    .get(&(check.to_string(), r.to_string()))
                    .is_some_and(|(at, o)| *at >= now - TimeDelta::minutes(3) && pred(*o))
            })
            .count()
    }
}

/// Does this customer message say the service works (working again, resolved, available)?
fn good_news(e: &Event) -> bool {
    e.audience == Audience::Customers
        && !e.unseen()
        && match e.kind {
            EventKind::Resolved | EventKind::MaintenanceEnded => true,
            EventKind::Update | EventKind::HumanUpdate => e.phase() == Some(Phase::Monitoring),
            _ => false,
        }
}

/// Runs the random minutes, then long enough stable up for every incident to end.
fn run(world: &[[[u8; 3]; 3]]) -> (Vec<State>, Vec<Event>) {
    let cfg = config();
    let mut state = State::default();
    let mut states = Vec::new();
    let mut events = Vec::new();
    let all_up = [[1u8; 3]; 3];
    let steps = world.iter().chain(std::iter::repeat_n(&all_up, 60));
    for (m, w) in steps.enumerate() {
        let (s, e) = evaluate(
            &state,
            &results_at(m as i64, w),
            t(m as i64) + TimeDelta::seconds(5),
            &cfg,
        );
        state = s;
        states.push(state.clone());
        events.extend(e);
    }
    (states, events)
}

/// Everything technical a customer must never read, taken from the checks file and the results.
const INTERNALS: [&str; 14] = [
    "acme.example",
    "https://",
    "203.0.113.7",
    "443",
    "timeout",
    "no response headers",
    "ttfb",
    "dns-a",
    "shop-home",
    "shop-api",
    "eu-west-1",
    "us-east-1",
    "ap-southeast-2",
    "Globex",
];

proptest! {
    // 96 cases in the test suite; PROPTEST_CASES=2000 for a deeper search.
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96), ..ProptestConfig::default() })]

    #[test]
    fn at_most_one_open_incident_per_service(world in minutes()) {
        let (states, _) = run(&world);
        for state in &states {
            for service in ["dns", "shop"] {
                let open = state.incidents.values().filter(|i| i.is_open() && i.services().any(|s| s == service)).count();
                prop_assert!(open <= 1, "{service}: {open} open incidents");
            }
        }
    }

    #[test]
    fn every_customer_opened_is_followed_by_exactly_one_resolved(world in minutes()) {
        let (states, events) = run(&world);
        let mut open: BTreeMap<(String, String), bool> = BTreeMap::new();
        for e in events.iter().filter(|e| e.audience == Audience::Customers && e.incident().is_some()) {
            let key = (e.incident().unwrap().to_string(), e.service().unwrap().to_string());
            let was_open = open.get(&key).copied().unwrap_or(false);
            match e.kind {
                EventKind::Opened => { prop_assert!(!was_open, "opened twice without a resolution: {key:?}"); open.insert(key, true); }
                EventKind::Resolved => { prop_assert!(was_open, "resolved without an opened: {key:?}"); open.insert(key, false); }
                _ => prop_assert!(was_open, "{:?} outside an open conversation: {key:?}", e.kind),
            }
        }
        prop_assert!(open.values().all(|o| !o), "still open after an hour of success: {open:?}");
        prop_assert!(states.last().unwrap().incidents.values().all(|i| !i.is_open()));
    }

    #[test]
    fn no_customer_message_about_a_service_during_its_maintenance(world in minutes()) {
        let (_, events) = run(&world);
        let (start, end) = (t(60), t(90));
        for e in events.iter().filter(|e| e.audience == Audience::Customers && e.service() == Some("shop") && e.incident().is_some()) {
            prop_assert!(!(start <= e.at && e.at < end), "{e:?}");
        }
    }

    #[test]
    fn customer_messages_never_carry_technical_internals(world in minutes()) {
        let cfg = config();
        let renderer = crate::message::Renderer::new();
        let mut state = State::default();
        for (m, w) in world.iter().enumerate() {
            let (s, events) = evaluate(&state, &results_at(m as i64, w), t(m as i64) + TimeDelta::seconds(5), &cfg);
            state = s;
            for e in events.iter().filter(|e| e.audience == Audience::Customers) {
                let msg = renderer.render(e, &state, &cfg).unwrap();
                let text = format!("{}\n{}", msg.subject, msg.body);
                for internal in INTERNALS {
                    prop_assert!(!text.contains(internal), "{internal:?} in:\n{text}");
                }
            }
        }
    }

    #[test]
    fn no_good_news_while_a_quorum_of_regions_sees_a_failure_or_nothing(world in minutes()) {
        let cfg = config();
        let mut state = State::default();
        let mut latest = Latest::default();
        let all_up = [[1u8; 3]; 3];
        for (m, w) in world.iter().chain(std::iter::repeat_n(&all_up, 20)).enumerate() {
            let results = results_at(m as i64, w);
            latest.record(&results);
            let now = t(m as i64) + TimeDelta::seconds(5);
            let (s, events) = evaluate(&state, &results, now, &cfg);
            state = s;
            for e in events.iter().filter(|e| good_news(e)) {
                let service = e.service().unwrap_or_default();
                for c in cfg.checks.iter().filter(|c| c.service == service) {
                    let passing = latest.regions(&c.id, now, |o| o != Outcome::Down);
                    prop_assert!(
                        passing >= 2,
                        "{:?} for {service} at minute {m} while {} passes in only {passing} regions",
                        e.kind, c.id
                    );
                }
            }
        }
    }

    #[test]
    fn customers_of_an_open_incident_never_wait_longer_than_their_cadence(world in minutes()) {
        let cfg = config();
        let (_, events) = run(&world);
        let (start, end) = (t(60), t(90));
        let mut last: BTreeMap<(String, String), DateTime<Utc>> = BTreeMap::new();
        for e in events.iter().filter(|e| e.audience == Audience::Customers && e.incident().is_some()) {
            let key = (e.incident().unwrap().to_string(), e.service().unwrap().to_string());
            let every = cfg.service(&key.1).and_then(|s| cfg.customer(&s.customer)).map(|c| c.update_every).unwrap();
            if let Some(prev) = last.get(&key) {
                let around_maintenance = key.1 == "shop" && *prev < end && e.at > start;
                prop_assert!(
                    around_maintenance || e.at - *prev <= TimeDelta::from_std(every).unwrap(),
                    "{key:?}: {} between messages", e.at - *prev
                );
            }
            if e.kind == EventKind::Resolved {
                last.remove(&key);
            } else {
                last.insert(key, e.at);
            }
        }
    }

    #[test]
    fn operators_hear_once_that_a_check_is_blind_and_once_that_it_is_back(world in minutes()) {
        let (states, events) = run(&world);
        let mut blind: BTreeMap<String, bool> = BTreeMap::new();
        for e in &events {
            let About::Sight(list) = &e.about else { continue };
            for c in list {
                let was = blind.get(&c.check).copied().unwrap_or(false);
                match e.kind {
                    EventKind::MonitoringBlind => { prop_assert!(!was, "{} told blind twice", c.check); blind.insert(c.check.clone(), true); }
                    _ => { prop_assert!(was, "{} restored without being blind", c.check); blind.insert(c.check.clone(), false); }
                }
            }
        }
        prop_assert!(blind.values().all(|b| !b), "still blind after an hour of results: {blind:?}");
        prop_assert!(states.last().unwrap().checks.values().all(|c| c.faults.is_empty()));
    }

    #[test]
    fn incidents_open_only_on_failures_seen_and_faults_reach_operators_only(world in minutes()) {
        let cfg = config();
        let mut state = State::default();
        let mut latest = Latest::default();
        for (m, w) in world.iter().enumerate() {
            let results = results_at(m as i64, w);
            latest.record(&results);
            let now = t(m as i64) + TimeDelta::seconds(5);
            let (s, events) = evaluate(&state, &results, now, &cfg);
            state = s;
            for e in &events {
                if matches!(e.kind, EventKind::MonitoringFault | EventKind::MonitoringFaultCleared | EventKind::MonitoringBlind | EventKind::MonitoringRestored) {
                    prop_assert_eq!(e.audience, Audience::Operators);
                }
                if e.kind != EventKind::Opened || e.audience != Audience::Operators {
                    continue;
                }
                let service = e.service().unwrap_or_default();
                let seen_failing = cfg.checks.iter().filter(|c| c.service == service).any(|c| {
                    latest.regions(&c.id, now, |o| o == Outcome::Down) >= 2
                });
                prop_assert!(seen_failing, "{} opened at minute {m} without a quorum seeing a failure", e.id);
            }
        }
    }

    #[test]
    fn evaluating_the_same_input_twice_gives_the_same_output(world in minutes()) {
        prop_assert_eq!(run(&world), run(&world));
    }

    #[test]
    fn feeding_results_twice_adds_no_events(world in minutes()) {
        let cfg = config();
        let mut state = State::default();
        for (m, w) in world.iter().enumerate() {
            let results = results_at(m as i64, w);
            let now = t(m as i64) + TimeDelta::seconds(5);
            let (s, _) = evaluate(&state, &results, now, &cfg);
            let (again, events) = evaluate(&s, &results, now, &cfg);
            prop_assert!(events.is_empty(), "{events:?}");
            prop_assert_eq!(&again, &s);
            state = s;
        }
    }
}

/// Every duration at its maximum, maintenance at both ends of time.
fn config_at_the_maxima() -> Config {
    let text = "settings:
  regions: [eu-west-1, us-east-1]
  defaults: { interval: 1d, timeout: 5m, retries: 100, recover_after: 1 }
  operators: { renotify_every: 7d, escalate_after: 7d }
  incidents: { reopen_within: 30d }
customers:
  - { id: acme, name: ACME, language: es, update_every: 7d, timezone: Pacific/Kiritimati }
services:
  - id: shop
    customer: acme
    name: Tienda
    maintenance:
      - { start: 0001-01-02T00:00:00Z, end: 0001-01-03T00:00:00Z, announce_before: 365d }
      - { start: 9999-12-30T00:00:00Z, end: 9999-12-31T23:59:59Z, announce_before: 365d }
checks:
  - { id: a, service: shop, retries: 1, expect: { cert_valid_for: 3650d }, tls: { host: shop.acme.example } }
  - { id: b, service: shop, interval: 1d, tcp: { host: shop.acme.example, port: 443 } }
";
    load_str(text, "edges.yaml", Target::Local).unwrap_or_else(|e| panic!("{e}"))
}

/// Where a history happens: at the start of time, at its end (days from the latest time chrono
/// can represent), today, or in a maintenance window's last days.
fn base_time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        Just(DateTime::<Utc>::MIN_UTC),
        (0i64..86_400 * 40).prop_map(|s| DateTime::<Utc>::MAX_UTC - TimeDelta::seconds(s)),
        Just(t(0)),
        // A day before the last maintenance window's announcement ends.
        Just(
            "9999-12-29T00:00:00Z"
                .parse::<DateTime<Utc>>()
                .unwrap_or_default()
        ),
    ]
}

/// A time anywhere chrono can represent.
fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) = (
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
    );
    (min..=max).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or_default())
}

/// A result's time: a little before `now` (so outages open and close), or anywhere at all.
#[derive(Clone, Debug)]
enum When {
    Ago(i64),
    At(DateTime<Utc>),
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        8 => (0i64..600).prop_map(When::Ago),
        1 => any_time().prop_map(When::At),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96), ..ProptestConfig::default() })]

    /// No time arithmetic panics: histories at the start of time, at its end and today, results
    /// stamped anywhere, every duration at its maximum; every event renders; operators can act on
    /// every incident.
    #[test]
    fn time_at_the_edges_never_panics(
        base in base_time(),
        steps in prop::collection::vec(
            (
                prop_oneof![3 => 0i64..120, 1 => 0i64..86_400 * 8],
                prop::collection::vec((0usize..2, 0usize..2, when(), 0u8..5), 0..5),
                prop_oneof![9 => Just(false), 1 => Just(true)],
            ),
            1..40,
        )
    ) {
        let cfg = config_at_the_maxima();
        let renderer = crate::message::Renderer::new();
        let mut state = State::default();
        let mut now = base;
        for (advance, results, restart) in steps {
            now = now.checked_add_signed(TimeDelta::seconds(advance)).unwrap_or(now);
            let results: Vec<ProbeResult> = results
                .into_iter()
                .map(|(c, r, when, o)| {
                    let (outcome, reason) = match o {
                        0 => (Outcome::Up, Reason::Ok),
                        1 => (Outcome::Down, Reason::Timeout),
                        2 => (Outcome::Down, Reason::Refused),
                        3 => (Outcome::Unknown, Reason::Blocked),
                        _ => (Outcome::Degraded, Reason::Ok),
                    };
                    let at = match when {
                        When::Ago(s) => now.checked_sub_signed(TimeDelta::seconds(s)).unwrap_or(now),
                        When::At(at) => at,
                    };
                    ProbeResult {
                        check: ["a", "b"][c].to_string(),
                        region: REGIONS[r].to_string(),
                        at,
                        outcome,
                        reason,
                        detail: String::new(),
                        latency_ms: 1.0,
                        phases: Phases::default(),
                        http_status: None,
                        cert_days_left: Some(-1),
                    }
                })
                .collect();
            let (s, events) = evaluate(&state, &results, now, &cfg);
            for e in &events {
                prop_assert!(renderer.render(e, &s, &cfg).is_ok(), "{e:?}");
            }
            for id in s.incidents.keys() {
                let ack = Action::Acknowledge { by: "ops".into() };
                if let Ok((after, events)) = act(&s, id, ack, now, &cfg) {
                    for e in &events {
                        prop_assert!(renderer.render(e, &after, &cfg).is_ok(), "{e:?}");
                    }
                }
                let resolve = Action::Resolve { texts: None, force: true };
                if let Ok((after, events)) = act(&s, id, resolve, now, &cfg) {
                    for e in &events {
                        prop_assert!(renderer.render(e, &after, &cfg).is_ok(), "{e:?}");
                    }
                }
            }
            state = if restart { resume(&s, now) } else { s };
        }
    }
}
