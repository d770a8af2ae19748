//! The fuzz targets' bodies. Each takes arbitrary bytes, runs one input-facing part of Atalaya
//! on them, and panics only when a property it must keep is broken (a panic inside the code
//! under test is a finding too). `fuzz/` runs them under libFuzzer (`make fuzz`); the test suite
//! runs them over `fuzz/seeds/` and every input that once failed (`fuzz/regressions/`).

use atalaya_core::evaluate::{evaluate, Audience};
use atalaya_core::{load_str, Outcome, Phases, ProbeResult, Reason, Renderer};
use chrono::{DateTime, TimeDelta, Utc};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name its folders carry.
pub const TARGETS: [(&str, Target); 5] = [
    ("checks_file", checks_file),
    ("duration", duration),
    ("customer_template", customer_template),
    ("result_unpacking", result_unpacking),
    ("target_text", target_text),
];

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
