//! `--rollup`: the hourly rollup job over one region's hour at scale. An hour of the deployment's
//! results in one region (the five minutes before it too) goes into the results table on moto as
//! the probes write it, a minute at a time; then the rollup function's handler works it out.
//! Reported: the job's wall and CPU time, its peak memory (the process's high-water mark, reset
//! just before the job), results read, items and bytes written, the largest part, and what it
//! adds per million check executions (writes, reads of the results, Lambda time at 1 GB).

use super::world::results;
use super::{Args, PER_GB_SECOND_ARM, PER_READ_UNIT, PER_REQUEST, PER_WRITE_UNIT};
use atalaya_app::Checks;
use atalaya_store::Store;
use chrono::{DurationRound, TimeDelta, Utc};
use std::time::{Duration, Instant};

const ROLLUP_GB: f64 = 1.0;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (fields 14 and 15 of /proc/self/stat).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

// The job's run and its report, told whole (as before the scale bench was split up).
#[allow(clippy::too_many_lines)]
pub fn run(a: &Args, checks: &Checks, runtime: &tokio::runtime::Runtime) -> String {
    let (s, _prefix) = runtime.block_on(atalaya_tests::moto::store());
    let hour = (Utc::now() - TimeDelta::hours(2))
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or_default();
    // `results` numbers minutes from its t0, outages counted after the warm-up: the hour's
    // minutes are past it, as a deployment's would be.
    let t0 = hour - TimeDelta::minutes(a.warmup + 5);
    let mut written = 0;
    let mut in_hour = 0;
    let loading = Instant::now();
    for m in 0..65 + a.warmup {
        let batch = results(checks, 0, m, t0, a);
        if m < a.warmup {
            continue;
        }
        if m >= a.warmup + 5 {
            in_hour += batch.len();
        }
        written += runtime
            .block_on(s.put_results(&batch, Instant::now() + Duration::from_secs(300)))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!(
        "rollup: {written} results written in {:.0} s",
        loading.elapsed().as_secs_f64()
    );
    // Everything else of the day is done: a deployment in its steady state has this one
    // region's hour to do (each region's is the same work).
    use atalaya_store::HourlyRollups;
    for h in atalaya_app::rollup_job::window(hour + TimeDelta::hours(1) + TimeDelta::minutes(7)) {
        for region in atalaya_app::rollup_job::regions(&checks.config) {
            if (h, region.as_str()) != (hour, super::REGIONS[0]) {
                runtime
                    .block_on(s.write_region_hour(&region, h, &Default::default()))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    let before = s.stats().snapshot();
    // Reset the high-water mark (Linux: 5 > clear_refs), so the peak is the job's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let now = hour + TimeDelta::hours(1) + TimeDelta::minutes(7);
    let out = runtime
        .block_on(atalaya_rollup_fn::handle(
            &s,
            &checks.config,
            now,
            Instant::now() + Duration::from_secs(600),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let peak = peak_mb();
    let mut wru = 0;
    let mut bytes = 0;
    for (table, t) in s.stats().snapshot() {
        let b = before.get(&table).copied().unwrap_or_default();
        wru += t.write_units - b.write_units;
        bytes += t.bytes - b.bytes;
    }
    // Reads: the results items of the hour and the lookback, eventually consistent (half a
    // unit per 4 KB); what was written for them is what is read back.
    let results_bytes = before.get(&s.tables().results).map_or(0, |t| t.bytes) as f64;
    let rru = (results_bytes / 4096.0).ceil() * 0.5;
    // Per million executions: one region's hour of checks (the job runs per region).
    let executions = in_hour as f64;
    let lines = [
        (
            "DynamoDB writes (parts and progress)",
            wru as f64 * PER_WRITE_UNIT,
        ),
        ("DynamoDB reads (the hour's results)", rru * PER_READ_UNIT),
        (
            "Lambda (1 GB; wall time on moto, an upper bound)",
            wall * ROLLUP_GB * PER_GB_SECOND_ARM + 6.0 * PER_REQUEST,
        ),
    ];
    println!(
        "\n### rollup job: one region's hour, {} checks\n",
        checks.config.checks.len()
    );
    println!("| results read | wall | CPU | peak memory | items written | bytes written | write units | largest part | trimmed |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {:.1} s | {:.1} s | {:.0} MB | {} | {:.2} MB | {} | {:.1} KB | {} |",
        out.results,
        wall,
        cpu,
        peak,
        out.items_written,
        bytes as f64 / 1e6,
        wru,
        out.largest_item_part as f64 / 1024.0,
        out.trimmed
    );
    let mut total = 0.0;
    println!("\n| rollup job, cost per million check executions | |\n|---|---|");
    for (what, usd) in lines {
        let per_million = usd / executions.max(1.0) * 1e6;
        total += per_million;
        println!("| {what} | ${per_million:.4} |");
    }
    println!("| total | ${total:.4} |\n");
    format!(
        "bench-scale rollup: {} results in {:.1} s ({:.1} s CPU, {:.0} MB peak), largest part {:.1} KB, ${:.4} per million",
        out.results,
        wall,
        cpu,
        peak,
        out.largest_item_part as f64 / 1024.0,
        total
    )
}
