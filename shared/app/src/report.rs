//! A month's report from any store (the local runner's SQLite, the functions' DynamoDB): uptime
//! per service under the checks file's accounting policy (`settings.sla`), which it states;
//! each check per region as that region saw it; latency percentiles per phase; the incidents of
//! the month. The services' hours come from the evaluations (`State.rollup`), each check's and
//! the latency from the hourly rollup job, alike on both paths: a month's report is the same
//! whichever path watched it. Hours are counted once they are complete (and, for checks and
//! latency, tallied by the hourly job).

use atalaya_core::rollup::{sum, Policy, UnknownAs};
use atalaya_core::Config;
use atalaya_store::{Rollups, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Serialize)]
pub struct ServiceReport {
    pub customer: String,
    pub service: String,
    pub name: String,
    pub uptime_percent: Option<f64>,
    pub target_percent: f64,
    pub error_budget_used: Option<f64>,
    /// The time the figures are of: the month so far less what the policy leaves out (before
    /// monitoring began, maintenance, time the monitor could not see).
    pub counted_s: f64,
    /// Down, with degraded time weighted as the policy says: what the uptime is made of.
    pub downtime_s: f64,
    pub up_s: f64,
    pub degraded_s: f64,
    pub down_s: f64,
    pub unknown_s: f64,
    pub maintenance_s: f64,
    /// Of every real result of the month, in milliseconds (p50, p95, p99), by phase.
    pub latency: std::collections::BTreeMap<String, atalaya_core::rollup::Percentiles>,
    pub incidents: Vec<IncidentLine>,
    /// Each check in each region that reported, as that region saw it (down there: failing
    /// past its retries; the service's down needs the quorum).
    pub checks: Vec<CheckReport>,
}

#[derive(Serialize)]
pub struct CheckReport {
    pub check: String,
    pub region: String,
    pub uptime_percent: Option<f64>,
    pub down_s: f64,
    pub degraded_s: f64,
    pub unknown_s: f64,
    pub latency: Option<atalaya_core::rollup::Percentiles>,
}

#[derive(Serialize)]
pub struct IncidentLine {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub duration_s: Option<f64>,
}

#[derive(Serialize)]
pub struct Report {
    pub month: String,
    /// How the figures were counted, in words.
    pub accounting: String,
    pub policy: Policy,
    pub services: Vec<ServiceReport>,
}

/// The policy in words, as the report states it: how time is counted, and how a service's
/// figure comes from its checks'.
pub fn accounting(p: &Policy) -> String {
    format!(
        "Uptime = 1 - downtime / counted time, in UTC months, from what the monitor saw each evaluation. Down counts only when the quorum of regions confirmed it; degraded time counts as {:.0} % downtime; maintenance windows are {}; time the monitor could not see is {}. Target {} %. A service is down while any of its checks is down in the quorum of its regions after its retries, unknown while one cannot be seen, degraded while one is degraded or failing unconfirmed; each check's line is one region's view (its first failures count as degraded, and one region alone confirms nothing), so a check and its service can differ.",
        p.partial_weight * 100.0,
        if p.exclude_maintenance { "left out" } else { "counted as downtime" },
        match p.unknown {
            UnknownAs::Exclude => "left out",
            UnknownAs::Up => "counted as up",
            UnknownAs::Down => "counted as down",
        },
        p.target
    )
}

/// Which part of a month to report on.
pub struct Scope<'a> {
    /// `YYYY-MM`, as shown.
    pub month: &'a str,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub customer: Option<&'a str>,
    pub service: Option<&'a str>,
}

/// The report of `scope` from `store`'s rollups and incidents.
pub async fn report<S: Store + Rollups>(
    store: &S,
    config: &Config,
    scope: &Scope<'_>,
) -> Result<Report, StoreError> {
    let Scope {
        month,
        from,
        to,
        customer,
        service,
    } = *scope;
    let policy = config.settings.sla;
    let incidents = store.incidents(false).await?;
    let mut services = Vec::new();
    for svc in config
        .services
        .iter()
        .filter(|s| customer.is_none_or(|c| s.customer == c) && service.is_none_or(|x| s.id == x))
    {
        let m = sum(&store.service_hours(&svc.id, from, to).await?, from, to);
        let u = policy.uptime(&m);
        let secs = |ms: u64| ms as f64 / 1000.0;
        let mut checks = Vec::new();
        // The file's regions, and the local runner's (once, whether the file names it or not).
        let regions: std::collections::BTreeSet<&str> = config
            .settings
            .regions
            .iter()
            .map(String::as_str)
            .chain([atalaya_core::LOCAL_REGION])
            .collect();
        let wanted: Vec<(&str, &str, String)> = config
            .checks
            .iter()
            .filter(|c| c.service == svc.id)
            .flat_map(|c| {
                regions
                    .iter()
                    .map(|r| (c.id.as_str(), *r, atalaya_core::rollup::check_key(&c.id, r)))
            })
            .collect();
        let subjects: Vec<String> = wanted.iter().map(|w| w.2.clone()).collect();
        let detail = store.detail(&svc.id, &subjects, from, to).await?;
        for (check, region, key) in &wanted {
            let Some(m) = detail.checks.get(key) else {
                continue;
            };
            checks.push(CheckReport {
                check: check.to_string(),
                region: region.to_string(),
                uptime_percent: policy.uptime(m).percent,
                down_s: secs(m.down),
                degraded_s: secs(m.degraded),
                unknown_s: secs(m.unknown),
                latency: detail.latency.get(key).and_then(|l| l.percentiles("total")),
            });
        }
        services.push(ServiceReport {
            customer: svc.customer.clone(),
            service: svc.id.clone(),
            name: svc.name.clone(),
            uptime_percent: u.percent,
            target_percent: policy.target,
            error_budget_used: u.budget_used,
            counted_s: secs(u.counted_ms),
            downtime_s: u.downtime_ms / 1000.0,
            up_s: secs(m.up),
            degraded_s: secs(m.degraded),
            down_s: secs(m.down),
            unknown_s: secs(m.unknown),
            maintenance_s: secs(m.maintenance),
            latency: {
                let l = detail.latency.get(&svc.id).cloned().unwrap_or_default();
                ["total", "dns", "connect", "tls", "ttfb"]
                    .into_iter()
                    .filter_map(|p| l.percentiles(p).map(|v| (p.to_string(), v)))
                    .collect()
            },
            incidents: incidents
                .iter()
                .filter(|i| i.services().any(|s| s == &svc.id))
                .filter(|i| i.started_at < to && i.resolved_at.is_none_or(|r| r >= from))
                .map(|i| IncidentLine {
                    id: i.id.clone(),
                    started_at: i.started_at,
                    resolved_at: i.resolved_at,
                    duration_s: i
                        .resolved_at
                        .map(|r| (r - i.started_at).num_milliseconds() as f64 / 1000.0),
                })
                .collect(),
            checks,
        });
    }
    Ok(Report {
        month: month.to_string(),
        accounting: accounting(&policy),
        policy,
        services,
    })
}
