//! Atalaya's probe engine and Prometheus blackbox_exporter side by side: the same targets, in
//! the same run, on this machine. Three kinds of check: plain HTTP, HTTPS without verification
//! (a self-signed server) and HTTPS verifying a private CA (a server whose certificate the test
//! CA signed); each is probed `--checks` times at concurrency 64 by both, `--runs` times,
//! alternating which goes first.
//!
//!     atalaya-bench-compare --target-bin target/release/atalaya-target \
//!         --atalaya-bin target/release/atalaya [--exporter-bin prometheus-blackbox-exporter] \
//!         [--checks 2000] [--runs 5]
//!
//! - **Atalaya, CPU-ms per check**: the engine in a fresh process (as `atalaya probe` runs it:
//!   `Engine::run`, the CLI's runtime), all threads' on-CPU time (schedstat) during the run ÷
//!   checks, after 200 checks of warm-up.
//! - **blackbox_exporter, CPU-ms per check**: the exporter's on-CPU time (all its threads'
//!   schedstat) while it answers `/probe?module=…&target=…` for each check, 64 at a time, after
//!   200 of warm-up; the client asking is this process, not counted.
//! - **Instructions per check**: `atalaya probe` under `valgrind --tool=callgrind`, run on a file
//!   of 100 and one of 600 checks: the difference ÷ 500 (start-up and parsing of the rest cancel
//!   out; exact and repeatable where CPU time is not).
//! - **Peak RSS**: the whole process, as `/usr/bin/time` reports it (maximum resident set
//!   size): `atalaya probe` with the checks against a target that holds each request 50 ms, at
//!   `--concurrency 512` (512 really in flight); the exporter's high-water mark (VmHWM) after
//!   the same at 512 concurrent probes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use atalaya_core::{Check, Outcome, ProbeResult};
use atalaya_probe::{CheckError, Engine, EngineOptions, Sink};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A kind of check: its name, what the target listens as, the check's YAML beside the URL, the
/// exporter's module.
struct Kind {
    name: &'static str,
    listener: &'static str,
    scheme: &'static str,
    yaml: &'static str,
    module: &'static str,
}

const KINDS: [Kind; 3] = [
    Kind {
        name: "HTTP",
        listener: "http",
        scheme: "http",
        yaml: "",
        module: "http",
    },
    Kind {
        name: "HTTPS, no verification",
        listener: "https",
        scheme: "https",
        yaml: ", tls_verify: false",
        module: "https_noverify",
    },
    Kind {
        name: "HTTPS, verifying a private CA",
        listener: "https-ca",
        scheme: "https",
        yaml: ", tls: { ca: ca.pem }",
        module: "https_ca",
    },
];

struct Collect(Vec<ProbeResult>);

impl Sink for Collect {
    fn result(&mut self, r: ProbeResult) {
        self.0.push(r);
    }
    fn check_error(&mut self, c: &Check, e: CheckError) {
        panic!("{}: {e}", c.id);
    }
}

/// On-CPU ns of every thread of process `pid` (user + system), from schedstat.
fn cpu_ns(pid: &str) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn vm_hwm_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A checks file of `n` checks of `kind` against `addr` (`path` on it), in `dir` (beside
/// ca.pem); returns its path.
fn checks_file(dir: &Path, kind: &Kind, addr: &str, path: &str, n: usize, tag: &str) -> PathBuf {
    let mut yaml = String::from(
        "settings:\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - { id: bench, name: Bench }\nservices:\n  - { id: target, customer: bench, name: Target }\nchecks:\n",
    );
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{ id: c{i}, service: target, http: {{ url: '{}://{addr}{path}?i={tag}-{i}'{} }} }}\n",
            kind.scheme, kind.yaml
        ));
    }
    let file = dir.join(format!("{}-{tag}-{n}.yaml", kind.module));
    std::fs::write(&file, yaml).unwrap();
    file
}

fn load(file: &Path) -> Arc<[Check]> {
    atalaya_app::Checks::load(file, atalaya_core::Target::Local)
        .unwrap()
        .config
        .checks
        .into()
}

/// In this (fresh) process: the engine's CPU-ms per check for `file`, after `warm`.
fn engine_cpu(warm: &Path, file: &Path, concurrency: usize) -> f64 {
    let runtime = atalaya_probe::runtime().unwrap();
    let engine = Arc::new(
        Engine::new(EngineOptions {
            allow_networks: vec!["127.0.0.0/8".parse().unwrap()],
            concurrency,
            ..EngineOptions::default()
        })
        .unwrap(),
    );
    let (warm, batch) = (load(warm), load(file));
    let n = batch.len();
    runtime.block_on(engine.run(warm, &mut Collect(Vec::new())));
    let mut results = Collect(Vec::with_capacity(n));
    let cpu0 = cpu_ns("self");
    runtime.block_on(engine.run(batch, &mut results));
    let cpu = (cpu_ns("self") - cpu0) as f64 / 1e6 / n as f64;
    let up = results
        .0
        .iter()
        .filter(|r| r.outcome == Outcome::Up)
        .count();
    assert_eq!(up, n, "not every check was up: {:?}", results.0.first());
    cpu
}

/// The exporter, listening on a port of its own, with the three modules.
fn exporter(bin: &str, dir: &Path) -> (Child, String) {
    let config = dir.join("blackbox.yml");
    std::fs::write(
        &config,
        format!(
            "modules:\n  http:\n    prober: http\n    timeout: 5s\n  https_noverify:\n    prober: http\n    timeout: 5s\n    http:\n      tls_config: {{ insecure_skip_verify: true }}\n  https_ca:\n    prober: http\n    timeout: 5s\n    http:\n      tls_config: {{ ca_file: {} }}\n",
            dir.join("ca.pem").display()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e} (make bench installs Debian's prometheus-blackbox-exporter)"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the exporter did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("127.0.0.1:{port}"))
}

/// Asks the exporter to probe `n` targets, `concurrency` at a time; returns how many succeeded.
async fn ask(
    exporter: &str,
    module: &str,
    url: &dyn Fn(usize) -> String,
    n: usize,
    concurrency: usize,
) -> usize {
    use futures::StreamExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let client = &client;
    futures::stream::iter(0..n)
        .map(|i| {
            let target =
                url::form_urlencoded::byte_serialize(url(i).as_bytes()).collect::<String>();
            let uri: hyper::Uri =
                format!("http://{exporter}/probe?module={module}&target={target}")
                    .parse()
                    .unwrap();
            async move {
                let res = client.get(uri).await.unwrap();
                let body = http_body_util::BodyExt::collect(res.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                String::from_utf8_lossy(&body)
                    .lines()
                    .any(|l| l == "probe_success 1")
            }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

/// The exporter's CPU-ms per check for `n` probes of `kind`, and its peak RSS.
fn exporter_cpu(bin: &str, dir: &Path, kind: &Kind, addr: &str, n: usize) -> f64 {
    let (mut child, at) = exporter(bin, dir);
    let pid = child.id().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url =
        |tag: &'static str| move |i: usize| format!("{}://{addr}/ok?i={tag}-{i}", kind.scheme);
    let warm = rt.block_on(ask(&at, kind.module, &url("warm"), 200, 64));
    assert_eq!(
        warm, 200,
        "the exporter's warm-up probes failed ({})",
        kind.module
    );
    let cpu0 = cpu_ns(&pid);
    let ok = rt.block_on(ask(&at, kind.module, &url("run"), n, 64));
    let cpu = (cpu_ns(&pid) - cpu0) as f64 / 1e6 / n as f64;
    assert_eq!(ok, n, "not every probe of the exporter succeeded");
    let _ = child.kill();
    let _ = child.wait();
    cpu
}

/// The exporter's peak RSS after `n` probes of a 50 ms hold at `concurrency`.
fn exporter_rss(bin: &str, dir: &Path, addr: &str, n: usize, concurrency: usize) -> f64 {
    let (mut child, at) = exporter(bin, dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = |i: usize| format!("http://{addr}/hold/50?i=rss-{i}");
    let ok = rt.block_on(ask(&at, "http", &url, n, concurrency));
    assert_eq!(ok, n);
    let rss = vm_hwm_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    rss
}

/// `atalaya probe FILE` as `/usr/bin/time` sees it: its maximum resident set, MB.
fn atalaya_rss(cli: &str, file: &Path, concurrency: usize) -> f64 {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kb %M"])
        .arg(cli)
        .args([
            "probe",
            "--format",
            "json",
            "--concurrency",
            &concurrency.to_string(),
        ])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("/usr/bin/time (Debian's time) runs atalaya probe");
    assert!(
        out.status.success(),
        "atalaya probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let kb: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Instructions `atalaya probe FILE` executes, from callgrind.
fn instructions(cli: &str, file: &Path) -> f64 {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(cli)
        .args(["probe", "--format", "json", "--concurrency", "64"])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("valgrind (make bench installs it)");
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.split("Collected : ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no instruction count from callgrind: {err}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    // A measured run of the engine, in a fresh process: prints its CPU-ms per check.
    if let Some(file) = arg("--engine") {
        let warm = arg("--warm").unwrap();
        println!("{}", engine_cpu(Path::new(&warm), Path::new(&file), 64));
        return;
    }
    let target_bin = arg("--target-bin").unwrap_or_else(|| "target/release/atalaya-target".into());
    let cli = arg("--atalaya-bin").unwrap_or_else(|| "target/release/atalaya".into());
    let bb = arg("--exporter-bin").unwrap_or_else(|| "prometheus-blackbox-exporter".into());
    let n: usize = arg("--checks").map(|v| v.parse().unwrap()).unwrap_or(2000);
    let runs: usize = arg("--runs").map(|v| v.parse().unwrap()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut target = Command::new(&target_bin)
        .args([
            "--http",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
            "--https-ca",
            "127.0.0.1:0",
        ])
        .arg("--ca-out")
        .arg(&ca)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {target_bin}: {e}"));
    let mut lines = BufReader::new(target.stdout.take().unwrap()).lines();
    let mut addrs = std::collections::HashMap::new();
    for _ in 0..3 {
        let line = lines.next().unwrap().unwrap();
        let (kind, addr) = line.split_once(' ').unwrap();
        addrs.insert(kind.to_string(), addr.to_string());
    }
    let version = Command::new(&bb).arg("--version").output().map(|o| {
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
    });
    let version = version
        .ok()
        .and_then(|v| {
            v.lines()
                .next()
                .map(|l| l.replace("blackbox_exporter, version ", ""))
        })
        .unwrap_or_default();
    println!(
        "{n} checks per run at concurrency 64, {runs} runs, medians; blackbox_exporter {version}; {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!();
    println!("| check | blackbox_exporter CPU-ms/check | Atalaya CPU-ms/check | ratio | Atalaya instructions/check |");
    println!("|---|---|---|---|---|");
    for kind in &KINDS {
        let addr = &addrs[kind.listener];
        let warm = checks_file(dir.path(), kind, addr, "/ok", 200, "warm");
        let file = checks_file(dir.path(), kind, addr, "/ok", n, "run");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let engine = || {
                let out = Command::new(std::env::current_exe().unwrap())
                    .arg("--engine")
                    .arg(&file)
                    .arg("--warm")
                    .arg(&warm)
                    .stderr(Stdio::inherit())
                    .output()
                    .unwrap();
                assert!(out.status.success(), "the engine's run failed");
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse::<f64>()
                    .unwrap()
            };
            if run % 2 == 0 {
                ours.push(engine());
                theirs.push(exporter_cpu(&bb, dir.path(), kind, addr, n));
            } else {
                theirs.push(exporter_cpu(&bb, dir.path(), kind, addr, n));
                ours.push(engine());
            }
        }
        let small = checks_file(dir.path(), kind, addr, "/ok", 100, "cg");
        let large = checks_file(dir.path(), kind, addr, "/ok", 600, "cg");
        let per_check = (instructions(&cli, &large) - instructions(&cli, &small)) / 500.0;
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "| {} | {theirs:.3} | **{ours:.3}** | {:.1}× | {:.0} |",
            kind.name,
            theirs / ours,
            per_check
        );
    }
    // Memory: 512 in flight, each held 50 ms.
    let http = &KINDS[0];
    let held = checks_file(dir.path(), http, &addrs["http"], "/hold/50", n, "rss");
    let ours = median((0..runs).map(|_| atalaya_rss(&cli, &held, 512)).collect());
    let theirs = median(
        (0..runs)
            .map(|_| exporter_rss(&bb, dir.path(), &addrs["http"], n, 512))
            .collect(),
    );
    println!();
    println!("| peak RSS, whole process, {n} HTTP checks held 50 ms, 512 in flight | blackbox_exporter | Atalaya (`atalaya probe`) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| MB | {theirs:.1} | **{ours:.1}** | {:.1}× |",
        theirs / ours
    );
    let _ = target.kill();
    let _ = target.wait();
}
