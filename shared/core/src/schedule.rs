//! When a check runs on Lambda: the probe function is invoked once a minute per region (and
//! shard); these rules pick the checks due in that minute. Pure, so the rules are tested without
//! a scheduler.

use crate::config::{Check, Config};
use chrono::{DateTime, Utc};

/// FNV-1a: a hash that stays the same across builds and machines (std's does not). Used for
/// per-check offsets, sharding, and content keys.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Is `check` due in the minute starting at `minute` (epoch minutes)? A check every N minutes
/// runs when `(minute + offset) % N == 0`, with a per-check offset so that checks with the same
/// interval spread over the minutes instead of all running together.
pub fn due(check: &Check, minute: i64) -> bool {
    last_due(&check.id, check.interval.as_secs(), minute) == minute
}

/// The latest minute at or before `minute` (epoch minutes) in which the check `id`, run every
/// `interval_secs`, is due (the rule of [`due`]).
pub fn last_due(id: &str, interval_secs: u64, minute: i64) -> i64 {
    let n = (interval_secs / 60).max(1) as i64;
    let offset = (stable_hash(id.as_bytes()) % n as u64) as i64;
    minute - (minute + offset).rem_euclid(n)
}

/// The sub-minute intervals Lambda runs (within one invocation a minute), in seconds.
pub const SUB_MINUTE: [u64; 4] = [10, 15, 20, 30];

/// The least time a result counts as fresh on Lambda: a sub-minute check's results reach the
/// evaluator in the stream's batches (up to 20 s apart) and its ticks (a minute apart).
pub const LAMBDA_STALE_FLOOR: std::time::Duration = std::time::Duration::from_secs(90);

/// When `check` runs in `minute` (epoch minutes), as seconds into it: once at 0 when it is due
/// (every minute or every few); a sub-minute check every interval from a stable phase below
/// it (so that a thousand 10 s checks do not all start on the same second).
pub fn runs_in_minute(check: &Check, minute: i64) -> Vec<u32> {
    let every = check.interval.as_secs();
    if every >= 60 || every == 0 {
        return if due(check, minute) {
            vec![0]
        } else {
            Vec::new()
        };
    }
    let phase = stable_hash(check.id.as_bytes()) % every;
    (0..60 / every)
        .map(|k| (phase + k * every) as u32)
        .collect()
}

/// Does `check` belong to `shard` of `shards`?
pub fn in_shard(check: &Check, shard: u32, shards: u32) -> bool {
    shards <= 1 || stable_hash(check.id.as_bytes()) % u64::from(shards) == u64::from(shard)
}

/// The checks one invocation runs: those of `region` and its shard that are due in the minute
/// of `now`.
pub fn selection(
    config: &Config,
    region: &str,
    shard: u32,
    shards: u32,
    now: DateTime<Utc>,
) -> Vec<Check> {
    let minute = now.timestamp().div_euclid(60);
    config
        .checks
        .iter()
        .filter(|c| {
            c.regions.iter().any(|r| r == region) && due(c, minute) && in_shard(c, shard, shards)
        })
        .cloned()
        .collect()
}

/// Checks one probe invocation runs in a minute at most, as the stacks size it: 2,000 checks
/// with 64 in flight leave room in 55 s of the function's 95 (the rest is for sub-minute
/// checks' later rounds) for targets slow to answer
/// (docs/performance.md).
pub const CHECKS_PER_SHARD: usize = 2_000;

/// How one region's probing is sized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionPlan {
    pub region: String,
    /// Checks that run in this region.
    pub checks: usize,
    /// Checks due in the busiest minute (the per-check offsets spread longer intervals).
    pub busiest_minute: usize,
    /// Schedules (shards) needed so that no invocation runs more than [`CHECKS_PER_SHARD`].
    pub shards: u32,
}

/// Sizes the probe side of every configured probe region: the busiest minute of a day (every interval
/// divides a day) split into shards of at most [`CHECKS_PER_SHARD`] checks.
pub fn plan(config: &Config) -> Vec<RegionPlan> {
    const DAY: usize = 1440;
    config
        .settings
        .regions
        .iter()
        // Heartbeats are judged by the ping function, not probed.
        .filter(|r| *r != crate::kinds::heartbeat::REGION)
        .map(|region| {
            let mut per_minute = vec![0usize; DAY];
            let mut checks = 0;
            for c in config.checks.iter().filter(|c| c.regions.contains(region)) {
                checks += 1;
                let n = ((c.interval.as_secs() / 60).max(1) as usize).min(DAY);
                let offset = (stable_hash(c.id.as_bytes()) % n as u64) as usize;
                // due when (minute + offset) % n == 0
                let mut m = (n - offset) % n;
                while m < DAY {
                    per_minute[m] += 1;
                    m += n;
                }
            }
            let busiest_minute = per_minute.iter().copied().max().unwrap_or(0);
            RegionPlan {
                region: region.clone(),
                checks,
                busiest_minute,
                shards: busiest_minute.div_ceil(CHECKS_PER_SHARD).max(1) as u32,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut checks = String::new();
        for i in 0..40 {
            checks.push_str(&format!("  - {{ id: c{i}, service: s, interval: {}m, tcp: {{ host: db.example, port: 5432 }} }}\n", 1 + i % 5));
        }
        crate::load_str(
            &format!("settings:\n  regions: [eu-west-1, us-east-1]\ncustomers:\n  - {{ id: a, name: A }}\nservices:\n  - {{ id: s, customer: a, name: S }}\nchecks:\n{checks}"),
            "f.yaml",
            crate::Target::Lambda,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_plan_counts_the_busiest_minute_as_the_scheduler_runs_it() {
        let cfg = config();
        let plan = plan(&cfg);
        assert_eq!(plan.len(), 2);
        for p in &plan {
            assert_eq!(p.checks, 40);
            let busiest = (0..1440)
                .map(|m| cfg.checks.iter().filter(|c| due(c, 29_000_000 + m)).count())
                .max()
                .unwrap_or(0);
            // Any 1,440 consecutive minutes hold every interval's pattern whole (each interval
            // divides a day), so the busiest of them is the busiest minute there is.
            assert_eq!(p.busiest_minute, busiest, "{}", p.region);
            assert_eq!(p.shards, 1);
        }
    }

    #[test]
    fn every_check_runs_once_per_interval() {
        let cfg = config();
        for c in &cfg.checks {
            let n = c.interval.as_secs() as i64 / 60;
            let runs = (0..n * 6).filter(|m| due(c, 1_000 + m)).count() as i64;
            assert_eq!(runs, 6, "{} every {n}m", c.id);
        }
    }

    #[test]
    fn shards_partition_the_checks() {
        let cfg = config();
        let now: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap_or_default();
        let ids = |v: Vec<Check>| {
            let mut ids: Vec<String> = v.into_iter().map(|c| c.id).collect();
            ids.sort();
            ids
        };
        let all = ids(selection(&cfg, "eu-west-1", 0, 1, now));
        let union = ids((0..3)
            .flat_map(|s| selection(&cfg, "eu-west-1", s, 3, now))
            .collect());
        assert_eq!(union, all);
        assert!(!all.is_empty());
    }

    #[test]
    fn the_hash_is_fnv_1a() {
        // Published FNV-1a 64-bit test vectors.
        assert_eq!(stable_hash(b""), 0xcbf29ce484222325);
        assert_eq!(stable_hash(b"a"), 0xaf63dc4c8601ec8c);
    }
}
