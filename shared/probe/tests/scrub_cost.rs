//! What scrubbing costs a check: it depends on the check's own secrets and its output, not on
//! how many secrets the engine has loaded. Bytes allocated while one check is probed are
//! counted (dhat's allocator, in its testing mode) with 1 and with 1,000 unrelated values loaded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use atalaya_core::{Reference, Source};
use atalaya_probe::{Engine, EngineOptions};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

// dhat's allocator counts every allocation of this test binary (its testing mode).
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocated() -> u64 {
    dhat::HeapStats::get().total_bytes
}

/// A server on 127.0.0.1 that answers every request with a body (not JSON) that starts with the
/// request's Authorization header: the check expects JSON, so its detail quotes the secret, to
/// be scrubbed.
fn echo_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let auth = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or_else(|| l.strip_prefix("Authorization: "))
                })
                .unwrap_or("")
                .to_string();
            let body = format!("{auth} is not welcome");
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// Bytes allocated while the check is probed (the second of two probes: the first warms
/// whatever is made once), with `loaded` unrelated secrets beside the one it uses.
fn bytes_for_one_probe(addr: std::net::SocketAddr, loaded: usize) -> (u64, String) {
    let yaml = format!(
        "settings:\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - {{ id: c, name: C }}\nservices:\n  - {{ id: s, customer: c, name: S }}\nchecks:\n  - {{ id: api, service: s, http: {{ url: 'http://{addr}/', headers: {{ Authorization: 'Bearer ${{ssm:/atalaya/probe/token}}' }} }}, expect: {{ json: {{ '/ok': true }} }} }}\n"
    );
    let config = atalaya_core::load_str(&yaml, "checks.yaml", atalaya_core::Target::Local).unwrap();
    let engine = Arc::new(
        Engine::new(EngineOptions {
            allow_networks: vec!["127.0.0.0/8".parse().unwrap()],
            ..EngineOptions::default()
        })
        .unwrap(),
    );
    let mut values: HashMap<Reference, String> = (0..loaded)
        .map(|i| {
            (
                Reference {
                    source: Source::Secret,
                    name: format!("atalaya/probe/other-{i}"),
                },
                format!("unrelated-secret-value-{i:06}-with-some-length"),
            )
        })
        .collect();
    values.insert(
        Reference {
            source: Source::Ssm,
            name: "/atalaya/probe/token".into(),
        },
        "tok-9f8e7d6c5b4a".into(),
    );
    engine
        .references()
        .update(values, true, std::time::Instant::now());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let check = &config.checks[0];
    let _ = runtime.block_on(engine.probe(check)).unwrap();
    let before = allocated();
    let result = runtime.block_on(engine.probe(check)).unwrap();
    let bytes = allocated() - before;
    (bytes, result.detail)
}

#[test]
fn scrubbing_costs_the_same_whatever_the_number_of_secrets_loaded() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let addr = echo_server();
    let (one, detail_one) = bytes_for_one_probe(addr, 0);
    let (thousand, detail_thousand) = bytes_for_one_probe(addr, 1000);
    // The secret was in the output and is gone from both.
    assert!(!detail_one.contains("tok-9f8e7d6c5b4a"), "{detail_one}");
    assert!(detail_one.contains("***"), "{detail_one}");
    assert_eq!(detail_one, detail_thousand);
    // The same work: a few hundred bytes of difference at most (hash-map probing allocates
    // nothing; a scrubber built from every loaded secret would hold ~360 KB of fingerprints).
    let diff = thousand.abs_diff(one);
    eprintln!("one probe allocated {one} bytes with 1 secret loaded, {thousand} with 1,001");
    assert!(
        diff < 2048,
        "a probe allocated {one} bytes with one secret loaded and {thousand} with 1,001"
    );
}
