//! One rule for addresses: what `check_address` accepts, lettre writes; an address the mailer
//! cannot write (kept from before) is given up once and recorded, never retried for ever.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_core::email::{check_address, Key, Subscriber, SubscriberState, Subscription};
use atalaya_core::evaluate::Audience;
use atalaya_core::Message;
use atalaya_notify::email::{Templates, Transport};
use atalaya_notify::{Channel, EmailChannel};
use atalaya_store::{SqliteStore, Subscribers};
use std::path::Path;
use std::sync::Arc;

#[test]
fn what_check_address_accepts_lettre_can_write_and_the_hostile_ones_are_refused() {
    for bad in [
        "a..b@x.example",
        ".lead@x.example",
        "trail.@x.example",
        "x@-x.example",
        "x@x-.example",
        "x@x..example",
        "\"quoted\"@x.example",
        "a b@x.example",
        "a@b@x.example",
        "nodot@localhost",
    ] {
        let e = check_address(bad).expect_err(bad);
        assert!(e.contains("is not an email address"), "{bad}: {e}");
    }
    // Every combination of a few awkward characters on either side: whatever passes, lettre
    // takes as an address and as a mailbox (the mailer's two parses).
    let parts = [
        "a", "a.b", "a+b", "a-b", "a_b", "a'b", "a=b", "1", "a%b", "a!b", "a~b", "ñ",
    ];
    let domains = [
        "x.example",
        "x-y.example",
        "1.example",
        "xn--nxasmq6b.example",
        "a.b.c.example",
        "ñ.example",
    ];
    let mut accepted = 0;
    for local in parts {
        for domain in domains {
            let address = format!("{local}@{domain}");
            if check_address(&address).is_ok() {
                accepted += 1;
                assert!(address.parse::<lettre::Address>().is_ok(), "{address}");
                assert!(
                    address.parse::<lettre::message::Mailbox>().is_ok(),
                    "{address}"
                );
            }
        }
    }
    assert!(accepted >= 40, "{accepted}");
}

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
        attributes: [
            ("customer", "acme"),
            ("service", "shop"),
            ("language", "en"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        digest: None,
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
