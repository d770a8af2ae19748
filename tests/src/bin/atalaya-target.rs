//! Local targets to probe: the test servers as a process, for `make run` and `make bench`.
//! Listens on 127.0.0.1 only and prints one `kind address` line per server once it is ready.
//!
//!     atalaya-target [--http 127.0.0.1:8080] [--https 127.0.0.1:8443] [--dns 127.0.0.1:5353]
//!                    [--banner 127.0.0.1:2222] [--outage 10s:30s]
//!                    [--https-ca 127.0.0.1:8444 --ca-out ca.pem]
//!
//! `--https` presents a self-signed certificate; `--https-ca` one signed by a private test CA,
//! whose certificate `--ca-out` writes (PEM) for the checks that trust it.
//! `--outage AFTER:LENGTH` makes the `/demo` path answer 503 from AFTER for LENGTH.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_tests::{banner_server_on, dns, http, tls::Leaf};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || !args.len().is_multiple_of(2) || args.iter().any(|a| a == "--help") {
        eprintln!("usage: atalaya-target [--http ADDR] [--https ADDR] [--https-ca ADDR --ca-out FILE] [--dns ADDR] [--banner ADDR]  (ADDR on 127.0.0.1, port 0 picks one)");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for pair in args.chunks(2) {
            let (flag, addr) = (pair[0].as_str(), pair[1].as_str());
            if flag == "--ca-out" {
                std::fs::write(addr, atalaya_tests::tls::ca_pem()).unwrap();
                continue;
            }
            if flag != "--outage" && !addr.starts_with("127.") {
                eprintln!("atalaya-target listens on loopback only, not {addr}");
                std::process::exit(2);
            }
            let bound = match flag {
                "--http" => http::server_on(addr, None).await,
                "--https" => http::server_on(addr, Some(Leaf::SelfSigned)).await,
                "--https-ca" => http::server_on(addr, Some(Leaf::Valid)).await,
                "--dns" => dns::server_on(addr).await,
                "--banner" => banner_server_on(addr, "SSH-2.0-AtalayaDemo\r\n").await,
                "--outage" => {
                    // AFTER:LENGTH, e.g. 10s:30s: /demo answers 503 in that window.
                    let (after, length) = addr.split_once(':').unwrap_or(("10s", "30s"));
                    let d = |v: &str| {
                        atalaya_core::parse_duration(v).unwrap_or_else(|e| panic!("--outage: {e}"))
                    };
                    http::schedule_demo_outage(d(after), d(length));
                    continue;
                }
                other => {
                    eprintln!("unknown option {other}");
                    std::process::exit(2);
                }
            };
            match bound {
                Ok(a) => println!("{} {a}", &flag[2..]),
                Err(e) => {
                    eprintln!("cannot listen on {addr}: {e}");
                    std::process::exit(1);
                }
            }
        }
        std::io::stdout().flush().unwrap();
        let _ = tokio::signal::ctrl_c().await;
    });
}
