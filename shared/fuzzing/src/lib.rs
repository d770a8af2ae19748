//! The fuzz targets' bodies. Each takes arbitrary bytes, runs one input-facing part of Atalaya
//! on them, and panics only when a property it must keep is broken (a panic inside the code
//! under test is a finding too). `fuzz/` runs them under libFuzzer (`make fuzz`); the test suite
//! runs them over `fuzz/seeds/` and every input that once failed (`fuzz/regressions/`).

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_core::evaluate::{evaluate, Audience};
use atalaya_core::{load_str, Outcome, Phases, ProbeResult, Reason, Renderer};
use chrono::{DateTime, TimeDelta, Utc};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name its folders carry.
pub const TARGETS: [(&str, Target); 7] = [
    ("checks_file", checks_file),
    ("duration", duration),
    ("customer_template", customer_template),
    ("result_unpacking", result_unpacking),
    ("target_text", target_text),
    ("ping_body", ping_body),
    ("subscriber_csv", subscriber_csv),
];

/// Characters nobody may be shown raw: controls but line breaks and tabs, bidi controls.
fn raw_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

const HEARTBEAT_CONFIG: &str =
    "customers: [ { id: acme, name: ACME, status_page: { slug: acme-7f3k9q } } ]
services: [ { id: backups, customer: acme, name: Backups } ]
checks: [ { id: backup-job, service: backups, heartbeat: { every: 1h, max_run: 10m } } ]
";

/// A job's ping (first line: the path; the rest: its body): the path parses or not, and a
/// body is kept and judged as operators read it: at most `MAX_BODY` bytes, its lines, and no
/// character that moves a cursor, overwrites a line or turns text around.
pub fn ping_body(data: &[u8]) {
    use atalaya_core::kinds::heartbeat::{
        judge, parse_path, Endpoint, Ping, PingKind, PingLog, MAX_BODY,
    };
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (path, body) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let path = String::from_utf8_lossy(path);
    let kind = match parse_path(&path) {
        Some((token, kind)) => {
            assert!(path.contains(token), "{token:?} not in {path:?}");
            kind
        }
        None => PingKind::Fail,
    };
    let t0: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap_or_default();
    let ping = Ping::new(kind, t0, body);
    assert!(
        ping.body.len() <= MAX_BODY,
        "{} bytes kept",
        ping.body.len()
    );
    assert!(!ping.body.chars().any(raw_control), "{:?}", ping.body);
    let Ok(config) = load_str(HEARTBEAT_CONFIG, "h.yaml", atalaya_core::Target::Local) else {
        panic!("the fixed configuration is valid");
    };
    let check = &config.checks[0];
    let atalaya_core::CheckKind::Heartbeat(h) = &check.kind else {
        panic!("a heartbeat");
    };
    let mut log = PingLog::default();
    log.record(&ping);
    for later in [1, 90] {
        let r = judge(
            check,
            h,
            &log,
            t0 + TimeDelta::minutes(later),
            Endpoint::AvailableSince(t0 - TimeDelta::hours(1)),
            "heartbeats",
        );
        assert!(!r.detail.chars().any(raw_control), "{:?}", r.detail);
    }
}

const SUBSCRIBER_CONFIG: &str =
    "customers: [ { id: acme, name: ACME, status_page: { slug: acme-7f3k9q } } ]
services: [ { id: shop, customer: acme, name: Shop }, { id: blog, customer: acme, name: Blog } ]
checks: [ { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } } ]
";

/// A subscriber file (`atalaya subscribers import`): every row it takes has an address the
/// mailer can write and a known customer; every problem is a short line naming its line.
pub fn subscriber_csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = load_str(SUBSCRIBER_CONFIG, "s.yaml", atalaya_core::Target::Local) else {
        panic!("the fixed configuration is valid");
    };
    match atalaya_app::subscriber_list::parse_csv(text, "s.csv", &config) {
        Ok(rows) => {
            for w in rows {
                assert!(
                    atalaya_core::email::check_address(&w.email).is_ok(),
                    "{:?}",
                    w.email
                );
                assert_eq!(w.customer, "acme");
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            assert!(problems.len() <= atalaya_app::subscriber_list::SHOWN + 1);
            for p in problems {
                assert!(p.len() < 1_000, "{} bytes: {p:.200}", p.len());
                assert!(p.starts_with("s.csv:") || p.starts_with('…'), "{p:.200}");
            }
        }
    }
}

/// The checks-file loader and validation, for both targets, and what `validate` runs after.
pub fn checks_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        // What the loader does with bytes that are not text.
        let _ = atalaya_core::source::text(data.to_vec());
        return;
    };
    for target in [atalaya_core::Target::Local, atalaya_core::Target::Lambda] {
        match load_str(text, "fuzz.yaml", target) {
            Ok(config) => {
                let _ = atalaya_probe::lint::refused_targets(&config);
                let _ = config.localized();
            }
            Err(errors) => {
                assert!(!errors.0.is_empty(), "an error without a problem");
                for e in &errors.0 {
                    // Every problem is one line of bounded length.
                    let line = e.to_string();
                    assert!(!line.contains('\n') || line.len() < 4096, "{line}");
                }
            }
        }
    }
}

/// Durations and sizes: whatever parses prints back to the same value.
pub fn duration(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = atalaya_core::parse_duration(text) {
        let shown = atalaya_core::duration::format_duration(d);
        assert_eq!(
            atalaya_core::parse_duration(&shown),
            Ok(d),
            "{text:?} → {shown:?}"
        );
    }
    let _ = atalaya_core::parse_size(text);
}

const TEMPLATE_CONFIG: &str = "settings:
  regions: [eu-west-1, us-east-1]
customers:
  - { id: acme, name: ACME Corp, language: es, timezone: Europe/Madrid, templates: t }
services:
  - id: shop
    customer: acme
    name: Tienda
    maintenance: [ { start: 2026-11-24T12:00:00Z, end: 2026-11-24T13:00:00Z, announce_before: 24h, note: Mejoras. } ]
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.example/' } }
";

/// A customer's own template (first byte: which kind and part): it loads or is refused, and
/// renders, within the fuel and size limits, to a clean subject, or fails with an error.
pub fn customer_template(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(source) = std::str::from_utf8(rest) else {
        return;
    };
    let kinds = Renderer::kinds();
    let kind = kinds[usize::from(pick >> 1) % kinds.len()];
    let part = if pick & 1 == 0 { "subject" } else { "body" };
    let mut renderer = Renderer::new();
    if renderer
        .add_override(&format!("acme/{kind}.{part}"), source)
        .is_err()
    {
        return;
    }
    let Ok(config) = load_str(TEMPLATE_CONFIG, "t.yaml", atalaya_core::Target::Lambda) else {
        panic!("the fixed configuration is valid");
    };
    // An outage that opens, is updated, and resolves, with the maintenance announced.
    let t0: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap_or_default();
    let mut state = Default::default();
    for (minute, outcome) in [
        (0, Outcome::Down),
        (1, Outcome::Down),
        (40, Outcome::Down),
        (41, Outcome::Up),
        (42, Outcome::Up),
    ] {
        let at = t0 + TimeDelta::minutes(minute);
        let results: Vec<ProbeResult> = ["eu-west-1", "us-east-1"]
            .iter()
            .map(|r| ProbeResult {
                check: "shop-home".into(),
                region: (*r).into(),
                at,
                outcome,
                reason: if outcome == Outcome::Up {
                    Reason::Ok
                } else {
                    Reason::Timeout
                },
                detail: String::new(),
                latency_ms: 1.0,
                phases: Phases::default(),
                http_status: None,
                cert_days_left: None,
            })
            .collect();
        let (next, events) = evaluate(&state, &results, at + TimeDelta::seconds(5), &config);
        for e in events.iter().filter(|e| e.audience == Audience::Customers) {
            if let Ok(m) = renderer.render(e, &next, &config) {
                assert!(m.subject.chars().count() <= atalaya_core::message::MAX_SUBJECT);
                assert!(!m.subject.chars().any(char::is_control), "{:?}", m.subject);
                assert!(m.body.len() <= atalaya_core::message::MAX_BODY + 4);
            }
        }
        state = next;
    }
}

/// A results item as the alert function reads it back: gzip and JSON from anywhere.
pub fn result_unpacking(data: &[u8]) {
    if let Ok(results) = atalaya_store::unpack_results(data) {
        let packed = atalaya_store::pack_results(&results).unwrap_or_default();
        let mut again = Vec::new();
        for blob in &packed {
            again.extend(atalaya_store::unpack_results(blob).unwrap_or_default());
        }
        assert_eq!(again.len(), results.len());
    }
    let _ = serde_json::from_slice::<Vec<ProbeResult>>(data);
}

/// Text from a target as it is shown: nothing that moves a cursor or turns text around, and
/// no run of 8 characters of a secret (the first 12 characters of the input), however encoded.
pub fn target_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let shown = atalaya_probe::printable(&text);
    assert!(
        !shown
            .chars()
            .any(|c| c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "{shown:?}"
    );
    let secret: String = text.chars().take(12).collect();
    if secret.chars().count() < 12 {
        return;
    }
    let scrubbed = atalaya_probe::scrub(&text, std::slice::from_ref(&secret));
    let lower = scrubbed.to_ascii_lowercase();
    let chars: Vec<char> = secret.to_ascii_lowercase().chars().collect();
    for w in chars.windows(8) {
        let w: String = w.iter().collect();
        assert!(
            !lower.contains(&w),
            "{w:?} of {secret:?} left in {scrubbed:?}"
        );
    }
}
