//! Escalation and reminders when part of an incident cannot be seen: what the monitor sees
//! failing escalates; what it cannot see is named, with why.

use super::tests::{config, t, Sim};
use super::*;
use crate::result::Outcome;

/// The shop has a second check the guard refuses every time (a monitoring fault: unknown from
/// the start), while its home page is seen down in every region from minute 1.
fn blocked_beside_an_outage() -> Sim {
    let mut sim = Sim::new(config(
        "",
        "  - { id: shop-metadata, service: shop, http: { url: 'https://shop.acme.example/meta' } }\n",
    ));
    for m in 0..=60 {
        sim.minute(m, |check, _| {
            Some(match (check, m) {
                ("shop-metadata", _) => Outcome::Unknown,
                (_, 0) => Outcome::Up,
                _ => Outcome::Down,
            })
        });
    }
    sim
}

#[test]
fn an_unrelated_unseen_check_does_not_stop_the_escalation_of_a_seen_outage() {
    let sim = blocked_beside_an_outage();
    assert_eq!(sim.state.checks["shop-metadata"].verdict, Verdict::Unknown);
    assert_eq!(sim.state.checks["shop-home"].verdict, Verdict::Down);
    assert_eq!(sim.count(EventKind::Opened, Audience::Operators), 1);
    let escalated: Vec<&Event> = sim
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Escalated)
        .collect();
    assert_eq!(escalated.len(), 1, "escalated once");
    // Opened at minute 2 (two failures): escalate_after is 15 minutes.
    assert_eq!(escalated[0].at, t(17) + chrono::TimeDelta::seconds(5));
}

#[test]
fn a_reminder_names_the_checks_it_cannot_see_and_why() {
    let sim = blocked_beside_an_outage();
    let reminder = sim
        .messages
        .iter()
        .find(|m| m.topic == Audience::Operators && m.attributes.event.as_str() == "reminder")
        .unwrap_or_else(|| panic!("no reminder in {:#?}", sim.messages));
    let body = &reminder.body;
    assert!(
        body.contains("cannot see these checks of the incident"),
        "{body}"
    );
    let line = body
        .lines()
        .find(|l| l.trim_start().starts_with("shop-metadata"))
        .unwrap_or_else(|| panic!("{body}"));
    for region in ["eu-west-1", "us-east-1", "ap-southeast-2"] {
        assert!(
            line.contains(&format!("{region}: monitoring fault (blocked)")),
            "{line}"
        );
    }
    // The check it sees failing is not among the unseen.
    assert!(
        !body
            .lines()
            .any(|l| l.trim_start().starts_with("shop-home  eu-west-1: ")),
        "{body}"
    );
}

#[test]
fn nothing_escalates_while_every_failing_check_is_unseen() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, |_, _| Some(Outcome::Up));
    for m in 1..=5 {
        sim.minute(m, |_, _| Some(Outcome::Down));
    }
    // Then the guard refuses the check everywhere: the monitor sees nothing of the incident.
    for m in 6..=40 {
        sim.minute(m, |_, _| Some(Outcome::Unknown));
    }
    assert_eq!(sim.count(EventKind::Opened, Audience::Operators), 1);
    assert_eq!(sim.count(EventKind::Escalated, Audience::Operators), 0);
}
