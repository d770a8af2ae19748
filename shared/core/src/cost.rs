//! What a checks file costs on AWS a month, from the cost model in docs/data-model.md and the
//! figures docs/performance.md measured: check runs (checks × regions × how often) at the
//! measured price per million, the probe schedules each region's shards need whatever runs, and
//! the probe functions that sub-minute checks keep running all minute. us-east-1 list prices;
//! an estimate, stated as one.

use crate::config::Config;
use crate::schedule::plan;

/// Minutes in a month of 30 days.
pub const MONTH_MINUTES: f64 = 43_200.0;
/// Dollars per million check runs at scale (`make bench-scale BENCH_LONG=1`, 20,000 checks × 5
/// regions for two hours: evaluations $0.0632, the rollup job $0.0054; the probe side modelled
/// at 250 ms targets).
pub const PER_MILLION_RUNS: f64 = 0.0686;
/// Dollars per probe schedule firing (a region's shard, each minute): EventBridge Scheduler
/// ($1.00 per million), the Lambda request ($0.20 per million), 1 KB of logs ($0.50 per GB).
pub const PER_SCHEDULED_INVOCATION: f64 = 1.0e-6 + 0.2e-6 + 0.5e-6;
/// Dollars a probe invocation costs for staying up the whole minute for sub-minute checks,
/// beyond the 8 s the model bills a shard of minute checks: 52 s at 512 MB on arm64.
pub const PER_MINUTE_KEPT_RUNNING: f64 = 52.0 * 0.5 * 0.000_013_333_4;

/// Dollars a custom CloudWatch metric (one name and dimension value) costs a month.
pub const PER_METRIC: f64 = 0.30;
/// Dollars a standard CloudWatch alarm costs a month.
pub const PER_ALARM: f64 = 0.10;
/// Dollars a customer-managed KMS key costs a month.
pub const PER_KMS_KEY: f64 = 1.00;
/// The stacks' custom metrics (EMF; only what an alarm watches, `atalaya_aws::METRICS`): the
/// alert function's 7 by Function and the rollup job's 1; per probe region the probe's
/// `ChecksFileRejected` by Region and the alert function's `ResultsReceived` of it; the ping
/// function's 2 with heartbeats; `ChannelFailures` per kind of on-call channel.
const HOME_METRICS: u32 = 7 + 1;
const REGION_METRICS: u32 = 1 + 1;
const HEARTBEAT_METRICS: u32 = 2;
/// The stacks' alarms: the home stack's 23 (the five channel kinds' among them; 6 more with
/// customer mail), and per probe region its own 4 and the home stack's
/// `results-missing-<region>`. (`infra/check-consistency.py` keeps these and the keys true.)
const HOME_ALARMS: u32 = 23;
const MAIL_ALARMS: u32 = 6;
const REGION_ALARMS: u32 = 4 + 1;
/// KMS keys: the home stack's topics key, and each probe region's alarms topic key.
const HOME_KMS_KEYS: u32 = 1;

/// What the stacks cost a month whatever runs: metrics, alarms, keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Floor {
    pub metrics: u32,
    pub alarms: u32,
    pub kms_keys: u32,
}

impl Floor {
    pub fn metrics_usd(&self) -> f64 {
        f64::from(self.metrics) * PER_METRIC
    }
    pub fn alarms_usd(&self) -> f64 {
        f64::from(self.alarms) * PER_ALARM
    }
    pub fn kms_usd(&self) -> f64 {
        f64::from(self.kms_keys) * PER_KMS_KEY
    }
    pub fn total(&self) -> f64 {
        self.metrics_usd() + self.alarms_usd() + self.kms_usd()
    }
}

/// The fixed floor of `config`'s deployment: its probe regions, heartbeats, customer mail and
/// on-call channel kinds.
pub fn floor(config: &Config) -> Floor {
    let regions = config
        .settings
        .regions
        .iter()
        .filter(|r| *r != crate::kinds::heartbeat::REGION)
        .count() as u32;
    let heartbeats = config.checks.iter().any(|c| c.kind.is_passive());
    let mail = config.settings.brand.is_some()
        || config
            .customers
            .iter()
            .any(|c| config.brand_for(&c.id).is_some());
    let kinds: std::collections::BTreeSet<&str> = config
        .settings
        .operators
        .on_call
        .channels
        .iter()
        .map(|c| c.kind.kind())
        .collect();
    Floor {
        metrics: HOME_METRICS
            + REGION_METRICS * regions
            + if heartbeats { HEARTBEAT_METRICS } else { 0 }
            + kinds.len() as u32,
        alarms: HOME_ALARMS + if mail { MAIL_ALARMS } else { 0 } + REGION_ALARMS * regions,
        kms_keys: HOME_KMS_KEYS + regions,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Check runs a month, every region counted.
    pub runs: f64,
    pub runs_usd: f64,
    /// Probe schedules (a region's shards).
    pub schedules: u32,
    pub schedules_usd: f64,
    /// Of those, the ones sub-minute checks keep running all minute.
    pub kept_running: u32,
    pub kept_running_usd: f64,
    /// Heartbeats' ping function: the judge's schedule and its call to the endpoint each
    /// minute (pings themselves are a few requests a day per job: left out).
    pub heartbeat_judge_usd: f64,
}

impl Estimate {
    pub fn total(&self) -> f64 {
        self.runs_usd + self.schedules_usd + self.kept_running_usd + self.heartbeat_judge_usd
    }
}

/// Runs a month of one check in one region.
fn runs_a_month(interval_secs: u64) -> f64 {
    let every = interval_secs.max(1) as f64;
    if every < 60.0 {
        MONTH_MINUTES * (60.0 / every).floor()
    } else {
        MONTH_MINUTES / (every / 60.0).floor().max(1.0)
    }
}

pub fn estimate(config: &Config) -> Estimate {
    let runs: f64 = config
        .checks
        .iter()
        .map(|c| runs_a_month(c.interval.as_secs()) * c.regions.len() as f64)
        .sum();
    let plans = plan(config);
    let schedules: u32 = plans.iter().map(|p| p.shards).sum();
    // A region with sub-minute checks keeps each shard holding one running all minute; shards
    // are chosen by a hash, so count the shards that hold any.
    let mut kept_running = 0u32;
    for p in &plans {
        let mut shards = std::collections::BTreeSet::new();
        for c in config
            .checks
            .iter()
            .filter(|c| c.interval.as_secs() < 60 && c.regions.contains(&p.region))
        {
            for s in 0..p.shards {
                if crate::schedule::in_shard(c, s, p.shards) {
                    shards.insert(s);
                }
            }
        }
        kept_running += shards.len() as u32;
    }
    Estimate {
        runs,
        runs_usd: runs / 1e6 * PER_MILLION_RUNS,
        schedules,
        schedules_usd: f64::from(schedules) * MONTH_MINUTES * PER_SCHEDULED_INVOCATION,
        kept_running,
        kept_running_usd: f64::from(kept_running) * MONTH_MINUTES * PER_MINUTE_KEPT_RUNNING,
        heartbeat_judge_usd: if config.checks.iter().any(|c| c.kind.is_passive()) {
            // The judge's scheduled invocation, and the endpoint's invocation it makes through
            // the HTTP API ($0.20 and $1.00 a million).
            MONTH_MINUTES * (PER_SCHEDULED_INVOCATION + 0.2e-6 + 1.0e-6)
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_costs_its_runs_its_schedules_and_its_sub_minute_functions() {
        let config = crate::load_str(
            "settings:
  regions: [eu-west-1, us-east-1]
customers:
  - { id: acme, name: ACME }
services:
  - { id: web, customer: acme, name: Web }
checks:
  - { id: home, service: web, http: { url: 'https://shop.example/' } }
  - { id: slow, service: web, interval: 5m, http: { url: 'https://shop.example/a' } }
  - { id: pay, service: web, interval: 10s, timeout: 5s, regions: [eu-west-1], http: { url: 'https://pay.example/' } }
",
            "checks.yaml",
            crate::Target::Lambda,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = estimate(&config);
        // 43,200 × 2 + 8,640 × 2 + 259,200 × 1.
        assert_eq!(e.runs, 86_400.0 + 17_280.0 + 259_200.0);
        assert!((e.runs_usd - 362_880.0 / 1e6 * 0.0686).abs() < 1e-12);
        assert_eq!((e.schedules, e.kept_running), (2, 1));
        // Two schedules a minute for a month: about 15 cents; one function kept up: ~$15.
        assert!((e.schedules_usd - 2.0 * 43_200.0 * 1.7e-6).abs() < 1e-9);
        assert!((e.kept_running_usd - 14.98).abs() < 0.01, "{e:?}");
        assert_eq!(e.heartbeat_judge_usd, 0.0);
        // The stacks' floor for two regions: 8 + 2 × 2 metrics (only the alarmed ones),
        // 23 + 2 × 5 alarms, 3 keys.
        let f = floor(&config);
        assert_eq!((f.metrics, f.alarms, f.kms_keys), (12, 33, 3));
        assert!(
            (f.total() - (12.0 * 0.30 + 33.0 * 0.10 + 3.0)).abs() < 1e-9,
            "{f:?}"
        );
    }

    #[test]
    fn heartbeats_cost_their_judgements_and_the_judge_not_a_probe_region() {
        let config = crate::load_str(
            "settings:
  regions: [eu-west-1]
  heartbeats: { key: '${ssm:/atalaya/heartbeat/key}' }
customers:
  - { id: acme, name: ACME }
services:
  - { id: jobs, customer: acme, name: Jobs }
checks:
  - { id: backup, service: jobs, heartbeat: { every: 1d } }
",
            "checks.yaml",
            crate::Target::Lambda,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = estimate(&config);
        // Judged once a minute, in one place.
        assert_eq!(e.runs, 43_200.0);
        assert_eq!(plan(&config).len(), 1, "{:?}", plan(&config));
        assert_eq!(e.schedules, 1);
        assert!(
            (e.heartbeat_judge_usd - 43_200.0 * (1.7e-6 + 0.2e-6 + 1.0e-6)).abs() < 1e-9,
            "{e:?}"
        );
    }
}
