//! The probe result: one per check per region per run (design.md's public shape).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Up,
    Degraded,
    Down,
    /// The monitor could not do its job (a monitoring fault: reason `blocked` or `check_error`):
    /// nothing is known about the target.
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Degraded => "degraded",
            Outcome::Down => "down",
            Outcome::Unknown => "unknown",
        }
    }
}

/// A stable reason code. Operators and the incident engine key on these; never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Ok,
    Timeout,
    Refused,
    Reset,
    Dns,
    TlsExpired,
    TlsUntrusted,
    TlsHostname,
    TlsHandshake,
    HttpStatus,
    Assertion,
    Redirects,
    BodyLimit,
    Blocked,
    Protocol,
    /// The check could not run as configured: an unset `${env:NAME}`, no resolver on the
    /// monitor's host, no local resources. A fault of the monitor, not of the target.
    CheckError,
    /// A heartbeat's job did not report success by its schedule plus grace.
    Late,
    /// A heartbeat's job reported a failure (`/fail`, a non-zero exit status).
    JobFailed,
    /// A heartbeat's job ran longer than its `max_run`.
    LongRun,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::Timeout => "timeout",
            Reason::Refused => "refused",
            Reason::Reset => "reset",
            Reason::Dns => "dns",
            Reason::TlsExpired => "tls_expired",
            Reason::TlsUntrusted => "tls_untrusted",
            Reason::TlsHostname => "tls_hostname",
            Reason::TlsHandshake => "tls_handshake",
            Reason::HttpStatus => "http_status",
            Reason::Assertion => "assertion",
            Reason::Redirects => "redirects",
            Reason::BodyLimit => "body_limit",
            Reason::Blocked => "blocked",
            Reason::Protocol => "protocol",
            Reason::CheckError => "check_error",
            Reason::Late => "late",
            Reason::JobFailed => "job_failed",
            Reason::LongRun => "long_run",
        }
    }

    /// A result with this reason says the monitor could not do its job (the target was not
    /// judged): it counts as unknown, never as down, and operators are told of the fault.
    pub fn is_monitoring_fault(self) -> bool {
        matches!(self, Reason::Blocked | Reason::CheckError)
    }
}

impl ProbeResult {
    /// A real result: the target was probed and judged (up, degraded or down).
    pub fn is_real(&self) -> bool {
        self.outcome != Outcome::Unknown && !self.reason.is_monitoring_fault()
    }
}

/// Per-phase timings in milliseconds; `None` for a phase that did not happen or did not finish.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub ttfb_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub check: String,
    pub region: String,
    #[serde(serialize_with = "rfc3339_seconds")]
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    pub reason: Reason,
    /// For operators only: what was expected and what was seen. Never holds secrets.
    pub detail: String,
    pub latency_ms: f64,
    pub phases: Phases,
    pub http_status: Option<u16>,
    pub cert_days_left: Option<i64>,
}

fn rfc3339_seconds<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_serializes_in_the_public_shape() {
        let r = ProbeResult {
            check: "shop-home".into(),
            region: "local".into(),
            at: "2026-11-24T10:00:00Z".parse().unwrap(),
            outcome: Outcome::Down,
            reason: Reason::Timeout,
            detail: "no response headers within 10s (phase: ttfb)".into(),
            latency_ms: 10000.4,
            phases: Phases {
                dns_ms: Some(1.2),
                connect_ms: Some(0.4),
                tls_ms: Some(3.1),
                ttfb_ms: None,
            },
            http_status: None,
            cert_days_left: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"check":"shop-home","region":"local","at":"2026-11-24T10:00:00Z","outcome":"down","reason":"timeout","detail":"no response headers within 10s (phase: ttfb)","latency_ms":10000.4,"phases":{"dns_ms":1.2,"connect_ms":0.4,"tls_ms":3.1,"ttfb_ms":null},"http_status":null,"cert_days_left":null}"#
        );
    }
}
