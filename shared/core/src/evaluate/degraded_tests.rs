//! Degraded checks told to operators only: after an interval, reminded at their cadence,
//! cleared once; customers hear nothing; unknown changes nothing.

use super::tests::{config, t, up, Sim};
use super::*;
use crate::result::Outcome;
use chrono::TimeDelta;

fn one_region_down(_: &str, r: &str) -> Option<Outcome> {
    Some(if r == "eu-west-1" {
        Outcome::Down
    } else {
        Outcome::Up
    })
}

#[test]
fn one_region_failing_is_an_operators_notice_after_an_interval_reminded_and_cleared_once() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    let first = sim.minute(1, one_region_down);
    assert!(
        first.iter().all(|e| e.kind != EventKind::Degraded),
        "{first:?}"
    );
    for m in 2..=40 {
        sim.minute(m, one_region_down);
    }
    // Told once it lasted a minute, and again after renotify_every (30m).
    assert_eq!(sim.count(EventKind::Degraded, Audience::Operators), 2);
    for m in 41..=43 {
        sim.minute(m, up);
    }
    assert_eq!(
        sim.count(EventKind::DegradedCleared, Audience::Operators),
        1
    );
    assert!(
        sim.customer_messages().is_empty(),
        "customers heard of a degraded check"
    );
    assert_eq!(sim.count(EventKind::Opened, Audience::Operators), 0);
    let told: Vec<&crate::message::Message> = sim
        .messages
        .iter()
        .filter(|m| m.attributes.event == EventKind::Degraded)
        .collect();
    assert!(
        told[0]
            .subject
            .starts_with("[DEGRADED] shop-home (shop (Tienda online)) in eu-west-1"),
        "{}",
        told[0].subject
    );
    assert!(
        told[0]
            .body
            .contains("eu-west-1  down  http_status  status 503"),
        "{}",
        told[0].body
    );
    assert!(
        told[1].body.starts_with("Still degraded."),
        "{}",
        told[1].body
    );
    let d = told[0].details.as_ref().unwrap();
    assert_eq!(
        (d.key.as_str(), d.action),
        ("degraded:shop-home", crate::message::details::Action::Open)
    );
}

#[test]
fn a_single_slow_result_tells_no_one() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    sim.minute(1, one_region_down);
    sim.minute(2, up);
    sim.minute(3, up);
    assert_eq!(sim.count(EventKind::Degraded, Audience::Operators), 0);
    assert_eq!(
        sim.count(EventKind::DegradedCleared, Audience::Operators),
        0
    );
}

/// A region's single failed result, its next result a little late (a stream batch, a tick in
/// between): the check was degraded for more than an interval, but nothing confirmed the
/// failure, so no one is told. What thousands of checks with a little noise would otherwise
/// send operators every minute.
#[test]
fn a_single_failed_result_whose_next_result_is_late_tells_no_one() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    sim.minute(1, one_region_down);
    let ticked = sim.at(t(2) + TimeDelta::seconds(20), &[]);
    assert!(
        ticked.iter().all(|e| e.kind != EventKind::Degraded),
        "{ticked:?}"
    );
    sim.minute(2, up);
    sim.minute(3, up);
    assert_eq!(sim.count(EventKind::Degraded, Audience::Operators), 0);
    assert_eq!(
        sim.count(EventKind::DegradedCleared, Audience::Operators),
        0
    );
}

#[test]
fn degraded_turning_down_is_cleared_as_down_and_the_incident_tells_the_rest() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    for m in 1..=3 {
        sim.minute(m, one_region_down);
    }
    for m in 4..=6 {
        sim.minute(m, |_, _| Some(Outcome::Down));
    }
    let cleared: Vec<&crate::message::Message> = sim
        .messages
        .iter()
        .filter(|m| m.attributes.event == EventKind::DegradedCleared)
        .collect();
    assert_eq!(cleared.len(), 1);
    assert!(
        cleared[0].subject.ends_with(": down"),
        "{}",
        cleared[0].subject
    );
    assert_eq!(sim.count(EventKind::Opened, Audience::Operators), 1);
}

#[test]
fn a_heartbeat_running_past_max_run_tells_operators_and_only_them() {
    let mut sim = Sim::new(config(
        "",
        "  - { id: nightly, service: shop, heartbeat: { every: 1h, grace: 10m, max_run: 20m, token: '${ssm:/atalaya/nightly}' } }\n",
    ));
    // The judge says the run started at minute 0 is past max_run from minute 20 on.
    for m in 0..=30 {
        sim.minute(m, |c, _| {
            Some(if c == "nightly" && m >= 20 {
                Outcome::Degraded
            } else {
                Outcome::Up
            })
        });
    }
    let told: Vec<&crate::message::Message> = sim
        .messages
        .iter()
        .filter(|m| m.attributes.event == EventKind::Degraded)
        .collect();
    assert_eq!(
        told.len(),
        1,
        "{:#?}",
        sim.messages.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(
        told[0].subject.starts_with("[DEGRADED] nightly"),
        "{}",
        told[0].subject
    );
    assert!(sim.customer_messages().is_empty());
    sim.minute(31, up);
    sim.minute(32, up);
    assert_eq!(
        sim.count(EventKind::DegradedCleared, Audience::Operators),
        1
    );
}
