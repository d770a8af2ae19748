//! The probe-engine benchmark: 2000 HTTP checks against a local target, at concurrency 64 and
//! 512, through the same engine and runtime the CLI uses. The target runs in its own process so
//! that the CPU measured is the engine's alone.
//!
//!     atalaya-bench --target-bin target/release/atalaya-target [--checks 2000] [--runs 3]
//!
//! Prints checks/s, CPU-ms per check (all threads' on-CPU time ÷ checks), peak RSS, and for the
//! 50 ms target the reported latency minus the true hold of each request, which the target
//! measures and reports per request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use atalaya_core::{Check, Outcome, ProbeResult};
use atalaya_probe::{CheckError, Engine, EngineOptions, Sink};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

struct Collect(Vec<ProbeResult>);

impl Sink for Collect {
    fn result(&mut self, r: ProbeResult) {
        self.0.push(r);
    }
    fn check_error(&mut self, c: &Check, e: CheckError) {
        panic!("{}: {e}", c.id);
    }
}

/// On-CPU time of every thread of this process, in nanoseconds (user + system), from
/// /proc/self/task/*/schedstat.
fn cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// User + system time of the process from /proc/self/stat, in ms (10 ms resolution), to
/// cross-check the schedstat figure.
fn stat_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 * 10.0
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn checks(addr: &str, path: &str, n: usize, run: &str) -> Arc<[Check]> {
    let mut yaml = String::from(
        "settings:\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - { id: bench, name: Bench }\nservices:\n  - { id: target, customer: bench, name: Target }\nchecks:\n",
    );
    for i in 0..n {
        yaml.push_str(&format!("  - {{ id: c{i}, service: target, http: {{ url: 'http://{addr}{path}?i={run}-{i}' }} }}\n"));
    }
    atalaya_core::load_str(&yaml, "bench.yaml", atalaya_core::Target::Local)
        .unwrap()
        .checks
        .into()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let target_bin = arg("--target-bin").unwrap_or_else(|| "target/release/atalaya-target".into());
    let n: usize = arg("--checks").map(|v| v.parse().unwrap()).unwrap_or(2000);
    let runs: usize = arg("--runs").map(|v| v.parse().unwrap()).unwrap_or(3);
    // Each measured run (a warm-up of 200 checks, then `n` checks) is a fresh process, so its
    // peak RSS is its own; the table gives the median over the runs.
    let Some(scenario) = arg("--scenario") else {
        println!(
            "{n} checks per run, {runs} runs per scenario, each run in a fresh process; medians over the runs; {} cores",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        println!();
        println!("| target | concurrency | checks/s | % of concurrency÷hold | CPU-ms/check | CPU-ms/check (/proc/stat) | peak RSS MB | latency − hold median | p99 | up |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for scenario in ["/ok:64", "/ok:512", "/hold/50:64", "/hold/50:512"] {
            let mut rows: Vec<Vec<String>> = Vec::new();
            for _ in 0..runs {
                let out = Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--target-bin",
                        &target_bin,
                        "--checks",
                        &n.to_string(),
                        "--runs",
                        "1",
                        "--scenario",
                        scenario,
                    ])
                    .stderr(Stdio::inherit())
                    .output()
                    .unwrap();
                assert!(out.status.success(), "scenario {scenario} failed");
                let line = String::from_utf8(out.stdout).unwrap();
                rows.push(
                    line.trim()
                        .trim_matches('|')
                        .split('|')
                        .map(|c| c.trim().to_string())
                        .collect(),
                );
            }
            // Median per numeric column (each column on its own), `up` summed.
            let mut cells = rows[0].clone();
            for col in 2..cells.len() {
                let mut values: Vec<(f64, String)> = rows
                    .iter()
                    .filter_map(|r| {
                        r[col]
                            .trim_end_matches(" ms")
                            .trim_end_matches('%')
                            .parse::<f64>()
                            .ok()
                            .map(|v| (v, r[col].clone()))
                    })
                    .collect();
                if col == cells.len() - 1 {
                    let up: usize = rows
                        .iter()
                        .map(|r| r[col].split('/').next().unwrap().parse::<usize>().unwrap())
                        .sum();
                    cells[col] = format!("{up}/{}", n * runs);
                } else if !values.is_empty() {
                    values.sort_by(|a, b| a.0.total_cmp(&b.0));
                    cells[col] = values[values.len() / 2].1.clone();
                }
            }
            println!("| {} |", cells.join(" | "));
        }
        return;
    };
    let (path, concurrency) = scenario.split_once(':').unwrap();
    let concurrency: usize = concurrency.parse().unwrap();
    let hold_ms: f64 = path
        .strip_prefix("/hold/")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0);

    let mut child = Command::new(&target_bin)
        .args(["--http", "127.0.0.1:0"])
        .env("ATALAYA_TARGET_LOG_HOLDS", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {target_bin}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("http ").unwrap().to_string();
    let holds: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
    let sink = holds.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut parts = line.split_whitespace();
            if let (Some("hold"), Some(id), Some(us)) = (parts.next(), parts.next(), parts.next()) {
                sink.lock()
                    .unwrap()
                    .insert(id.to_string(), us.parse::<f64>().unwrap() / 1000.0);
            }
        }
    });

    let runtime = atalaya_probe::runtime().unwrap();
    {
        {
            let engine = Arc::new(
                Engine::new(EngineOptions {
                    allow_networks: vec!["127.0.0.0/8".parse().unwrap()],
                    concurrency,
                    ..EngineOptions::default()
                })
                .unwrap(),
            );
            // Warm up: connections, allocator, the runtime's threads.
            let warm = checks(&addr, path, 200, "warm");
            // Parsed once, as the CLI does; the target keys its hold reports by `i`.
            let batch = checks(&addr, path, n, "run");
            runtime.block_on(engine.run(warm, &mut Collect(Vec::new())));

            let (mut rates, mut cpus, mut stat_cpus, mut rss, mut errors, mut up) =
                (vec![], vec![], vec![], 0f64, vec![], 0);
            for _ in 0..runs {
                holds.lock().unwrap().clear();
                reset_peak_rss();
                let mut results = Collect(Vec::with_capacity(n));
                let (cpu0, stat0, t0) = (cpu_ns(), stat_cpu_ms(), Instant::now());
                runtime.block_on(engine.run(batch.clone(), &mut results));
                let wall = t0.elapsed().as_secs_f64();
                let (cpu1, stat1) = (cpu_ns(), stat_cpu_ms());
                rss = rss.max(peak_rss_mb());
                rates.push(n as f64 / wall);
                cpus.push((cpu1 - cpu0) as f64 / 1e6 / n as f64);
                stat_cpus.push((stat1 - stat0) / n as f64);
                up += results
                    .0
                    .iter()
                    .filter(|r| r.outcome == Outcome::Up)
                    .count();
                if hold_ms > 0.0 {
                    // Let the target's hold reports arrive.
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    let holds = holds.lock().unwrap();
                    for r in &results.0 {
                        let i: usize = r.check[1..].parse().unwrap();
                        if let Some(h) = holds.get(&format!("run-{i}")) {
                            errors.push(r.latency_ms - h);
                        }
                    }
                }
            }
            rates.sort_by(f64::total_cmp);
            cpus.sort_by(f64::total_cmp);
            stat_cpus.sort_by(f64::total_cmp);
            errors.sort_by(f64::total_cmp);
            let rate = percentile(&rates, 0.5);
            let theoretical = if hold_ms > 0.0 {
                format!(
                    "{:.1}%",
                    100.0 * rate / (concurrency as f64 / (hold_ms / 1000.0))
                )
            } else {
                "—".into()
            };
            let (median, p99) = if errors.is_empty() {
                ("—".to_string(), "—".to_string())
            } else {
                (
                    format!("{:+.3} ms", percentile(&errors, 0.5)),
                    format!("{:+.3} ms", percentile(&errors, 0.99)),
                )
            };
            let name = if hold_ms > 0.0 {
                "hold 50 ms"
            } else {
                "no delay"
            };
            println!(
                "| {name} | {concurrency} | {rate:.0} | {theoretical} | {:.4} | {:.3} | {rss:.1} | {median} | {p99} | {up}/{} |",
                percentile(&cpus, 0.5),
                percentile(&stat_cpus, 0.5),
                n * runs
            );
        }
    }
    if std::env::var_os("ATALAYA_BENCH_MEMORY").is_some() {
        let engine = Engine::new(EngineOptions::default()).unwrap();
        let check = &checks(&addr, path, 1, "size")[0];
        eprintln!(
            "probe future: {} bytes",
            std::mem::size_of_val(&engine.probe(check))
        );
        let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
        eprintln!(
            "{}",
            rollup
                .lines()
                .filter(|l| l.starts_with("Rss") || l.starts_with("Anonymous"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
