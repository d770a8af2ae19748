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
