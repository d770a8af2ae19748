//! The checks file as written: the serde and JSON Schema model of the YAML.
//!
//! Values that need checking beyond their YAML type (durations, URLs, CIDRs, references) are kept
//! as strings with their position here; `validate` turns this into the typed [`crate::Config`] and
//! reports every problem at once. Doc comments on these types become the JSON Schema descriptions
//! that editors show.

use crate::at::At;
use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// An Atalaya checks file: what to probe, for which services and customers.
#[derive(Debug, Default, JsonSchema)]
#[schemars(title = "Atalaya checks file", deny_unknown_fields)]
pub struct RawFile {
    /// Where probes run and the defaults every check inherits.
    pub settings: Option<RawSettings>,
    /// The customers who hear about their services' incidents.
    #[schemars(default)]
    pub customers: Section<RawCustomer>,
    /// What a customer knows and sees: each service has a customer-facing name.
    #[schemars(default)]
    pub services: Section<RawService>,
    /// What is probed. Each check takes exactly one kind block: http, tcp, dns or tls.
    #[schemars(default)]
    pub checks: Section<RawCheck>,
}

/// A customer of the monitored services.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Customer")]
#[serde(deny_unknown_fields)]
pub struct RawCustomer {
    /// Stable identifier: letters, digits, `-`, `_`, `.` (at most 64), starting with a letter or digit.
    pub id: At<String>,
    /// The customer's name: one for every language, or one per language (`{ en: Acme Corp,
    /// es: Acme }`). Operators see it (the English one when there are several); their status
    /// page and report show it in the reader's language.
    pub name: At<RawName>,
    /// How their mail greets them ("Hello, Acme team:"), one or per language; default their
    /// name.
    pub greeting: Option<At<RawName>>,
    /// Language of customer messages: `en` or `es` (default `en`).
    pub language: Option<At<String>>,
    /// How often customers get an update while an incident is open (default `30m`, at most
    /// `7d`).
    pub update_every: Option<At<String>>,
    /// IANA time zone for the times in customer messages, e.g. `Europe/Madrid` (default UTC).
    pub timezone: Option<At<String>>,
    /// A folder of templates replacing the built-in ones for this customer, relative to the
    /// checks file: `<event>.subject` and `<event>.body` (minijinja), for the events opened,
    /// update, human_update, resolved, maintenance_scheduled, maintenance_started,
    /// maintenance_ended. Missing files fall back to the built-in templates.
    pub templates: Option<At<String>>,
    /// This customer's sign-off, over `settings.signature`.
    pub signature: Option<At<RawSignature>>,
    /// This customer's email branding, field by field over `settings.brand`.
    pub brand: Option<RawBrand>,
    /// This customer's status page: `{ slug: acme-7f3k }`.
    pub status_page: Option<RawStatusPage>,
}

/// A service as the customer knows it.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Service")]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Stable identifier: letters, digits, `-`, `_`, `.` (at most 64), starting with a letter or digit.
    pub id: At<String>,
    /// The customer this service belongs to (a customer id).
    pub customer: At<String>,
    /// The customer-facing name, one for every language or one per language: `{ en: Online
    /// shop, es: Tienda online }`. Customer mail, status pages and reports show it in the
    /// reader's language; operators see the English one (or the only one).
    pub name: At<RawName>,
    /// Services this one needs (service ids); when one of them is down, this one is not paged
    /// separately.
    pub depends_on: Option<Vec<At<String>>>,
    /// Planned maintenance windows: no incident while one is in force.
    pub maintenance: Option<Vec<At<RawMaintenance>>>,
    /// A runbook link for operators (never shown to customers).
    pub runbook: Option<At<String>>,
    /// Also shown on the public status page at the site's root (default `false`: only on its
    /// customer's page).
    pub public: Option<bool>,
}

/// A name people read: one text, or one per language code (`en`, `es`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[schemars(rename = "Name")]
#[serde(untagged)]
pub enum RawName {
    One(String),
    PerLanguage(BTreeMap<String, String>),
}

/// A planned maintenance window.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Maintenance")]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    /// Start, RFC 3339 (`2026-12-01T02:00:00Z`).
    pub start: At<String>,
    /// End, RFC 3339, after the start.
    pub end: At<String>,
    /// Tell the customers this long before the start (e.g. `24h`; at most `365d`).
    pub announce_before: Option<At<String>>,
    /// What the maintenance is, in the customer's language.
    pub note: Option<At<String>>,
}

/// One check: exactly one of `http`, `tcp`, `dns`, `tls`, `steps` (a flow) or `heartbeat`, and
/// optional assertions in `expect`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Check")]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// Stable identifier: letters, digits, `-`, `_`, `.` (at most 64), starting with a letter or digit.
    pub id: At<String>,
    /// The service this check belongs to (a service id).
    pub service: At<String>,
    /// Probe an HTTP(S) endpoint.
    pub http: Option<At<crate::kinds::http::RawHttp>>,
    /// Connect to a TCP port, optionally send a line and expect a reply.
    pub tcp: Option<At<crate::kinds::tcp::RawTcp>>,
    /// Resolve a DNS name.
    pub dns: Option<At<crate::kinds::dns::RawDns>>,
    /// Handshake with a TLS server and check its certificate.
    pub tls: Option<At<crate::kinds::tls::RawTls>>,
    /// A multi-step API flow: HTTP requests in order, values extracted from one response used
    /// by the next (`${var:NAME}`), cleanup steps that always run.
    pub steps: Option<At<Vec<crate::kinds::flow::RawStep>>>,
    /// A job that pings us: down when no success came by its schedule plus grace, or it
    /// reported a failure; degraded when a run lasts longer than `max_run`.
    pub heartbeat: Option<At<crate::kinds::heartbeat::RawHeartbeat>>,
    /// Assertions; without them a check expects a 2xx status, a successful connect, a NOERROR
    /// answer or a valid certificate.
    pub expect: Option<At<RawExpect>>,
    /// Overrides `settings.defaults.interval`.
    pub interval: Option<At<String>>,
    /// Overrides `settings.defaults.timeout`.
    pub timeout: Option<At<String>>,
    /// Overrides `settings.defaults.retries`.
    pub retries: Option<At<Count>>,
    /// Overrides `settings.defaults.recover_after`.
    pub recover_after: Option<At<Count>>,
    /// Run in these regions only (a subset of `settings.regions`).
    pub regions: Option<Vec<At<String>>>,
}

/// Assertions. Each applies to some check kinds only.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Expect")]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// (http) Acceptable status codes, e.g. `[200, 204]`.
    pub status: Option<At<Vec<At<StatusCode>>>>,
    /// (http) Response headers: a value to equal, or `{ equals: …, contains: … }`.
    pub headers: Option<At<BTreeMap<String, At<crate::kinds::http::RawHeaderExpect>>>>,
    /// (http) A substring the body must contain.
    pub body_contains: Option<At<String>>,
    /// (http) A regular expression the body must match.
    pub body_regex: Option<At<String>>,
    /// (http) JSON pointer → expected value, e.g. `{ "/status": "UP" }`.
    pub json: Option<At<BTreeMap<String, serde_json::Value>>>,
    /// (http) Latency thresholds.
    pub latency: Option<At<RawLatency>>,
    /// (tls, https) Degraded when the certificate expires sooner than this (e.g. `14d`; at most
    /// `3650d`).
    pub cert_valid_for: Option<At<String>>,
    /// (tls, https) An early warning to operators (only) when the certificate expires sooner
    /// than this (e.g. `21d`), before `cert_valid_for` degrades the check; a reminder at the
    /// operators' cadence, and word when it is renewed.
    pub cert_warn_before: Option<At<String>>,
    /// (tcp) A substring the reply must contain.
    pub reply_contains: Option<At<String>>,
    /// (dns) Values the answer must include (addresses, names, `10 mx.example.`, TXT text).
    pub answers_include: Option<At<Vec<At<String>>>>,
    /// (dns) Expected response code, e.g. NOERROR or NXDOMAIN (default NOERROR).
    pub rcode: Option<At<String>>,
}

impl RawExpect {
    /// The fields given, with their positions (to tell which do not apply to the check's kind).
    pub(crate) fn present(&self) -> Vec<(&'static str, crate::at::Pos)> {
        let pos = |p: Option<crate::at::Pos>, name: &'static str| p.map(|p| (name, p));
        [
            pos(self.status.as_ref().map(|v| v.pos), "status"),
            pos(self.headers.as_ref().map(|v| v.pos), "headers"),
            pos(self.body_contains.as_ref().map(|v| v.pos), "body_contains"),
            pos(self.body_regex.as_ref().map(|v| v.pos), "body_regex"),
            pos(self.json.as_ref().map(|v| v.pos), "json"),
            pos(self.latency.as_ref().map(|v| v.pos), "latency"),
            pos(
                self.cert_valid_for.as_ref().map(|v| v.pos),
                "cert_valid_for",
            ),
            pos(
                self.cert_warn_before.as_ref().map(|v| v.pos),
                "cert_warn_before",
            ),
            pos(
                self.reply_contains.as_ref().map(|v| v.pos),
                "reply_contains",
            ),
            pos(
                self.answers_include.as_ref().map(|v| v.pos),
                "answers_include",
            ),
            pos(self.rcode.as_ref().map(|v| v.pos), "rcode"),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Latency thresholds: above `degraded` the check is degraded, above `down` it is down.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Latency")]
#[serde(deny_unknown_fields)]
pub struct RawLatency {
    pub degraded: Option<At<String>>,
    pub down: Option<At<String>>,
    /// An early warning to operators (only) when an hour's median, in a region, is this many
    /// times the check's usual for that hour of the week there (e.g. `2x`; the last 4 weeks).
    pub drift: Option<At<String>>,
}

/// A whole number from 0 up, with a message that says so when it is not one.
#[derive(Debug, Clone, Copy, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct Count(#[schemars(range(min = 0))] pub u32);

/// A TCP port, 1-65535.
#[derive(Debug, Clone, Copy, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct Port(#[schemars(range(min = 1, max = 65535))] pub u16);

fn whole_number<'de, D: Deserializer<'de>>(
    d: D,
    what: &'static str,
    max: u64,
) -> Result<u64, D::Error> {
    struct V(&'static str, u64);
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            if v > self.1 {
                Err(E::custom(format!("{v} is too large: expected {}", self.0)))
            } else {
                Ok(v)
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v)
                .map_err(|_| E::custom(format!("{v} is negative: expected {}", self.0)))
                .and_then(|v| self.visit_u64(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            // YAML reads an integer too large for 64 bits as a float.
            if v.fract() == 0.0 && v.abs() > self.1 as f64 {
                return Err(E::custom(format!(
                    "the number is too large: expected {}",
                    self.0
                )));
            }
            Err(E::custom(format!(
                "{v} is not a whole number: expected {}",
                self.0
            )))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            Err(E::custom(format!(
                "{v:?} is not a number: expected {}",
                self.0
            )))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<u64, E> {
            Err(E::custom(format!(
                "{v} is not a number: expected {}",
                self.0
            )))
        }
    }
    d.deserialize_any(V(what, max))
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_number(d, "a whole number (0 or more)", u32::MAX as u64).map(|v| Count(v as u32))
    }
}

/// An HTTP status code as written (checked to be 100-599 by validation).
#[derive(Debug, Clone, Copy, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct StatusCode(#[schemars(range(min = 100, max = 599))] pub u16);

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_number(d, "an HTTP status code (100-599)", u16::MAX as u64)
            .map(|v| StatusCode(v as u16))
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_number(d, "a port number (1-65535)", u16::MAX as u64).map(|v| Port(v as u16))
    }
}

// ---------------------------------------------------------------------------------------------
// Parse modes. serde stops at the first error; to report every problem, a failed strict parse is
// followed by one parse per list item, strict for that item only, each reporting the first error
// inside it at its true position. The mode is a thread-local because serde-saphyr takes no seed.

/// Which part of the file a parse is strict about.
mod oncall;
mod sections;
mod settings;

pub use oncall::*;
pub use sections::Section;
pub(crate) use sections::{with_mode, Mode, SectionKind};
pub use settings::*;
