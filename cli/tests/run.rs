//! `atalaya run` end to end: a local target fails and recovers; the runner is killed in the
//! middle of the incident and started again; the outbox tells the whole story exactly once.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

mod common;

use common::*;

#[test]
fn an_incident_survives_a_crash_of_the_runner_without_losing_or_repeating_a_message() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    let w = workspace(&
        format!(
            "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 2, recover_after: 2 }}
customers:
  - {{ id: acme, name: ACME Corp, language: es, update_every: 2s }}
services:
  - {{ id: shop, customer: acme, name: Tienda online }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{addr}/switch' }}, expect: {{ body_contains: 'Add to cart' }} }}
"
        ),
    );
    let (file, db, out) = (&w.file, &w.db, &w.out);

    let mut runner = start(file, db, out);
    std::thread::sleep(Duration::from_secs(2));
    atalaya_tests::http::SWITCH_DOWN.store(true, Ordering::SeqCst);
    wait_for(out, "customer opened", |m| has(m, "customers", "opened"));
    wait_for(out, "customer update", |m| has(m, "customers", "update"));
    // A crash in the middle of the incident.
    runner.kill().unwrap();
    runner.wait().unwrap();
    let before_restart = outbox(out).len();

    let mut runner = start(file, db, out);
    std::thread::sleep(Duration::from_secs(1));
    atalaya_tests::http::SWITCH_DOWN.store(false, Ordering::SeqCst);
    wait_for(out, "customer resolved", |m| {
        has(m, "customers", "resolved")
    });
    std::thread::sleep(Duration::from_millis(500));
    runner.kill().unwrap();
    runner.wait().unwrap();

    let messages = outbox(out);
    assert!(messages.len() > before_restart);
    let ids: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "a message was repeated: {ids:#?}"
    );
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in &messages {
        let key = (
            m["attributes"]["audience"].as_str().unwrap().to_string(),
            m["attributes"]["event"].as_str().unwrap().to_string(),
        );
        *counts.entry(key).or_default() += 1;
    }
    let count = |a: &str, e: &str| {
        counts
            .get(&(a.to_string(), e.to_string()))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(
        (count("operators", "opened"), count("customers", "opened")),
        (1, 1),
        "{counts:?}"
    );
    assert_eq!(
        (
            count("operators", "resolved"),
            count("customers", "resolved")
        ),
        (1, 1),
        "{counts:?}"
    );
    assert!(count("customers", "update") >= 1, "{counts:?}");
    // The conversation is in order, and what SNS would receive.
    let customer: Vec<&serde_json::Value> = messages
        .iter()
        .filter(|m| m["topic"] == "customers")
        .collect();
    assert_eq!(customer.first().unwrap()["attributes"]["event"], "opened");
    assert_eq!(customer.last().unwrap()["attributes"]["event"], "resolved");
    for m in &customer {
        assert_eq!(m["attributes"]["language"], "es");
        assert!(
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Tienda online: "),
            "{m}"
        );
        for key in ["id", "at", "topic", "subject", "body", "attributes"] {
            assert!(m.get(key).is_some(), "{key} missing: {m}");
        }
        assert!(!m["body"].as_str().unwrap().contains("127.0.0.1"), "{m}");
    }
}

#[test]
fn a_restart_after_a_gap_mid_outage_says_nothing_good_until_the_target_recovers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    let w = workspace(&
        format!(
            "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 2, recover_after: 2 }}
customers:
  - {{ id: acme, name: ACME Corp, language: es, update_every: 3s }}
services:
  - {{ id: shop, customer: acme, name: Tienda online }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{addr}/switch/restart-gap' }}, expect: {{ body_contains: 'Add to cart' }} }}
"
        ),
    );
    let (file, db, out) = (&w.file, &w.db, &w.out);
    atalaya_tests::http::set_switch("restart-gap", true);
    let runner = start(file, db, out);
    wait_for(out, "customer opened", |m| has(m, "customers", "opened"));
    interrupt(runner);
    let stopped = outbox(out).len();
    // Stopped for more than 5 intervals, the target still down.
    std::thread::sleep(Duration::from_secs(6));
    let restarted = chrono::Utc::now();
    let runner = start(file, db, out);
    wait_for(out, "an update after the restart", |m| m.len() > stopped);
    std::thread::sleep(Duration::from_secs(4));
    let flipped = chrono::Utc::now();
    atalaya_tests::http::set_switch("restart-gap", false);
    wait_for(out, "customer resolved", |m| {
        has(m, "customers", "resolved")
    });
    interrupt(runner);

    let messages = outbox(out);
    let after: Vec<&serde_json::Value> = messages[stopped..].iter().collect();
    let first = after[0];
    assert!(
        first["topic"] == "customers"
            && first["attributes"]["event"] == "update"
            && first["body"]
                .as_str()
                .unwrap()
                .contains("Seguimos trabajando en el problema con el servicio «Tienda online»")
            && at(first) - restarted < chrono::TimeDelta::seconds(2),
        "the overdue update goes out at once, and claims nothing: {first:#}"
    );
    for m in &messages {
        let event = m["attributes"]["event"].as_str().unwrap();
        assert!(
            !["region_silent", "monitoring_blind", "monitoring_restored"].contains(&event),
            "the runner's own gap is not the regions' silence: {m:#}"
        );
        let good = m["topic"] == "customers"
            && (event == "resolved" || m["body"].as_str().unwrap().contains("vuelve a funcionar"));
        assert!(
            !good || at(m) >= flipped,
            "good news before the target recovered: {m:#}"
        );
    }
    let ids: HashSet<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), messages.len(), "a message was repeated");
}

#[test]
fn our_own_faults_reach_operators_as_monitoring_faults_and_customers_hear_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    // No allow_networks: the loopback target is refused by the guard.
    let w = workspace(&format!(
            "settings:
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
customers:
  - {{ id: initech, name: Initech }}
services:
  - {{ id: portal, customer: initech, name: Customer portal }}
checks:
  - {{ id: portal-home, service: portal, http: {{ url: 'http://{addr}/ok' }} }}
  - {{ id: portal-api, service: portal, http: {{ url: 'https://api.initech.example/', headers: {{ Authorization: 'Bearer ${{env:ATALAYA_RUN_UNSET_TOKEN}}' }} }} }}
"
    ));
    let (file, db, out) = (&w.file, &w.db, &w.out);
    let run = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--once",
            "--db",
            db.to_str().unwrap(),
            "--outbox",
            out.to_str().unwrap(),
        ])
        .env_remove("ATALAYA_RUN_UNSET_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "it starts anyway: {stderr}");
    assert!(
        stderr.contains("warning: ") && stderr.contains("check portal-home: http.url: 127.0.0.1: loopback")
            && stderr.contains("check portal-api: http.headers.Authorization: ${env:ATALAYA_RUN_UNSET_TOKEN} is not set"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("2 checks: 0 up, 0 degraded, 0 down, 2 unknown · 0 open incidents"),
        "{stdout}"
    );
    let messages = outbox(out);
    // The two probes finish in either order.
    let mut seen: Vec<(&str, &str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["topic"].as_str().unwrap(),
                m["attributes"]["event"].as_str().unwrap(),
                m["subject"].as_str().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "operators",
                "monitoring_fault",
                "[MONITORING FAULT] portal-api: check cannot run"
            ),
            (
                "operators",
                "monitoring_fault",
                "[MONITORING FAULT] portal-home: target blocked by the network guard"
            ),
        ],
        "operators only, one per check and fault"
    );
    assert!(messages.iter().any(|m| m["body"]
        .as_str()
        .unwrap()
        .contains("environment variable ATALAYA_RUN_UNSET_TOKEN is not set")));
}

#[test]
fn a_second_runner_on_the_same_database_is_refused_naming_the_first() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    let w = workspace(&format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: shop, customer: acme, name: Online shop }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{addr}/' }} }}
"
    ));
    let first = start(&w.file, &w.db, &w.out);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lock = format!("{}.lock", w.db.display());
    while std::fs::metadata(&lock).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first runner never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let second = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "run",
            w.file.to_str().unwrap(),
            "--db",
            w.db.to_str().unwrap(),
            "--outbox",
            w.out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        err.contains("another `atalaya run` (pid ") && err.contains("is using"),
        "{err}"
    );
    interrupt(first);
    // Once the first has stopped, the database is free again.
    let again = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "run",
            w.file.to_str().unwrap(),
            "--db",
            w.db.to_str().unwrap(),
            "--outbox",
            w.out.to_str().unwrap(),
            "--once",
        ])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
