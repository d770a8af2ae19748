//! Cold start of a Lambda bootstrap: the time from exec until it first asks the runtime API for
//! an event (its init), and its peak RSS then. Runs the bootstrap N times against the runtime-API
//! stand-in and prints the median and worst.
//!
//!     atalaya-coldstart BOOTSTRAP CHECKS_FILE [RUNS]

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_tests::lambda_api::{lambda_env, RuntimeApi};
use std::time::{Duration, Instant};

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (bootstrap, checks) = (
        args.get(1).expect("BOOTSTRAP"),
        args.get(2).expect("CHECKS_FILE"),
    );
    let runs: usize = args.get(3).map(|r| r.parse().unwrap()).unwrap_or(20);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut inits, mut rss) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        rt.block_on(async {
            let api = RuntimeApi::start(Vec::new()).await;
            let start = Instant::now();
            let mut child = tokio::process::Command::new(bootstrap)
                .envs(lambda_env(&api))
                .env("ATALAYA_CHECKS", checks)
                .env(
                    "ATALAYA_OPERATORS_TOPIC_ARN",
                    "arn:aws:sns:eu-west-1:123456789012:ops",
                )
                .env(
                    "ATALAYA_CUSTOMERS_TOPIC_ARN",
                    "arn:aws:sns:eu-west-1:123456789012:cust",
                )
                // Nothing is called during init; a closed local port makes sure of it.
                .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
                .env("AWS_ACCESS_KEY_ID", "x")
                .env("AWS_SECRET_ACCESS_KEY", "x")
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let pid = child.id().unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            let first = loop {
                if let Some(t) = api.first_poll() {
                    break t;
                }
                assert!(
                    Instant::now() < deadline,
                    "the bootstrap never polled the runtime API"
                );
                tokio::time::sleep(Duration::from_micros(200)).await;
            };
            inits.push((first - start).as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(20)).await;
            rss.push(peak_rss_kb(pid).unwrap_or(0) as f64 / 1024.0);
            child.kill().await.unwrap();
        });
    }
    inits.sort_by(f64::total_cmp);
    rss.sort_by(f64::total_cmp);
    println!(
        "{bootstrap}: init to first poll median {:.1} ms, worst {:.1} ms; peak RSS median {:.1} MB, worst {:.1} MB ({runs} runs)",
        inits[runs / 2],
        inits[runs - 1],
        rss[runs / 2],
        rss[runs - 1]
    );
}
