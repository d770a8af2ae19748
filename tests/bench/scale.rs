//! The scale benchmark (`make bench-scale`, release): a deployment of 20,000 checks in 5 regions,
//! every minute, through the real alert code path (`atalaya_alert_fn::handle`: load, evaluate,
//! render, commit, deliver) over SQLite and over DynamoDB on moto, for N simulated minutes.
//!
//!     atalaya-bench-scale [--checks 20000] [--regions 5] [--warmup 21] [--minutes 8]
//!                         [--noise 30] [--calm] [--store sqlite|moto|both|none] [--rollup]
//!
//! The first `--warmup` minutes are run and not measured: a fresh deployment hears each check a
//! few times (a check every five minutes among them) before its state is steady.
//!
//! Each minute, every region's results of the checks due that minute arrive in two stream
//! batches (the probes start at the top of the minute; the stream's 20 s batching window gathers
//! what they write), then the tick. What the results hold, like a real deployment's: 3 % of results fail at random
//! (soft failures that no quorum confirms), one region loses 20 services for three minutes (a
//! regional outage the quorum outvotes), five services go down everywhere for four minutes
//! (incidents open, customers are told, then resolved), and one check flaps.
//!
//! Reported, over the measured minutes: evaluation time per minute of results (the sum of that
//! minute's invocations; p50 and p99), bytes and write units per minute, the
//! largest item, and the cost per million check executions (docs/data-model.md's prices and
//! model; the probe side modelled from its measured CPU and the targets' latency). The last
//! line: `bench-scale: <checks> checks x <regions> regions: eval p99 <ms> ms, largest item <KB>
//! KB, $<x> per million`.

// A benchmark is a script told whole.
#![allow(clippy::too_many_lines)]

//!
//! `--rollup` also measures the hourly rollup job over one region's hour (`rollup.rs`).

mod rollup;

use atalaya_alert_fn::{handle, Deps};
use atalaya_app::Checks;
use atalaya_core::{Outcome, Phases, ProbeResult, Reason};
use atalaya_notify::MemoryChannel;
use atalaya_store::Store;
use chrono::{DateTime, TimeDelta, Utc};
use std::time::{Duration, Instant};

const REGIONS: [&str; 8] = [
    "eu-west-1",
    "us-east-1",
    "ap-southeast-2",
    "eu-central-1",
    "us-west-2",
    "sa-east-1",
    "ap-northeast-1",
    "ca-central-1",
];
const CHECKS_PER_SERVICE: usize = 10;
const SERVICES_PER_CUSTOMER: usize = 10;

// USD, us-east-1 list prices (docs/data-model.md).
const PER_WRITE_UNIT: f64 = 0.625e-6;
const PER_READ_UNIT: f64 = 0.125e-6;
const PER_GB_MONTH: f64 = 0.25;
const PER_REQUEST: f64 = 0.20e-6;
const PER_GB_SECOND_ARM: f64 = 0.0000133334;
const PER_SCHEDULE: f64 = 1.0e-6;
const PER_LOG_GB: f64 = 0.50;
const PER_PUBLISH: f64 = 0.50e-6;
/// The probe side, modelled: a shard of up to 2,000 checks, 64 in flight, targets answering in
/// 250 ms on average (the engine's own CPU, 0.31 ms per HTTPS check, docs/performance.md, is
/// small beside the waiting, which Lambda bills all the same), 512 MB.
const TARGET_LATENCY_S: f64 = 0.25;
const IN_FLIGHT: f64 = 64.0;
const PROBE_GB: f64 = 0.5;
const ALERT_GB: f64 = 0.25;

struct Args {
    checks: usize,
    regions: usize,
    /// Minutes run first and not measured: a fresh deployment hears each check a few times
    /// before its state is steady.
    warmup: i64,
    /// Minutes measured.
    minutes: i64,
    /// Results in a thousand that fail at random (background noise).
    noise: u64,
    /// No outage and no flapping check: with `--noise 0`, the steady minutes of a deployment
    /// where nothing happens (what its state costs when nothing changes).
    calm: bool,
    stores: Vec<String>,
    /// Also measure the rollup job over one region's hour.
    rollup: bool,
}

fn args() -> Args {
    let all: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        all.iter()
            .position(|a| a == name)
            .and_then(|i| all.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: usize| {
        get(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: a number, not {v}"))
        })
    };
    let store = get("--store").unwrap_or_else(|| "both".into());
    Args {
        checks: num("--checks", 20_000),
        regions: num("--regions", 5).clamp(1, REGIONS.len()),
        warmup: num("--warmup", 21) as i64,
        minutes: num("--minutes", 8) as i64,
        noise: num("--noise", 30) as u64,
        calm: all.iter().any(|a| a == "--calm"),
        rollup: all.iter().any(|a| a == "--rollup"),
        stores: match store.as_str() {
            "both" => vec!["sqlite".into(), "moto".into()],
            "none" => Vec::new(),
            other => vec![other.into()],
        },
    }
}

/// The deployment: customers of ten services, services of ten checks (mostly every minute, a
/// fifth every five), one service in twenty depending on its neighbour.
fn checks_file(checks: usize, regions: usize) -> String {
    let services = checks.div_ceil(CHECKS_PER_SERVICE);
    let customers = services.div_ceil(SERVICES_PER_CUSTOMER);
    let mut text = format!(
        "settings:\n  regions: [{}]\n  defaults: {{ interval: 1m, timeout: 10s, retries: 2, recover_after: 2 }}\ncustomers:\n",
        REGIONS[..regions].join(", ")
    );
    for c in 0..customers {
        let language = if c % 3 == 0 { "es" } else { "en" };
        text.push_str(&format!(
            "  - {{ id: c{c}, name: Customer {c}, language: {language} }}\n"
        ));
    }
    text.push_str("services:\n");
    for s in 0..services {
        let depends = if s % 20 == 1 {
            format!(", depends_on: [s{}]", s - 1)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "  - {{ id: s{s}, customer: c{}, name: Service {s}{depends} }}\n",
            s / SERVICES_PER_CUSTOMER
        ));
    }
    text.push_str("checks:\n");
    for i in 0..checks {
        let interval = if i % 5 == 4 { "5m" } else { "1m" };
        text.push_str(&format!(
            "  - {{ id: k{i}, service: s{}, interval: {interval}, http: {{ url: 'https://s{}.example/{i}' }} }}\n",
            i / CHECKS_PER_SERVICE,
            i / CHECKS_PER_SERVICE
        ));
    }
    text
}

/// A deterministic number in 0..n from a few integers.
fn mix(parts: &[u64], n: u64) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        h ^= p
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    h % n
}

/// What region `r` reports in measured minute `m` (negative: warming up) for check `i` of
/// service `s`: (down, why).
fn fails(i: usize, s: usize, r: usize, m: i64, a: &Args) -> Option<&'static str> {
    let noise = a.noise;
    if a.calm {
        return (mix(&[i as u64, r as u64, m as u64], 1000) < noise)
            .then_some("connection reset by peer");
    }
    // Five services down everywhere, minutes 3 to 6.
    if (100..105).contains(&s) && (3..=6).contains(&m) {
        return Some("status 503, expected one of [200]");
    }
    // The last region cannot reach twenty services, minutes 2 to 4.
    if r == 4 && s < 20 && (2..=4).contains(&m) {
        return Some("connect timed out after 10 s");
    }
    // One check flaps.
    if i == 2_001 && m % 2 == 1 {
        return Some("status 502, expected one of [200]");
    }
    // Background noise: `noise` results in a thousand fail once (3 % unless told).
    (mix(&[i as u64, r as u64, m as u64], 1000) < noise).then_some("connection reset by peer")
}

/// The results region `r` sends in minute `m`.
fn results(checks: &Checks, r: usize, m: i64, t0: DateTime<Utc>, a: &Args) -> Vec<ProbeResult> {
    let warmup = a.warmup;
    let region = REGIONS[r];
    let minute = t0.timestamp().div_euclid(60) + m;
    let start = t0 + TimeDelta::minutes(m);
    checks
        .config
        .checks
        .iter()
        .enumerate()
        .filter(|(_, c)| atalaya_core::schedule::due(c, minute))
        .map(|(i, c)| {
            let s = i / CHECKS_PER_SERVICE;
            let latency = 40.0 + mix(&[i as u64, r as u64, m as u64, 7], 400) as f64;
            let at =
                start + TimeDelta::milliseconds(500 + (mix(&[i as u64, r as u64], 20_000) as i64));
            match fails(i, s, r, m - warmup, a) {
                Some(why) => ProbeResult {
                    check: c.id.clone(),
                    region: region.into(),
                    at,
                    outcome: Outcome::Down,
                    reason: if why.starts_with("status") {
                        Reason::HttpStatus
                    } else {
                        Reason::Timeout
                    },
                    detail: why.into(),
                    latency_ms: latency,
                    phases: Phases::default(),
                    http_status: why.starts_with("status").then_some(503),
                    cert_days_left: None,
                },
                None => ProbeResult {
                    check: c.id.clone(),
                    region: region.into(),
                    at,
                    outcome: Outcome::Up,
                    reason: Reason::Ok,
                    detail: "status 200".into(),
                    latency_ms: latency,
                    phases: Phases {
                        dns_ms: Some(latency * 0.1),
                        connect_ms: Some(latency * 0.2),
                        tls_ms: Some(latency * 0.3),
                        ttfb_ms: Some(latency * 0.4),
                    },
                    http_status: Some(200),
                    cert_days_left: None,
                },
            }
        })
        .collect()
}

struct Figures {
    /// Evaluation time per simulated minute, ms.
    eval_ms: Vec<f64>,
    invocations: usize,
    executions: usize,
    events: usize,
    published: usize,
    failed: usize,
    open_at_end: usize,
}

async fn drive<S: Store + atalaya_store::Rollups>(
    store: &S,
    checks: &Checks,
    a: &Args,
    put: bool,
    t0: DateTime<Utc>,
    minutes: std::ops::Range<i64>,
) -> Figures {
    let channel = MemoryChannel::new("memory");
    let deps = Deps {
        checks,
        store,
        channels: &[&channel],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let mut f = Figures {
        eval_ms: Vec::new(),
        invocations: 0,
        executions: 0,
        events: 0,
        published: 0,
        failed: 0,
        open_at_end: 0,
    };
    for m in minutes {
        let mut spent = Duration::ZERO;
        let now = t0 + TimeDelta::minutes(m) + TimeDelta::seconds(40);
        // The probes of every region start at the top of the minute; the stream's 20 s
        // batching window hands their results to the alert function in about two batches.
        let mut minute_results = Vec::new();
        for r in 0..a.regions {
            let batch = results(checks, r, m, t0, a);
            f.executions += batch.len();
            if put {
                // What the probe functions write (counted in the write units, not in the time).
                store
                    .put_results(&batch, Instant::now() + Duration::from_secs(60))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            minute_results.extend(batch);
        }
        let split = t0 + TimeDelta::minutes(m) + TimeDelta::seconds(10);
        let (early, late): (Vec<ProbeResult>, Vec<ProbeResult>) =
            minute_results.into_iter().partition(|r| r.at < split);
        for batch in [early, late] {
            let started = Instant::now();
            let out = handle(&deps, &batch, None, now).await;
            spent += started.elapsed();
            f.invocations += 1;
            f.events += out.events;
            f.published += out.published;
            f.failed += usize::from(out.evaluation_failed);
        }
        let started = Instant::now();
        let tick = handle(&deps, &[], None, now + TimeDelta::seconds(15)).await;
        spent += started.elapsed();
        f.invocations += 1;
        f.events += tick.events;
        f.published += tick.published;
        f.failed += usize::from(tick.evaluation_failed);
        f.eval_ms.push(spent.as_secs_f64() * 1000.0);
        eprintln!(
            "  minute {m}: {:.0} ms, {} events so far{}",
            spent.as_secs_f64() * 1000.0,
            f.events,
            if f.failed > 0 {
                format!(", {} evaluations failed", f.failed)
            } else {
                String::new()
            }
        );
    }
    f.open_at_end = store.incidents(true).await.map(|v| v.len()).unwrap_or(0);
    f
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = v.to_vec();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

fn main() {
    let a = args();
    let text = checks_file(a.checks, a.regions);
    let checks = Checks::from_text(
        &text,
        "scale.yaml",
        std::path::Path::new("."),
        atalaya_core::Target::Lambda,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let t0 = DateTime::from_timestamp(Utc::now().timestamp().div_euclid(60) * 60, 0)
        .unwrap_or_default()
        - TimeDelta::minutes(a.warmup + a.minutes + 1);
    let (warm, measured) = (0..a.warmup, a.warmup..a.warmup + a.minutes);
    println!(
        "\n### bench-scale: {} checks x {} regions, {} minutes measured after {} of warm-up\n",
        a.checks, a.regions, a.minutes, a.warmup
    );
    let mut last = String::new();
    for store in &a.stores {
        eprintln!("{store}:");
        match store.as_str() {
            "sqlite" => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                let s = atalaya_store::SqliteStore::open(&dir.path().join("scale.db"))
                    .unwrap_or_else(|e| panic!("{e}"));
                runtime.block_on(drive(&s, &checks, &a, false, t0, warm.clone()));
                let f = runtime.block_on(drive(&s, &checks, &a, false, t0, measured.clone()));
                println!("| store | eval p50 | eval p99 | invocations | events | messages | failed evaluations | open at the end |");
                println!("|---|---|---|---|---|---|---|---|");
                println!(
                    "| SQLite | {:.0} ms | {:.0} ms | {} | {} | {} | {} | {} |",
                    percentile(&f.eval_ms, 50.0),
                    percentile(&f.eval_ms, 99.0),
                    f.invocations,
                    f.events,
                    f.published,
                    f.failed,
                    f.open_at_end
                );
            }
            "moto" => {
                let (s, _prefix) = runtime.block_on(atalaya_tests::moto::store());
                // As the alert function keeps it.
                let s = s.with_partitions(atalaya_store::dynamodb::PARTITIONS);
                runtime.block_on(drive(&s, &checks, &a, true, t0, warm.clone()));
                let warmed = s.stats().snapshot();
                let f = runtime.block_on(drive(&s, &checks, &a, true, t0, measured.clone()));
                // What the measured minutes wrote (after the warm-up's).
                let mut stats = s.stats().snapshot();
                for (table, t) in &mut stats {
                    if let Some(w) = warmed.get(table) {
                        t.items -= w.items;
                        t.bytes -= w.bytes;
                        t.write_units -= w.write_units;
                    }
                }
                let minutes = a.minutes as f64;
                let wru: u64 = stats.values().map(|t| t.write_units).sum();
                let bytes: u64 = stats.values().map(|t| t.bytes).sum();
                let largest = stats
                    .values()
                    .map(|t| t.largest as usize)
                    .max()
                    .unwrap_or(0)
                    .max(s.stats().largest_state_item());
                let state = stats.get(&s.tables().state).copied().unwrap_or_default();
                // Reads: each invocation reads every partition it evaluates (each region's
                // batch and the tick touch them all; strongly consistent, 4 KB units) and
                // queries the pending messages (1 unit).
                let per_item = state
                    .bytes
                    .checked_div(state.items)
                    .unwrap_or(largest as u64);
                let parts = f64::from(s.partitions()) + if s.partitions() > 1 { 1.0 } else { 0.0 };
                let rru = f.invocations as f64 * (parts * (per_item as f64 / 4096.0).ceil() + 1.0);
                let results_bytes = stats.get(&s.tables().results).map_or(0, |t| t.bytes) as f64;
                let executions = f.executions as f64;
                let per_shard = 2_000.0_f64;
                let probe_invocations = (executions / per_shard)
                    .ceil()
                    .max(minutes * a.regions as f64);
                let probe_seconds = (per_shard / IN_FLIGHT).ceil() * TARGET_LATENCY_S;
                let alert_seconds = f.eval_ms.iter().sum::<f64>() / 1000.0;
                let lines: Vec<(&str, f64)> = vec![
                    ("DynamoDB writes", wru as f64 * PER_WRITE_UNIT),
                    ("DynamoDB reads", rru * PER_READ_UNIT),
                    (
                        "DynamoDB storage (results, 30 days)",
                        results_bytes / 1e9 * PER_GB_MONTH,
                    ),
                    (
                        "Lambda requests",
                        (probe_invocations + f.invocations as f64) * PER_REQUEST,
                    ),
                    (
                        "Lambda duration (probe 512 MB modelled, alert 256 MB measured)",
                        (probe_invocations * probe_seconds * PROBE_GB + alert_seconds * ALERT_GB)
                            * PER_GB_SECOND_ARM,
                    ),
                    (
                        "EventBridge Scheduler",
                        (probe_invocations + minutes) * PER_SCHEDULE,
                    ),
                    (
                        "CloudWatch Logs (1 KB per invocation)",
                        (probe_invocations + f.invocations as f64) * 1024.0 / 1e9 * PER_LOG_GB,
                    ),
                    ("SNS publishes", f.published as f64 * PER_PUBLISH),
                ];
                let mut total = 0.0;
                println!("| store | eval p50 | eval p99 | bytes written per minute | write units per minute | largest item | failed evaluations | open at the end |");
                println!("|---|---|---|---|---|---|---|---|");
                println!(
                    "| DynamoDB (moto) | {:.0} ms | {:.0} ms | {:.1} MB | {:.0} | {:.1} KB | {} | {} |",
                    percentile(&f.eval_ms, 50.0),
                    percentile(&f.eval_ms, 99.0),
                    bytes as f64 / minutes / 1e6,
                    wru as f64 / minutes,
                    largest as f64 / 1024.0,
                    f.failed,
                    f.open_at_end
                );
                println!("\n| cost per million check executions | |\n|---|---|");
                for (what, usd) in &lines {
                    let per_million = usd / executions * 1e6;
                    total += per_million;
                    println!("| {what} | ${per_million:.4} |");
                }
                println!("| total | ${total:.4} |\n");
                for (table, t) in &stats {
                    println!(
                        "{table}: {} items, {:.1} MB, {} write units, largest {:.1} KB",
                        t.items,
                        t.bytes as f64 / 1e6,
                        t.write_units,
                        t.largest as f64 / 1024.0
                    );
                }
                last = format!(
                    "bench-scale: {} checks x {} regions: eval p99 {:.0} ms, largest item {:.0} KB, ${:.3} per million",
                    a.checks,
                    a.regions,
                    percentile(&f.eval_ms, 99.0),
                    largest as f64 / 1024.0,
                    total
                );
            }
            other => panic!("--store: sqlite, moto or both, not {other}"),
        }
    }
    if a.rollup {
        let line = rollup::run(&a, &checks, &runtime);
        last = if last.is_empty() {
            line
        } else {
            format!("{last}\n{line}")
        };
    }
    if !last.is_empty() {
        println!("{last}");
    }
}
