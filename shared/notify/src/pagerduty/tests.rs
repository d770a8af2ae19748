use super::*;
use crate::fixtures::{life, message};
use atalaya_core::message::details::Standing;
use atalaya_tests::vendors::schemas;
use atalaya_tests::vendors::PD_KEY;

#[test]
fn an_incidents_life_is_one_dedup_key_triggered_acknowledged_resolved_within_the_events_api() {
    let events: Vec<Value> = life().iter().map(|m| event(m, PD_KEY).unwrap()).collect();
    for e in &events {
        assert_eq!(schemas::pagerduty(e), Vec::<String>::new(), "{e}");
        assert_eq!(e["dedup_key"], "inc-7");
    }
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "trigger", "acknowledge", "resolve"]);
    assert_eq!(events[0]["payload"]["severity"], "error");
    assert_eq!(events[1]["payload"]["severity"], "critical");
    let custom = &events[0]["payload"]["custom_details"];
    assert_eq!(custom["failing"][0]["region"], "eu-west-1");
    assert_eq!(custom["since"], "2026-12-07T10:00:00+00:00");
    assert_eq!(events[0]["links"][0]["text"], "Runbook");
    assert_eq!(
        events[0]["links"][1]["href"],
        "https://status.acme.example/acme/"
    );
}

#[test]
fn maintenance_pages_no_one() {
    let m = message(
        EventKind::MaintenanceStarted,
        Severity::Info,
        Action::Note,
        Standing::Info,
    );
    assert!(event(&m, PD_KEY).is_none());
}
