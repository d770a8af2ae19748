//! The monthly report against a scripted month whose answers are worked out by hand: a service
//! with two checks (a 20-second blip, a 2½-minute outage, ten minutes degraded, an hour of
//! maintenance, half an hour the monitor could not see), and a service watched for only 45
//! seconds of which 20 were down. The table, the CSV, the JSON and the customer's HTML must say
//! the same numbers, each the way its reader needs: the time counted, downtime to the second
//! where it is short, a budget past 100 % as "exceeded N×", incidents lasting what their
//! customers were told; and the HTML reads at 375 px without scrolling sideways.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_core::rollup::{accrue, Condition, Hours};
use atalaya_store::{Rollups, SqliteStore, Store};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const CHECKS: &str = "settings:
  regions: [eu-west-1, us-east-1]
customers:
  - { id: acme, name: { en: Acme, es: Acme España }, language: es, timezone: Europe/Madrid, status_page: { slug: acme-7f3k9q } }
services:
  - { id: shop, customer: acme, name: { en: Online shop, es: Tienda online } }
  - { id: portal, customer: acme, name: { en: Customer portal, es: Portal de clientes } }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: shop-api, service: shop, http: { url: 'https://api.acme.example/health' } }
  - { id: portal-home, service: portal, http: { url: 'https://portal.acme.example/' } }
";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// November 2026 (30 days, 720 hours) for the shop: up, except 19.971 s down on the 10th,
/// 150 s down on the 15th, 10 min degraded on the 18th, an hour of maintenance on the 20th and
/// 30 min unknown on the 25th. The portal: 25 s up and 20 s down on the 30th, nothing else.
fn seed(db: &Path) {
    let store = SqliteStore::open(db).unwrap();
    // As `atalaya run` leaves it: the checks file it ran with.
    store.set_meta("checks_text", CHECKS).unwrap();
    store.set_meta("checks_file", "checks.yaml").unwrap();
    store
        .set_meta("checks_dir", &db.parent().unwrap().display().to_string())
        .unwrap();
    let mut shop = Hours::new();
    let (start, end) = (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"));
    let marks: [(&str, i64, Condition); 5] = [
        ("2026-11-10T10:00:00Z", 19_971, Condition::Down),
        ("2026-11-15T10:00:00Z", 150_000, Condition::Down),
        ("2026-11-18T10:00:00Z", 600_000, Condition::Degraded),
        ("2026-11-20T02:00:00Z", 3_600_000, Condition::Maintenance),
        ("2026-11-25T10:00:00Z", 1_800_000, Condition::Unknown),
    ];
    let mut t = start;
    for (from, ms, c) in marks {
        let from = at(from);
        accrue(&mut shop, Condition::Up, t, from);
        t = from + TimeDelta::milliseconds(ms);
        accrue(&mut shop, c, from, t);
    }
    accrue(&mut shop, Condition::Up, t, end);
    // One check in one region saw more than its service: its own first failures.
    let mut home = shop.clone();
    accrue(
        &mut home,
        Condition::Degraded,
        at("2026-11-12T10:00:00Z"),
        at("2026-11-12T10:01:00Z"),
    );
    let mut portal = Hours::new();
    let p0 = at("2026-11-30T23:59:15Z");
    accrue(&mut portal, Condition::Up, p0, p0 + TimeDelta::seconds(25));
    accrue(
        &mut portal,
        Condition::Down,
        p0 + TimeDelta::seconds(25),
        end,
    );
    let by_service = BTreeMap::from([
        (
            "shop".to_string(),
            BTreeMap::from([
                ("shop".to_string(), shop.clone()),
                ("shop-home@local".to_string(), home),
                ("shop-api@local".to_string(), shop),
            ]),
        ),
        (
            "portal".to_string(),
            BTreeMap::from([("portal".to_string(), portal)]),
        ),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(store.write_hours(&by_service)).unwrap();
    // Two incidents: the shop's 2½ minutes, and the portal's 49 seconds.
    let incident = |id: &str, service: &str, from: &str, to: &str| {
        serde_json::json!({
            "id": id, "service": service, "affected": [], "phase": "resolved",
            "started_at": from, "opened_at": from, "resolved_at": to,
            "acknowledged_at": null, "acknowledged_by": null, "escalated": false,
            "last_operator_notice": from, "last_customer_update": {},
            "told": [], "reopened": 0, "failures": [], "timeline": [], "seq": 0
        })
    };
    let mut state = atalaya_core::evaluate::State::default();
    for (id, service, from, to) in [
        (
            "inc-1",
            "shop",
            "2026-11-15T10:00:00Z",
            "2026-11-15T10:02:30Z",
        ),
        (
            "inc-2",
            "portal",
            "2026-11-30T23:59:10Z",
            "2026-11-30T23:59:59Z",
        ),
    ] {
        let i = serde_json::from_value(incident(id, service, from, to)).unwrap();
        state.incidents.insert(id.to_string(), i);
    }
    rt.block_on(async {
        let base = store.load_state().await.unwrap();
        store.commit(&base, &state, &[]).await.unwrap();
    });
}

fn report(dir: &Path, format: &str, customer: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atalaya"));
    cmd.args(["report", "--month", "2026-11", "--format", format])
        .arg("--db")
        .arg(dir.join("atalaya.db"));
    if let Some(c) = customer {
        cmd.args(["--customer", c]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_scripted_month_adds_up_the_same_in_table_csv_json_and_html() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checks.yaml"), CHECKS).unwrap();
    seed(&dir.path().join("atalaya.db"));

    // By hand: counted = 720 h - 1 h maintenance - 30 min unknown = 2,586,600 s; downtime =
    // 19.971 + 150 + 0.3 × 600 = 349.971 s; uptime = 1 - 349.971 / 2,586,600; the budget is
    // 0.1 % of the counted time, 2,586.6 s, of which 13.53 % was used.
    let json: serde_json::Value = serde_json::from_str(&report(dir.path(), "json", None)).unwrap();
    let shop = &json["services"][0];
    assert_eq!(shop["service"], "shop");
    let close = |v: &serde_json::Value, want: f64| {
        assert!((v.as_f64().unwrap() - want).abs() < 1e-6, "{v} vs {want}")
    };
    close(&shop["counted_s"], 2_586_600.0);
    close(&shop["downtime_s"], 349.971);
    close(
        &shop["uptime_percent"],
        100.0 * (1.0 - 349.971 / 2_586_600.0),
    );
    close(&shop["error_budget_used"], 349.971 / 2_586.6);
    close(&shop["down_s"], 169.971);
    close(&shop["unknown_s"], 1_800.0);
    close(&shop["maintenance_s"], 3_600.0);
    let portal = &json["services"][1];
    close(&portal["counted_s"], 45.0);
    close(&portal["down_s"], 20.0);
    close(&portal["error_budget_used"], 20.0 / 0.045);
    close(&portal["incidents"][0]["duration_s"], 49.0);

    // The table: the same figures, durations by the customers' rule, the budget as a multiple.
    let table = report(dir.path(), "table", None);
    let line = |start: &str| {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?}:\n{table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("shop (Online shop)"),
        "shop (Online shop) 99.986 % 99.9 % 14 % 29 d 22 h 30 min 6 min 3 min 10 min 30 min - 1",
        "{table}"
    );
    assert_eq!(
        line("portal (Customer portal)"),
        "portal (Customer portal) 55.555 % 99.9 % exceeded 444× 45 s 20 s 20 s - - - 1",
        "{table}"
    );
    assert!(line("inc-2").ends_with("(49 s)"), "{table}");
    assert!(line("inc-1").ends_with("(3 min)"), "{table}");
    // How a service's figure comes from its checks is stated, beside a check that differs.
    assert!(
        table.contains("A service is down while any of its checks is down in the quorum"),
        "{table}"
    );
    assert!(
        line("shop-home @ local").starts_with("shop-home @ local 99.98"),
        "{table}"
    );

    // The CSV: the exact seconds the table rounds.
    let csv = report(dir.path(), "csv", None);
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let portal_row: Vec<&str> = rows.nth(1).unwrap().split(',').collect();
    let field = |name: &str| portal_row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(field("counted_s"), "45.000");
    assert_eq!(field("down_s"), "20.000");
    assert_eq!(field("downtime_s"), "20.000");
    assert!(field("error_budget_used").starts_with("444.44"), "{csv}");

    // The customer's HTML, in Spanish, their names.
    let html = report(dir.path(), "html", Some("acme"));
    for want in [
        "Tienda online",
        "Portal de clientes",
        "Acme España",
        "superado, 444×",
        "Tiempo contado este mes: 45 segundos.",
        "Tiempo contado este mes: 29 días, 22 horas y 30 minutos.",
        "Nuestra supervisión no pudo ver este servicio durante 30 minutos.",
        "49 segundos",
        "55,555 %",
        "99,986 %",
        "99,90 %",
        "14 %",
        // Downtime as the uptime counts it (down, and degraded at 30 %): 349.971 s.
        "<td class=\"num\" data-label=\"Interrupción\">6 minutos</td>",
        "<td class=\"num\" data-label=\"Interrupción\">20 segundos</td>",
    ] {
        assert!(html.contains(want), "{want:?} missing:\n{html}");
    }
    assert!(!html.contains("Online shop"), "{html}");

    // At a phone's width, in a real browser: nothing scrolls sideways, every figure labelled.
    let file = dir.path().join("report.html");
    std::fs::write(&file, &html).unwrap();
    let mut b = atalaya_tests::browser::Browser::start();
    for width in [375, 1024] {
        b.size(width, 900);
        b.goto(&format!("file://{}", file.display()));
        let wide =
            b.eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]");
        assert!(
            wide[0].as_u64() <= wide[1].as_u64(),
            "scrolls sideways at {width} px: {wide}"
        );
        let text = b
            .eval("document.body.innerText")
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.contains("superado, 444×"), "{text}");
        // A phone reads each service as labelled lines; a desktop reads the table.
        let layout = b.eval(
            "(() => { const td = document.querySelector('td[data-label]'); return [getComputedStyle(td).display, getComputedStyle(td, '::before').content !== 'none', document.querySelector('thead').getBoundingClientRect().width]; })()",
        );
        if width == 375 {
            assert_eq!(layout[0], "block", "{layout}");
            assert_eq!(layout[1], true, "{layout}");
            assert!(layout[2].as_f64().unwrap() <= 1.0, "{layout}");
        } else {
            assert_eq!(layout[0], "table-cell", "{layout}");
        }
    }
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
