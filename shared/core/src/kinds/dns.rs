//! DNS checks: one query to a nameserver; the response code and the answers judged as they are.

use crate::at::At;
use crate::fields::Ctx;
use crate::raw::RawExpect;
use schemars::JsonSchema;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

pub const NAME: &str = "dns";
/// The fields of `expect` a DNS check owns.
pub const EXPECT: &[&str] = &["answers_include", "rcode"];

/// A DNS probe.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Dns")]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// The name to resolve.
    pub name: At<String>,
    /// Record type: A, AAAA, CNAME, MX, TXT or NS (default A).
    #[serde(rename = "type")]
    pub record_type: Option<At<String>>,
    /// Ask this nameserver (`IP` or `IP:port`) instead of the platform's resolver.
    pub nameserver: Option<At<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
}

impl RecordType {
    pub const ALL: [(&'static str, RecordType); 6] = [
        ("A", RecordType::A),
        ("AAAA", RecordType::Aaaa),
        ("CNAME", RecordType::Cname),
        ("MX", RecordType::Mx),
        ("TXT", RecordType::Txt),
        ("NS", RecordType::Ns),
    ];
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("A")
    }
}

/// Response codes a DNS check can expect.
pub const RCODES: [&str; 6] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
];

#[derive(Clone, Debug)]
pub struct DnsCheck {
    pub name: String,
    pub record_type: RecordType,
    /// `host:port`; the port defaults to 53. `None`: the platform's resolver.
    pub nameserver: Option<SocketAddr>,
    /// `expect.answers_include`: values the answer must include.
    pub answers_include: Vec<String>,
    /// `expect.rcode`, upper-case, one of [`RCODES`]; `None` means NOERROR.
    pub rcode: Option<String>,
}

impl DnsCheck {
    /// The nameserver written in the file; the platform's resolver is trusted, not a target.
    pub fn targets(&self) -> Vec<(&'static str, String)> {
        self.nameserver
            .map(|ns| vec![("dns.nameserver", ns.ip().to_string())])
            .unwrap_or_default()
    }
}

/// `expect.answers_include`: answers a query of `record_type` can have.
fn answers(expect: Option<&RawExpect>, record_type: RecordType, cx: &mut Ctx) -> Vec<String> {
    let mut answers_include = Vec::new();
    if let Some(a) = expect.and_then(|e| e.answers_include.as_ref()) {
        if a.value.is_empty() {
            cx.push(
                a.pos,
                "expect.answers_include",
                "an empty list can never fail; list the answers to expect",
            );
        }
        for v in &a.value {
            let bad = match record_type {
                RecordType::A => v.value.parse::<std::net::Ipv4Addr>().is_err(),
                RecordType::Aaaa => v.value.parse::<std::net::Ipv6Addr>().is_err(),
                _ => v.value.trim().is_empty(),
            };
            if bad {
                cx.push(
                    v.pos,
                    "expect.answers_include",
                    format!(
                        "{:?} cannot be an answer to a query of type {}",
                        v.value,
                        record_type.as_str()
                    ),
                );
            }
        }
        answers_include = a.value.iter().map(|v| v.value.clone()).collect();
    }
    answers_include
}

pub(crate) fn validate(d: &RawDns, expect: Option<&RawExpect>, cx: &mut Ctx) -> Option<DnsCheck> {
    let name = d.name.value.trim_end_matches('.');
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        cx.push(
            d.name.pos,
            "dns.name",
            format!("{:?} is not a DNS name", d.name.value),
        );
    }
    let record_type = match &d.record_type {
        None => RecordType::A,
        Some(t) => match RecordType::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&t.value))
        {
            Some((_, rt)) => *rt,
            None => {
                cx.push(
                    t.pos,
                    "dns.type",
                    format!(
                        "record type {:?} is not supported: use A, AAAA, CNAME, MX, TXT or NS",
                        t.value
                    ),
                );
                RecordType::A
            }
        },
    };
    let nameserver = d.nameserver.as_ref().and_then(|ns| {
        let parsed = ns.value.parse::<SocketAddr>().ok().or_else(|| {
            ns.value
                .parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        });
        if parsed.is_none() {
            cx.push(
                ns.pos,
                "dns.nameserver",
                format!(
                    "{:?} is not an IP address or IP:port (a nameserver is given by address)",
                    ns.value
                ),
            );
        }
        parsed
    });
    let answers_include = answers(expect, record_type, cx);
    let rcode = expect.and_then(|e| e.rcode.as_ref()).map(|r| {
        let upper = r.value.to_ascii_uppercase();
        if !RCODES.contains(&upper.as_str()) {
            cx.push(
                r.pos,
                "expect.rcode",
                format!(
                    "{:?} is not a response code: use one of {}",
                    r.value,
                    RCODES.join(", ")
                ),
            );
        } else if upper != "NOERROR" && !answers_include.is_empty() {
            cx.push(
                r.pos,
                "expect.rcode",
                format!("a {upper} response has no answers, so answers_include could never pass"),
            );
        }
        upper
    });
    Some(DnsCheck {
        name: d.name.value.clone(),
        record_type,
        nameserver,
        answers_include,
        rcode,
    })
}
