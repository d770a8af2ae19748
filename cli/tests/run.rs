//! `atalaya run` end to end: a local target fails and recovers; the runner is killed in the
//! middle of the incident and started again; the outbox tells the whole story exactly once.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
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

/// A folder with the checks file `text`, and where the runner keeps its database and outbox.
struct Workspace {
    _dir: tempfile::TempDir,
    file: PathBuf,
    db: PathBuf,
    out: PathBuf,
}

fn workspace(text: &str) -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(&file, text).unwrap();
    Workspace {
        db: dir.path().join("atalaya.db"),
        out: dir.path().join("outbox.jsonl"),
        file,
        _dir: dir,
    }
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

/// Stops the runner as Ctrl-C would.
fn interrupt(mut runner: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &runner.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if runner.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    runner.kill().unwrap();
    runner.wait().unwrap();
}

fn at(m: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    m["at"].as_str().unwrap().parse().unwrap()
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
                .contains("Seguimos trabajando en el problema con Tienda online")
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

fn customers_file(addr: std::net::SocketAddr) -> Workspace {
    workspace(&format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
customers:
  - {{ id: initech, name: Initech, language: en }}
  - {{ id: acme, name: ACME Corp, language: es, timezone: Europe/Madrid }}
services:
  - {{ id: portal, customer: initech, name: Customer portal }}
  - {{ id: tienda, customer: acme, name: Tienda online, depends_on: [portal] }}
checks:
  - {{ id: portal-home, service: portal, http: {{ url: 'http://{addr}/switch/commands' }} }}
  - {{ id: tienda-home, service: tienda, http: {{ url: 'http://{addr}/switch/commands' }} }}
"
    ))
}

#[test]
fn incident_commands_act_on_the_runners_database_and_publish() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    let w = customers_file(addr);
    let (file, db, out) = (&w.file, &w.db, &w.out);
    let atalaya = |args: &[&str], user: &str| {
        let mut all = args.to_vec();
        all.extend(["--db", db.to_str().unwrap()]);
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args(&all)
            .env("USER", user)
            .output()
            .unwrap()
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    atalaya_tests::http::set_switch("commands", true);
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
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("Subject: Customer portal: new problem, we are working on it")
            && stdout
                .contains("Subject: Tienda online: nuevo problema, estamos trabajando en ello"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.ends_with("2 checks: 0 up, 0 degraded, 2 down, 0 unknown · 1 open incident")),
        "one line per round: {stdout}"
    );
    assert!(
        !text(&run.stderr).contains("Ctrl-C"),
        "{}",
        text(&run.stderr)
    );

    let list = text(&atalaya(&["incidents", "--open"], "ana").stdout);
    assert!(
        list.lines()
            .nth(1)
            .unwrap()
            .starts_with("inc-1  investigating  portal (Customer portal)  "),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&atalaya(&["incidents", "--format", "json"], "ana").stdout).unwrap();
    assert_eq!(json[0]["id"], "inc-1");
    assert_eq!(json[0]["affected"][0], "tienda");

    // A preview of the acknowledgement sends and changes nothing.
    let before_ack = outbox(out).len();
    let dry = atalaya(&["incident", "ack", "inc-1", "--dry-run"], "ana");
    assert_eq!(dry.status.code(), Some(0));
    let preview = text(&dry.stdout);
    assert!(
        preview.starts_with("Dry run: nothing is sent. 1 message would go out:")
            && preview
                .contains("Subject: [ACK] portal (Customer portal): acknowledged by ana (inc-1)"),
        "{preview}"
    );
    assert_eq!(outbox(out).len(), before_ack);
    assert!(text(&atalaya(&["incidents"], "ana").stdout)
        .lines()
        .nth(1)
        .unwrap()
        .ends_with("  -"));
    // Acknowledged: it says what it did; a second operator's acknowledgement is kept.
    let ack = atalaya(&["incident", "ack", "inc-1"], "ana");
    assert_eq!(ack.status.code(), Some(0));
    assert!(
        text(&ack.stderr)
            .contains("inc-1 acknowledged by ana: operator reminders and the escalation stop"),
        "{}",
        text(&ack.stderr)
    );
    let again = atalaya(&["incident", "ack", "inc-1"], "ana");
    assert!(text(&again.stderr).contains("was already acknowledged by ana"));
    let bob = atalaya(&["incident", "ack", "inc-1"], "bob");
    assert!(
        text(&bob.stderr).contains("Also acknowledged by ana."),
        "{}",
        text(&bob.stderr)
    );

    let outbox_len = || outbox(out).len();
    let before = outbox_len();
    // English only, to a Spanish customer too: refused, naming the customer.
    let english_only = atalaya(
        &[
            "incident",
            "update",
            "inc-1",
            "--phase",
            "identified",
            "--message",
            "A failed deploy; rolling back now.",
        ],
        "ana",
    );
    assert_eq!(english_only.status.code(), Some(1));
    assert!(
        text(&english_only.stderr)
            .contains("customer acme (ACME Corp) reads Spanish: add --message-es"),
        "{}",
        text(&english_only.stderr)
    );
    // An operator's slip: refused, naming what and where.
    let slip = atalaya(
        &[
            "incident",
            "update",
            "inc-1",
            "--phase",
            "identified",
            "--message",
            "Root cause: 500 from https://10.0.0.5:8443/api (db-prod-1.internal, ECONNREFUSED)",
            "--message-es",
            "Causa: el puerto 5432 de tienda-home.",
        ],
        "ana",
    );
    assert_eq!(slip.status.code(), Some(1));
    let err = text(&slip.stderr);
    for expected in [
        "--message 1:13: \"500 from\" (an HTTP status code)",
        "--message 1:22: \"https://10.0.0.5:8443/api\" (a URL)",
        "--message 1:49: \"db-prod-1.internal\" (a host name)",
        "--message 1:69: \"ECONNREFUSED\" (an error code)",
        "--message-es 1:11: \"puerto 5432\" (a port)",
        "--message-es 1:26: \"tienda-home\" (a check id)",
    ] {
        assert!(err.contains(expected), "{expected} not in:\n{err}");
    }
    // A preview sends nothing.
    let dry = atalaya(
        &[
            "incident",
            "update",
            "inc-1",
            "--phase",
            "identified",
            "--message",
            "We found the cause: a failed deploy. We are rolling it back.",
            "--message-es",
            "Hemos encontrado la causa: una actualización fallida. La estamos deshaciendo.",
            "--dry-run",
        ],
        "ana",
    );
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    let preview = text(&dry.stdout);
    assert!(
        preview.starts_with("Dry run: nothing is sent. 3 messages would go out:")
            && preview.contains("Subject: Customer portal: update from our team, cause found")
            && preview.contains("We found the cause: a failed deploy.")
            && preview
                .contains("Subject: Tienda online: novedades de nuestro equipo, causa encontrada")
            && preview.contains("Hemos encontrado la causa: una actualización fallida.")
            && preview.contains("[es] Hemos encontrado la causa"),
        "{preview}"
    );
    assert_eq!(outbox_len(), before, "a dry run sends nothing");
    let update = atalaya(
        &[
            "incident",
            "update",
            "inc-1",
            "--phase",
            "identified",
            "--message",
            "We found the cause: a failed deploy. We are rolling it back.",
            "--message-es",
            "Hemos encontrado la causa: una actualización fallida. La estamos deshaciendo.",
        ],
        "ana",
    );
    assert_eq!(update.status.code(), Some(0), "{}", text(&update.stderr));

    // Resolving while the target still fails: refused, then forced and marked.
    let refused = atalaya(
        &[
            "incident",
            "resolve",
            "inc-1",
            "--message",
            "Everything is back to normal.",
            "--message-es",
            "Todo funciona con normalidad.",
        ],
        "ana",
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains(
            "the monitor does not see inc-1 working: portal-home is down, tienda-home is down"
        ),
        "{}",
        text(&refused.stderr)
    );
    let forced = atalaya(
        &[
            "incident",
            "resolve",
            "inc-1",
            "--force",
            "--message",
            "Everything is back to normal.",
            "--message-es",
            "Todo funciona con normalidad.",
        ],
        "ana",
    );
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert!(
        text(&forced.stderr).contains("resolved by hand while the monitor did not see it passing")
    );
    let closed = atalaya(&["incident", "resolve", "inc-1"], "ana");
    assert_eq!(closed.status.code(), Some(2));
    assert!(text(&closed.stderr).contains("incident inc-1 is resolved"));

    let messages = outbox(out);
    let customer: Vec<(&str, &str, &str)> = messages
        .iter()
        .filter(|m| m["topic"] == "customers")
        .map(|m| {
            (
                m["attributes"]["customer"].as_str().unwrap(),
                m["attributes"]["event"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    let events = |who: &str| {
        customer
            .iter()
            .filter(|c| c.0 == who)
            .map(|c| c.1)
            .collect::<Vec<_>>()
    };
    assert_eq!(events("initech"), ["opened", "human_update", "resolved"]);
    assert_eq!(events("acme"), ["opened", "human_update", "resolved"]);
    assert!(customer
        .iter()
        .any(|c| c.0 == "acme" && c.2.contains("La estamos deshaciendo.")));
    assert!(customer
        .iter()
        .any(|c| c.0 == "initech" && c.2.contains("Everything is back to normal.")));
    assert!(
        !customer
            .iter()
            .any(|c| c.0 == "acme" && c.2.contains("Everything")),
        "English text to a Spanish customer"
    );

    let show = text(&atalaya(&["incident", "show", "inc-1", "--messages"], "ana").stdout);
    assert!(
        show.contains("resolved ")
            && show.contains("(by hand, forced)")
            && show.contains("acknowledged by ana at")
            && show.contains("acknowledged by bob at")
            && show.contains("messages (")
            && show.contains("Subject: Tienda online: resuelto, funciona con normalidad")
            && show.contains("Todo funciona con normalidad."),
        "{show}"
    );
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
fn every_kind_of_technical_content_is_refused_with_where_it_is() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    atalaya_tests::http::set_switch("commands", true);
    let w = customers_file(addr);
    let run = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "run",
            w.file.to_str().unwrap(),
            "--once",
            "--db",
            w.db.to_str().unwrap(),
            "--outbox",
            w.out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    for (text, found, what) in [
        (
            "see http://status.example.com/x for more",
            "http://status.example.com/x",
            "a URL",
        ),
        ("the server 192.0.2.7 is back", "192.0.2.7", "an IP address"),
        (
            "we can reach [2001:db8::1]:443 again",
            "[2001:db8::1]:443",
            "an IP address",
        ),
        (
            "payments.initech.internal is back",
            "payments.initech.internal",
            "a host name",
        ),
        (
            "the database on port 5432 refused us",
            "port 5432",
            "a port",
        ),
        ("db:5432 refused us", "db:5432", "a host and port"),
        (
            "we saw HTTP 503 for a while",
            "HTTP 503",
            "an HTTP status code",
        ),
        (
            "it answered 500 from the gateway",
            "500 from",
            "an HTTP status code",
        ),
        (
            "a 502 Bad Gateway answer",
            "502 Bad Gateway",
            "an HTTP status code",
        ),
        ("many 5xx answers", "5xx", "an HTTP status class"),
        (
            "ECONNREFUSED on the gateway",
            "ECONNREFUSED",
            "an error code",
        ),
        (
            "the resolver said NXDOMAIN",
            "NXDOMAIN",
            "a DNS response code",
        ),
        (
            "a NullPointerException in checkout",
            "NullPointerException",
            "an exception name",
        ),
        (
            "a worker panicked at startup",
            "panicked at",
            "an error message",
        ),
        (
            "see at com.initech.Pay.charge(Pay.java:42) now",
            "at com.initech.Pay.charge(Pay.java:42)",
            "a stack trace",
        ),
        (
            "a crash at address 0xdeadbeef",
            "0xdeadbeef",
            "a memory address",
        ),
        (
            "in payments::gateway::charge",
            "payments::gateway::charge",
            "a code path",
        ),
        (
            "the tls_handshake failed",
            "tls_handshake",
            "an internal identifier",
        ),
        ("the portal-home check fails", "portal-home", "a check id"),
        (
            "Frankfurt (eu-west-1) is fine",
            "eu-west-1",
            "a region name",
        ),
        (
            "the same as ACME Corp yesterday",
            "ACME Corp",
            "another customer's name",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "incident",
                "update",
                "inc-1",
                "--phase",
                "identified",
                "--dry-run",
                "--message",
                text,
                "--message-es",
                "Seguimos trabajando en ello.",
                "--db",
                w.db.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let col = text.find(found).unwrap() + 1;
        let expected = format!("--message 1:{col}: {found:?} ({what})");
        assert_eq!(out.status.code(), Some(1), "{text:?}: {err}");
        assert!(
            err.contains(&expected),
            "{text:?}: {expected} not in:\n{err}"
        );
        assert!(out.stdout.is_empty(), "nothing previewed once refused");
    }
}
