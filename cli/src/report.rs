//! `atalaya report --month YYYY-MM`: uptime per service for a month, from the local runner's
//! rollups, under the accounting policy of the checks file (`settings.sla`), which the report
//! states; the incidents of the month with their durations; the error budget used; latency
//! percentiles per phase (from the hours' sketches). Months are UTC months.

use crate::store::{open, runtime, Opened, StoreArgs};
use anyhow::Context;
use atalaya_app::report::{self, Report, Scope};
use atalaya_store::{Rollups, Store};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    /// For the customer: their language and time zone (with --customer), styles inline.
    Html,
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

/// The report from any store's rollups (`atalaya_app::report`), in `q`'s format.
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
    let scope = Scope {
        month: month_text,
        from,
        to,
        customer,
        service,
    };
    let r = report::report(store, config, &scope).await?;
    let text = match format {
        ReportFormat::Html => {
            let incidents = store.incidents(false).await?;
            html(store, config, customer, &r, &incidents, from).await?
        }
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
            // The customer's report names services in their language.
            name: config
                .service(&s.service)
                .map_or_else(|| s.name.clone(), |v| v.names.get(language).to_string()),
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
                        // The latest words they got: the title follows the incident to its end.
                        .filter_map(|e| messages.iter().find(|m| m.id == e.event))
                        .next_back();
                    IncidentMonth {
                        name: told.map_or_else(
                            || {
                                config.service(&s.service).map_or_else(
                                    || s.name.clone(),
                                    |v| v.names.get(language).to_string(),
                                )
                            },
                            |m| m.in_language(language).0.to_string(),
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

/// Uptime as the customer's report shows it: cut to three places, never rounded up.
fn pct(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| {
        format!("{:.3} %", atalaya_core::rollup::cut(p, 3))
    })
}

/// A stretch of time as every surface says it (`atalaya_core::message::duration_parts`): to
/// the second under a minute, `-` for none.
fn span(seconds: f64) -> String {
    if seconds <= 0.0 {
        return "-".into();
    }
    atalaya_core::message::duration_short(chrono::TimeDelta::milliseconds(
        (seconds * 1000.0).round() as i64,
    ))
}

/// The error budget used: a percentage, or how many times over it went.
fn budget(used: Option<f64>) -> String {
    use atalaya_core::rollup::Budget;
    match used.map(Budget::of) {
        None => "-".into(),
        Some(Budget::Used(p)) => format!("{p:.0} %"),
        Some(Budget::Exceeded(times)) => format!("exceeded {times}"),
    }
}

fn latency(p: Option<&atalaya_core::rollup::Percentiles>) -> String {
    p.map_or("-".into(), |p| {
        format!("{:.0}/{:.0}/{:.0} ms", p.p50, p.p95, p.p99)
    })
}

/// Rows under a header, each column as wide as its widest cell.
fn columns(rows: &[Vec<String>]) -> String {
    let mut widths = Vec::new();
    for row in rows.iter().filter(|r| r.len() > 1) {
        for (i, c) in row.iter().enumerate() {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = if row.len() > 1 { widths[i] } else { 0 }))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn table(r: &Report) -> String {
    let mut out = format!("Uptime report, {}\n{}\n\n", r.month, r.accounting);
    let mut rows = vec![[
        "SERVICE",
        "UPTIME",
        "TARGET",
        "BUDGET USED",
        "COUNTED",
        "DOWNTIME",
        "DOWN",
        "DEGRADED",
        "UNKNOWN",
        "LATENCY p50/p95/p99",
        "INCIDENTS",
    ]
    .map(String::from)
    .to_vec()];
    for s in &r.services {
        rows.push(vec![
            format!("{} ({})", s.service, s.name),
            pct(s.uptime_percent),
            format!("{} %", s.target_percent),
            budget(s.error_budget_used),
            span(s.counted_s),
            span(s.downtime_s),
            span(s.down_s),
            span(s.degraded_s),
            span(s.unknown_s),
            latency(s.latency.get("total")),
            s.incidents.len().to_string(),
        ]);
        for c in &s.checks {
            rows.push(vec![
                format!("  {} @ {}", c.check, c.region),
                pct(c.uptime_percent),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                span(c.down_s),
                span(c.degraded_s),
                span(c.unknown_s),
                latency(c.latency.as_ref()),
                String::new(),
            ]);
        }
        for i in &s.incidents {
            // The same rule as the customer's mail: what they were told it lasted.
            rows.push(vec![format!(
                "  {}  {} → {}",
                i.id,
                i.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                match (i.resolved_at, i.duration_s) {
                    (Some(r), Some(d)) =>
                        format!("{} ({})", r.format("%Y-%m-%d %H:%M:%S UTC"), span(d)),
                    _ => "still open".into(),
                }
            )]);
        }
    }
    out.push_str(&columns(&rows));
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
        "counted_s",
        "downtime_s",
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
            format!("{:.3}", s.counted_s),
            format!("{:.3}", s.downtime_s),
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
