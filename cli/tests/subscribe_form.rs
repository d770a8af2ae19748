//! The status pages' subscribe form end to end: the runner serves a customer's page and the
//! public page with `--status-page DIR --listen ADDR`, mail goes to a real SMTP server on
//! 127.0.0.1. In headless chromium at a phone's width, a visitor subscribes with the form and is
//! told to check their inbox; the confirmation mail arrives and its link confirms (double
//! opt-in). Asking again within the hour sends nothing more, a robot filling the trap field
//! adds no one, a malformed address is refused, and the public page subscribes to the public
//! services only.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use atalaya_tests::browser::Browser;
use atalaya_tests::smtp::SmtpSink;
use common::*;
use mail_parser::MessageParser;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLUG: &str = "acme-7f3k9q";

fn checks(smtp: &str, port: u16) -> String {
    format!(
        r##"settings:
  regions: [local]
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 5s, timeout: 1s, retries: 1 }}
  brand: {{ name: Acme, from: "Estado de Acme <estado@acme.example>" }}
  email: {{ smtp: "{smtp}" }}
customers:
  - {{ id: acme, name: Acme Iberia, language: es, status_page: {{ slug: {SLUG} }} }}
services:
  - {{ id: shop, customer: acme, name: {{ es: Tienda online, en: Online shop }}, public: true }}
  - {{ id: intranet, customer: acme, name: Intranet }}
checks:
  - {{ id: shop-tcp, service: shop, tcp: {{ host: 127.0.0.1, port: {port} }} }}
  - {{ id: intranet-tcp, service: intranet, tcp: {{ host: 127.0.0.1, port: {port} }} }}
  - {{ id: nightly, service: intranet, heartbeat: {{ every: 1m, grace: 1m }} }}
"##
    )
}

fn wait(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within 30 s");
}

fn subscribers(db: &std::path::Path) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["subscribers", "list", "--format", "json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn form(page: &str, email: &str, extra: &str) -> String {
    format!(
        "page={page}&lang=es&email={}{extra}",
        url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>()
    )
}

#[test]
fn a_visitor_subscribes_from_the_status_page_and_confirms_by_mail() {
    let smtp = SmtpSink::start(None, None);
    let w = workspace(&checks(&smtp.url(), smtp.port));
    let site = w.db.parent().unwrap().join("site");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let runner = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "run",
                w.file.to_str().unwrap(),
                "--db",
                w.db.to_str().unwrap(),
            ])
            .args(["--outbox", w.out.to_str().unwrap()])
            .args(["--status-page", site.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait("the customer's page", || {
        site.join(SLUG).join("index.html").exists()
    });
    wait("the listener", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    // In a real browser, at a phone's width: the form is there and nothing scrolls sideways.
    let mut b = Browser::start();
    b.size(375, 800);
    b.goto(&format!("http://127.0.0.1:{port}/{SLUG}/"));
    let wide =
        b.eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]");
    assert!(
        wide[0].as_u64() <= wide[1].as_u64(),
        "scrolls sideways at 375 px: {wide}"
    );
    let label = b.eval("document.querySelector('label[for=subscribe-email]').textContent");
    assert_eq!(label, "Su dirección de correo");
    b.eval("document.getElementById('subscribe-email').value = 'ana@example.com'");
    b.click_to_load(".subscribe button");
    let said = b
        .eval("document.body.innerText")
        .as_str()
        .unwrap()
        .to_string();
    assert!(said.contains("Revise su correo"), "{said}");
    assert!(b.errors.is_empty(), "{:?}", b.errors);

    // The confirmation mail, and nothing else until it is followed.
    wait("the confirmation mail", || {
        smtp.received().iter().any(|r| r.to == ["ana@example.com"])
    });
    let ana = subscribers(&w.db)
        .into_iter()
        .find(|s| s["email"] == "ana@example.com")
        .unwrap();
    assert_eq!(ana["state"], "pending", "{ana}");
    let received = smtp.received();
    let mail = received
        .iter()
        .find(|r| r.to == ["ana@example.com"])
        .unwrap();
    let parsed = MessageParser::default().parse(&mail.bytes).unwrap();
    let text = parsed.body_text(0).unwrap().to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/confirm?t="))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    let url = url::Url::parse(&link).unwrap();
    let path = format!("{}?{}", url.path(), url.query().unwrap());
    assert_eq!(http(port, "POST", &path, "").0, 200);
    let ana = subscribers(&w.db)
        .into_iter()
        .find(|s| s["email"] == "ana@example.com")
        .unwrap();
    assert_eq!(ana["state"], "confirmed", "{ana}");

    // Asked again: the same answer, no second mail. A robot: the same answer, no one added.
    // A malformed address: refused.
    let (status, page) = http(
        port,
        "POST",
        "/subscribe",
        &form(SLUG, "bo@example.com", ""),
    );
    assert_eq!(status, 200, "{page}");
    wait("bo's confirmation", || {
        smtp.received().iter().any(|r| r.to == ["bo@example.com"])
    });
    let (status, again) = http(
        port,
        "POST",
        "/subscribe",
        &form(SLUG, "bo@example.com", ""),
    );
    assert_eq!((status, again.clone()), (200, page.clone()));
    let (status, trapped) = http(
        port,
        "POST",
        "/subscribe",
        &form(SLUG, "robot@example.com", "&website=http%3A%2F%2Fspam"),
    );
    assert_eq!((status, trapped.contains("Revise su correo")), (200, true));
    let (status, bad) = http(
        port,
        "POST",
        "/subscribe",
        &form(SLUG, "not an address", ""),
    );
    assert_eq!(status, 400, "{bad}");
    assert!(bad.contains("no parece una dirección de correo"), "{bad}");
    assert_eq!(http(port, "GET", "/subscribe", "").0, 405);

    // The public page's form: the public services only.
    let (status, _) = http(
        port,
        "POST",
        "/subscribe",
        &form("public", "cy@example.com", ""),
    );
    assert_eq!(status, 200);
    wait("cy's confirmation", || {
        smtp.received().iter().any(|r| r.to == ["cy@example.com"])
    });
    std::thread::sleep(Duration::from_secs(1));
    let received = smtp.received();
    assert_eq!(
        received
            .iter()
            .filter(|r| r.to == ["bo@example.com"])
            .count(),
        1
    );
    assert!(!received.iter().any(|r| r.to == ["robot@example.com"]));
    let all = subscribers(&w.db);
    assert!(
        !all.iter().any(|s| s["email"] == "robot@example.com"),
        "{all:?}"
    );
    let cy = all.iter().find(|s| s["email"] == "cy@example.com").unwrap();
    assert_eq!(
        cy["services"],
        serde_json::json!({ "services": ["shop"] }),
        "{cy}"
    );

    // A flood on every public path for 8 s: addresses for the form, pings with the job's token
    // and with made-up ones, links that were never sent. The form answers "too many" past its
    // budget and writes at most its budget of subscribers a minute, the job's pings are rate
    // limited per token, and probing and judging go on as scheduled meanwhile.
    let base = format!("http://127.0.0.1:{port}");
    let url = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["heartbeat", "url", "nightly", "--base", &base])
        .arg("--file")
        .arg(&w.file)
        .arg("--db")
        .arg(&w.db)
        .output()
        .unwrap();
    let url = String::from_utf8_lossy(&url.stdout).trim().to_string();
    let ping = url
        .strip_prefix(&base)
        .expect("the job's ping URL")
        .to_string();
    let results = |check: &str| -> i64 {
        let db = rusqlite::Connection::open(&w.db).unwrap();
        db.query_row(
            "SELECT COUNT(*) FROM results WHERE check_id LIKE ?1",
            [check],
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = (
        results("%-tcp"),
        subscribers(&w.db).len(),
        results("nightly"),
    );
    let started = Instant::now();
    let (mut ok, mut busy, mut n, mut pinged) = (0, 0, 0, 0);
    while started.elapsed() < Duration::from_secs(8) {
        n += 1;
        let email = format!("flood{n}@example.com");
        match http(port, "POST", "/subscribe", &form(SLUG, &email, "")).0 {
            200 => ok += 1,
            429 => busy += 1,
            other => panic!("the form answered {other} to request {n}"),
        }
        match http(port, "GET", &ping, "").0 {
            200 => pinged += 1,
            429 => {}
            other => panic!("the job's ping was answered {other} in request {n}"),
        }
        assert_eq!(http(port, "GET", &format!("/ping/made-up-{n}"), "").0, 404);
        let link = http(port, "GET", &format!("/confirm?t=never-sent-{n}"), "").0;
        assert!(
            (400..500).contains(&link),
            "a link never sent answered {link}"
        );
    }
    let after = (
        results("%-tcp"),
        subscribers(&w.db).len(),
        results("nightly"),
    );
    let budget = atalaya_app::subscriptions::subscribe::PER_MINUTE as usize;
    assert!(
        busy > 0 && ok <= 2 * budget,
        "{n} requests: {ok} taken, {busy} refused"
    );
    assert!(after.1 - before.1 <= 2 * budget, "{before:?} → {after:?}");
    // Two checks every 5 s: at least two rounds' results in 8 s; the job's heartbeat judged
    // (its first ping is a result) and its pings limited, never all refused.
    assert!(
        after.0 - before.0 >= 2,
        "probing stalled during the flood: {before:?} → {after:?}"
    );
    assert!(
        after.2 > before.2,
        "the heartbeat was not judged during the flood: {before:?} → {after:?}"
    );
    assert!(pinged >= 1 && pinged < n, "{pinged} of {n} pings taken");
    eprintln!(
        "flood: {n} rounds of 4 requests in 8 s, {ok} subscriptions taken, {busy} refused, {pinged} pings taken; results {before:?} → {after:?}"
    );
    interrupt(runner);
}
