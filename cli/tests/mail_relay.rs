//! A mail relay that accepts connections and never answers (a tarpit on 127.0.0.1): the runner
//! keeps its rounds, operators and the outbox hear at once, mail waits, and Ctrl-C stops the
//! runner within seconds.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use common::*;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn file(tarpit: std::net::SocketAddr, target: std::net::SocketAddr) -> String {
    format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
  brand: {{ name: Acme, from: 'Acme Status <status@acme.example>' }}
  email: {{ smtp: 'smtp://{tarpit}' }}
customers: [ {{ id: acme, name: ACME, status_page: {{ slug: acme-7f3k9q }} }} ]
services: [ {{ id: shop, customer: acme, name: Shop }} ]
checks: [ {{ id: shop-home, service: shop, http: {{ url: 'http://{target}/switch/mail-relay' }} }} ]
"
    )
}

#[test]
fn a_relay_that_never_answers_holds_up_neither_rounds_nor_operators_nor_ctrl_c() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tarpit = rt.block_on(atalaya_tests::silent_server());
    let target = rt.block_on(atalaya_tests::http::server(None));
    atalaya_tests::http::set_switch("mail-relay", true);
    let w = workspace(&file(tarpit, target));
    let (checks, db) = (w.file.to_str().unwrap(), w.db.to_str().unwrap());
    for who in ["ana", "bob", "carol"] {
        let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args(["subscribers", "add", "--customer", "acme", "--confirmed"])
            .args([
                "--email",
                &format!("{who}@example.com"),
                "--checks",
                checks,
                "--db",
                db,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut runner = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "run",
                checks,
                "--db",
                db,
                "--outbox",
                w.out.to_str().unwrap(),
            ])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let rounds: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = rounds.clone();
    let stdout = runner.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(" checks: ") || line.contains(" check: ") {
                seen.lock().unwrap().push(Instant::now());
            }
        }
    });
    // The outage is told at once to operators and in the outbox, mail or no mail.
    let t = Instant::now();
    wait_for(&w.out, "the customers' notice", |m| {
        has(m, "operators", "opened") && has(m, "customers", "opened")
    });
    eprintln!("told in {:?} with the relay stalled", t.elapsed());
    // Rounds go on, one a second, while the mails wait on the relay (its deadline is 30 s).
    let from = Instant::now();
    std::thread::sleep(Duration::from_secs(8));
    let kept = rounds
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t >= from)
        .count();
    assert!(kept >= 6, "{kept} rounds in 8 s while the relay stalled");
    // Ctrl-C stops it within seconds, the mail still waiting.
    let took = runner.interrupt(Duration::from_secs(10));
    assert!(
        took.is_some_and(|d| d < Duration::from_secs(5)),
        "Ctrl-C took {took:?}"
    );
    eprintln!("{kept} rounds in 8 s; stopped {took:?} after Ctrl-C");
    atalaya_tests::http::set_switch("mail-relay", false);
}
