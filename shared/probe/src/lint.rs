//! What the guard will refuse, known before anything runs: literal targets (an IP address in
//! any spelling, `localhost`) and nameservers written in the checks file that fall in a blocked
//! range. `atalaya validate` warns about them; at run time they are monitoring faults.

use crate::guard::{parse_host, Guard, HostKind};
use atalaya_core::{Config, ConfigError};
use std::net::{IpAddr, Ipv4Addr};

/// One warning per check target the guard will refuse.
pub fn refused_targets(config: &Config) -> Vec<ConfigError> {
    let guard = Guard::new(config.settings.allow_networks.clone());
    let mut out = Vec::new();
    for check in &config.checks {
        for (field, host) in check.kind.targets() {
            let ip = match parse_host(&host) {
                Ok(HostKind::Ip(ip)) => ip,
                Ok(HostKind::Name(n)) if n == "localhost" || n.ends_with(".localhost") => {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                }
                _ => continue,
            };
            if let Err(kind) = guard.check(ip) {
                out.push(ConfigError {
                    file: config.source.clone(),
                    pos: check.pos,
                    subject: format!("check {}", check.id),
                    field: field.to_string(),
                    message: format!(
                        "{host}: {kind} addresses are blocked; the network guard will refuse it and the check will report a monitoring fault (to operators, never as an outage); {}",
                        remedy(kind)
                    ),
                });
            }
        }
    }
    out
}

/// What to do about an address of `kind` the guard refused: a range that may be meant (a private
/// network) can be allowed; the cloud's metadata and credentials endpoints are never the target
/// of a check, so the advice is to look at where the name or the redirect points.
pub fn remedy(kind: &str) -> &'static str {
    if kind.contains("metadata") || kind.contains("credentials") {
        "the monitor never calls the cloud's metadata or credentials endpoints: check where the target's name, its DNS records or a redirect points (they may point somewhere they should not)"
    } else {
        "if the target is meant to be on a private network, add the range to settings.allow_networks"
    }
}
