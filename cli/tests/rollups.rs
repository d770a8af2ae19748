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
}
