//! What the scale bench prints: the evaluation's figures per store, the evaluator modelled on
//! AWS, the cost per million check executions, and (`--long`) each window of the long run.

use super::calls::{CALL_P99_MS, FULL_CORE_MB, TRANSACTION_P99_MS};
use super::{percentile, Args, Figures, Minute, ALERT_MB, IN_FLIGHT, PER_GB_MONTH};
use super::{PER_GB_SECOND_ARM, PER_LOG_GB, PER_PUBLISH, PER_READ_UNIT, PER_REQUEST};
use super::{PER_SCHEDULE, PER_WRITE_UNIT, PROBE_GB, TARGET_LATENCY_S};
use atalaya_store::dynamodb::TableWrites;
use atalaya_store::{DynamoStore, Store};
use std::collections::BTreeMap;

/// A minute's evaluation time on Lambda at `mb`, modelled: the evaluator's CPU stretched to the
/// share of a core Lambda gives that memory, plus its chains of DynamoDB calls at DynamoDB's
/// published latency (`calls.rs`). CPU and waiting are added, not overlapped: an upper bound.
fn modelled_ms(m: &Minute, mb: f64) -> f64 {
    m.cpu_ms * (FULL_CORE_MB / mb).max(1.0) + m.dynamodb_ms
}

/// The same with the CPU and the waits overlapped (the partitions in flight compute while
/// others wait): a lower bound.
fn overlapped_ms(m: &Minute, mb: f64) -> f64 {
    (m.cpu_ms * (FULL_CORE_MB / mb).max(1.0)).max(m.dynamodb_ms)
}

/// A figure of each minute, and what it is.
type Row = (&'static str, fn(&Minute) -> f64);

fn p(minutes: &[Minute], f: impl Fn(&Minute) -> f64, q: f64) -> f64 {
    percentile(&minutes.iter().map(f).collect::<Vec<_>>(), q)
}

fn per_invocation(minutes: &[Minute], f: impl Fn(&Minute) -> &[usize]) -> (f64, f64) {
    let all: Vec<f64> = minutes
        .iter()
        .flat_map(|m| f(m).iter().map(|n| *n as f64))
        .collect();
    (percentile(&all, 50.0), percentile(&all, 100.0))
}

fn total(minutes: &[Minute]) -> BTreeMap<String, TableWrites> {
    let mut out: BTreeMap<String, TableWrites> = BTreeMap::new();
    for m in minutes {
        for (table, t) in &m.written {
            let o = out.entry(table.clone()).or_default();
            o.items += t.items;
            o.bytes += t.bytes;
            o.write_units += t.write_units;
            o.largest = o.largest.max(t.largest);
        }
    }
    out
}

pub fn sqlite(f: &Figures) {
    println!("| store | eval p50 | eval p99 | evaluator CPU p99 | invocations | events | messages | failed evaluations | open at the end |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| SQLite | {:.0} ms | {:.0} ms | {:.0} ms | {} | {} | {} | {} | {} |",
        p(&f.minutes, |m| m.wall_ms, 50.0),
        p(&f.minutes, |m| m.wall_ms, 99.0),
        p(&f.minutes, |m| m.cpu_ms, 99.0),
        f.invocations,
        f.events,
        f.published,
        f.failed,
        f.open_at_end
    );
}

/// The evaluator per minute: measured on moto, its own CPU, its DynamoDB calls, and modelled
/// on Lambda at its memory and at a full core.
fn evaluator(f: &Figures) {
    let (calls50, calls_max) = per_invocation(&f.minutes, |m| &m.calls);
    let (chain50, chain_max) = per_invocation(&f.minutes, |m| &m.chain);
    println!("\n| per minute of results (3 invocations) | p50 | p99 |\n|---|---|---|");
    let rows: [Row; 6] = [
        ("wall time on moto (measured)", |m| m.wall_ms),
        ("evaluator CPU (measured, this machine)", |m| m.cpu_ms),
        ("DynamoDB waits, one after another (modelled)", |m| {
            m.dynamodb_ms
        }),
        (
            "on Lambda at 1,769 MB: CPU + waits (modelled, upper bound)",
            |m| modelled_ms(m, ALERT_MB),
        ),
        (
            "on Lambda at 1,769 MB: CPU and waits overlapped (lower bound)",
            |m| overlapped_ms(m, ALERT_MB),
        ),
        ("at 256 MB instead: CPU + waits (modelled)", |m| {
            modelled_ms(m, 256.0)
        }),
    ];
    for (what, g) in &rows {
        println!(
            "| {what} | {:.0} ms | {:.0} ms |",
            p(&f.minutes, g, 50.0),
            p(&f.minutes, g, 99.0)
        );
    }
    println!(
        "\nDynamoDB calls per invocation: {calls50:.0} (p50), {calls_max:.0} at most; one after \
         another: {chain50:.0} (p50), {chain_max:.0} at most ({CALL_P99_MS} ms a call, \
         {TRANSACTION_P99_MS} ms a transaction)."
    );
}

/// Each window of a long run: what it wrote a minute, by kind of item, and its time.
fn windows(a: &Args, s: &DynamoStore, f: &Figures) {
    if a.window >= a.minutes {
        return;
    }
    let tables = s.tables();
    let stamps = format!("{}#stamps", tables.state);
    println!("\n| minutes | partitions | stamps and changed checks | results | all tables | write units | CPU p99 | modelled p99 | wall p99 (moto) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (i, w) in f.minutes.chunks(a.window as usize).enumerate() {
        let t = total(w);
        let n = w.len() as f64;
        let mb = |table: &str| t.get(table).map_or(0.0, |t| t.bytes as f64 / n / 1e6);
        let all: u64 = t.values().map(|t| t.bytes).sum();
        let wru: u64 = t.values().map(|t| t.write_units).sum();
        let from = i as i64 * a.window;
        println!(
            "| {from}–{} | {:.2} MB | {:.3} MB | {:.2} MB | {:.2} MB | {:.0} | {:.0} ms | {:.0} ms | {:.0} ms |",
            from + w.len() as i64,
            mb(&tables.state),
            mb(&stamps),
            mb(&tables.results),
            all as f64 / n / 1e6,
            wru as f64 / n,
            p(w, |m| m.cpu_ms, 99.0),
            p(w, |m| modelled_ms(m, ALERT_MB), 99.0),
            p(w, |m| m.wall_ms, 99.0),
        );
    }
}

/// The cost lines per million check executions.
fn cost(
    a: &Args,
    s: &DynamoStore,
    f: &Figures,
    stats: &BTreeMap<String, TableWrites>,
) -> Vec<(&'static str, f64)> {
    let minutes = f.minutes.len() as f64;
    let wru: u64 = stats.values().map(|t| t.write_units).sum();
    let state = stats.get(&s.tables().state).copied().unwrap_or_default();
    // Reads: each invocation reads every partition it evaluates (each region's batch and the
    // tick touch them all; strongly consistent, 4 KB units) and queries the pending messages.
    let per_item = state
        .bytes
        .checked_div(state.items)
        .unwrap_or(state.largest);
    let parts = f64::from(s.partitions()) + if s.partitions() > 1 { 1.0 } else { 0.0 };
    let rru = f.invocations as f64 * (parts * (per_item as f64 / 4096.0).ceil() + 1.0);
    let results_bytes = stats.get(&s.tables().results).map_or(0, |t| t.bytes) as f64;
    let executions = f.executions as f64;
    let per_shard = 2_000.0_f64;
    let probe_invocations = (executions / per_shard)
        .ceil()
        .max(minutes * a.regions as f64);
    let probe_seconds = (per_shard / IN_FLIGHT).ceil() * TARGET_LATENCY_S;
    let alert_seconds: f64 = f
        .minutes
        .iter()
        .map(|m| modelled_ms(m, ALERT_MB))
        .sum::<f64>()
        / 1000.0;
    vec![
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
            "Lambda duration (probe 512 MB, alert 1,769 MB, both modelled)",
            (probe_invocations * probe_seconds * PROBE_GB + alert_seconds * ALERT_MB / 1024.0)
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
    ]
}

/// The figures of a run on moto; returns the bench's last line.
pub fn moto(a: &Args, s: &DynamoStore, f: &Figures) -> String {
    let stats = total(&f.minutes);
    let minutes = f.minutes.len() as f64;
    let wru: u64 = stats.values().map(|t| t.write_units).sum();
    let bytes: u64 = stats.values().map(|t| t.bytes).sum();
    let largest = stats
        .values()
        .map(|t| t.largest as usize)
        .max()
        .unwrap_or(0)
        .max(s.stats().largest_state_item());
    println!("| store | eval p50 | eval p99 | bytes written per minute | write units per minute | largest item | failed evaluations | open at the end |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| DynamoDB (moto) | {:.0} ms | {:.0} ms | {:.1} MB | {:.0} | {:.1} KB | {} | {} |",
        p(&f.minutes, |m| m.wall_ms, 50.0),
        p(&f.minutes, |m| m.wall_ms, 99.0),
        bytes as f64 / minutes / 1e6,
        wru as f64 / minutes,
        largest as f64 / 1024.0,
        f.failed,
        f.open_at_end
    );
    evaluator(f);
    windows(a, s, f);
    println!("\n| cost per million check executions | |\n|---|---|");
    let mut total_usd = 0.0;
    for (what, usd) in cost(a, s, f, &stats) {
        let per_million = usd / f.executions as f64 * 1e6;
        total_usd += per_million;
        println!("| {what} | ${per_million:.4} |");
    }
    println!("| total | ${total_usd:.4} |\n");
    for (table, t) in &stats {
        println!(
            "{table}: {} items, {:.1} MB, {} write units, largest {:.1} KB",
            t.items,
            t.bytes as f64 / 1e6,
            t.write_units,
            t.largest as f64 / 1024.0
        );
    }
    let last_window = f.minutes.len().saturating_sub(a.window as usize);
    let steady: u64 = total(&f.minutes[last_window..])
        .values()
        .map(|t| t.bytes)
        .sum();
    format!(
        "bench-scale: {} checks x {} regions: eval p99 {:.0} ms on moto, modelled {:.0} ms on Lambda, CPU {:.0} ms; {:.1} MB a minute (last {} minutes); largest item {:.0} KB, ${:.3} per million",
        a.checks,
        a.regions,
        p(&f.minutes, |m| m.wall_ms, 99.0),
        p(&f.minutes, |m| modelled_ms(m, ALERT_MB), 99.0),
        p(&f.minutes, |m| m.cpu_ms, 99.0),
        steady as f64 / (f.minutes.len() - last_window).max(1) as f64 / 1e6,
        f.minutes.len() - last_window,
        largest as f64 / 1024.0,
        total_usd
    )
}
