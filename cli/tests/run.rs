//! `atalaya run` end to end: a local target fails and recovers; the runner is killed in the
//! middle of the incident and started again; the outbox tells the whole story exactly once.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn start(file: &Path, db: &Path, outbox: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--outbox",
            outbox.to_str().unwrap(),
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn outbox(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn wait_for(path: &Path, what: &str, pred: impl Fn(&[serde_json::Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if pred(&outbox(path)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no {what} in the outbox within 30 s: {:#?}", outbox(path));
}

fn has(messages: &[serde_json::Value], audience: &str, event: &str) -> bool {
    messages
        .iter()
        .any(|m| m["attributes"]["audience"] == audience && m["attributes"]["event"] == event)
}

#[test]
fn an_incident_survives_a_crash_of_the_runner_without_losing_or_repeating_a_message() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(
        &file,
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
    )
    .unwrap();
    let (db, out) = (
        dir.path().join("atalaya.db"),
        dir.path().join("outbox.jsonl"),
    );

    let mut runner = start(&file, &db, &out);
    std::thread::sleep(Duration::from_secs(2));
    atalaya_tests::http::SWITCH_DOWN.store(true, Ordering::SeqCst);
    wait_for(&out, "customer opened", |m| has(m, "customers", "opened"));
    wait_for(&out, "customer update", |m| has(m, "customers", "update"));
    // A crash in the middle of the incident.
    runner.kill().unwrap();
    runner.wait().unwrap();
    let before_restart = outbox(&out).len();

    let mut runner = start(&file, &db, &out);
    std::thread::sleep(Duration::from_secs(1));
    atalaya_tests::http::SWITCH_DOWN.store(false, Ordering::SeqCst);
    wait_for(&out, "customer resolved", |m| {
        has(m, "customers", "resolved")
    });
    std::thread::sleep(Duration::from_millis(500));
    runner.kill().unwrap();
    runner.wait().unwrap();

    let messages = outbox(&out);
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
fn incident_commands_act_on_the_runners_database_and_publish() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(
        &file,
        format!(
            "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
customers:
  - {{ id: initech, name: Initech, language: en }}
services:
  - {{ id: portal, customer: initech, name: Customer portal }}
checks:
  - {{ id: portal-home, service: portal, http: {{ url: 'http://{addr}/500' }} }}
"
        ),
    )
    .unwrap();
    let (db, out) = (
        dir.path().join("atalaya.db"),
        dir.path().join("outbox.jsonl"),
    );
    let atalaya = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--db", db.to_str().unwrap()]);
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args(&all)
            .env("USER", "ana")
            .output()
            .unwrap()
    };
    // --once: every check probed once, evaluated, published; one failure is enough with retries 1.
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
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout)
        .contains("Subject: Customer portal: we are working on a problem"));

    let list = atalaya(&["incidents", "--open"]);
    let listing = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listing
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("inc-1     investigating  portal (Customer portal)"),
        "{listing}"
    );

    assert_eq!(
        atalaya(&["incident", "ack", "inc-1"]).status.code(),
        Some(0)
    );
    let update = atalaya(&[
        "incident",
        "update",
        "inc-1",
        "--phase",
        "identified",
        "--message",
        "A failed deploy; rolling back now.",
    ]);
    assert_eq!(
        update.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&update.stderr)
    );
    let resolve = atalaya(&[
        "incident",
        "resolve",
        "inc-1",
        "--message",
        "Everything is back to normal.",
    ]);
    assert_eq!(resolve.status.code(), Some(0));
    let again = atalaya(&["incident", "resolve", "inc-1"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("incident inc-1 is resolved"));

    let messages = outbox(&out);
    let customer: Vec<(&str, &str)> = messages
        .iter()
        .filter(|m| m["topic"] == "customers")
        .map(|m| {
            (
                m["attributes"]["event"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        customer.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        ["opened", "human_update", "resolved"]
    );
    assert!(
        customer[1].1.contains("A failed deploy; rolling back now."),
        "{}",
        customer[1].1
    );
    assert!(
        customer[2].1.contains("Everything is back to normal."),
        "{}",
        customer[2].1
    );
    let show =
        String::from_utf8_lossy(&atalaya(&["incident", "show", "inc-1"]).stdout).into_owned();
    assert!(
        show.contains("acknowledged by ana") && show.contains("human_update"),
        "{show}"
    );
}
