//! Hostile input through the binary: what a job, a file or an operator sends cannot reach a
//! terminal, a message or a page as anything but plain text.

#![allow(clippy::unwrap_used)]

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
