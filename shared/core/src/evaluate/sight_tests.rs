//! Scenarios of a monitor that cannot see: silent regions, a restarted runner, monitoring faults,
//! too few regions for the quorum. No good news, no alarm about our own faults, operators told
//! once.

use super::tests::{config, result, t, up, Sim};
use super::*;
use crate::result::{Outcome, Reason};

fn down(_: &str, _: &str) -> Option<Outcome> {
    Some(Outcome::Down)
}

fn none(_: &str, _: &str) -> Option<Outcome> {
    None
}

/// An outage confirmed at minute 2 (failures from minute 1 in every region).
fn outage() -> Sim {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    for m in 1..=5 {
        sim.minute(m, down);
    }
    assert_eq!(sim.count(EventKind::Opened, Audience::Customers), 1);
    sim
}

/// Customer messages that say the service works.
fn good_news(sim: &Sim) -> Vec<&Event> {
    sim.events
        .iter()
        .filter(|e| e.audience == Audience::Customers && !e.unseen())
        .filter(|e| {
            e.kind == EventKind::Resolved
                || (e.kind == EventKind::Update && e.phase() == Some(Phase::Monitoring))
        })
        .collect()
}

fn sight_events(sim: &Sim, kind: EventKind) -> Vec<&CheckSight> {
    sim.events
        .iter()
        .filter(|e| e.kind == kind)
        .flat_map(|e| match &e.about {
            About::Sight(list) => list.iter().collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn every_region_silent_mid_incident_sends_no_good_news_and_keeps_the_cadence() {
    let mut sim = outage();
    for m in 6..=90 {
        sim.minute(m, none);
    }
    assert!(good_news(&sim).is_empty(), "{:?}", good_news(&sim));
    assert_eq!(
        sim.state.checks["shop-home"].verdict,
        Verdict::Unknown,
        "no region sees it"
    );
    let inc = sim.state.incidents.values().next().unwrap().clone();
    assert_eq!(inc.phase, Phase::Investigating, "frozen while blind");
    // Operators: each region's silence once, the blindness once, no escalation while blind.
    assert_eq!(
        sim.events
            .iter()
            .filter(|e| e.kind == EventKind::RegionSilent && !e.ended())
            .count(),
        3
    );
    let blind = sight_events(&sim, EventKind::MonitoringBlind);
    assert_eq!(blind.len(), 1, "told once");
    assert_eq!(
        (blind[0].check.as_str(), blind[0].regions.len()),
        ("shop-home", 3)
    );
    assert_eq!(
        sim.count(EventKind::Escalated, Audience::Operators),
        0,
        "the escalation due at minute 17 waits for sight"
    );
    // Customers keep the cadence (every 30 minutes from minute 2), in words that claim nothing.
    let updates: Vec<&Event> = sim
        .events
        .iter()
        .filter(|e| e.audience == Audience::Customers && e.kind == EventKind::Update)
        .collect();
    assert_eq!(
        updates.iter().map(|e| e.at).collect::<Vec<_>>(),
        [32, 62].map(|m| t(m) + TimeDelta::seconds(5))
    );
    assert!(updates.iter().all(|e| e.unseen()));
    for m in sim.customer_messages().iter().skip(1) {
        assert!(
            m.subject == "Tienda online: seguimos trabajando en el problema"
                && m.body.contains("Seguimos trabajando en el problema con el servicio «Tienda online», que empezó a las 10:01 (UTC)")
                && !m.body.contains("vuelve a funcionar"),
            "{}\n{}",
            m.subject,
            m.body
        );
    }

    // Sight returns and the service is still down: restored once, then the escalation.
    sim.minute(91, down);
    assert_eq!(sight_events(&sim, EventKind::MonitoringRestored).len(), 1);
    assert_eq!(sim.count(EventKind::Escalated, Audience::Operators), 1);
    assert!(good_news(&sim).is_empty());
    for m in 92..=94 {
        sim.minute(m, up);
    }
    assert_eq!(sim.count(EventKind::Resolved, Audience::Customers), 1);
}

#[test]
fn a_restart_after_a_gap_of_five_intervals_is_the_monitors_own_gap() {
    let mut sim = outage();
    // The runner is stopped from minute 6 to minute 40: no evaluation at all.
    let restart = t(40) + TimeDelta::seconds(5);
    sim.state = resume(&sim.state, restart);
    let first = sim.at(restart, &[]);
    let kinds: Vec<(EventKind, Audience)> = first.iter().map(|e| (e.kind, e.audience)).collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Reminder, Audience::Operators),
            (EventKind::Update, Audience::Customers)
        ],
        "no silence or blindness noise; what is overdue goes out at once (no escalation unseen)"
    );
    assert!(first.iter().all(|e| e.unseen()));
    assert_eq!(sim.state.checks["shop-home"].verdict, Verdict::Unknown);
    let m = sim.customer_messages().last().unwrap().body.clone();
    assert!(
        m.contains("Seguimos trabajando") && !m.contains("vuelve a funcionar"),
        "{m}"
    );

    // The first round of probes after the restart: still down. Nothing new for customers.
    sim.minute(41, down);
    assert!(good_news(&sim).is_empty());
    assert_eq!(sim.state.checks["shop-home"].verdict, Verdict::Down);
    // It truly recovers: working again, then resolved, only now.
    sim.minute(42, up);
    assert!(good_news(&sim).iter().all(|e| e.at >= t(42)));
    sim.minute(43, up);
    assert_eq!(sim.count(EventKind::Resolved, Audience::Customers), 1);
    for kind in [
        EventKind::RegionSilent,
        EventKind::MonitoringBlind,
        EventKind::MonitoringRestored,
    ] {
        assert_eq!(
            sim.events.iter().filter(|e| e.kind == kind).count(),
            0,
            "{kind:?}"
        );
    }
}

#[test]
fn a_restart_does_not_hide_a_region_that_stays_silent() {
    let mut sim = Sim::new(config("", ""));
    for m in 0..=3 {
        sim.minute(m, up);
    }
    let restart = t(20) + TimeDelta::seconds(5);
    sim.state = resume(&sim.state, restart);
    sim.at(restart, &[]);
    // Two regions report again; ap-southeast-2 does not.
    for m in 21..=30 {
        sim.minute(m, |_, r| (r != "ap-southeast-2").then_some(Outcome::Up));
    }
    let silent: Vec<&Event> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::RegionSilent)
        .collect();
    assert_eq!(silent.len(), 1, "{silent:?}");
    assert_eq!(silent[0].region(), Some("ap-southeast-2"));
    assert_eq!(
        silent[0].at,
        t(24) + TimeDelta::seconds(5),
        "more than 3 intervals after the restart"
    );
}

#[test]
fn a_region_reporting_only_monitoring_faults_is_told_to_operators_and_left_out() {
    let mut sim = Sim::new(config("", ""));
    let faulty = |_: &str, r: &str| {
        Some(if r == "ap-southeast-2" {
            Outcome::Unknown
        } else {
            Outcome::Up
        })
    };
    for m in 0..=40 {
        sim.minute(m, faulty);
    }
    let faults: Vec<&Event> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::MonitoringFault)
        .collect();
    assert_eq!(
        faults.len(),
        2,
        "the notice, then a reminder after 30m: {faults:?}"
    );
    assert_eq!(faults[1].at, t(30) + TimeDelta::seconds(5));
    let About::Fault { fault: note, .. } = &faults[0].about else {
        panic!("{:?}", faults[0])
    };
    assert_eq!(
        (note.reason, note.regions.clone(), note.reminder),
        (Reason::Blocked, vec!["ap-southeast-2".to_string()], false)
    );
    assert_eq!(
        sim.state.checks["shop-home"].verdict,
        Verdict::Up,
        "two regions see it"
    );
    assert!(sim.events.iter().all(|e| e.audience == Audience::Operators));
    assert_eq!(sight_events(&sim, EventKind::MonitoringBlind).len(), 0);
    let message = sim
        .messages
        .iter()
        .find(|m| m.attributes.event.as_str() == "monitoring_fault")
        .unwrap();
    assert!(
        message.subject == "[MONITORING FAULT] shop-home: target blocked by the network guard"
            && message.body.contains("Regions: ap-southeast-2")
            && message.body.contains("settings.allow_networks")
            && message.body.contains("not an outage"),
        "{}\n{}",
        message.subject,
        message.body
    );
    // With one region faulty, two regions seeing the outage are the quorum.
    for m in 41..=43 {
        sim.minute(m, |_, r| {
            Some(if r == "ap-southeast-2" {
                Outcome::Unknown
            } else {
                Outcome::Down
            })
        });
    }
    assert_eq!(sim.count(EventKind::Opened, Audience::Operators), 1);
    // The region probes for real again: cleared, once.
    sim.minute(44, up);
    assert_eq!(
        sim.count(EventKind::MonitoringFaultCleared, Audience::Operators),
        1
    );
}

#[test]
fn blocked_and_unset_variable_results_reach_operators_only_and_open_nothing() {
    let checks = "  - { id: shop-api, service: shop, http: { url: 'https://api.acme.example/', headers: { Authorization: 'Bearer ${env:SHOP_TOKEN}' } } }\n";
    let mut sim = Sim::new(config("", checks));
    let unset = |region: &str, m: i64| {
        ProbeResult {
        check: "shop-api".into(),
        region: region.into(),
        at: t(m),
        outcome: Outcome::Unknown,
        reason: Reason::CheckError,
        detail: "the check cannot run: headers.Authorization: environment variable SHOP_TOKEN is not set".into(),
        latency_ms: 0.0,
        phases: crate::result::Phases::default(),
        http_status: None,
        cert_days_left: None,
    }
    };
    for m in 0..=20 {
        let mut results: Vec<ProbeResult> = ["eu-west-1", "us-east-1", "ap-southeast-2"]
            .iter()
            .flat_map(|r| [result("shop-home", r, t(m), Outcome::Unknown), unset(r, m)])
            .collect();
        results.rotate_left(m as usize % 3);
        sim.at(t(m) + TimeDelta::seconds(5), &results);
    }
    assert!(
        sim.state.incidents.is_empty(),
        "our own faults are no outage"
    );
    assert!(sim.events.iter().all(|e| e.audience == Audience::Operators));
    assert_eq!(sim.state.checks["shop-home"].verdict, Verdict::Unknown);
    let faults: Vec<(String, Reason)> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::MonitoringFault)
        .map(|e| match &e.about {
            About::Fault { check, fault, .. } => (check.clone(), fault.reason),
            _ => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(
        faults,
        [
            ("shop-home".to_string(), Reason::Blocked),
            ("shop-api".to_string(), Reason::CheckError)
        ],
        "one event per check and fault, all regions in it"
    );
    assert_eq!(
        sight_events(&sim, EventKind::MonitoringBlind).len(),
        0,
        "a fault explains its own blindness"
    );
    let api = sim
        .messages
        .iter()
        .find(|m| m.subject.contains("shop-api"))
        .unwrap();
    assert!(
        api.subject == "[MONITORING FAULT] shop-api: check cannot run"
            && api.body.contains("SHOP_TOKEN is not set")
            && api
                .body
                .contains("Fix: set the missing environment variable"),
        "{}\n{}",
        api.subject,
        api.body
    );
    for m in 21..=22 {
        sim.minute(m, up);
    }
    assert_eq!(
        sim.count(EventKind::MonitoringFaultCleared, Audience::Operators),
        2
    );
    assert!(sim.state.incidents.is_empty());
}

#[test]
fn with_one_region_seeing_and_two_blind_the_check_is_unknown_and_frozen() {
    let mut sim = outage();
    // eu-west-1 sees it recover; the other two regions fall silent.
    for m in 6..=30 {
        sim.minute(m, |_, r| (r == "eu-west-1").then_some(Outcome::Up));
    }
    assert_eq!(sim.state.checks["shop-home"].verdict, Verdict::Unknown);
    assert!(good_news(&sim).is_empty(), "{:?}", good_news(&sim));
    let inc = sim.state.incidents.values().next().unwrap();
    assert_eq!(inc.phase, Phase::Investigating);
    let blind = sight_events(&sim, EventKind::MonitoringBlind);
    assert_eq!(blind.len(), 1);
    let regions: Vec<&str> = blind[0].regions.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(regions, ["us-east-1", "ap-southeast-2"]);
    // They come back seeing it work: now, and only now, the good news.
    for m in 31..=33 {
        sim.minute(m, up);
    }
    assert_eq!(sim.count(EventKind::Resolved, Audience::Customers), 1);
    assert!(good_news(&sim).iter().all(|e| e.at > t(31)));
}

#[test]
fn a_promised_update_is_sent_before_the_promised_time_whatever_the_evaluation_times() {
    // Evaluations at uneven seconds, at least once a minute (the alert function's tick), as
    // stream batches and ticks interleave.
    let mut sim = outage();
    let mut now = t(5) + TimeDelta::seconds(5);
    let mut step = 0;
    while now < t(150) {
        step += 1;
        now += TimeDelta::seconds(7 + (step * 37) % 53);
        let results: Vec<ProbeResult> = ["eu-west-1", "us-east-1", "ap-southeast-2"]
            .iter()
            .map(|r| result("shop-home", r, now - TimeDelta::seconds(3), Outcome::Down))
            .collect();
        sim.at(now, &results);
    }
    let times: Vec<DateTime<Utc>> = sim
        .events
        .iter()
        .filter(|e| e.audience == Audience::Customers)
        .map(|e| e.at)
        .collect();
    assert!(times.len() >= 5, "{times:?}");
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] <= TimeDelta::minutes(30),
            "{} between customer messages",
            pair[1] - pair[0]
        );
    }
}
