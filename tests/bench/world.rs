//! The simulated deployment: its checks file, and the results its regions send each minute.

use super::{Args, REGIONS};
use atalaya_app::Checks;
use atalaya_core::{Outcome, Phases, ProbeResult, Reason};
use chrono::{DateTime, TimeDelta, Utc};

const CHECKS_PER_SERVICE: usize = 10;
const SERVICES_PER_CUSTOMER: usize = 10;

/// The deployment: customers of ten services, services of ten checks (mostly every minute, a
/// fifth every five), one service in twenty depending on its neighbour.
pub fn checks_file(checks: usize, regions: usize) -> String {
    let services = checks.div_ceil(CHECKS_PER_SERVICE);
    let customers = services.div_ceil(SERVICES_PER_CUSTOMER);
    let mut text = format!(
        "settings:\n  regions: [{}]\n  defaults: {{ interval: 1m, timeout: 10s, retries: 2, recover_after: 2 }}\ncustomers:\n",
        REGIONS[..regions].join(", ")
    );
    for c in 0..customers {
        let language = if c % 3 == 0 { "es" } else { "en" };
        text.push_str(&format!(
            "  - {{ id: c{c}, name: Customer {c}, language: {language} }}\n"
        ));
    }
    text.push_str("services:\n");
    for s in 0..services {
        let depends = if s % 20 == 1 {
            format!(", depends_on: [s{}]", s - 1)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "  - {{ id: s{s}, customer: c{}, name: Service {s}{depends} }}\n",
            s / SERVICES_PER_CUSTOMER
        ));
    }
    text.push_str("checks:\n");
    for i in 0..checks {
        let interval = if i % 5 == 4 { "5m" } else { "1m" };
        text.push_str(&format!(
            "  - {{ id: k{i}, service: s{}, interval: {interval}, http: {{ url: 'https://s{}.example/{i}' }} }}\n",
            i / CHECKS_PER_SERVICE,
            i / CHECKS_PER_SERVICE
        ));
    }
    text
}

/// A deterministic number in 0..n from a few integers.
fn mix(parts: &[u64], n: u64) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        h ^= p
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    h % n
}

/// What region `r` reports in measured minute `m` (negative: warming up) for check `i` of
/// service `s`: (down, why).
fn fails(i: usize, s: usize, r: usize, m: i64, a: &Args) -> Option<&'static str> {
    let noise = a.noise;
    if a.calm {
        return (mix(&[i as u64, r as u64, m as u64], 1000) < noise)
            .then_some("connection reset by peer");
    }
    // Five services down everywhere, minutes 3 to 6.
    if (100..105).contains(&s) && (3..=6).contains(&m) {
        return Some("status 503, expected one of [200]");
    }
    // The last region cannot reach twenty services, minutes 2 to 4.
    if r == 4 && s < 20 && (2..=4).contains(&m) {
        return Some("connect timed out after 10 s");
    }
    // One check flaps.
    if i == 2_001 && m % 2 == 1 {
        return Some("status 502, expected one of [200]");
    }
    // Background noise: `noise` results in a thousand fail once (3 % unless told).
    (mix(&[i as u64, r as u64, m as u64], 1000) < noise).then_some("connection reset by peer")
}

/// The results region `r` sends in minute `m`.
pub fn results(checks: &Checks, r: usize, m: i64, t0: DateTime<Utc>, a: &Args) -> Vec<ProbeResult> {
    let warmup = a.warmup;
    let region = REGIONS[r];
    let minute = t0.timestamp().div_euclid(60) + m;
    let start = t0 + TimeDelta::minutes(m);
    checks
        .config
        .checks
        .iter()
        .enumerate()
        .filter(|(_, c)| atalaya_core::schedule::due(c, minute))
        .map(|(i, c)| {
            let s = i / CHECKS_PER_SERVICE;
            let latency = 40.0 + mix(&[i as u64, r as u64, m as u64, 7], 400) as f64;
            let at =
                start + TimeDelta::milliseconds(500 + (mix(&[i as u64, r as u64], 20_000) as i64));
            match fails(i, s, r, m - warmup, a) {
                Some(why) => ProbeResult {
                    check: c.id.clone(),
                    region: region.into(),
                    at,
                    outcome: Outcome::Down,
                    reason: if why.starts_with("status") {
                        Reason::HttpStatus
                    } else {
                        Reason::Timeout
                    },
                    detail: why.into(),
                    latency_ms: latency,
                    phases: Phases::default(),
                    http_status: why.starts_with("status").then_some(503),
                    cert_days_left: None,
                },
                None => ProbeResult {
                    check: c.id.clone(),
                    region: region.into(),
                    at,
                    outcome: Outcome::Up,
                    reason: Reason::Ok,
                    detail: "status 200".into(),
                    latency_ms: latency,
                    phases: Phases {
                        dns_ms: Some(latency * 0.1),
                        connect_ms: Some(latency * 0.2),
                        tls_ms: Some(latency * 0.3),
                        ttfb_ms: Some(latency * 0.4),
                    },
                    http_status: Some(200),
                    cert_days_left: None,
                },
            }
        })
        .collect()
}
