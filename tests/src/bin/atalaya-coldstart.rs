//! Cold start of a Lambda bootstrap: the time from exec until it first asks the runtime API for
//! an event (its init), its peak RSS then, and its own account of the steps of init (the
//! `initialised` log line). Runs the bootstrap N times against the runtime-API stand-in and
//! prints the median and worst, and the median of each step.
//!
//!     atalaya-coldstart BOOTSTRAP CHECKS_FILE [RUNS] [--moto]
//!
//! Without `--moto` the AWS endpoint is a closed local port (AWS unreachable). With it, a
//! moto_server serves what production serves: the checks file published to a versioned bucket
//! (`ATALAYA_CHECKS_BUCKET`) and every `${ssm:…}`/`${secret:…}` reference of it.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_tests::lambda_api::{lambda_env, RuntimeApi};
use std::collections::BTreeMap;
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

/// The published checks file and its references in moto; the environment that points there.
async fn moto_world(checks: &str) -> Vec<(String, String)> {
    let endpoint = atalaya_tests::moto::endpoint();
    let prefix = atalaya_tests::moto::unique_prefix();
    let bucket = atalaya_tests::moto::versioned_bucket(&prefix).await;
    let sdk = atalaya_tests::moto::sdk_config().await;
    let (loaded, bundle) = atalaya_app::bundle::pack(std::path::Path::new(checks)).unwrap();
    atalaya_aws::checks::S3Checks::new(&sdk, &bucket, "checks.tar.gz")
        .publish(bundle)
        .await
        .unwrap();
    // Every reference the file has, with a value of the right kind (keys of 32 bytes).
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let config = &loaded.config;
    let mut references = atalaya_probe::remote_references(config);
    for t in [&config.settings.heartbeats.key, &config.settings.email.key]
        .into_iter()
        .flatten()
    {
        references.extend(t.references().filter(|r| r.source.is_remote()).cloned());
    }
    for r in &references {
        let value = "k".repeat(32);
        match r.source {
            atalaya_core::Source::Ssm => {
                ssm.put_parameter()
                    .name(&r.name)
                    .value(value)
                    .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                    .overwrite(true)
                    .send()
                    .await
                    .unwrap();
            }
            _ => {
                let _ = secrets
                    .create_secret()
                    .name(&r.name)
                    .secret_string(value)
                    .send()
                    .await;
            }
        }
    }
    eprintln!(
        "moto at {endpoint}: the checks file published to {bucket}, {} references served",
        references.len()
    );
    vec![
        ("AWS_ENDPOINT_URL".into(), endpoint),
        ("ATALAYA_CHECKS_BUCKET".into(), bucket),
        ("ATALAYA_CHECKS_KEY".into(), "checks.tar.gz".into()),
        ("ATALAYA_TABLE_PREFIX".into(), prefix),
    ]
}

/// The steps of init from the bootstrap's `initialised` line: name → ms.
fn steps(line: &str) -> Option<Vec<(String, f64)>> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["fields"]["message"] != "initialised" {
        return None;
    }
    let text = v["fields"]["steps"].as_str()?;
    Some(
        text.split(", ")
            .filter_map(|s| {
                let (name, ms) = s.strip_suffix(" ms")?.rsplit_once(' ')?;
                Some((name.to_string(), ms.parse().ok()?))
            })
            .collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let moto = args.iter().any(|a| a == "--moto");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--moto").collect();
    let (bootstrap, checks) = (
        args.get(1).expect("BOOTSTRAP").as_str(),
        args.get(2).expect("CHECKS_FILE").as_str(),
    );
    let runs: usize = args.get(3).map(|r| r.parse().unwrap()).unwrap_or(20);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let world = if moto {
        rt.block_on(moto_world(checks))
    } else {
        // Nothing can be read: a closed local port.
        vec![("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into())]
    };
    let (mut inits, mut rss) = (Vec::new(), Vec::new());
    let mut by_step: BTreeMap<String, (usize, Vec<f64>)> = BTreeMap::new();
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
                .env("AWS_ACCESS_KEY_ID", "x")
                .env("AWS_SECRET_ACCESS_KEY", "x")
                .envs(world.iter().cloned())
                .stdout(std::process::Stdio::piped())
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
            child.start_kill().unwrap();
            let out = child.wait_with_output().await.unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(found) = text.lines().find_map(steps) {
                for (i, (name, ms)) in found.into_iter().enumerate() {
                    by_step.entry(name).or_insert((i, Vec::new())).1.push(ms);
                }
            }
        });
    }
    inits.sort_by(f64::total_cmp);
    rss.sort_by(f64::total_cmp);
    let mut steps: Vec<(usize, String, f64)> = by_step
        .into_iter()
        .map(|(name, (i, mut v))| {
            v.sort_by(f64::total_cmp);
            (i, name, v[v.len() / 2])
        })
        .collect();
    steps.sort_by_key(|s| s.0);
    let itemised: Vec<String> = steps
        .iter()
        .map(|(_, name, ms)| format!("{name} {ms:.2}"))
        .collect();
    println!(
        "{bootstrap}{}: init to first poll median {:.1} ms, worst {:.1} ms; peak RSS median {:.1} MB, worst {:.1} MB ({runs} runs); steps, median ms: {}",
        if moto { " (moto)" } else { "" },
        inits[runs / 2],
        inits[runs - 1],
        rss[runs / 2],
        rss[runs - 1],
        itemised.join(", ")
    );
}
