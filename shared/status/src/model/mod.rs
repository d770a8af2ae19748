//! What a page shows, worked out from the state, the rollups and the incidents: each service's
//! status, its 90 days, the open incidents with the customers' own words, planned maintenance
//! and the incidents of the last 90 days. The HTML, the API and the feed are views of this.

use crate::words::{percent, words};
use crate::Input;
use atalaya_core::config::{Config, Customer, Language, Service};
use atalaya_core::evaluate::{Incident, Verdict};
use atalaya_core::message::on_day_at;
use atalaya_core::rollup::{sum, Millis};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;

mod bars;
mod incidents;

use bars::{bar, days};
pub use incidents::page_words;
use incidents::{incident, incident_name, maintenance};

/// How many days the bars and the history cover.
pub const DAYS: i64 = 90;

/// A service's status, in Statuspage's five words, and honestly one more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Operational,
    UnderMaintenance,
    /// The monitor cannot see the service: nothing is claimed about it.
    MonitoringUnavailable,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Operational => "operational",
            Status::UnderMaintenance => "under_maintenance",
            Status::MonitoringUnavailable => "monitoring_unavailable",
            Status::DegradedPerformance => "degraded_performance",
            Status::PartialOutage => "partial_outage",
            Status::MajorOutage => "major_outage",
        }
    }

    pub fn word(self, l: Language) -> &'static str {
        let w = words(l);
        match self {
            Status::Operational => w.operational,
            Status::UnderMaintenance => w.under_maintenance,
            Status::MonitoringUnavailable => w.monitoring_unavailable,
            Status::DegradedPerformance => w.degraded_performance,
            Status::PartialOutage => w.partial_outage,
            Status::MajorOutage => w.major_outage,
        }
    }

    /// The sentence for a page whose worst service is in this status.
    pub fn overall(self, l: Language) -> &'static str {
        let w = words(l);
        match self {
            Status::Operational => w.all_operational,
            Status::UnderMaintenance => w.some_maintenance,
            Status::MonitoringUnavailable => w.some_unavailable,
            Status::DegradedPerformance => w.some_degraded,
            Status::PartialOutage => w.some_partial,
            Status::MajorOutage => w.some_major,
        }
    }
}

/// The status of `service` now: maintenance first; then what the quorum saw down (all of its
/// checks: a major outage, some: a partial one); then, if any check cannot be seen, "monitoring
/// unavailable" (never operational on what was not seen); then degraded; else operational.
pub fn service_status(input: &Input, service: &Service) -> Status {
    let now = input.now;
    if service
        .maintenance
        .iter()
        .any(|m| m.start <= now && now < m.end)
    {
        return Status::UnderMaintenance;
    }
    if !monitor_fresh(input) {
        return Status::MonitoringUnavailable;
    }
    let verdicts: Vec<Verdict> = input
        .config
        .checks
        .iter()
        .filter(|c| c.service == service.id)
        .map(|c| {
            input
                .state
                .checks
                .get(&c.id)
                .map_or(Verdict::Unknown, |s| s.verdict)
        })
        .collect();
    let down = verdicts.iter().filter(|v| **v == Verdict::Down).count();
    if down > 0 && down == verdicts.len() {
        Status::MajorOutage
    } else if down > 0 {
        Status::PartialOutage
    } else if verdicts.is_empty() || verdicts.contains(&Verdict::Unknown) {
        Status::MonitoringUnavailable
    } else if verdicts.contains(&Verdict::Degraded) {
        Status::DegradedPerformance
    } else {
        Status::Operational
    }
}

/// Whether the state is the monitor's current view: some region reported within three of the
/// longest check intervals (at least five minutes). A stopped or restarted monitor's last state
/// is not the present, and a page built from it says it cannot see.
pub fn monitor_fresh(input: &Input) -> bool {
    last_seen(input).is_some_and(|seen| input.now - seen <= fresh_window(input))
}

/// When a region last reported: the last time the monitor saw anything.
pub fn last_seen(input: &Input) -> Option<DateTime<Utc>> {
    input
        .state
        .regions
        .values()
        .filter_map(|r| r.last_seen)
        .filter(|t| *t <= input.now)
        .max()
}

/// Three of the longest check intervals, at least five minutes.
pub fn fresh_window(input: &Input) -> TimeDelta {
    fresh_window_of(input.config)
}

/// [`fresh_window`] of a configuration.
pub fn fresh_window_of(config: &Config) -> TimeDelta {
    let longest = config
        .checks
        .iter()
        .map(|c| c.interval)
        .max()
        .unwrap_or_default();
    TimeDelta::from_std(longest * 3)
        .unwrap_or(TimeDelta::MAX)
        .max(TimeDelta::minutes(5))
}

/// Who a page is for: one customer (their services, their language and zone) or everyone (the
/// services marked public).
#[derive(Clone, Copy)]
pub enum Reader<'a> {
    Customer(&'a Customer),
    Public,
}

/// One page in one language.
#[derive(Serialize)]
pub struct Page {
    pub id: String,
    pub lang: Language,
    pub title: String,
    pub overall: Status,
    pub overall_words: &'static str,
    pub blind: bool,
    pub services: Vec<ServiceView>,
    pub open: Vec<IncidentView>,
    pub maintenance: Vec<MaintenanceView>,
    pub history: Vec<IncidentView>,
    /// The time the page shows as "updated" (the hour it was built in: the page is rebuilt
    /// when something changes and every hour).
    pub checked_at: DateTime<Utc>,
    /// `on 6 December 2026 at 23:03 UTC`, `el 6 de diciembre de 2026 a las 23:03 (UTC)`.
    pub checked_words: String,
    /// When a region last reported (the monitor's own freshness, apart from the page's
    /// update): the page's script keeps it current from `live.json`.
    pub seen_at: Option<DateTime<Utc>>,
    pub seen_words: Option<String>,
    /// How old the monitor's last report may be before the page says it may not be current.
    pub fresh_within_s: i64,
    /// The subscribe form, where its readers can get customer mail.
    pub subscribe: Option<SubscribeForm>,
    pub policy_words: String,
    pub zone: String,
}

/// Where the subscribe form posts and which page it is on (`public`, or a customer's slug).
#[derive(Serialize)]
pub struct SubscribeForm {
    /// `settings.email.pages_url` + `/subscribe`; without it, the local listener's
    /// `subscribe` beside the site (relative to the site's root).
    pub action: Option<String>,
    pub page: String,
}

/// The form, when the page's readers can be sent mail: a sender for their customer.
fn subscribe_form(config: &Config, audience: Reader) -> Option<SubscribeForm> {
    let (mails, page) = match audience {
        Reader::Customer(c) => (config.brand_for(&c.id).is_some(), c.slug.clone()),
        Reader::Public => (
            config
                .services
                .iter()
                .any(|s| s.public && config.brand_for(&s.customer).is_some()),
            "public".into(),
        ),
    };
    mails.then(|| SubscribeForm {
        action: config
            .settings
            .email
            .pages_url
            .as_ref()
            .map(|u| format!("{}/subscribe", u.trim_end_matches('/'))),
        page,
    })
}

#[derive(Serialize)]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub status_word: &'static str,
    pub bars: Vec<Bar>,
    pub uptime: Option<String>,
    /// Of the service's open incidents, the last status its customers were told (for the
    /// API's component status while the monitor cannot see).
    pub told_outage: bool,
}

/// One day of one service.
#[derive(Serialize)]
pub struct Bar {
    pub date: String,
    pub kind: &'static str,
    pub words: String,
}

#[derive(Serialize)]
pub struct IncidentView {
    pub id: String,
    pub name: String,
    pub phase: &'static str,
    pub services: Vec<String>,
    pub service_ids: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub started_words: String,
    pub duration_words: String,
    pub updates: Vec<UpdateView>,
}

#[derive(Serialize)]
pub struct UpdateView {
    pub id: String,
    pub at: DateTime<Utc>,
    pub at_words: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub event: String,
    /// The incident's phase when it was written (Statuspage's update status).
    pub phase: &'static str,
}

#[derive(Serialize)]
pub struct MaintenanceView {
    pub id: String,
    pub service: String,
    pub service_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub in_progress: bool,
    pub words: String,
    pub note: Option<String>,
}

/// The services on a page.
pub fn services_of<'a>(config: &'a Config, audience: Reader) -> Vec<&'a Service> {
    config
        .services
        .iter()
        .filter(|s| match audience {
            Reader::Customer(c) => s.customer == c.id,
            Reader::Public => s.public,
        })
        .collect()
}

/// One page (`Input::messages` sorted by id, as `build` passes them).
pub(crate) fn page(input: &Input, audience: Reader, l: Language) -> Page {
    let config = input.config;
    let w = words(l);
    let tz = match audience {
        Reader::Customer(c) => c.timezone,
        Reader::Public => Tz::UTC,
    };
    let services = services_of(config, audience);
    let checked_at = input
        .now
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or(input.now);
    let views: Vec<ServiceView> = services
        .iter()
        .map(|s| service_view(input, s, l, tz, checked_at))
        .collect();
    let overall = views
        .iter()
        .map(|v| v.status)
        .max()
        .unwrap_or(Status::Operational);
    let ids: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
    let mut open = Vec::new();
    let mut history = Vec::new();
    for i in input.incidents {
        if !ids.iter().any(|s| touches(i, s)) {
            continue;
        }
        let Some(view) = incident(input, i, audience, &ids, l, tz) else {
            continue;
        };
        if i.is_open() {
            open.push(view);
        } else if i
            .resolved_at
            .is_some_and(|r| r > input.now - TimeDelta::days(DAYS))
        {
            history.push(view);
        }
    }
    open.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    history.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    // Updated: the hour the bars run to, or the newest update shown if it is newer.
    let checked_at = open
        .iter()
        .chain(&history)
        .flat_map(|i| i.updates.iter().map(|u| u.at))
        .filter(|t| *t <= input.now)
        .fold(checked_at, DateTime::max);
    let title = match audience {
        Reader::Customer(c) => format!("{} · {}", c.names.get(l), w.status_of),
        Reader::Public => config
            .settings
            .status_site
            .title
            .clone()
            .unwrap_or_else(|| match config.settings.brand.as_ref() {
                Some(b) => format!("{} · {}", b.name, w.status_of),
                None => w.status_of.to_string(),
            }),
    };
    Page {
        id: match audience {
            Reader::Customer(c) => c.slug.clone(),
            Reader::Public => "public".into(),
        },
        lang: l,
        title,
        overall,
        overall_words: overall.overall(l),
        blind: views
            .iter()
            .any(|v| v.status == Status::MonitoringUnavailable),
        maintenance: maintenance(input, &services, l, tz),
        services: views,
        open,
        history,
        checked_at,
        checked_words: on_day_at(checked_at, l, tz),
        seen_at: last_seen(input),
        seen_words: last_seen(input).map(|t| on_day_at(t, l, tz)),
        fresh_within_s: fresh_window(input).num_seconds(),
        subscribe: subscribe_form(config, audience),
        policy_words: policy_words(config, l),
        zone: tz.name().to_string(),
    }
}

/// One service on a page: its status, its 90 days of bars and its uptime over them.
fn service_view(
    input: &Input,
    s: &Service,
    l: Language,
    tz: Tz,
    checked_at: DateTime<Utc>,
) -> ServiceView {
    let config = input.config;
    let status = service_status(input, s);
    let hours = input.hours.get(&s.id);
    let mut bars = Vec::new();
    let mut total = Millis::default();
    for (date, from, to_day) in days(input.now, tz) {
        let to = to_day.min(checked_at);
        let m = hours.map(|h| sum(h, from, to)).unwrap_or_default();
        total.merge(&m);
        bars.push(bar(input, s, &date, (from, to_day), &m, l, tz));
    }
    let uptime = config
        .settings
        .sla
        .uptime(&total)
        .percent
        .map(|p| percent(p, l));
    ServiceView {
        id: s.id.clone(),
        name: s.names.get(l).to_string(),
        status,
        status_word: status.word(l),
        bars,
        uptime,
        told_outage: input
            .incidents
            .iter()
            .any(|i| i.is_open() && touches(i, &s.id) && !i.told.is_empty()),
    }
}

fn touches(i: &Incident, service: &str) -> bool {
    i.service == service || i.affected.iter().any(|a| a == service)
}

/// The accounting policy, said plainly.
pub fn policy_words(config: &Config, l: Language) -> String {
    let w = words(l);
    let p = &config.settings.sla;
    let mut parts = vec![format!("{} {}", w.target, percent(p.target, l))];
    parts.push(
        if p.exclude_maintenance {
            w.maintenance_left_out
        } else {
            w.maintenance_counted
        }
        .to_string(),
    );
    let weight = match l {
        Language::En => format!("{}%", (p.partial_weight * 100.0).round()),
        Language::Es => format!("{} %", (p.partial_weight * 100.0).round()),
    };
    parts.push(w.degraded_weight.replace("{pct}", &weight));
    parts.push(
        match p.unknown {
            atalaya_core::rollup::UnknownAs::Exclude => w.unknown_exclude,
            atalaya_core::rollup::UnknownAs::Up => w.unknown_up,
            atalaya_core::rollup::UnknownAs::Down => w.unknown_down,
        }
        .to_string(),
    );
    parts.join("; ")
}
