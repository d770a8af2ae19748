//! Every customer template, in every language, with names that are awkward to write around: a
//! name without an article, one that begins with its own article, an acronym, a lowercase one,
//! one that repeats the word "service", one with an ampersand. Each rendering must read as a
//! person would write it (no name starting a sentence unless set apart, no doubled words, no
//! leftover template syntax), and is kept as a golden file reviewed with the change
//! (`ATALAYA_BLESS=1 cargo test -p atalaya-core --test customer_words` rewrites them).

#![allow(clippy::unwrap_used, clippy::too_many_lines, clippy::expect_used)]

use atalaya_core::config::{Language, Maintenance};
use atalaya_core::evaluate::{About, Audience, Event, EventKind, Incident, Phase, Severity, State};
use atalaya_core::{load_str, Renderer, Target};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::path::PathBuf;

/// (file name, service name as written, greeting as written)
const NAMES: &[(&str, &str, &str)] = &[
    (
        "shop",
        "{ en: Online shop, es: Tienda online }",
        "{ en: Acme team, es: equipo de Acme }",
    ),
    ("portal", "{ en: The Portal, es: El Portal }", "ACME Corp"),
    ("api", "API", "ACME Corp"),
    ("checkout", "checkout", "ACME Corp"),
    (
        "payments",
        "{ en: Payment service, es: Servicio de pagos }",
        "ACME Corp",
    ),
    (
        "billing",
        "{ en: Billing & Invoices, es: Cobros y facturación }",
        "ACME Corp",
    ),
];

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn config(name: &str, greeting: &str, language: Language) -> atalaya_core::Config {
    let text = format!(
        "settings:
  regions: [eu-west-1, us-east-1]
customers:
  - id: acme
    name: ACME Corp
    greeting: {greeting}
    language: {}
    timezone: Europe/Madrid
services:
  - id: shop
    customer: acme
    name: {name}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'https://shop.acme.example/' }} }}
",
        language.code()
    );
    load_str(&text, "words.yaml", Target::Lambda).unwrap_or_else(|e| panic!("{e}"))
}

fn incident(reopened: u32, resolved: bool) -> Incident {
    serde_json::from_value(serde_json::json!({
        "id": "inc-1", "service": "shop", "affected": [],
        "phase": if resolved { "resolved" } else { "investigating" },
        "started_at": "2026-11-24T09:58:00Z", "opened_at": "2026-11-24T10:00:00Z",
        "resolved_at": if resolved { serde_json::json!("2026-11-24T10:46:00Z") } else { serde_json::Value::Null },
        "acknowledged_at": null, "acknowledged_by": null, "escalated": false,
        "last_operator_notice": "2026-11-24T10:00:00Z", "last_customer_update": {},
        "told": ["shop"], "reopened": reopened, "failures": [], "timeline": [], "seq": 0
    }))
    .expect("an incident")
}

/// (label, event, reopened) for every customer template and its variants.
fn events(l: Language) -> Vec<(&'static str, Event, u32)> {
    let words = match l {
        Language::En => "We restarted the payment gateway.",
        Language::Es => "Hemos reiniciado la pasarela de pago.",
    };
    let talk = |kind, phase, text: Option<&str>, unseen| Event {
        id: "e".into(),
        at: at("2026-11-24T10:20:00Z"),
        kind,
        audience: Audience::Customers,
        severity: Severity::Critical,
        about: About::Conversation {
            incident: "inc-1".into(),
            service: "shop".into(),
            customer: "acme".into(),
            phase,
            text: text.map(str::to_string),
            unseen,
        },
    };
    let window = Maintenance {
        start: at("2026-12-01T02:00:00Z"),
        end: at("2026-12-01T03:00:00Z"),
        announce_before: None,
        note: Some(match l {
            Language::En => "Upgrading the payment platform".into(),
            Language::Es => "Mejora de la plataforma de pagos".into(),
        }),
    };
    let maintenance = |kind, unseen| Event {
        id: "m".into(),
        at: at("2026-11-30T02:00:00Z"),
        kind,
        audience: Audience::Customers,
        severity: Severity::Info,
        about: About::Maintenance {
            service: "shop".into(),
            customer: Some("acme".into()),
            window: window.clone(),
            unseen,
        },
    };
    use EventKind::{
        HumanUpdate, MaintenanceEnded, MaintenanceScheduled, MaintenanceStarted, Opened, Update,
    };
    use Phase::{Identified, Investigating, Monitoring};
    vec![
        ("opened", talk(Opened, Investigating, None, false), 0),
        (
            "opened, reopened",
            talk(Opened, Investigating, None, false),
            1,
        ),
        (
            "update, investigating",
            talk(Update, Investigating, None, false),
            0,
        ),
        (
            "update, identified",
            talk(Update, Identified, None, false),
            0,
        ),
        (
            "update, monitoring",
            talk(Update, Monitoring, None, false),
            0,
        ),
        (
            "update, monitoring, unseen",
            talk(Update, Monitoring, None, true),
            0,
        ),
        (
            "human_update",
            talk(HumanUpdate, Identified, Some(words), false),
            0,
        ),
        (
            "resolved",
            talk(EventKind::Resolved, Phase::Resolved, None, false),
            0,
        ),
        (
            "resolved, with words",
            talk(EventKind::Resolved, Phase::Resolved, Some(words), false),
            0,
        ),
        (
            "maintenance_scheduled",
            maintenance(MaintenanceScheduled, false),
            0,
        ),
        (
            "maintenance_started",
            maintenance(MaintenanceStarted, false),
            0,
        ),
        ("maintenance_ended", maintenance(MaintenanceEnded, false), 0),
        (
            "maintenance_ended, unseen",
            maintenance(MaintenanceEnded, true),
            0,
        ),
    ]
}

/// What a careful writer would not leave: the problems found in one rendering.
fn awkward(text: &str, name: &str, other: &str, l: Language, subject: bool) -> Vec<String> {
    let mut out = Vec::new();
    for bad in [
        "{{", "}}", "{%", "%}", "  ", " ,", " .", "..", ",,", ". .", "\n\n\n",
    ] {
        if text.contains(bad) {
            out.push(format!("has {bad:?}"));
        }
    }
    if !text.contains(name) {
        out.push(format!("does not name the service ({name:?})"));
    }
    if other != name && text.contains(other) {
        out.push(format!("names the service in another language ({other:?})"));
    }
    // A sentence begins with a capital, unless the name is set apart (a subject's `Name:`).
    let starts = text
        .split("\n\n")
        .flat_map(|p| p.split(". "))
        .map(str::trim_start)
        .filter(|s| !s.is_empty());
    for s in starts {
        let set_apart = subject && s.starts_with(&format!("{name}:"));
        if s.chars().next().is_some_and(char::is_lowercase) && !set_apart {
            out.push(format!("a sentence begins in lowercase: {s:?}"));
        }
        if !subject && s.starts_with(name) && !name.chars().next().unwrap().is_uppercase() {
            out.push(format!("a sentence begins with the name: {s:?}"));
        }
    }
    // Spanish needs an article before a name: it is always "el servicio «…»" in running text.
    if l == Language::Es && !subject {
        let bare = text.matches(name).count();
        let quoted = text
            .to_lowercase()
            .matches(&format!("el servicio «{}»", name.to_lowercase()))
            .count();
        if bare != quoted {
            out.push(format!(
                "the name stands without \"el servicio «…»\" {} time(s)",
                bare - quoted
            ));
        }
    }
    // The same word twice in a row, outside a quoted name ("the the", "servicio servicio").
    let unquoted: String = {
        let mut s = String::new();
        let mut depth = 0;
        for c in text.chars() {
            match c {
                '«' => depth += 1,
                '»' => depth -= 1,
                _ if depth == 0 => s.push(c),
                _ => {}
            }
        }
        s
    };
    let words: Vec<String> = unquoted
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    for pair in words.windows(2) {
        if pair[0] == pair[1] {
            out.push(format!("doubled word {:?}", pair[0]));
        }
    }
    out
}

#[test]
fn every_template_reads_well_with_every_name_in_every_language() {
    let renderer = Renderer::new();
    let mut problems = Vec::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/customer");
    let bless = std::env::var_os("ATALAYA_BLESS").is_some();
    for (file, name, greeting) in NAMES {
        for l in Language::ALL {
            let config = config(name, greeting, l);
            let service = config.service("shop").unwrap();
            let (own, other) = (
                service.names.get(l).to_string(),
                service
                    .names
                    .get(if l == Language::En {
                        Language::Es
                    } else {
                        Language::En
                    })
                    .to_string(),
            );
            let mut golden = String::new();
            for (label, event, reopened) in events(l) {
                let mut state = State::default();
                let resolved = event.kind == EventKind::Resolved;
                state
                    .incidents
                    .insert("inc-1".into(), incident(reopened, resolved));
                let m = renderer
                    .render(&event, &state, &config)
                    .unwrap_or_else(|e| panic!("{file} {label} {l:?}: {e}"));
                assert_eq!(m.attributes.language, l);
                let _ = write!(
                    golden,
                    "=== {label}\nSubject: {}\n\n{}\n\n",
                    m.subject, m.body
                );
                for (part, text, subject) in
                    [("subject", &m.subject, true), ("body", &m.body, false)]
                {
                    for p in awkward(text, &own, &other, l, subject) {
                        problems.push(format!(
                            "{file} ({}) {label}, {part}: {p}\n  {text:?}",
                            l.code()
                        ));
                    }
                }
            }
            let path = dir.join(format!("{}-{file}.txt", l.code()));
            if bless {
                std::fs::write(&path, &golden).unwrap();
            } else {
                let kept = std::fs::read_to_string(&path).unwrap_or_default();
                if kept != golden {
                    problems.push(format!(
                        "{} differs from what the templates render now: review the change and rewrite it with ATALAYA_BLESS=1\n{golden}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
