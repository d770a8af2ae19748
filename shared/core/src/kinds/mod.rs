//! Check kinds, one module each: its block in the checks file (the raw type), the typed check it
//! becomes, the fields of `expect` it owns, and its validation. The expectations every kind
//! shares (latency, and the certificate for kinds that have one) are in `crate::config::Expect`.
//!
//! Adding a kind: a module here (`NAME`, `EXPECT`, `Raw…`, the typed check with its `targets`,
//! `validate`), its block in `raw::RawCheck`, a variant of [`CheckKind`] with its arms below,
//! and its prober in `atalaya-probe` (a module and one arm of `Engine::run`).

pub mod dns;
pub mod flow;
pub mod heartbeat;
pub mod http;
pub mod tcp;
pub mod tls;
pub mod tls_client;

use crate::at::Pos;
use crate::fields::Ctx;
use crate::raw::RawCheck;
use crate::template::EnvTemplate;

#[derive(Clone, Debug)]
pub enum CheckKind {
    Http(http::HttpCheck),
    Tcp(tcp::TcpCheck),
    Dns(dns::DnsCheck),
    Tls(tls::TlsCheck),
    Flow(flow::FlowCheck),
    Heartbeat(heartbeat::HeartbeatCheck),
}

/// Each kind's name and the `expect` fields it owns.
pub const EXPECT: [(&str, &[&str]); 6] = [
    (http::NAME, http::EXPECT),
    (tcp::NAME, tcp::EXPECT),
    (dns::NAME, dns::EXPECT),
    (tls::NAME, tls::EXPECT),
    (flow::NAME, flow::EXPECT),
    (heartbeat::NAME, heartbeat::EXPECT),
];

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Http(_) => http::NAME,
            CheckKind::Tcp(_) => tcp::NAME,
            CheckKind::Dns(_) => dns::NAME,
            CheckKind::Tls(_) => tls::NAME,
            CheckKind::Flow(_) => flow::NAME,
            CheckKind::Heartbeat(_) => heartbeat::NAME,
        }
    }

    /// The check is judged from what it sends us (a heartbeat), not probed.
    pub fn is_passive(&self) -> bool {
        matches!(self, CheckKind::Heartbeat(_))
    }

    /// The check meets a certificate whose days left can be judged (`expect.cert_valid_for`).
    pub fn has_certificate(&self) -> bool {
        match self {
            CheckKind::Http(h) => h.is_https(),
            CheckKind::Tls(_) => true,
            CheckKind::Flow(f) => f.has_https(),
            CheckKind::Tcp(_) | CheckKind::Dns(_) | CheckKind::Heartbeat(_) => false,
        }
    }

    /// The hosts the check dials, by field, as written (what the network guard will judge).
    pub fn targets(&self) -> Vec<(&'static str, String)> {
        match self {
            CheckKind::Http(h) => h.targets(),
            CheckKind::Tcp(t) => t.targets(),
            CheckKind::Dns(d) => d.targets(),
            CheckKind::Tls(t) => t.targets(),
            CheckKind::Flow(f) => f.targets(),
            CheckKind::Heartbeat(_) => Vec::new(),
        }
    }

    /// The values that may carry `${env:…}` references, by field.
    pub fn templates(&self) -> Vec<(String, &EnvTemplate)> {
        match self {
            CheckKind::Http(h) => h.templates(),
            CheckKind::Tls(t) => t.client.templates("tls."),
            CheckKind::Flow(f) => f
                .steps
                .iter()
                .flat_map(|s| {
                    s.http
                        .templates()
                        .into_iter()
                        .map(|(field, t)| (format!("steps.{}.{field}", s.name), t))
                        .collect::<Vec<_>>()
                })
                .collect(),
            CheckKind::Heartbeat(h) => h.templates(),
            CheckKind::Tcp(_) | CheckKind::Dns(_) => Vec::new(),
        }
    }

    /// What its TLS clients trust and present, with each one's field prefix (kinds that make
    /// TLS connections; a flow has one per step).
    pub fn tls_clients(&self) -> Vec<(String, &tls_client::TlsClient)> {
        match self {
            CheckKind::Http(h) => vec![("http.tls.".into(), &h.tls)],
            CheckKind::Tls(t) => vec![("tls.".into(), &t.client)],
            CheckKind::Flow(f) => f
                .steps
                .iter()
                .map(|s| (format!("steps.{}.http.tls.", s.name), &s.http.tls))
                .collect(),
            CheckKind::Tcp(_) | CheckKind::Dns(_) | CheckKind::Heartbeat(_) => Vec::new(),
        }
    }

    pub fn tls_clients_mut(&mut self) -> Vec<(String, &mut tls_client::TlsClient)> {
        match self {
            CheckKind::Http(h) => vec![("http.tls.".into(), &mut h.tls)],
            CheckKind::Tls(t) => vec![("tls.".into(), &mut t.client)],
            CheckKind::Flow(f) => f
                .steps
                .iter_mut()
                .map(|s| (format!("steps.{}.http.tls.", s.name), &mut s.http.tls))
                .collect(),
            CheckKind::Tcp(_) | CheckKind::Dns(_) | CheckKind::Heartbeat(_) => Vec::new(),
        }
    }

    /// Does this kind own the `expect` field `field`?
    pub fn owns(&self, field: &str) -> bool {
        EXPECT
            .iter()
            .any(|(kind, fields)| *kind == self.name() && fields.contains(&field))
    }
}

/// The kinds that own `expect` field `field`, by name.
pub fn owners(field: &str) -> Vec<&'static str> {
    EXPECT
        .iter()
        .filter(|(_, fields)| fields.contains(&field))
        .map(|(kind, _)| *kind)
        .collect()
}

/// The one kind block of a check, validated with its own fields of `expect`.
pub(crate) fn validate(c: &RawCheck, pos: Pos, cx: &mut Ctx) -> Option<CheckKind> {
    let given: Vec<&str> = [
        c.http.as_ref().map(|_| http::NAME),
        c.tcp.as_ref().map(|_| tcp::NAME),
        c.dns.as_ref().map(|_| dns::NAME),
        c.tls.as_ref().map(|_| tls::NAME),
        c.steps.as_ref().map(|_| flow::NAME),
        c.heartbeat.as_ref().map(|_| heartbeat::NAME),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() > 1 {
        cx.push(
            pos,
            "",
            format!(
                "more than one check kind ({}): a check takes exactly one",
                given.join(" and ")
            ),
        );
        return None;
    }
    let expect = c.expect.as_ref().map(|e| &e.value);
    if let Some(h) = &c.http {
        http::validate(&h.value, expect, cx).map(CheckKind::Http)
    } else if let Some(t) = &c.tcp {
        tcp::validate(&t.value, expect, cx).map(CheckKind::Tcp)
    } else if let Some(d) = &c.dns {
        dns::validate(&d.value, expect, cx).map(CheckKind::Dns)
    } else if let Some(t) = &c.tls {
        tls::validate(t, cx).map(CheckKind::Tls)
    } else if let Some(s) = &c.steps {
        flow::validate(s, cx).map(CheckKind::Flow)
    } else if let Some(h) = &c.heartbeat {
        heartbeat::validate(h, cx).map(CheckKind::Heartbeat)
    } else {
        let names: Vec<&str> = EXPECT.iter().map(|(k, _)| *k).collect();
        cx.push(
            pos,
            "",
            format!("no check kind: add one of {}", join_or(&names)),
        );
        None
    }
}

/// `a, b, c or d`.
pub(crate) fn join_or(names: &[&str]) -> String {
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}
