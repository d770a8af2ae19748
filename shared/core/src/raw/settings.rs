//! `settings:` as written: what applies to the whole file.

use super::Count;
use crate::at::At;
use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// Settings for the whole file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Settings")]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// AWS regions the probes run in (e.g. eu-west-1), and private locations by their names
    /// (`private_locations`). The local runner is the region `local`.
    pub regions: Option<Vec<At<String>>>,
    /// Probe locations inside a team's VPC, each named as a region of its own and run by a probe
    /// stack in an AWS region: `{ vpc-prod: { aws_region: eu-west-1 } }`. List the name in
    /// `regions` (and the VPC's networks in `allow_networks`).
    pub private_locations: Option<BTreeMap<String, RawPrivateLocation>>,
    /// How many reporting regions must see a check down: `majority`, `all`, or a number.
    pub quorum: Option<At<RawQuorum>>,
    /// CIDRs exempt from the network guard (private, loopback, link-local and metadata addresses
    /// are refused otherwise), e.g. `10.20.0.0/16`.
    pub allow_networks: Option<Vec<At<String>>>,
    /// Defaults for every check; each can be overridden per check.
    pub defaults: Option<RawDefaults>,
    /// How operators are reminded and escalated to.
    pub operators: Option<super::RawOperators>,
    /// Flap detection: percent state change over the last 21 results (Nagios' weighted method).
    pub flapping: Option<RawFlapping>,
    /// Incident policy.
    pub incidents: Option<RawIncidents>,
    /// The sign-off of every customer message, e.g. `The Acme support team`, or one per
    /// language: `{ en: The Acme support team, es: El equipo de soporte de Acme }`. A
    /// customer's own `signature` takes its place. Default: the brand's team ("The Acme team" /
    /// "El equipo de Acme") when a brand is set, else "The support team" / "El equipo de soporte".
    pub signature: Option<At<RawSignature>>,
    /// How customer email looks and who it comes from: `{ name: Acme, from: "Estado de Acme
    /// <estado@acme.example>", reply_to: soporte@acme.example, logo_url: "https://…", colour:
    /// "#0a7d4f", footer: "Acme Ltd · 1 Main St" }`. Each customer may override any field.
    pub brand: Option<RawBrand>,
    /// How uptime is counted, stated in every report: `{ target: 99.9, exclude_maintenance:
    /// true, partial_weight: 0.3, unknown: exclude }` (these are the defaults).
    pub sla: Option<RawSla>,
    /// How customer email is sent: `{ smtp: "smtp://127.0.0.1:2525" }` for the local runner (on
    /// AWS the mailer function sends through SES), where subscribers' pages are, and the key
    /// that signs their links.
    pub email: Option<RawEmail>,
    /// The status site: `{ url: https://status.acme.example, title: Acme status }`. Each
    /// customer has a page at `<url>/<slug>/`; services marked `public: true` are also on the
    /// page at the root.
    pub status_page: Option<RawStatusSite>,
    /// Heartbeat checks' ping URLs: `{ url: "https://…", key: "${ssm:/atalaya/heartbeat/key}" }`.
    pub heartbeats: Option<RawHeartbeats>,
    /// How long the local runner keeps what it no longer needs: `{ results: 30d }`.
    pub retention: Option<RawRetention>,
}

/// What the local runner's database keeps, and for how long.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Retention")]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Probe results, delivered messages and sent mails are kept this long (default `30d`, as
    /// the functions' results table on AWS; from `2d`: the hourly rollups and latency drift
    /// need the last day; at most `400d`). Hourly rollups are kept 400 days, incidents for
    /// ever.
    pub results: Option<At<String>>,
}

/// A private location: where its probe stack runs.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "PrivateLocation")]
#[serde(deny_unknown_fields)]
pub struct RawPrivateLocation {
    /// The AWS region its probe stack (and VPC) is in, e.g. eu-west-1.
    pub aws_region: At<String>,
}

/// Where heartbeats ping, and the key their tokens are derived from.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Heartbeats")]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeats {
    /// The ping endpoint's address, as jobs reach it (the stack's `PingUrl` output on AWS);
    /// locally `atalaya run --listen`'s address is used when not set.
    pub url: Option<At<String>>,
    /// The key tokens are derived from (a check without its own `token`), as a reference:
    /// `${ssm:/atalaya/heartbeat/key}`, `${secret:…}` or `${env:…}`, at least 32 characters.
    /// Locally, without it, a key file is made next to the database.
    pub key: Option<At<String>>,
}

/// The status site as a whole.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "StatusSite")]
#[serde(deny_unknown_fields)]
pub struct RawStatusSite {
    /// Where the site is served, e.g. `https://status.acme.example` (its feed and API links are
    /// made from it; without it they are relative).
    pub url: Option<At<String>>,
    /// The public page's title (default: the brand's name and "status").
    pub title: Option<At<String>>,
}

/// A customer's status page.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "StatusPage")]
#[serde(deny_unknown_fields)]
pub struct RawStatusPage {
    /// The page's folder on the status site: lower-case letters, digits and `-`, 3 to 64
    /// characters (default the customer id, which anyone who knows it can guess: validate
    /// warns). A long random slug keeps the page unlisted.
    pub slug: Option<At<String>>,
}

/// The accounting policy of uptime figures.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Sla")]
#[serde(deny_unknown_fields)]
pub struct RawSla {
    /// The uptime target in percent, e.g. `99.9` (default), at least 50 and below 100.
    pub target: Option<At<f64>>,
    /// Leave maintenance windows out of the period (default `true`); `false` counts them as
    /// downtime.
    pub exclude_maintenance: Option<At<bool>>,
    /// How much of degraded time (failing, but not confirmed by the quorum) counts as downtime,
    /// 0 to 1 (default `0.3`, as Statuspage counts a partial outage).
    pub partial_weight: Option<At<f64>>,
    /// Time the monitor could not see: `exclude` (default: left out), `up` or `down`.
    pub unknown: Option<At<String>>,
}

/// Customer email branding.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Brand")]
#[serde(deny_unknown_fields)]
pub struct RawBrand {
    /// The name customers know the team by, e.g. `Acme`.
    pub name: Option<At<String>>,
    /// The sender: `Estado de Acme <estado@acme.example>` (an address of a domain you verified
    /// with SES on AWS).
    pub from: Option<At<String>>,
    /// Where replies go: `soporte@acme.example`.
    pub reply_to: Option<At<String>>,
    /// An HTTPS image at the top of each mail (mail reads as well without it).
    pub logo_url: Option<At<String>>,
    /// The accent colour, `#rrggbb` (default `#0a7d4f`); white text on it must be readable.
    pub colour: Option<At<String>>,
    /// A line under every mail, e.g. the company's name and address.
    pub footer: Option<At<String>>,
}

/// How customer email is sent.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Email")]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    /// The SMTP server of the local runner: `smtp://[user:password@]host[:port][?tls=required]`
    /// (STARTTLS) or `smtps://…` (TLS); credentials may be `${env:…}` references. Without it
    /// the runner writes `.eml` files to `folder`.
    pub smtp: Option<At<String>>,
    /// A PEM file of the certificate authority that signed the SMTP server's certificate, for a
    /// relay with a private certificate (relative to the checks file); public certificates need
    /// nothing.
    pub smtp_ca: Option<At<String>>,
    /// Where the local runner writes mail when there is no `smtp` (default `mail`, next to the
    /// database).
    pub folder: Option<At<String>>,
    /// Where subscribers' confirm, unsubscribe and manage pages are served, e.g.
    /// `https://status.acme.example/email`; locally `atalaya run --listen`'s address is used
    /// when not set.
    pub pages_url: Option<At<String>>,
    /// The key that signs subscribers' links, as a reference: `${ssm:/atalaya/mail/email-key}`,
    /// `${secret:atalaya/mail/email-key}` or `${env:ATALAYA_EMAIL_KEY}` (at least 32 characters).
    /// Locally, without it, a key file is made next to the database.
    pub key: Option<At<String>>,
}

/// A sign-off: one text, or one per language (`en`, `es`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[schemars(rename = "Signature")]
#[serde(untagged)]
pub enum RawSignature {
    One(String),
    PerLanguage(BTreeMap<String, String>),
}

/// Flap detection thresholds, in percent state change (0-100).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Flapping")]
#[serde(deny_unknown_fields)]
pub struct RawFlapping {
    /// A check starts flapping at or above this (default 50).
    pub start: Option<At<Count>>,
    /// It stops flapping below this (default 25).
    pub stop: Option<At<Count>>,
}

/// Incident policy.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Incidents")]
#[serde(deny_unknown_fields)]
pub struct RawIncidents {
    /// An outage this soon after an incident was resolved re-opens it instead of a new one
    /// (default `30m`, at most `30d`).
    pub reopen_within: Option<At<String>>,
}

/// `majority`, `all`, or a number of regions.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename = "Quorum")]
#[schemars(untagged)]
pub enum RawQuorum {
    /// `majority` or `all`.
    Word(String),
    /// A number of regions, at least 1.
    Count(u32),
}

impl<'de> Deserialize<'de> for RawQuorum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawQuorum;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`majority`, `all` or a number of regions")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawQuorum, E> {
                Ok(RawQuorum::Word(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawQuorum, E> {
                u32::try_from(v)
                    .map(RawQuorum::Count)
                    .map_err(|_| E::custom("quorum is too large"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawQuorum, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("quorum must be `majority`, `all` or a positive number"))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Check defaults. Durations are humane: `500ms`, `10s`, `1m`, `14d`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Defaults")]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// How often each check runs (default `1m`, at most `1d`). On Lambda an interval under a
    /// minute is `10s`, `15s`, `20s` or `30s` (the probe function runs it within its minute);
    /// the local runner takes any number of seconds.
    pub interval: Option<At<String>>,
    /// The deadline for one probe, everything included (default `10s`, at most `5m`; on Lambda
    /// at most `55s`, so a minute's run ends within its minute); below the interval.
    pub timeout: Option<At<String>>,
    /// Consecutive failures before a check is hard down (default 2, at most 100).
    pub retries: Option<At<Count>>,
    /// Consecutive successes before a check is up again (default 2, at most 100).
    pub recover_after: Option<At<Count>>,
}
