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

//!
//! `--long` runs 120 measured minutes (a deployment's steady state: the scenario's outages in
//! the first minutes, then only noise and the flapping check, long after every flap history
//! has filled) and reports each 20-minute window apart. `--rollup` also measures the hourly
//! rollup job over one region's hour (`rollup.rs`).

/// As the alert function's (functions/alert/src/main.rs).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod calls;
mod report;
mod rollup;
mod world;

use atalaya_alert_fn::{handle, Deps};
use atalaya_app::Checks;
use atalaya_core::ProbeResult;
use atalaya_notify::MemoryChannel;
use atalaya_store::dynamodb::TableWrites;
use atalaya_store::Store;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use world::results;

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
/// The alert function's memory (infra/sam/home.yaml, infra/terraform/main.tf): one vCPU.
const ALERT_MB: f64 = 1769.0;

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
    /// Report the measured minutes in windows of this many (`--long`: 20).
    window: i64,
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
    let long = all.iter().any(|a| a == "--long");
    let store = get("--store").unwrap_or_else(|| "both".into());
    let minutes = num("--minutes", if long { 120 } else { 8 }) as i64;
    Args {
        checks: num("--checks", 20_000),
        regions: num("--regions", 5).clamp(1, REGIONS.len()),
        warmup: num("--warmup", 21) as i64,
        minutes,
        noise: num("--noise", 30) as u64,
        calm: all.iter().any(|a| a == "--calm"),
        window: if long { 20 } else { minutes.max(1) },
        rollup: all.iter().any(|a| a == "--rollup"),
        stores: match store.as_str() {
            "both" => vec!["sqlite".into(), "moto".into()],
            "none" => Vec::new(),
            other => vec![other.into()],
        },
    }
}

/// One simulated minute, measured.
#[derive(Clone, Debug, Default)]
pub struct Minute {
    /// Wall time of the minute's invocations, summed (on moto: mostly moto's).
    pub wall_ms: f64,
    /// The evaluator's own CPU time in them (this process, all threads).
    pub cpu_ms: f64,
    /// DynamoDB calls per invocation, and how many of them one after another.
    pub calls: Vec<usize>,
    pub chain: Vec<usize>,
    /// The longest chain's modelled DynamoDB latency, summed over the invocations.
    pub dynamodb_ms: f64,
    /// What the store wrote in this minute, per table (DynamoDB).
    pub written: BTreeMap<String, TableWrites>,
}

pub struct Figures {
    pub minutes: Vec<Minute>,
    pub invocations: usize,
    pub executions: usize,
    pub events: usize,
    pub published: usize,
    pub failed: usize,
    pub open_at_end: usize,
}

/// How a run looks at its store: the DynamoDB calls it makes, what it has written so far per
/// table (nothing for SQLite), and whether the probes' results are written to it too.
#[derive(Clone, Copy)]
struct Watch<'a> {
    calls: &'a calls::Calls,
    written: &'a dyn Fn() -> BTreeMap<String, TableWrites>,
    put: bool,
}

fn minus(
    now: &BTreeMap<String, TableWrites>,
    before: &BTreeMap<String, TableWrites>,
) -> BTreeMap<String, TableWrites> {
    let mut out = now.clone();
    for (table, t) in &mut out {
        if let Some(b) = before.get(table) {
            t.items -= b.items;
            t.bytes -= b.bytes;
            t.write_units -= b.write_units;
        }
    }
    out
}

/// The results the regions send in minute `m`, in the two stream batches the alert function
/// gets: the probes start at the top of the minute and the stream's 20 s batching window hands
/// their results over in about two batches.
async fn send<S: Store>(
    store: &S,
    checks: &Checks,
    a: &Args,
    put: bool,
    t0: DateTime<Utc>,
    m: i64,
    f: &mut Figures,
) -> [Vec<ProbeResult>; 2] {
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
    let (early, late) = minute_results.into_iter().partition(|r| r.at < split);
    [early, late]
}

async fn drive<S: Store + atalaya_store::Rollups>(
    store: &S,
    checks: &Checks,
    a: &Args,
    watch: Watch<'_>,
    t0: DateTime<Utc>,
    minutes: std::ops::Range<i64>,
) -> Figures {
    let Watch {
        calls,
        written,
        put,
    } = watch;
    let channel = MemoryChannel::new("memory");
    let deps = Deps {
        checks,
        store,
        channels: &[&channel],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let mut f = Figures {
        minutes: Vec::new(),
        invocations: 0,
        executions: 0,
        events: 0,
        published: 0,
        failed: 0,
        open_at_end: 0,
    };
    for m in minutes {
        let before = written();
        let now = t0 + TimeDelta::minutes(m) + TimeDelta::seconds(40);
        let [early, late] = send(store, checks, a, put, t0, m, &mut f).await;
        calls.take();
        let mut minute = Minute::default();
        for (batch, at) in [
            (early, now),
            (late, now),
            (Vec::new(), now + TimeDelta::seconds(15)),
        ] {
            let (cpu, started) = (calls::cpu_seconds(), Instant::now());
            let out = handle(&deps, &batch, None, at).await;
            minute.wall_ms += started.elapsed().as_secs_f64() * 1000.0;
            minute.cpu_ms += (calls::cpu_seconds() - cpu) * 1000.0;
            let made = calls.take();
            let (steps, ms, ops) = calls::chain(&made);
            if steps >= 20 {
                eprintln!("  a chain of {steps} calls: {}", calls::runs(&ops));
            }
            minute.calls.push(made.len());
            minute.chain.push(steps);
            minute.dynamodb_ms += ms;
            f.invocations += 1;
            f.events += out.events;
            f.published += out.published;
            f.failed += usize::from(out.evaluation_failed);
        }
        minute.written = minus(&written(), &before);
        eprintln!(
            "  minute {m}: {:.0} ms ({:.0} ms CPU), {} events so far{}",
            minute.wall_ms,
            minute.cpu_ms,
            f.events,
            if f.failed > 0 {
                format!(", {} evaluations failed", f.failed)
            } else {
                String::new()
            }
        );
        f.minutes.push(minute);
    }
    f.open_at_end = store.incidents(true).await.map(|v| v.len()).unwrap_or(0);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for m in channel.sent() {
        *kinds
            .entry(format!(
                "{:?} {:?}",
                m.attributes.audience, m.attributes.event
            ))
            .or_default() += 1;
    }
    eprintln!("  messages sent: {kinds:?}");
    f
}

pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = v.to_vec();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

fn sqlite(a: &Args, checks: &Checks, runtime: &tokio::runtime::Runtime, t0: DateTime<Utc>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = atalaya_store::SqliteStore::open(&dir.path().join("scale.db"))
        .unwrap_or_else(|e| panic!("{e}"));
    let watch = Watch {
        calls: &calls::Calls::default(),
        written: &BTreeMap::new,
        put: false,
    };
    runtime.block_on(drive(&s, checks, a, watch, t0, 0..a.warmup));
    let f = runtime.block_on(drive(
        &s,
        checks,
        a,
        watch,
        t0,
        a.warmup..a.warmup + a.minutes,
    ));
    report::sqlite(&f);
}

fn moto(a: &Args, checks: &Checks, runtime: &tokio::runtime::Runtime, t0: DateTime<Utc>) -> String {
    let counted = calls::Calls::default();
    let s = runtime.block_on(async {
        let sdk = atalaya_tests::moto::sdk_config().await;
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(counted.clone())
                .build(),
        );
        let s = atalaya_store::DynamoStore::from_client(
            client,
            atalaya_store::Tables::with_prefix(&atalaya_tests::moto::unique_prefix()),
            Duration::from_secs(30 * 86_400),
        );
        s.create_tables().await.unwrap_or_else(|e| panic!("{e}"));
        // As the alert function keeps it.
        s.with_partitions(atalaya_store::dynamodb::PARTITIONS)
    });
    let watch = Watch {
        calls: &counted,
        written: &|| s.stats().snapshot(),
        put: true,
    };
    runtime.block_on(drive(&s, checks, a, watch, t0, 0..a.warmup));
    let f = runtime.block_on(drive(
        &s,
        checks,
        a,
        watch,
        t0,
        a.warmup..a.warmup + a.minutes,
    ));
    report::moto(a, &s, &f)
}

fn main() {
    let a = args();
    let text = world::checks_file(a.checks, a.regions);
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
    println!(
        "\n### bench-scale: {} checks x {} regions, {} minutes measured after {} of warm-up\n",
        a.checks, a.regions, a.minutes, a.warmup
    );
    let mut last = String::new();
    for store in &a.stores {
        eprintln!("{store}:");
        match store.as_str() {
            "sqlite" => sqlite(&a, &checks, &runtime, t0),
            "moto" => last = moto(&a, &checks, &runtime, t0),
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
