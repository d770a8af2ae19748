//! The runner keeps each service's time per condition (rollups): a service that fails is
//! counted down while the runner sees it; the time the runner was stopped is counted unknown,
//! never up or down.

#![allow(clippy::unwrap_used)]

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

fn shop(db: &std::path::Path) -> Millis {
    let store = atalaya_store::SqliteStore::open(db).unwrap();
    let now = chrono::Utc::now();
    let hours = store
        .hours(
            "shop",
            now - chrono::TimeDelta::days(1),
            now + chrono::TimeDelta::hours(1),
        )
        .unwrap();
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

    // The month's report says how it counted, and what it counted.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let report = |format: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "report",
                "--month",
                &month,
                "--format",
                format,
                "--db",
                w.db.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
    assert!(
        json["accounting"]
            .as_str()
            .unwrap()
            .contains("degraded time counts as 30 % downtime"),
        "{json}"
    );
    let shop = &json["services"][0];
    assert_eq!(shop["service"], "shop");
    // Down the whole time it was seen; the unknown time is left out: 0 % uptime, not 40 %.
    assert_eq!(shop["uptime_percent"].as_f64(), Some(0.0), "{shop}");
    let down = shop["down_s"].as_f64().unwrap();
    assert!(
        (down * 1000.0 - second.down as f64).abs() < 1.0,
        "{shop} vs {second:?}"
    );
    assert_eq!(shop["incidents"].as_array().unwrap().len(), 1, "{shop}");
    // Every result measured something: percentiles of the month from the hours' sketches.
    let total = &shop["latency"]["total"];
    assert!(total["samples"].as_u64().unwrap() >= 4, "{shop}");
    let (p50, p95, p99) = (
        total["p50"].as_f64().unwrap(),
        total["p95"].as_f64().unwrap(),
        total["p99"].as_f64().unwrap(),
    );
    assert!(0.0 <= p50 && p50 <= p95 && p95 <= p99, "{total}");
    // The check in the runner's region: the same story as that region saw it (one region:
    // its down is the service's).
    assert_eq!(
        shop["checks"].as_array().unwrap().len(),
        1,
        "once per check and region: {shop}"
    );
    let check = &shop["checks"][0];
    assert_eq!(
        (&check["check"], &check["region"]),
        (&serde_json::json!("shop-tcp"), &serde_json::json!("local")),
        "{shop}"
    );
    assert_eq!(check["uptime_percent"].as_f64(), Some(0.0), "{check}");
    assert!(check["down_s"].as_f64().unwrap() >= 4.0, "{check}");
    assert!(check["unknown_s"].as_f64().unwrap() >= 2.0, "{check}");
    assert!(
        check["latency"]["samples"].as_u64().unwrap() >= 4,
        "{check}"
    );
    let table = report("table");
    assert!(table.contains("shop-tcp @ local"), "{table}");
    assert!(
        table.contains("shop (Shop)") && table.contains("0.000 %"),
        "{table}"
    );
    let csv = report("csv");
    assert!(
        csv.starts_with("month,customer,service,name,uptime_percent"),
        "{csv}"
    );
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
