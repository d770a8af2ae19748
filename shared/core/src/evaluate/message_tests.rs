//! The messages the engine's events render to, for both audiences and both languages.

use super::tests::*;
use super::*;
use crate::message::{clean_subject, duration_words, Renderer, MAX_SUBJECT};
use crate::result::Outcome;
use crate::Language;
use crate::{load_str, Target};
use std::collections::BTreeSet;

fn outage() -> Sim {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    for m in 1..=45 {
        sim.minute(m, |_, r| {
            Some(if r == "ap-southeast-2" {
                Outcome::Up
            } else {
                Outcome::Down
            })
        });
    }
    for m in 46..=48 {
        sim.minute(m, up);
    }
    sim
}

#[test]
fn the_whole_conversation_renders_for_both_audiences() {
    let sim = outage();
    let messages = &sim.messages;
    for m in messages {
        assert!(
            m.subject.chars().count() <= MAX_SUBJECT && !m.subject.chars().any(char::is_control),
            "{m:?}"
        );
        for attr in [
            "audience", "event", "severity", "language", "service", "customer", "incident",
        ] {
            assert!(
                m.attributes.pairs().contains_key(attr),
                "{attr} missing: {m:?}"
            );
        }
    }
    let customer: Vec<_> = messages
        .iter()
        .filter(|m| m.topic == Audience::Customers)
        .collect();
    let kinds: Vec<&str> = customer
        .iter()
        .map(|m| m.attributes.event.as_str())
        .collect();
    assert_eq!(kinds, ["opened", "update", "update", "resolved"]);
    // Each says when its customers last heard of the incident before it: a subscriber who
    // joined since then is told when it began.
    let times: Vec<_> = customer.iter().map(|m| m.incident_times.unwrap()).collect();
    assert!(times[0].told_before >= times[0].started_at);
    for i in 1..customer.len() {
        assert_eq!(times[i].told_before, customer[i - 1].at, "{i}");
    }
    let opened = customer[0];
    assert_eq!(
        opened.subject,
        "Tienda online: nuevo problema, estamos trabajando en ello"
    );
    assert_eq!(opened.attributes.language.code(), "es");
    assert!(
        opened.body.contains(
            "Desde las 10:01 (UTC) del 24 de noviembre de 2026, el servicio «Tienda online» no funciona con normalidad"
        ),
        "{}",
        opened.body
    );
    assert!(
        opened.body.contains(
            "antes de las 10:33 (UTC) del 24 de noviembre de 2026, o antes si hay novedades."
        ),
        "says when the next update comes: {}",
        opened.body
    );
    let resolved = customer[3];
    assert!(
        resolved.body.contains("El problema duró 46 minutos"),
        "{}",
        resolved.body
    );
    let operators: Vec<_> = messages
        .iter()
        .filter(|m| m.topic == Audience::Operators)
        .collect();
    let opened_ops = operators
        .iter()
        .find(|m| m.attributes.event.as_str() == "opened")
        .unwrap();
    assert!(
        opened_ops
            .subject
            .starts_with("[OPENED] shop (Tienda online): shop-home down in eu-west-1, us-east-1"),
        "{}",
        opened_ops.subject
    );
    assert!(
        opened_ops.body.contains("status 503, expected 2xx")
            && opened_ops.body.contains("atalaya incident ack inc-1"),
        "{}",
        opened_ops.body
    );
    let escalated = operators
        .iter()
        .find(|m| m.attributes.event.as_str() == "escalated")
        .unwrap();
    assert_eq!(escalated.attributes.severity.as_str(), "critical");
}

#[test]
fn customer_messages_carry_no_technical_internals() {
    let sim = outage();
    for m in sim
        .messages
        .iter()
        .filter(|m| m.topic == Audience::Customers)
    {
        let text = format!("{}\n{}", m.subject, m.body);
        for forbidden in [
            "shop-home",
            "shop.acme.example",
            "https://",
            "503",
            "http_status",
            "eu-west-1",
            "expected 2xx",
            "Globex",
        ] {
            assert!(
                !text.contains(forbidden),
                "{forbidden:?} in a customer message:\n{text}"
            );
        }
    }
}

#[test]
fn english_customers_get_english() {
    let services = "  - { id: api, customer: globex, name: Globex API }\n";
    let checks = "  - { id: api-health, service: api, http: { url: 'https://api.globex.example/health' } }\n";
    let mut sim = Sim::new(config(services, checks));
    sim.minute(0, up);
    for m in 1..=3 {
        sim.minute(m, |c, _| {
            Some(if c == "api-health" {
                Outcome::Down
            } else {
                Outcome::Up
            })
        });
    }
    let e = sim
        .events
        .iter()
        .find(|e| e.audience == Audience::Customers)
        .unwrap();
    let m = Renderer::new().render(e, &sim.state, &sim.config).unwrap();
    assert_eq!(m.subject, "Globex API: new problem, we are working on it");
    assert!(m.body.starts_with("Hello Globex,\n\nSince 10:01 UTC on 24 November 2026, Globex API has not been working as it should. Our team is aware"), "{}", m.body);
    assert!(
        m.body
            .contains("We will write again by 10:23 UTC on 24 November 2026"),
        "{}",
        m.body
    );
}

#[test]
fn operators_read_a_resolution_in_whole_seconds() {
    let mut sim = Sim::new(config("", ""));
    sim.minute(0, up);
    let down = |_: &str, _: &str| Some(Outcome::Down);
    for m in 1..=3 {
        sim.minute(m, down);
    }
    sim.minute(4, up); // recover_after: 2
    let results: Vec<ProbeResult> = sim
        .config
        .checks
        .iter()
        .flat_map(|c| {
            c.regions
                .iter()
                .map(|r| result(&c.id, r, t(5), Outcome::Up))
                .collect::<Vec<_>>()
        })
        .collect();
    let (state, events) = evaluate(
        &sim.state,
        &results,
        t(5) + TimeDelta::milliseconds(5_123),
        &sim.config,
    );
    let e = events
        .iter()
        .find(|e| e.kind == EventKind::Resolved && e.audience == Audience::Operators)
        .expect("resolved");
    let m = Renderer::new().render(e, &state, &sim.config).unwrap();
    // First failure at 10:01:00, resolved at 10:05:05.123.
    assert!(m.subject.contains("resolved after 4m5s ("), "{}", m.subject);
}

#[test]
fn names_are_rendered_literally_never_as_templates() {
    let services =
        "  - { id: tricky, customer: globex, name: '{{7*7}} {% if true %}x{% endif %}' }\n";
    let checks = "  - { id: t, service: tricky, tcp: { host: db.example, port: 5432 } }\n";
    let mut sim = Sim::new(config(services, checks));
    sim.minute(0, up);
    for m in 1..=3 {
        sim.minute(m, |c, _| {
            Some(if c == "t" { Outcome::Down } else { Outcome::Up })
        });
    }
    let e = sim
        .events
        .iter()
        .find(|e| e.audience == Audience::Customers)
        .unwrap();
    let m = Renderer::new().render(e, &sim.state, &sim.config).unwrap();
    assert!(
        m.subject.starts_with("{{7*7}} {% if true %}x{% endif %}:"),
        "{}",
        m.subject
    );
    assert!(!m.body.contains("49"));
}

#[test]
fn subjects_are_one_short_line() {
    assert_eq!(clean_subject("a\nb\r\tc\u{7}d"), "a b c d");
    let long = clean_subject(&"x".repeat(300));
    assert_eq!(long.chars().count(), MAX_SUBJECT);
    assert!(long.ends_with('…'));
}

#[test]
fn durations_read_naturally() {
    assert_eq!(
        duration_words(TimeDelta::minutes(61), Language::En),
        "1 hour and 1 minute"
    );
    assert_eq!(
        duration_words(TimeDelta::minutes(61), Language::Es),
        "1 hora y 1 minuto"
    );
    assert_eq!(
        duration_words(TimeDelta::minutes(1500), Language::Es),
        "1 día, 1 hora y 1 minuto".replace(", 1 hora y 1 minuto", " y 1 hora")
    );
    assert_eq!(
        duration_words(TimeDelta::seconds(20), Language::En),
        "20 seconds"
    );
    assert_eq!(
        duration_words(TimeDelta::seconds(59), Language::Es),
        "59 segundos"
    );
    // Under a minute, to the second (never "0 seconds"); the same rule in symbols for tables.
    assert_eq!(
        duration_words(TimeDelta::milliseconds(19_971), Language::Es),
        "20 segundos"
    );
    assert_eq!(
        duration_words(TimeDelta::milliseconds(200), Language::En),
        "1 second"
    );
    assert_eq!(
        crate::message::duration_short(TimeDelta::milliseconds(19_971)),
        "20 s"
    );
    assert_eq!(
        crate::message::duration_short(TimeDelta::seconds(3_930)),
        "1 h 6 min"
    );
    assert_eq!(
        crate::message::duration_short(TimeDelta::seconds(89)),
        "1 min"
    );
    // Rounded to the nearest minute: 1 min 59 s is not "1 minute".
    assert_eq!(
        duration_words(TimeDelta::seconds(119), Language::En),
        "2 minutes"
    );
    assert_eq!(
        duration_words(TimeDelta::seconds(89), Language::En),
        "1 minute"
    );
}

#[test]
fn messages_are_signed_in_the_customers_language_or_by_their_own_signature() {
    let text = "settings:
  regions: [eu-west-1]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
  signature: { en: The Acme support team, es: El equipo de soporte de Acme }
customers:
  - { id: acme, name: ACME, language: es }
  - { id: globex, name: Globex }
  - { id: initech, name: Initech, signature: Bill at Initech support }
services:
  - { id: shop, customer: acme, name: Tienda online }
  - { id: portal, customer: globex, name: Portal }
  - { id: tps, customer: initech, name: TPS reports }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: portal-home, service: portal, http: { url: 'https://portal.globex.example/' } }
  - { id: tps-home, service: tps, http: { url: 'https://tps.initech.example/' } }
";
    let mut sim = Sim::new(load_str(text, "sig.yaml", Target::Lambda).unwrap());
    sim.minute(0, up);
    sim.minute(1, |_, _| Some(Outcome::Down));
    let ends: BTreeSet<(String, String)> = sim
        .customer_messages()
        .iter()
        .map(|m| {
            (
                m.attributes.customer.clone().unwrap_or_default(),
                m.body.lines().last().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ends,
        BTreeSet::from([
            (
                "acme".to_string(),
                "El equipo de soporte de Acme".to_string()
            ),
            ("globex".to_string(), "The Acme support team".to_string()),
            ("initech".to_string(), "Bill at Initech support".to_string()),
        ])
    );
}

#[test]
fn spanish_reads_right_whatever_the_service_is_called() {
    let sim = outage();
    let bodies: Vec<&str> = sim
        .customer_messages()
        .iter()
        .map(|m| m.body.as_str())
        .collect();
    let all = bodies.join("\n");
    // "a las", the subjunctive, no pronoun that would have to agree with "Tienda online".
    assert!(all.contains("que empezó a las 10:01 (UTC)"), "{all}");
    assert!(all.contains("para asegurarnos de que siga así"), "{all}");
    assert!(
        !all.contains(" Lo ") && !all.contains(" La estamos"),
        "{all}"
    );
    // One promise per message, as a native reader words it: "antes de las 10:33…, o antes si
    // hay novedades".
    assert!(
        bodies.iter().all(|b| b.matches("antes de").count() <= 1),
        "{all}"
    );
    assert!(all.contains(", o antes si hay novedades."), "{all}");
    assert!(!all.contains("en cuanto haya novedades"), "{all}");
    assert!(all.contains("está al tanto"), "{all}");
}

#[test]
fn customer_templates_can_be_overridden() {
    let sim = outage();
    let mut r = Renderer::new();
    r.add_override("acme/opened.subject", "Aviso: {{ service }}")
        .unwrap();
    let e = sim
        .events
        .iter()
        .find(|e| e.audience == Audience::Customers)
        .unwrap();
    assert_eq!(
        r.render(e, &sim.state, &sim.config).unwrap().subject,
        "Aviso: Tienda online"
    );
}

#[test]
fn a_service_name_cannot_turn_a_customer_subject_around() {
    // A customer-facing name with a right-to-left override and isolates: in an inbox it would
    // show the subject's words reversed. Validation refuses such a name; the renderer holds
    // whatever reaches it all the same.
    let services = "  - { id: web, customer: globex, name: Portal }\n";
    let checks =
        "  - { id: web-home, service: web, http: { url: 'https://web.globex.example/' } }\n";
    let mut config = config(services, checks);
    for s in config.services.iter_mut().filter(|s| s.id == "web") {
        s.names = crate::Names::one("Portal \u{202e}lanoitan\u{2066}");
    }
    let mut sim = Sim::new(config);
    sim.minute(0, up);
    for m in 1..=3 {
        sim.minute(m, |c, _| {
            Some(if c == "web-home" {
                Outcome::Down
            } else {
                Outcome::Up
            })
        });
    }
    let subjects: Vec<String> = sim
        .customer_messages()
        .iter()
        .filter(|m| m.attributes.service.as_deref() == Some("web"))
        .map(|m| m.subject.clone())
        .collect();
    assert!(!subjects.is_empty());
    for s in &subjects {
        assert!(
            !s.chars()
                .any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
            "{s:?}"
        );
        assert!(s.starts_with("Portal lanoitan"), "{s:?}");
    }
}

#[test]
fn every_language_has_every_customer_message() {
    let r = crate::Renderer::new();
    for l in crate::Language::ALL {
        assert_eq!(
            r.missing(l),
            Vec::<String>::new(),
            "{} lacks templates",
            l.code()
        );
    }
}

#[test]
fn with_a_brand_and_no_sign_off_written_customers_hear_from_the_brands_team() {
    let text = "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
  brand: { name: Acme, from: \"Acme status <status@acme.example>\" }
customers:
  - { id: acme, name: ACME, language: es }
  - { id: globex, name: Globex, signature: Globex support }
services:
  - { id: shop, customer: acme, name: Tienda online }
  - { id: portal, customer: globex, name: Portal }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: portal-home, service: portal, http: { url: 'https://portal.globex.example/' } }
";
    let mut sim = Sim::new(load_str(text, "t.yaml", Target::Lambda).unwrap());
    sim.minute(0, up);
    sim.minute(1, |_, _| Some(Outcome::Down));
    let bodies: Vec<&str> = sim
        .customer_messages()
        .iter()
        .map(|m| m.body.trim_end())
        .collect();
    assert!(
        bodies.iter().any(|b| b.ends_with("\n\nEl equipo de Acme")),
        "{bodies:#?}"
    );
    // A sign-off written for the customer still wins.
    assert!(
        bodies.iter().any(|b| b.ends_with("\n\nGlobex support")),
        "{bodies:#?}"
    );
}
