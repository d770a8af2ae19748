//! The monthly uptime report as a customer reads it: one HTML document (styles inline, prints
//! well, can be mailed) in their language, with times in their zone, the accounting policy in
//! plain words, each service's uptime against the target, the error budget used, the downtime,
//! the latency, and the month's incidents by the names their customers were told.

use crate::model::policy_words;
use crate::words::{percent_to, report_words as words};
use atalaya_core::config::{Config, Customer, Language};
use atalaya_core::message::{duration_words, stamp};
use atalaya_core::rollup::{Budget, Millis, Percentiles};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use minijinja::{context, Environment};
use serde::Serialize;

/// One service's month.
pub struct ServiceMonth {
    pub name: String,
    pub millis: Millis,
    pub latency: Option<Percentiles>,
    pub incidents: Vec<IncidentMonth>,
}

pub struct IncidentMonth {
    /// What its customers were told it was (the first message's subject), else the service.
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct Row {
    name: String,
    uptime: String,
    met: Option<bool>,
    target: String,
    budget: String,
    counted: String,
    downtime: String,
    latency: String,
    incidents: Vec<IncidentRow>,
    unseen: Option<String>,
}

#[derive(Serialize)]
struct IncidentRow {
    name: String,
    when: String,
    duration: String,
}

/// The report for `customer` (all services, in English and UTC, without one), of `month`
/// (its words, e.g. "noviembre de 2026").
pub fn html(
    config: &Config,
    customer: Option<&Customer>,
    month: &str,
    services: &[ServiceMonth],
) -> Result<String, String> {
    let (l, tz) = customer.map_or((Language::En, Tz::UTC), |c| (c.language, c.timezone));
    let w = words(l);
    let policy = config.settings.sla;
    let mins = |ms: f64| duration_words(TimeDelta::milliseconds(ms as i64), l);
    let rows: Vec<Row> = services
        .iter()
        .map(|s| {
            let u = policy.uptime(&s.millis);
            Row {
                name: s.name.clone(),
                uptime: u
                    .percent
                    .map_or(w.no_data.to_string(), |p| percent_to(p, 3, l)),
                met: u.percent.map(|p| p >= policy.target),
                target: percent_to(policy.target, 2, l),
                budget: match u.budget_used.map(Budget::of) {
                    None => "-".into(),
                    Some(Budget::Used(p)) => percent_to(p.round(), 0, l),
                    Some(Budget::Exceeded(times)) => format!("{}, {times}", w.exceeded),
                },
                counted: if u.counted_ms > 0 {
                    mins(u.counted_ms as f64)
                } else {
                    "-".into()
                },
                downtime: if u.downtime_ms > 0.0 {
                    mins(u.downtime_ms)
                } else {
                    "-".into()
                },
                latency: s
                    .latency
                    .map_or("-".into(), |p| format!("{:.0} / {:.0} ms", p.p50, p.p95)),
                incidents: s
                    .incidents
                    .iter()
                    .map(|i| IncidentRow {
                        name: i.name.clone(),
                        when: stamp(i.started_at, l, tz),
                        duration: i.resolved_at.map_or(w.ongoing.to_string(), |r| {
                            duration_words(r - i.started_at, l)
                        }),
                    })
                    .collect(),
                unseen: (s.millis.unknown >= 1_000)
                    .then(|| format!("{} {}.", w.unseen, mins(s.millis.unknown as f64))),
            }
        })
        .collect();
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("report.html", include_str!("templates/report.html"))
        .map_err(|e| format!("report.html: {e}"))?;
    let who = customer.map_or(w.all.to_string(), |c| c.names.get(l).to_string());
    let brand = config
        .settings
        .brand
        .as_ref()
        .map(|b| {
            customer.map_or(b.name.clone(), |c| {
                c.brand.name.clone().unwrap_or(b.name.clone())
            })
        })
        .unwrap_or_default();
    env.get_template("report.html")
        .and_then(|t| {
            t.render(context! {
                lang => l.code(),
                w => minijinja::Value::from(minijinja::value::Serde(&w)),
                month => month,
                who => who,
                brand => brand,
                services => minijinja::Value::from(minijinja::value::Serde(&rows)),
                policy => policy_words(config, l),
            })
        })
        .map_err(|e| format!("report.html: {e}"))
}
