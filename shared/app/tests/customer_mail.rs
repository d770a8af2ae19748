//! Customer mail as the application layer sends it: an address the mailer cannot write (kept
//! from before addresses were checked as strictly) is given up once and recorded, never retried
//! for ever.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_app::EmailChannel;
use atalaya_core::email::{Key, Subscriber, SubscriberState, Subscription};
use atalaya_core::evaluate::{Audience, EventKind, Severity};
use atalaya_core::message::Tags;
use atalaya_core::{Language, Message};
use atalaya_notify::email::{Templates, Transport};
use atalaya_notify::Channel;
use atalaya_store::{SqliteStore, Subscribers};
use std::path::Path;
use std::sync::Arc;

const FILE: &str = "
settings:
  brand: { name: Acme, from: 'Acme Status <status@acme.example>' }
customers: [ { id: acme, name: ACME, status_page: { slug: acme-7f3k9q } } ]
services: [ { id: shop, customer: acme, name: Shop } ]
checks: [ { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } } ]
";

#[tokio::test]
async fn an_address_the_mailer_cannot_write_is_given_up_once_and_recorded() {
    let config =
        Arc::new(atalaya_core::load_str(FILE, "checks.yaml", atalaya_core::Target::Local).unwrap());
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let now = chrono::Utc::now();
    // Kept from before addresses were checked this strictly.
    for email in ["ana@acme.example", "a..b@acme.example"] {
        store
            .put_subscriber(&Subscriber::new(
                "acme",
                email,
                None,
                Subscription::All,
                true,
                now,
            ))
            .await
            .unwrap();
    }
    let mail = tempfile::tempdir().unwrap();
    let channel = EmailChannel::new(
        store.clone(),
        config.clone(),
        Templates::new(&config, Path::new(".")).unwrap(),
        Key::from_text(&"ab".repeat(32)).unwrap(),
        "http://127.0.0.1:8088",
        Transport::folder(mail.path()),
    );
    let m = Message {
        id: "inc-1/1/opened/shop".into(),
        at: now,
        topic: Audience::Customers,
        subject: "Shop: new problem, we are working on it".into(),
        body: "Hello,\n\nShop is not working as it should.".into(),
        attributes: Tags {
            customer: Some("acme".into()),
            service: Some("shop".into()),
            ..Tags::new(
                Audience::Customers,
                EventKind::Opened,
                Severity::Critical,
                Language::En,
            )
        },
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: None,
    };
    channel.send(&m).await.unwrap();
    let sent = std::fs::read_dir(mail.path()).unwrap().count();
    assert_eq!(sent, 1, "the good address got its mail");
    let bad = store
        .subscriber(&Subscriber::id_for("acme", "a..b@acme.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bad.state, SubscriberState::Bounced);
    let note = bad.note.unwrap();
    assert!(
        note.contains("is not an email address") && note.contains("re-add"),
        "{note}"
    );
    // Delivered again (a retry, another sender): nothing more is sent, nothing fails.
    channel.send(&m).await.unwrap();
    assert_eq!(std::fs::read_dir(mail.path()).unwrap().count(), 1);
}

/// A subscriber confirmed after an incident's first notice gets, as their first mail of it, one
/// that says when the problem began; one who got the notice gets the update as it is.
#[tokio::test]
async fn a_subscriber_who_joined_mid_incident_is_told_when_it_began() {
    let file = FILE.replace(
        "name: ACME,",
        "name: ACME, language: es, timezone: Europe/Madrid,",
    );
    let config = Arc::new(
        atalaya_core::load_str(&file, "checks.yaml", atalaya_core::Target::Local).unwrap(),
    );
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    for (email, confirmed) in [
        ("early@acme.example", "2026-11-24T09:00:00Z"),
        ("late@acme.example", "2026-11-24T10:20:00Z"),
    ] {
        store
            .put_subscriber(&Subscriber::new(
                "acme",
                email,
                None,
                Subscription::All,
                true,
                t(confirmed),
            ))
            .await
            .unwrap();
    }
    let mail = tempfile::tempdir().unwrap();
    let channel = EmailChannel::new(
        store.clone(),
        config.clone(),
        Templates::new(&config, Path::new(".")).unwrap(),
        Key::from_text(&"ab".repeat(32)).unwrap(),
        "http://127.0.0.1:8088",
        Transport::folder(mail.path()),
    );
    let m = Message {
        id: "inc-1/3/update/shop".into(),
        at: t("2026-11-24T10:30:00Z"),
        topic: Audience::Customers,
        subject: "Shop: hemos encontrado la causa del problema".into(),
        body: "Hola, ACME:\n\nHemos encontrado la causa del problema con el servicio «Shop» y estamos aplicando una solución.\n\nEl equipo de Acme".into(),
        attributes: Tags {
            customer: Some("acme".into()),
            service: Some("shop".into()),
            incident: Some("inc-1".into()),
            ..Tags::new(Audience::Customers, EventKind::Update, Severity::Critical, Language::Es)
        },
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: Some(atalaya_core::message::IncidentTimes {
            started_at: t("2026-11-24T09:58:00Z"),
            told_before: t("2026-11-24T10:00:00Z"),
        }),
    };
    channel.send(&m).await.unwrap();
    let mut bodies = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(mail.path()).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        let to = parsed
            .to()
            .unwrap()
            .first()
            .unwrap()
            .address()
            .unwrap()
            .to_string();
        bodies.insert(to, parsed.body_text(0).unwrap().replace("\r\n", "\n"));
    }
    let late = &bodies["late@acme.example"];
    assert!(
        late.contains("Hola, ACME:\n\nSe suscribió cuando este problema ya había empezado, a las 10:58 (hora de Madrid) del 24 de noviembre de 2026. Así están las cosas ahora:\n\nHemos encontrado la causa"),
        "{late}"
    );
    let early = &bodies["early@acme.example"];
    assert!(!early.contains("Se suscribió"), "{early}");
    assert!(early.contains("Hemos encontrado la causa"), "{early}");
    // The next update: both were told by the last one, and get it as it is.
    let next = Message {
        id: "inc-1/4/update/shop".into(),
        at: t("2026-11-24T11:00:00Z"),
        incident_times: Some(atalaya_core::message::IncidentTimes {
            started_at: t("2026-11-24T09:58:00Z"),
            told_before: t("2026-11-24T10:30:00Z"),
        }),
        ..m
    };
    channel.send(&next).await.unwrap();
    let mut leads = 0;
    for e in std::fs::read_dir(mail.path()).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        leads += usize::from(parsed.body_text(0).unwrap().contains("Se suscribió"));
    }
    assert_eq!(
        leads, 1,
        "the lead is in the late subscriber's first mail only"
    );
}
