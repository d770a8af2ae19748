//! The status site end to end: the runner watches a shop on 127.0.0.1 with `--status-page DIR
//! --listen ADDR` over 90 days of scripted rollups; the shop goes down, and the customer's page
//! is read the ways people and machines read it: in headless chromium (bars, the customers'
//! words, the language switch, "monitoring unavailable", a phone's width, keyboard focus,
//! axe-core, no console errors, screenshots), its API validated against Statuspage's shape,
//! its Atom feed parsed by feedparser, over HTTP with the headers S3 would give.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use atalaya_core::rollup::{accrue, Condition, Hours};
use atalaya_tests::browser::{axe_source, Browser};
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SLUG: &str = "acme-7f3k9q";

fn checks(addr: std::net::SocketAddr) -> String {
    format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  # One round at the start, the next 30 s later: nothing the test reads goes stale while it
  # reads (three intervals), however slow a loaded machine makes it.
  defaults: {{ interval: 30s, timeout: 2s, retries: 1, recover_after: 1 }}
  status_page: {{ title: Nube · Estado }}
customers:
  - {{ id: acme, name: Acme Iberia, language: es, timezone: Europe/Madrid, status_page: {{ slug: {SLUG} }} }}
services:
  - {{ id: shop, customer: acme, name: Tienda online, public: true }}
  - {{ id: pagos, customer: acme, name: Pagos }}
  - {{ id: blog, customer: acme, name: Blog }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{addr}/switch/status-page-shop' }} }}
  - {{ id: pagos-api, service: pagos, http: {{ url: 'http://{addr}/ok' }} }}
  # Its address needs a variable nobody set: a monitoring fault, so the monitor cannot see it.
  - {{ id: blog-home, service: blog, http: {{ url: 'http://{addr}/${{env:ATALAYA_STATUS_TEST_NEVER_SET}}' }} }}
"
    )
}

/// 90 days of the shop before the runner starts, in the runner's own rollups: up, but down
/// for two hours 10 days ago, degraded for three hours 20 days ago, in maintenance an hour 30
/// days ago; the payments service up for the last 30 days; nothing older (not watched yet).
/// Days are the customer's (Madrid's), as the page's bars are: between 23:00 and 24:00 UTC
/// Madrid is already on the next day, and days counted in UTC would leave one grey bar less.
fn seed(db: &Path, now: DateTime<Utc>) {
    let store = atalaya_store::SqliteStore::open(db).unwrap();
    let madrid = chrono_tz::Europe::Madrid;
    let midnight = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .unwrap()
            .and_local_timezone(madrid)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    };
    let today = now.with_timezone(&madrid).date_naive();
    let mut shop = Hours::new();
    let mut pagos = Hours::new();
    for back in 1..60 {
        let date = today - TimeDelta::days(back);
        let (day, next) = (midnight(date), midnight(date + TimeDelta::days(1)));
        let (special, c) = match back {
            10 => (Some(2), Condition::Down),
            20 => (Some(3), Condition::Degraded),
            30 => (Some(1), Condition::Maintenance),
            _ => (None, Condition::Up),
        };
        let noon = day + TimeDelta::hours(11);
        match special {
            Some(h) => {
                accrue(&mut shop, Condition::Up, day, noon);
                accrue(&mut shop, c, noon, noon + TimeDelta::hours(h));
                accrue(&mut shop, Condition::Up, noon + TimeDelta::hours(h), next);
            }
            None => accrue(&mut shop, Condition::Up, day, next),
        }
        if back < 30 {
            accrue(&mut pagos, Condition::Up, day, next);
        }
    }
    // As the evaluations write completed hours.
    let by_service = std::collections::BTreeMap::from([
        (
            "shop".to_string(),
            std::collections::BTreeMap::from([("shop".to_string(), shop)]),
        ),
        (
            "pagos".to_string(),
            std::collections::BTreeMap::from([("pagos".to_string(), pagos)]),
        ),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(atalaya_store::Rollups::write_hours(&store, &by_service))
        .unwrap();
}

/// (status, headers lower-cased, body) of a GET to the runner.
fn get(port: u16, path: &str) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn wait(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what}: not within 40 s");
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/status-screenshots")
}

#[test]
fn a_customer_page_during_an_incident_reads_right_for_people_and_machines() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    atalaya_tests::http::set_switch("status-page-shop", true);
    let w = workspace(&checks(addr));
    seed(&w.db, Utc::now());
    let site = w.db.parent().unwrap().join("site");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let runner = Running::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "run",
                w.file.to_str().unwrap(),
                "--db",
                w.db.to_str().unwrap(),
            ])
            .args(["--outbox", w.out.to_str().unwrap()])
            .args(["--status-page", site.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env_remove("ATALAYA_STATUS_TEST_NEVER_SET")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    wait_for(&w.out, "the customers' first notice", |m| {
        has(m, "customers", "opened")
    });
    let page = site.join(SLUG).join("index.html");
    wait("the open incident on the page", || {
        std::fs::read_to_string(&page).is_ok_and(|p| p.contains("Incidencias en curso"))
    });
    let opened = outbox(&w.out)
        .into_iter()
        .find(|m| {
            m["attributes"]["audience"] == "customers" && m["attributes"]["event"] == "opened"
        })
        .unwrap();
    // The words the customer was sent, as the page must show them.
    let words = opened["body"]
        .as_str()
        .unwrap()
        .split("\n\n")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(words.contains("Tienda online"), "{words}");

    // Over HTTP, as S3 and CloudFront would serve it.
    let (status, head, _) = get(port, &format!("/{SLUG}"));
    assert_eq!(status, 301);
    assert!(head.contains(&format!("location: /{SLUG}/")), "{head}");
    let (status, head, html) = get(port, &format!("/{SLUG}/"));
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("cache-control: public, max-age=60"), "{head}");
    assert!(html.contains("lang=\"es\""));
    let css = html
        .split("href=\"../")
        .nth(1)
        .unwrap_or_else(|| panic!("{html}"))
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (status, head, _) = get(port, &format!("/{css}"));
    assert_eq!(status, 200, "{css}");
    assert!(head.contains("max-age=31536000, immutable"), "{head}");
    let (_, head, badge) = get(port, &format!("/{SLUG}/badges/shop.svg"));
    assert!(head.contains("content-type: image/svg+xml"), "{head}");
    assert!(
        badge.contains("Tienda online: Interrupción grave"),
        "{badge}"
    );
    assert_eq!(get(port, &format!("/{SLUG}/../../etc/passwd")).0, 404);
    assert_eq!(get(port, "/.atalaya-site.json").0, 404);

    // The API in Statuspage's shape, the feed through feedparser.
    let checked = std::process::Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
    )
    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/check_site.py"))
    .args([site.to_str().unwrap(), SLUG])
    .output()
    .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let c: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(c["schema_errors"], serde_json::json!([]), "{c}");
    assert_eq!(c["components"]["shop"], "major_outage");
    assert_eq!(c["components"]["pagos"], "operational");
    // Nobody was told of an outage of the blog, and the monitor cannot see it: it keeps the
    // last thing said (nothing wrong), and the page's status says monitoring is unavailable.
    assert_eq!(c["components"]["blog"], "operational");
    assert_eq!(c["indicator"], "critical");
    assert_eq!(c["incidents"], 1);
    assert_eq!(c["feed"]["bozo"], false, "{c}");
    assert_eq!(c["feed"]["version"], "atom10");
    assert_eq!(c["feed"]["language"], "es");
    let entries = c["feed"]["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert_eq!(entries[0]["title"], opened["subject"]);
    assert!(
        entries[0]["summary"].as_str().unwrap().contains(&words),
        "{c}"
    );
    assert!(entries[0]["id"].as_str().unwrap().starts_with("urn:uuid:"));

    // In a real browser.
    let mut b = Browser::start();
    let url = format!("http://127.0.0.1:{port}/{SLUG}/");
    b.size(1024, 900);
    b.goto(&url);
    let text = b
        .eval("document.body.innerText")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains(&words), "{text}");
    assert!(text.contains("Interrupción grave"), "{text}");
    assert!(text.contains("Supervisión no disponible"), "{text}");
    assert!(text.contains("no podemos confirmar"), "{text}");
    // 90 bars per service, coloured by what each day was.
    let bars = b.eval(
        "[...document.querySelectorAll('.service')].map(s => [...s.querySelectorAll('.bar')].map(b => getComputedStyle(b).backgroundColor))",
    );
    let bars = bars.as_array().unwrap();
    assert_eq!(bars.len(), 3);
    for s in bars {
        assert_eq!(s.as_array().unwrap().len(), 90);
    }
    let shop: Vec<&str> = bars[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let (green, red, yellow, blue, grey) = (
        "rgb(31, 138, 76)",
        "rgb(198, 40, 40)",
        "rgb(201, 145, 0)",
        "rgb(37, 99, 235)",
        "rgb(227, 230, 234)",
    );
    // Oldest first: 30 days not watched, then the scripted days; today is down.
    assert!(shop[..30].iter().all(|c| *c == grey), "{shop:?}");
    assert_eq!(shop[89], red, "{shop:?}");
    assert_eq!(shop.iter().filter(|c| **c == red).count(), 2, "{shop:?}");
    assert_eq!(shop.iter().filter(|c| **c == yellow).count(), 1, "{shop:?}");
    assert_eq!(shop.iter().filter(|c| **c == blue).count(), 1, "{shop:?}");
    assert_eq!(
        shop.iter().filter(|c| **c == green).count(),
        90 - 30 - 4,
        "{shop:?}"
    );
    // A day's figure and incidents on keyboard focus: the tooltip becomes visible.
    let tip = b.eval(
        "(() => { const bar = document.querySelectorAll('.service')[0].querySelectorAll('.bar')[79]; bar.focus(); const t = bar.querySelector('.tip'); const r = t.getBoundingClientRect(); return [document.activeElement === bar, r.width > 50 && r.height > 10, t.innerText]; })()",
    );
    assert_eq!(tip[0], true);
    assert_eq!(tip[1], true, "{tip}");
    assert!(tip[2].as_str().unwrap().contains("disponibilidad"), "{tip}");
    // The monitor's own freshness, apart from the page's update: "last checked" kept current
    // from live.json (a moment ago), the page's update in words a person writes.
    let seen = b.eval(
        "[document.getElementById('seen').textContent, document.getElementById('stale').hidden]",
    );
    assert!(
        seen[0].as_str().unwrap().starts_with("hace ") || seen[0] == "ahora",
        "{seen}"
    );
    assert_eq!(seen[1], true, "{seen}");
    assert!(text.contains("Última comprobación"), "{text}");
    assert!(text.contains("Actualizada el "), "{text}");
    let (_, head, live) = get(port, "/live.json");
    assert!(
        head.contains("cache-control: no-cache, max-age=0"),
        "{head}"
    );
    assert!(live.contains("\"seen_at\""), "{live}");
    // A monitor that stopped reporting an hour ago: the page says its status may be old.
    let mut said = serde_json::Value::Null;
    for _ in 0..3 {
        let old = (Utc::now() - TimeDelta::hours(1)).to_rfc3339();
        std::fs::write(
            site.join("live.json"),
            format!("{{\"seen_at\":\"{old}\",\"fresh_within_s\":300}}"),
        )
        .unwrap();
        b.goto(&url);
        said = b.eval("new Promise(r => setTimeout(() => r([document.getElementById('seen').textContent, document.getElementById('stale').hidden]), 300))");
        if said[1] == false {
            break;
        }
    }
    assert_eq!(said, serde_json::json!(["hace 1 hora", false]));
    // Accessibility: axe-core finds nothing serious or critical.
    b.eval(&axe_source());
    let violations = b.eval(
        "axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')))",
    );
    assert_eq!(violations, serde_json::json!([]), "axe-core");
    let desktop = b.screenshot(&screenshots().join("customer-incident-es-1024.png"));
    // A phone: no horizontal scrolling.
    b.size(375, 800);
    b.goto(&url);
    let wide =
        b.eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]");
    assert!(
        wide[0].as_u64() <= wide[1].as_u64(),
        "scrolls sideways at 375 px: {wide}"
    );
    let mobile = b.screenshot(&screenshots().join("customer-incident-es-375.png"));
    // The switch to English, by its link (no script needed).
    b.click_to_load("a[hreflang=en]");
    assert_eq!(b.eval("document.documentElement.lang"), "en");
    let en = b
        .eval("document.body.innerText")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(en.contains("Major outage"), "{en}");
    assert!(en.contains("Monitoring unavailable"), "{en}");
    assert!(en.contains("has not been working as it should"), "{en}");
    // The public page: the shop only.
    b.goto(&format!("http://127.0.0.1:{port}/"));
    let public = b
        .eval("document.body.innerText")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        public.contains("Nube · Estado") && public.contains("Tienda online"),
        "{public}"
    );
    assert!(
        !public.contains("Pagos") && !public.contains("Acme Iberia"),
        "{public}"
    );
    assert_eq!(b.errors, Vec::<String>::new(), "console errors");
    eprintln!("screenshots: {} {}", desktop.display(), mobile.display());

    // The month's report for the customer, in their language and zone.
    let month = Utc::now().format("%Y-%m").to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "report",
            "--month",
            &month,
            "--customer",
            "acme",
            "--format",
            "html",
        ])
        .args(["--db", w.db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("<html lang=\"es\">"), "{report}");
    assert!(report.contains("Informe de disponibilidad"), "{report}");
    assert!(
        report.contains(opened["subject"].as_str().unwrap()),
        "the incident by the name the customer was told: {report}"
    );
    assert!(report.contains("(hora de Madrid)"), "{report}");
    assert!(
        report.contains("el mantenimiento programado no cuenta"),
        "{report}"
    );
    assert!(
        !report.contains("shop-home") && !report.contains("127.0.0.1"),
        "{report}"
    );
    let file = screenshots().join("report-es.html");
    std::fs::write(&file, &report).unwrap();
    b.size(1024, 900);
    b.goto(&format!("file://{}", file.display()));
    b.eval(&axe_source());
    let violations = b.eval(
        "axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id))",
    );
    assert_eq!(violations, serde_json::json!([]), "axe-core on the report");
    b.screenshot(&screenshots().join("report-es-1024.png"));
    drop(b);
    interrupt(runner);
    atalaya_tests::http::set_switch("status-page-shop", false);
}
