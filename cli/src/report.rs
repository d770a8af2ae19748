//! `atalaya report --month YYYY-MM`: uptime per service for a month, from the local runner's
//! rollups, under the accounting policy of the checks file (`settings.sla`), which the report
//! states; the incidents of the month with their durations; the error budget used; latency
//! percentiles per phase (from the hours' sketches). Months are UTC months.

use crate::store::{open, runtime, Opened, StoreArgs};
use anyhow::Context;
use atalaya_core::rollup::{sum, Policy, UnknownAs};
use atalaya_store::{Rollups, Store};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::Serialize;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    /// For the customer: their language and time zone (with --customer), styles inline.
    Html,
}

#[derive(Serialize)]
struct ServiceReport {
    customer: String,
    service: String,
    name: String,
    uptime_percent: Option<f64>,
    target_percent: f64,
    error_budget_used: Option<f64>,
    up_s: f64,
    degraded_s: f64,
    down_s: f64,
    unknown_s: f64,
    maintenance_s: f64,
    /// Of every real result of the month, in milliseconds (p50, p95, p99), by phase.
    latency: std::collections::BTreeMap<String, atalaya_core::rollup::Percentiles>,
    incidents: Vec<IncidentLine>,
    /// Each check in each region that reported, as that region saw it (down there: failing
    /// past its retries; the service's down needs the quorum).
    checks: Vec<CheckReport>,
}

#[derive(Serialize)]
struct CheckReport {
    check: String,
    region: String,
    uptime_percent: Option<f64>,
    down_s: f64,
    degraded_s: f64,
    unknown_s: f64,
    latency: Option<atalaya_core::rollup::Percentiles>,
}

#[derive(Serialize)]
struct IncidentLine {
    id: String,
    started_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    duration_s: Option<i64>,
}

#[derive(Serialize)]
struct Report {
    month: String,
    /// How the figures were counted, in words.
    accounting: String,
    policy: Policy,
    services: Vec<ServiceReport>,
}

/// The month `YYYY-MM` as [start, end).
fn month(text: &str) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let bad = || anyhow::anyhow!("--month {text:?}: give a month as YYYY-MM, e.g. 2026-11");
    let first = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").map_err(|_| bad())?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(bad)?;
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    Ok((at(first), at(next)))
}

/// The policy in words, as the report states it.
pub fn accounting(p: &Policy) -> String {
    format!(
        "Uptime = 1 - downtime / counted time, in UTC months, from what the monitor saw each evaluation. Down counts only when the quorum of regions confirmed it; degraded time counts as {:.0} % downtime; maintenance windows are {}; time the monitor could not see is {}. Target {} %.",
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

pub fn report(
    args: &StoreArgs,
    month_text: &str,
    customer: Option<&str>,
    service: Option<&str>,
    format: ReportFormat,
) -> anyhow::Result<()> {
    let (from, to) = month(month_text)?;
    runtime()?.block_on(async {
        let opened = open(args).await?;
        let text = match &opened {
            Opened::Sqlite { store, checks, .. } => {
                let q = Query { month_text, from, to, customer, service, format };
                write(store, &checks.config, &q).await?
            }
            Opened::Dynamo { store, checks } => {
                let checks = checks.as_ref().ok_or_else(|| anyhow::anyhow!(
                    "a report of the functions' rollups needs the checks file they run with: pass --checks FILE (or set ATALAYA_CHECKS)"
                ))?;
                let q = Query { month_text, from, to, customer, service, format };
                write(store, &checks.config, &q).await?
            }
        };
        crate::emit(&text)
    })
}

struct Query<'a> {
    month_text: &'a str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    customer: Option<&'a str>,
    service: Option<&'a str>,
    format: ReportFormat,
}

/// The report from any store's rollups: the services' hours, each check's per region and the
/// latency sketches (kept as it goes by the local runner, by the hourly job on AWS).
async fn write<S: Store + Rollups>(
    store: &S,
    config: &atalaya_core::Config,
    q: &Query<'_>,
) -> anyhow::Result<String> {
    let Query {
        month_text,
        from,
        to,
        customer,
        service,
        format,
    } = *q;
    if let Some(c) = customer {
        config
            .customer(c)
            .with_context(|| format!("no customer {c:?} in the checks file"))?;
    }
    if let Some(s) = service {
        config
            .service(s)
            .with_context(|| format!("no service {s:?} in the checks file"))?;
    }
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
                    duration_s: i.resolved_at.map(|r| (r - i.started_at).num_seconds()),
                })
                .collect(),
            checks,
        });
    }
    let r = Report {
        month: month_text.to_string(),
        accounting: accounting(&policy),
        policy,
        services,
    };
    let text = match format {
        ReportFormat::Html => html(store, config, customer, &r, &incidents, from).await?,
        ReportFormat::Json => format!("{}\n", serde_json::to_string_pretty(&r)?),
        ReportFormat::Csv => csv(&r)?,
        ReportFormat::Table => table(&r),
    };
    Ok(text)
}

/// The customer's report: services by their names, incidents by what their customers were
/// told.
async fn html<S: Store>(
    store: &S,
    config: &atalaya_core::Config,
    customer: Option<&str>,
    r: &Report,
    incidents: &[atalaya_core::evaluate::Incident],
    from: DateTime<Utc>,
) -> anyhow::Result<String> {
    use atalaya_core::evaluate::Audience;
    use atalaya_status::report::{IncidentMonth, ServiceMonth};
    let customer = customer.and_then(|c| config.customer(c));
    let language = customer.map_or(atalaya_core::config::Language::En, |c| c.language);
    let messages = atalaya_app::status_site::customer_messages(store, incidents).await?;
    let ms = |s: f64| (s * 1000.0).round() as u64;
    let services: Vec<ServiceMonth> = r
        .services
        .iter()
        .map(|s| ServiceMonth {
            name: s.name.clone(),
            millis: atalaya_core::rollup::Millis {
                up: ms(s.up_s),
                degraded: ms(s.degraded_s),
                down: ms(s.down_s),
                unknown: ms(s.unknown_s),
                maintenance: ms(s.maintenance_s),
            },
            latency: s.latency.get("total").copied(),
            incidents: s
                .incidents
                .iter()
                .map(|line| {
                    let told = incidents
                        .iter()
                        .find(|i| i.id == line.id)
                        .into_iter()
                        .flat_map(|i| &i.timeline)
                        .filter(|e| {
                            e.audience == Audience::Customers
                                && e.service.as_deref() == Some(s.service.as_str())
                        })
                        .find_map(|e| messages.iter().find(|m| m.id == e.event));
                    IncidentMonth {
                        name: told.map_or_else(
                            || s.name.clone(),
                            |m| m.in_language(language.code()).0.to_string(),
                        ),
                        started_at: line.started_at,
                        resolved_at: line.resolved_at,
                    }
                })
                .collect(),
        })
        .collect();
    let month = atalaya_core::message::month_words(from.year(), from.month0() as usize, language);
    atalaya_status::report::html(config, customer, &month, &services)
        .map_err(|e| anyhow::anyhow!(e))
}

fn pct(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| format!("{p:.3} %"))
}

fn table(r: &Report) -> String {
    let mut out = format!("Uptime report, {}\n{}\n\n", r.month, r.accounting);
    out.push_str("SERVICE                         UPTIME      TARGET    BUDGET USED  DOWN      DEGRADED  UNKNOWN   LATENCY p50/p95/p99   INCIDENTS\n");
    let mins = |s: f64| format!("{:.0} min", s / 60.0);
    for s in &r.services {
        out.push_str(&format!(
            "{:<31} {:<11} {:<9} {:<12} {:<9} {:<9} {:<9} {:<21} {}\n",
            format!("{} ({})", s.service, s.name),
            pct(s.uptime_percent),
            format!("{} %", s.target_percent),
            s.error_budget_used
                .map_or("-".into(), |b| format!("{:.0} %", b * 100.0)),
            mins(s.down_s),
            mins(s.degraded_s),
            mins(s.unknown_s),
            s.latency.get("total").map_or("-".into(), |p| format!(
                "{:.0}/{:.0}/{:.0} ms",
                p.p50, p.p95, p.p99
            )),
            s.incidents.len()
        ));
        for c in &s.checks {
            out.push_str(&format!(
                "    {:<27} {:<11} {:<9} {:<12} {:<9} {:<9} {:<9} {}\n",
                format!("{} @ {}", c.check, c.region),
                pct(c.uptime_percent),
                "",
                "",
                mins(c.down_s),
                mins(c.degraded_s),
                mins(c.unknown_s),
                c.latency.map_or("-".into(), |p| format!(
                    "{:.0}/{:.0}/{:.0} ms",
                    p.p50, p.p95, p.p99
                )),
            ));
        }
        for i in &s.incidents {
            out.push_str(&format!(
                "    {}  {} → {}\n",
                i.id,
                i.started_at.format("%Y-%m-%d %H:%M UTC"),
                match (i.resolved_at, i.duration_s) {
                    (Some(r), Some(d)) =>
                        format!("{} ({} min)", r.format("%Y-%m-%d %H:%M UTC"), (d + 59) / 60),
                    _ => "still open".into(),
                }
            ));
        }
    }
    out
}

/// A text cell a spreadsheet will not take for a formula (OWASP's CSV injection advice): one
/// that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn csv(r: &Report) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "month",
        "customer",
        "service",
        "name",
        "uptime_percent",
        "target_percent",
        "error_budget_used",
        "up_s",
        "degraded_s",
        "down_s",
        "unknown_s",
        "maintenance_s",
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "incidents",
    ])?;
    for s in &r.services {
        w.write_record([
            r.month.clone(),
            cell(&s.customer),
            cell(&s.service),
            cell(&s.name),
            s.uptime_percent
                .map_or(String::new(), |p| format!("{p:.6}")),
            s.target_percent.to_string(),
            s.error_budget_used
                .map_or(String::new(), |b| format!("{b:.6}")),
            format!("{:.3}", s.up_s),
            format!("{:.3}", s.degraded_s),
            format!("{:.3}", s.down_s),
            format!("{:.3}", s.unknown_s),
            format!("{:.3}", s.maintenance_s),
            s.latency
                .get("total")
                .map_or(String::new(), |p| format!("{:.1}", p.p50)),
            s.latency
                .get("total")
                .map_or(String::new(), |p| format!("{:.1}", p.p95)),
            s.latency
                .get("total")
                .map_or(String::new(), |p| format!("{:.1}", p.p99)),
            s.incidents.len().to_string(),
        ])?;
    }
    let mut text = String::from_utf8(w.into_inner()?)?;
    text.push_str(&format!("# {}\n", r.accounting));
    Ok(text)
}
