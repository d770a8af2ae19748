//! The validated checks file: typed, with defaults applied and references checked.

use crate::at::Pos;
pub use crate::kinds::dns::{DnsCheck, RecordType, RCODES};
pub use crate::kinds::http::{HeaderExpect, HttpCheck, HttpExpect};
pub use crate::kinds::tcp::TcpCheck;
pub use crate::kinds::tls::TlsCheck;
pub use crate::kinds::CheckKind;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_RECOVER_AFTER: u32 = 2;
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;
/// How often customers hear from us while an incident is open, unless the customer says.
pub const DEFAULT_UPDATE_EVERY: Duration = Duration::from_secs(30 * 60);
/// How often operators are reminded, and how soon a resolved incident may re-open.
pub const DEFAULT_RENOTIFY_EVERY: Duration = Duration::from_secs(30 * 60);
pub const DEFAULT_ESCALATE_AFTER: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_REOPEN_WITHIN: Duration = Duration::from_secs(30 * 60);
/// The longest value each duration takes (documented in the schema and the docs): longer
/// than any real use, and short enough that time arithmetic on them can never overflow.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const MAX_UPDATE_EVERY: Duration = Duration::from_secs(7 * 86_400);
pub const MAX_RENOTIFY_EVERY: Duration = Duration::from_secs(7 * 86_400);
pub const MAX_ESCALATE_AFTER: Duration = Duration::from_secs(7 * 86_400);
pub const MAX_REOPEN_WITHIN: Duration = Duration::from_secs(30 * 86_400);
pub const MAX_ANNOUNCE_BEFORE: Duration = Duration::from_secs(365 * 86_400);
pub const MAX_CERT_VALID_FOR: Duration = Duration::from_secs(3_650 * 86_400);
/// The most `retries` and `recover_after` take.
pub const MAX_COUNT: u32 = 100;
/// How often the alert function evaluates at the least (its schedule's tick).
pub const LAMBDA_TICK: Duration = Duration::from_secs(60);
/// How often the local runner evaluates.
pub const LOCAL_TICK: Duration = Duration::from_secs(1);
/// The region name of the local runner.
pub const LOCAL_REGION: &str = "local";

#[derive(Clone, Debug)]
pub struct Config {
    /// The path the file was read from, as given (for messages).
    pub source: String,
    pub settings: Settings,
    pub customers: Vec<Customer>,
    pub services: Vec<Service>,
    pub checks: Vec<Check>,
    /// What is not wrong but probably not meant (`atalaya validate` prints them; `--strict`
    /// makes them errors).
    pub warnings: Vec<crate::ConfigError>,
    /// Checks by id, built on first use (a file may hold tens of thousands).
    pub(crate) index: std::sync::OnceLock<std::collections::HashMap<String, usize>>,
}

impl Config {
    /// The brand of `customer`'s mail: the file's with the customer's own fields over it, or the
    /// customer's alone when it names a sender; `None`: no customer email.
    pub fn brand_for(&self, customer: &str) -> Option<crate::email::Brand> {
        let own = self.customer(customer).map(|c| &c.brand);
        match (&self.settings.brand, own) {
            (Some(b), Some(o)) => Some(b.with(o)),
            (Some(b), None) => Some(b.clone()),
            (None, Some(o)) => Some(crate::email::Brand {
                name: o.name.clone()?,
                from: o.from.clone()?,
                reply_to: o.reply_to.clone(),
                logo_url: o.logo_url.clone(),
                colour: o
                    .colour
                    .clone()
                    .unwrap_or_else(|| crate::email::DEFAULT_COLOUR.to_string()),
                footer: o.footer.clone(),
            }),
            (None, None) => None,
        }
    }

    /// The same file as the local runner sees it: one region, `local`, running every check, so
    /// a file written for several AWS regions runs unchanged on a laptop.
    pub fn localized(mut self) -> Config {
        self.settings.regions = vec![LOCAL_REGION.to_string()];
        self.settings.quorum = Quorum::Count(1);
        self.settings.tick = LOCAL_TICK;
        for c in &mut self.checks {
            c.regions = vec![LOCAL_REGION.to_string()];
        }
        self
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        let index = self.index.get_or_init(|| {
            self.checks
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id.clone(), i))
                .collect()
        });
        index.get(id).map(|&i| &self.checks[i])
    }

    /// The part of this file that holds `services` (their checks, their customers; every
    /// setting), for one partition of the engine's state, with what that partition is
    /// responsible for (`scope`).
    pub fn part(&self, services: &std::collections::BTreeSet<String>, scope: Scope) -> Config {
        let kept: Vec<Service> = self
            .services
            .iter()
            .filter(|s| services.contains(&s.id))
            .cloned()
            .collect();
        let customers: std::collections::BTreeSet<&str> =
            kept.iter().map(|s| s.customer.as_str()).collect();
        let mut settings = self.settings.clone();
        settings.scope = scope;
        Config {
            source: self.source.clone(),
            settings,
            customers: self
                .customers
                .iter()
                .filter(|c| customers.contains(c.id.as_str()))
                .cloned()
                .collect(),
            checks: self
                .checks
                .iter()
                .filter(|c| services.contains(&c.service))
                .cloned()
                .collect(),
            services: kept,
            warnings: Vec::new(),
            index: Default::default(),
        }
    }

    /// The shortest interval among the checks that run in each region, as freshness counts it
    /// (a third of `stale_after`: on Lambda a sub-minute check's results come in the stream's
    /// batches, so a region is not silent for missing one of them).
    pub fn region_intervals(&self) -> std::collections::BTreeMap<String, Duration> {
        let mut out = std::collections::BTreeMap::new();
        for c in &self.checks {
            let every = c.stale_after / 3;
            for r in &c.regions {
                let e = out.entry(r.clone()).or_insert(every);
                *e = (*e).min(every);
            }
        }
        out
    }
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }
    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub regions: Vec<String>,
    pub quorum: Quorum,
    pub allow_networks: Vec<IpNet>,
    pub operators: Operators,
    /// Percent state change at which a check starts flapping (default 50).
    pub flapping_start: f64,
    /// Percent state change below which it stops (default 25).
    pub flapping_stop: f64,
    /// An outage this soon after resolution re-opens the incident (default 30m).
    pub reopen_within: Duration,
    /// How often the shell evaluates at the least (not in the checks file: the alert
    /// function's schedule ticks every minute, the local runner every second). Customer updates
    /// go out at the last evaluation before they are due, so a promised time is always kept.
    pub tick: Duration,
    /// The sign-off of customer messages, unless a customer has their own.
    pub signature: Option<Signature>,
    /// What an evaluation is responsible for (not in the checks file): everything, unless the
    /// engine's state is split into partitions (`crate::partition`).
    pub scope: Scope,
    /// How uptime is counted (`settings.sla`).
    pub sla: Policy,
    /// Customer email branding (`None`: no customer email).
    pub brand: Option<crate::email::Brand>,
    pub email: crate::email::EmailSettings,
    /// The status site (`settings.status_page`).
    pub status_site: StatusSite,
    /// Heartbeats' ping endpoint and token key (`settings.heartbeats`).
    pub heartbeats: HeartbeatSettings,
    /// Private locations (`settings.private_locations`): name → the AWS region its probe stack
    /// runs in.
    pub private_locations: std::collections::BTreeMap<String, String>,
    /// How long the local runner keeps results, delivered messages and sent mails
    /// (`settings.retention.results`).
    pub retention: Duration,
}

impl Settings {
    /// The probe regions (the heartbeats' region is not one), each with the AWS region its stack
    /// runs in: a private location's own, else the region itself.
    pub fn probe_regions(&self) -> Vec<(String, String)> {
        self.regions
            .iter()
            .filter(|r| r.as_str() != crate::kinds::heartbeat::REGION)
            .map(|r| {
                (
                    r.clone(),
                    self.private_locations.get(r).unwrap_or(r).clone(),
                )
            })
            .collect()
    }
}

/// Results kept by default: as the functions' results table keeps them (30 days).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// The shortest retention: the hourly rollups look a day back.
pub const MIN_RETENTION: Duration = Duration::from_secs(2 * 86_400);
/// The longest: as long as the hourly rollups are kept.
pub const MAX_RETENTION: Duration = Duration::from_secs(400 * 86_400);

/// `settings.heartbeats`.
#[derive(Clone, Debug, Default)]
pub struct HeartbeatSettings {
    /// The ping endpoint's address, without a trailing `/`.
    pub url: Option<String>,
    /// The key heartbeat tokens are derived from, as a reference.
    pub key: Option<crate::template::EnvTemplate>,
}

/// The status site as a whole.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusSite {
    /// Where it is served, without a trailing `/`.
    pub url: Option<String>,
    /// The public page's title.
    pub title: Option<String>,
}

/// What one evaluation is responsible for when the engine's state is split into partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Whether it tells operators a region went silent or came back (one partition does).
    pub region_events: bool,
    /// Put in front of the incident numbers it opens (`inc-<prefix><n>`), so that partitions
    /// never open two incidents under one id.
    pub incident_prefix: String,
    /// The shortest interval among every check of each region (the whole file's, so that each
    /// partition judges silence alike); empty: from this configuration's checks.
    pub region_intervals: std::collections::BTreeMap<String, Duration>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            region_events: true,
            incident_prefix: String::new(),
            region_intervals: Default::default(),
        }
    }
}

/// A sign-off: one text for every language, or one per language.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signature {
    pub any: Option<String>,
    pub by_language: std::collections::BTreeMap<Language, String>,
}

impl Signature {
    pub fn for_language(&self, l: Language) -> Option<&str> {
        self.by_language
            .get(&l)
            .or(self.any.as_ref())
            .map(String::as_str)
    }
}

impl Quorum {
    /// How many of a check's `regions` must see it down (or up) to say so. Fewer regions
    /// than this seeing the check make it unknown.
    pub fn needed(self, regions: usize) -> usize {
        match self {
            Quorum::Majority => regions / 2 + 1,
            Quorum::All => regions.max(1),
            Quorum::Count(n) => (n as usize).clamp(1, regions.max(1)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quorum {
    Majority,
    All,
    Count(u32),
}

#[derive(Clone, Debug)]
pub struct Operators {
    pub renotify_every: Duration,
    pub escalate_after: Duration,
    /// Paging and chat channels, routes and escalation.
    pub on_call: crate::oncall::OnCall,
}

#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// The default language: English.
    #[default]
    En,
    Es,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Es];

    /// The ISO 639-1 code: `en`, `es`.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
        }
    }

    /// The language's name in itself, for a reader choosing one (`English`, `Español`).
    pub fn own_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Es => "Español",
        }
    }

    /// The language's name in English, for operators.
    pub fn name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Es => "Spanish",
        }
    }

    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.code() == code)
    }
}

#[derive(Clone, Debug)]
pub struct Customer {
    pub id: String,
    /// The operators' name for them (the English one of several).
    pub name: String,
    /// Their name in each language: their page and report show it.
    pub names: crate::Names,
    /// How their mail greets them, in each language (default their name).
    pub greeting: crate::Names,
    pub language: Language,
    pub update_every: Duration,
    pub timezone: chrono_tz::Tz,
    /// The customer's template folder as written (relative to the checks file).
    pub templates: Option<String>,
    /// Their own sign-off, over `settings.signature`.
    pub signature: Option<Signature>,
    /// Their own email branding, over `settings.brand`.
    pub brand: crate::email::BrandOverride,
    /// The folder of their status page on the status site (default their id).
    pub slug: String,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub id: String,
    pub customer: String,
    /// The operators' name (the English one of several).
    pub name: String,
    /// The customer-facing name in each language: what customers read.
    pub names: crate::Names,
    pub depends_on: Vec<String>,
    pub maintenance: Vec<Maintenance>,
    pub runbook: Option<String>,
    /// Also on the public status page.
    pub public: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Maintenance {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub announce_before: Option<Duration>,
    pub note: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Check {
    pub id: String,
    pub service: String,
    pub kind: CheckKind,
    pub expect: Expect,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub recover_after: u32,
    pub regions: Vec<String>,
    /// How old its newest result in a region may be before that region cannot see it: three
    /// intervals; on Lambda at least [`crate::schedule::LAMBDA_STALE_FLOOR`] (sub-minute results
    /// reach the evaluator in the stream's batches, up to a minute apart).
    pub stale_after: Duration,
    /// Where the check is written in the file.
    pub pos: Pos,
}

/// The expectations every kind shares; each kind's own are in its typed check
/// (`crate::kinds`).
#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub latency_degraded: Option<Duration>,
    pub latency_down: Option<Duration>,
    /// Degraded when the certificate expires sooner (kinds that meet one: tls, https).
    pub cert_valid_for: Option<Duration>,
    /// Operators are warned early when the certificate expires sooner.
    pub cert_warn_before: Option<Duration>,
    /// Operators are warned early when an hour's median latency is this many times the usual.
    pub latency_drift: Option<f64>,
}

/// What time the monitor could not see counts as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownAs {
    /// Left out of the period (the default: nothing is claimed about it).
    #[default]
    Exclude,
    Up,
    Down,
}

/// How uptime is counted (`settings.sla`), stated with every figure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The target, in percent (e.g. 99.9).
    pub target: f64,
    /// Maintenance windows left out of the period (else they count as downtime).
    pub exclude_maintenance: bool,
    /// How much of degraded time counts as downtime (0 to 1; Statuspage counts a partial
    /// outage as 0.3).
    pub partial_weight: f64,
    pub unknown: UnknownAs,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            target: 99.9,
            exclude_maintenance: true,
            partial_weight: 0.3,
            unknown: UnknownAs::Exclude,
        }
    }
}
