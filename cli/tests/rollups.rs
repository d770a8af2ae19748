//! The runner keeps each service's time per condition as the alert function does (the marks in
//! the engine's state, written to the rollups once an hour is complete): a service that fails
//! is counted down while the runner sees it; the time the runner was stopped is counted
//! unknown, never up or down. (Whole hours, checks per region, latency and the month's report
//! are tested on a simulated clock: `shared/app/tests/round.rs`.)

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use atalaya_core::rollup::Millis;
use common::*;
use std::time::Duration;

fn checks(port: u16) -> String {
    format!(
        "settings:
  regions: [local]
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
customers:
  - {{ id: acme, name: ACME }}
services:
  - {{ id: shop, customer: acme, name: Shop }}
checks:
  - {{ id: shop-tcp, service: shop, tcp: {{ host: 127.0.0.1, port: {port} }} }}
"
    )
}

/// The shop's time so far, as the runner's state holds it (the hour under way included).
fn shop(db: &std::path::Path) -> Millis {
    let store = atalaya_store::SqliteStore::open(db).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = rt
        .block_on(atalaya_store::Store::load_state(&store))
        .unwrap()
        .state;
    let now = chrono::Utc::now();
    let hours = state.rollup.so_far("shop", now);
    atalaya_core::rollup::sum(
        &hours,
        now - chrono::TimeDelta::days(1),
        now + chrono::TimeDelta::hours(1),
    )
}

#[test]
fn the_runner_counts_downtime_it_sees_and_its_own_absence_as_unknown() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let w = workspace(&checks(closed));
    let runner = start(&w.file, &w.db, &w.out);
    wait_for(&w.out, "the opened incident", |m| {
        has(m, "operators", "opened")
    });
    std::thread::sleep(Duration::from_secs(3));
    interrupt(runner);
    let first = shop(&w.db);
    assert!(first.down >= 2_000, "{first:?}");
    // Before the first result the monitor knows nothing: at most the moments before it.
    assert_eq!(first.up, 0, "{first:?}");
    assert!(first.unknown < 1_500, "{first:?}");
    // Stopped for two seconds: that time is unknown, not down.
    std::thread::sleep(Duration::from_secs(2));
    let runner = start(&w.file, &w.db, &w.out);
    std::thread::sleep(Duration::from_secs(3));
    interrupt(runner);
    let second = shop(&w.db);
    assert!(second.unknown >= 2_000, "{second:?}");
    assert!(second.down > first.down, "{second:?}");
    assert_eq!(second.up, 0, "{second:?}");

    // The month's report says how it counts; the hour under way is not in it yet.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["report", "--month", &month, "--format", "json"])
        .args(["--db", w.db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["accounting"]
            .as_str()
            .unwrap()
            .contains("degraded time counts as 30 % downtime"),
        "{json}"
    );
    assert_eq!(json["services"][0]["service"], "shop");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "report",
            "--month",
            "2026-13",
            "--db",
            w.db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("give a month as YYYY-MM"));
}
