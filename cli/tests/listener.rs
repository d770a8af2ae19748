//! The listener under a flood it must survive: `atalaya run --listen` under a 1,024 file
//! descriptor limit, 1,100 connections from 100 loopback addresses held open (half of them a
//! half-sent request, half idle) and more all along, while a real outage happens on the
//! service it watches. Probing and judging keep their schedule, the outage opens its incident,
//! the listener holds at most its cap and lets every connection go at its deadline, and it
//! serves again once the flood is gone.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use common::*;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FLOOD: usize = 1100;
const CLIENTS: u8 = 100;

fn file(target: SocketAddr) -> String {
    format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
customers: [ {{ id: acme, name: ACME, status_page: {{ slug: acme-7f3k9q }} }} ]
services:
  - {{ id: shop, customer: acme, name: Shop }}
  - {{ id: backups, customer: acme, name: Backups }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{target}/switch/listener-flood' }} }}
  - {{ id: backup-job, service: backups, heartbeat: {{ every: 1h }} }}
"
    )
}

/// The file descriptors the runner holds now.
fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Half a request from `from`: a request line and one header, never the blank line; or, every
/// other one, nothing at all (an idle connection).
async fn half_sent(from: Ipv4Addr, to: SocketAddr, idle: bool) -> Option<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).ok()?;
    let mut s = socket.connect(to).await.ok()?;
    if !idle {
        s.write_all(b"GET /ping/not-a-token HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .ok()?;
    }
    Some(s)
}

/// Whether the runner let the connection go: an answer (a 503 over the caps) then the end, or
/// the end alone.
async fn closed(s: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[test]
fn a_flood_of_half_sent_requests_neither_blinds_the_monitor_nor_outlives_its_deadline() {
    // The flood needs more descriptors than the runner has.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = rt.block_on(atalaya_tests::http::server(None));
    atalaya_tests::http::set_switch("listener-flood", false);
    let w = workspace(&file(target));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let mut runner = Running::spawn(
        Command::new("prlimit")
            .arg("--nofile=1024:1024")
            .arg(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "run",
                w.file.to_str().unwrap(),
                "--db",
                w.db.to_str().unwrap(),
            ])
            .args([
                "--outbox",
                w.out.to_str().unwrap(),
                "--listen",
                &listen.to_string(),
            ])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let pid = runner.id();
    let rounds: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = rounds.clone();
    let stdout = runner.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(" checks: ") {
                seen.lock().unwrap().push(Instant::now());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(listen).is_err() {
        assert!(Instant::now() < deadline, "the runner never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    let baseline = descriptors(pid);

    // The flood: 1,100 half-sent requests from 127.0.0.1 to 127.0.0.100, held open, and then
    // more all along (one every 10 ms) as the runner lets them go.
    let flood_start = Instant::now();
    let mut held = rt.block_on(async {
        let mut held = Vec::new();
        for i in 0..FLOOD {
            let from = Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(CLIENTS)) as u8);
            if let Some(s) = half_sent(from, listen, i % 2 == 1).await {
                held.push(s);
            }
        }
        held
    });
    assert!(
        held.len() >= FLOOD - 10,
        "{} connections opened",
        held.len()
    );
    let sustained = rt.spawn(async move {
        let mut more = Vec::new();
        for i in 0..1200usize {
            let from = Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(CLIENTS)) as u8);
            if let Some(s) = half_sent(from, listen, i % 2 == 1).await {
                more.push(s);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        more.len()
    });
    let most = Arc::new(Mutex::new(0usize));
    let sampler = {
        let most = most.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(12);
            while Instant::now() < until {
                let n = descriptors(pid);
                let mut m = most.lock().unwrap();
                *m = (*m).max(n);
                drop(m);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // Some seconds into the flood, a real outage: it is seen and opens its incident.
    std::thread::sleep(Duration::from_secs(3));
    atalaya_tests::http::set_switch("listener-flood", true);
    let outage = Instant::now();
    wait_for(&w.out, "the outage's incident during the flood", |m| {
        has(m, "operators", "opened")
    });
    let opened_in = outage.elapsed();
    sampler.join().unwrap();
    let flood_for = flood_start.elapsed();
    let rounds_during = rounds
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t >= flood_start)
        .count();
    let sustained = rt.block_on(sustained).unwrap();
    // Every half-sent request is let go: over the caps at once, held ones at their deadline.
    let all_closed = rt.block_on(async {
        let mut n = 0;
        for s in &mut held {
            if closed(s, Duration::from_secs(15)).await {
                n += 1;
            }
        }
        n
    });
    let let_go_after = flood_start.elapsed();
    let most = *most.lock().unwrap();
    eprintln!(
        "runner descriptors: {baseline} before, {most} at most during the flood ({} connections held at most); {sustained} more opened over 12 s; incident opened {opened_in:?} after the outage; {rounds_during} rounds in {flood_for:?} of flood; the first {all_closed} of {} connections let go within {let_go_after:?}",
        most.saturating_sub(baseline),
        held.len()
    );
    // The cap (256) and, for a moment each, a connection over it being turned away or a
    // probe's socket more than when the baseline was read.
    assert!(
        most.saturating_sub(baseline) <= 256 + 8,
        "{most} descriptors during the flood, {baseline} before"
    );
    assert!(opened_in < Duration::from_secs(10), "{opened_in:?}");
    assert!(
        rounds_during as f64 >= flood_for.as_secs_f64() * 0.7,
        "{rounds_during} rounds in {flood_for:?}"
    );
    assert_eq!(
        all_closed,
        held.len(),
        "a half-sent request outlived its deadline"
    );
    drop(held);
    // Once the flood is gone, the endpoint answers again.
    std::thread::sleep(Duration::from_millis(500));
    let (status, _) = http(port, "GET", "/ping/not-a-token", "");
    assert_eq!(status, 404);
    atalaya_tests::http::set_switch("listener-flood", false);
}
