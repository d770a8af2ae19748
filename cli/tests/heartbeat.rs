//! Heartbeats end to end through the binary: jobs ping `atalaya run --listen` over HTTP on
//! 127.0.0.1 (on time, late, a failure with its output, an exit status, a long run, a burst),
//! and the runner's outbox says what operators and customers heard; then the runner stops long
//! enough for a ping to be missed, and a heartbeat is unknown, not down, until a whole period
//! has passed with the endpoint back.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use common::*;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FILE: &str = "customers: [{ id: acme, name: Acme }]
services:
  - { id: ontime, customer: acme, name: Reports }
  - { id: late, customer: acme, name: Invoices }
  - { id: fails, customer: acme, name: Backups }
  - { id: exits, customer: acme, name: Exports }
  - { id: long, customer: acme, name: Imports }
  - { id: gap, customer: acme, name: Archive }
  - { id: burst, customer: acme, name: Sync }
checks:
  - { id: ontime-job, service: ontime, heartbeat: { every: 3s, grace: 2s } }
  - { id: late-job, service: late, heartbeat: { every: 2s, grace: 1s } }
  - { id: fails-job, service: fails, heartbeat: { every: 1m } }
  - { id: exits-job, service: exits, heartbeat: { every: 1m } }
  - { id: long-job, service: long, heartbeat: { every: 1m, max_run: 2s } }
  - { id: gap-job, service: gap, heartbeat: { every: 4s, grace: 2s } }
  - { id: burst-job, service: burst, heartbeat: { every: 1m } }
";

fn atalaya(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn runner(w: &Workspace, port: u16, lines: Arc<std::sync::Mutex<Vec<String>>>) -> Running {
    let mut child = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "run",
                w.file.to_str().unwrap(),
                "--db",
                w.db.to_str().unwrap(),
                "--outbox",
                w.out.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            lines.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the runner never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn for_service<'a>(
    messages: &'a [serde_json::Value],
    service: &str,
    audience: &str,
    event: &str,
) -> Vec<&'a serde_json::Value> {
    messages
        .iter()
        .filter(|m| {
            m["attributes"]["service"] == service
                && m["attributes"]["audience"] == audience
                && m["attributes"]["event"] == event
        })
        .collect()
}

#[test]
fn jobs_ping_the_runner_and_a_missed_ping_while_it_was_stopped_is_not_an_outage() {
    let w = workspace(FILE);
    let (file, db) = (w.file.to_str().unwrap(), w.db.to_str().unwrap());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let path = |check: &str| {
        let url = atalaya(&[
            "heartbeat",
            "url",
            check,
            "--file",
            file,
            "--db",
            db,
            "--base",
            &base,
        ]);
        url.strip_prefix(&base).unwrap().to_string()
    };
    let (ontime, late, fails, exits, long, gap, burst) = (
        path("ontime-job"),
        path("late-job"),
        path("fails-job"),
        path("exits-job"),
        path("long-job"),
        path("gap-job"),
        path("burst-job"),
    );
    // Tokens are derived, unguessable and distinct; the same each time they are asked for.
    assert!(ontime.len() > "/ping/".len() + 40, "{ontime}");
    assert_ne!(ontime, late);
    assert_eq!(path("ontime-job"), ontime);

    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let first = runner(&w, port, lines.clone());
    let started = chrono::Utc::now();
    // Jobs on time: ping every second throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let (stop, ontime, gap) = (stop.clone(), ontime.clone(), gap.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(http(port, "GET", &ontime, "").0, 200);
                assert_eq!(http(port, "GET", &gap, "").0, 200);
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    assert_eq!(http(port, "GET", &late, ""), (200, "OK\n".into()));
    assert_eq!(
        http(
            port,
            "POST",
            &format!("{fails}/fail"),
            "pg_dump: disk full on /var\nexit 1\n"
        )
        .0,
        200
    );
    assert_eq!(http(port, "GET", &format!("{exits}/0"), "").0, 200);
    assert_eq!(http(port, "GET", &format!("{exits}/3"), "").0, 200);
    assert_eq!(http(port, "GET", &long, "").0, 200);
    assert_eq!(http(port, "GET", &format!("{long}/start"), "").0, 200);
    assert_eq!(http(port, "GET", &gap, "").0, 200);
    // Not ours: the same answer whatever the token, and nothing stored.
    assert_eq!(http(port, "GET", "/ping/not-a-token", "").0, 404);
    assert_eq!(http(port, "GET", &format!("{exits}/256"), "").0, 404);
    // A burst: ten pings pass, the eleventh waits.
    for _ in 0..10 {
        assert_eq!(http(port, "GET", &burst, "").0, 200);
    }
    let (status, body) = http(port, "GET", &burst, "");
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("try again in"), "{body}");

    // Late, failed with its output, a non-zero exit status: each opens its incident; the
    // operators read why, the customers plain words.
    wait_for(&w.out, "the three outages", |m| {
        ["late", "fails", "exits"]
            .iter()
            .all(|s| !for_service(m, s, "operators", "opened").is_empty())
    });
    // A run past max_run: degraded (the round line counts it).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains(" 1 degraded"))
    {
        assert!(Instant::now() < deadline, "{:#?}", lines.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = outbox(&w.out);
    let body = |s: &str, audience: &str| {
        for_service(&m, s, audience, "opened")[0]["body"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        body("late", "operators").contains("late-job  local  late"),
        "{}",
        body("late", "operators")
    );
    assert!(body("late", "operators").contains("no success since"));
    assert!(body("fails", "operators").contains("job_failed"));
    assert!(
        body("fails", "operators").contains("pg_dump: disk full on /var\n      exit 1\n"),
        "{}",
        body("fails", "operators")
    );
    assert!(body("exits", "operators").contains("exit status 3"));
    for s in ["late", "fails", "exits"] {
        let customer = body(s, "customers");
        for technical in ["pg_dump", "exit status", "late-job", "ping", "job_failed"] {
            assert!(!customer.contains(technical), "{technical} in: {customer}");
        }
    }
    assert!(for_service(&m, "ontime", "operators", "opened").is_empty());
    assert!(for_service(&m, "long", "operators", "opened").is_empty());
    assert!(for_service(&m, "gap", "operators", "opened").is_empty());

    // The runner stops just after the gap job pinged, and stays away past its deadline.
    assert_eq!(http(port, "GET", &gap, "").0, 200);
    let pinged = chrono::Utc::now();
    stop.store(true, Ordering::Relaxed);
    pinger.join().unwrap();
    interrupt(first);
    std::thread::sleep(Duration::from_secs(7));
    let before = outbox(&w.out).len();
    let second = runner(&w, port, Arc::new(std::sync::Mutex::new(Vec::new())));
    let back = chrono::Utc::now();
    // A ping may have been missed while nothing listened: the monitor says so to operators,
    // and waits a whole period (4 s + 2 s grace) from its return before calling the job late.
    wait_for(&w.out, "the gap job's incident", |m| {
        !for_service(&m[before..], "gap", "operators", "opened").is_empty()
    });
    interrupt(second);
    let m = outbox(&w.out);
    let after: Vec<serde_json::Value> = m[before..].to_vec();
    let fault = for_service(&after, "gap", "operators", "monitoring_fault");
    assert!(!fault.is_empty(), "{after:#?}");
    assert!(
        fault[0]["body"]
            .as_str()
            .unwrap()
            .contains("one may have been missed"),
        "{}",
        fault[0]["body"]
    );
    let opened = for_service(&after, "gap", "operators", "opened")[0];
    assert!(
        // A whole period and grace from when it listened again (a moment before `back`),
        // not from the last ping: the deadline that passed while it was away counts for nothing.
        at(opened) >= back + chrono::TimeDelta::seconds(5),
        "opened at {} though the runner came back at {back} (last ping {pinged}, started {started})",
        at(opened)
    );
    assert!(at(fault[0]) < at(opened));
}
