//! The mailer function on moto: a customer message delivered by SNS becomes one mail per
//! confirmed subscriber, sent through SES (the raw message moto records is parsed and checked),
//! in each subscriber's language; SNS delivering it again sends nothing twice; SES's bounce
//! event marks the subscriber, and nothing more goes to them.

use super::*;
use atalaya_app::EmailChannel;
use atalaya_core::email::{Key, Subscriber, SubscriberState, Subscription};
use atalaya_notify::email::{Templates, Transport};
use atalaya_store::Subscribers;
use aws_lambda_events::event::sns::SnsEvent;
use mail_parser::MessageParser;
use std::sync::Arc;

const FILE: &str = r##"
settings:
  regions: [eu-west-1]
  brand: { name: Acme, from: "Estado de Acme <estado@acme.example>", reply_to: soporte@acme.example }
  email: { pages_url: "https://status.acme.example/email", key: "${ssm:/atalaya/email-key}" }
customers:
  - { id: acme, name: Acme Iberia, language: es }
services:
  - { id: shop, customer: acme, name: Tienda de España }
checks:
  - { id: shop-home, service: shop, http: { url: "https://shop.acme.example/" } }
"##;

fn sns_event(m: &Message) -> SnsEvent {
    let mut attributes = serde_json::Map::new();
    for (k, v) in m
        .attributes
        .pairs()
        .into_iter()
        .chain([("id".to_string(), m.id.clone())])
    {
        attributes.insert(k.clone(), serde_json::json!({"Type": "String", "Value": v}));
    }
    serde_json::from_value(serde_json::json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:atalaya-customers:1",
        "Sns": {
            "Type": "Notification", "MessageId": "m-1",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:atalaya-customers",
            "Subject": m.subject, "Message": m.body, "Timestamp": "2026-11-30T10:00:00Z",
            "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://x", "UnsubscribeUrl": "https://x",
            "MessageAttributes": attributes
        }
    }]}))
    .unwrap()
}

fn ses_bounce(subscriber: &str) -> SnsEvent {
    let body = serde_json::json!({
        "eventType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": [{"emailAddress": "ana@example.com"}]},
        "mail": {"destination": ["ana@example.com"], "tags": {"subscriber": [subscriber]}}
    });
    serde_json::from_value(serde_json::json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn",
        "Sns": {"Type": "Notification", "MessageId": "m-2", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:atalaya-ses-events",
                "Message": body.to_string(), "Timestamp": "2026-11-30T10:05:00Z", "SignatureVersion": "1",
                "Signature": "x", "SigningCertUrl": "https://x", "UnsubscribeUrl": "https://x", "MessageAttributes": {}}
    }]}))
    .unwrap()
}

/// What SES (moto) has sent so far to anyone but the subscribe form's test (which runs beside
/// the mailer's): the raw messages.
async fn mine() -> Vec<(Vec<String>, String)> {
    sent()
        .await
        .into_iter()
        .filter(|(to, _)| !to.iter().any(|t| t.starts_with("form-")))
        .collect()
}

/// What SES (moto) has sent so far: the raw messages.
async fn sent() -> Vec<(Vec<String>, String)> {
    tokio::task::spawn_blocking(atalaya_tests::moto::ses_sent)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_mailer_sends_through_ses_once_per_subscriber_and_stops_at_a_bounce() {
    let c = checks(FILE);
    let store = Arc::new(store().await);
    let sdk = atalaya_aws::sdk_config("eu-west-1", Some(&atalaya_tests::moto::endpoint())).await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    ses.create_email_identity()
        .email_identity("acme.example")
        .send()
        .await
        .unwrap();
    ses.create_email_identity()
        .email_identity("estado@acme.example")
        .send()
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let ana = Subscriber::new(
        "acme",
        "ana@example.com",
        None,
        Subscription::All,
        true,
        now,
    );
    let bob = Subscriber::new(
        "acme",
        "bob@example.com",
        Some(atalaya_core::Language::En),
        Subscription::All,
        true,
        now,
    );
    let pending = Subscriber::new(
        "acme",
        "pat@example.com",
        None,
        Subscription::All,
        false,
        now,
    );
    for s in [&ana, &bob, &pending] {
        store.put_subscriber(s).await.unwrap();
    }
    // A customer message as the alert function records it: the engine's, rendered, with its
    // translations.
    let down = |secs: i64| ProbeResult {
        check: "shop-home".into(),
        region: "eu-west-1".into(),
        at: now - chrono::TimeDelta::seconds(secs),
        outcome: Outcome::Down,
        reason: Reason::HttpStatus,
        detail: "status 503".into(),
        latency_ms: 40.0,
        phases: Phases::default(),
        http_status: Some(503),
        cert_days_left: None,
    };
    let mut state = atalaya_core::evaluate::State::default();
    let mut events = Vec::new();
    for secs in [150, 90, 30] {
        let (next, e) = atalaya_core::evaluate::evaluate(
            &state,
            &[down(secs)],
            now - chrono::TimeDelta::seconds(secs - 1),
            &c.config,
        );
        state = next;
        events.extend(e);
    }
    let event = events
        .iter()
        .find(|e| e.audience == atalaya_core::evaluate::Audience::Customers)
        .unwrap_or_else(|| panic!("no customer event: {events:?}"));
    let m = c.renderer.render(event, &state, &c.config).unwrap();
    assert!(
        m.translations.contains_key(&atalaya_core::Language::En),
        "{m:?}"
    );
    store.enqueue(std::slice::from_ref(&m)).await.unwrap();
    let before = mine().await.len();
    let channel = EmailChannel::new(
        store.clone(),
        Arc::new(c.config.clone()),
        Templates::new(&c.config, std::path::Path::new(".")).unwrap(),
        Key::new(vec![7; 32]).unwrap(),
        "https://status.acme.example/email",
        Transport::ses(&sdk, Some("atalaya".into())),
    );
    let out = atalaya_mailer_fn::handle(&store, &channel, &sns_event(&m))
        .await
        .unwrap();
    assert_eq!(out.messages, 1);
    let mails: Vec<(Vec<String>, String)> = mine().await[before..].to_vec();
    assert_eq!(
        mails.len(),
        2,
        "ana and bob, not the pending subscriber: {mails:?}"
    );
    for (to, raw) in &mails {
        let p = MessageParser::default().parse(raw.as_bytes()).unwrap();
        let who = to[0].as_str();
        assert!(
            who.contains("ana@example.com") || who.contains("bob@example.com"),
            "{to:?}"
        );
        let subject = p.subject().unwrap().to_string();
        if who.contains("ana") {
            assert_eq!(
                subject,
                "Tienda de España: nuevo problema, estamos trabajando en ello"
            );
        } else {
            assert!(
                subject.starts_with("Tienda de España: new problem"),
                "{subject}"
            );
        }
        assert_eq!(
            p.from().unwrap().first().unwrap().address(),
            Some("estado@acme.example")
        );
        assert!(p.body_html(0).is_some() && p.body_text(0).is_some());
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{raw}"
        );
        assert!(
            !raw.contains("shop.acme.example") && !raw.contains("inc-"),
            "{raw}"
        );
    }
    // SNS delivers the same message again: nothing is sent twice.
    atalaya_mailer_fn::handle(&store, &channel, &sns_event(&m))
        .await
        .unwrap();
    assert_eq!(mine().await.len(), before + 2);
    // SES reports ana's address bounced for good: she is marked, and gets nothing more.
    let out = atalaya_mailer_fn::handle(&store, &channel, &ses_bounce(&ana.id))
        .await
        .unwrap();
    assert_eq!(out.marked, 1);
    let marked = store.subscriber(&ana.id).await.unwrap().unwrap();
    assert_eq!(marked.state, SubscriberState::Bounced);
    assert!(marked.note.unwrap().contains("permanent bounce"));
    let mut next = m.clone();
    next.id = format!("{}-again", m.id);
    store.enqueue(std::slice::from_ref(&next)).await.unwrap();
    atalaya_mailer_fn::handle(&store, &channel, &sns_event(&next))
        .await
        .unwrap();
    let last: Vec<Vec<String>> = mine().await[before + 2..]
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    assert_eq!(last.len(), 1, "bob only: {last:?}");
    assert!(last[0][0].contains("bob@example.com"));
}

/// The pages function (an HTTP API event, payload 2.0, as Lambda hands it over) on the subscribers table:
/// a GET changes nothing, a POST confirms, a mail program's one-click POST unsubscribes, a
/// forged link is refused.
#[tokio::test]
async fn the_pages_function_confirms_and_unsubscribes_only_on_post() {
    use atalaya_core::email::{LinkAction, Token};
    let c = checks(FILE);
    let store = store().await;
    let key = Key::new(vec![9; 32]).unwrap();
    let s = Subscriber::new(
        "acme",
        "pat@example.com",
        None,
        Subscription::All,
        false,
        chrono::Utc::now(),
    );
    store.put_subscriber(&s).await.unwrap();
    let token = |action| {
        Token {
            action,
            subscriber: s.id.clone(),
            version: s.token_version,
        }
        .sign(&key)
    };
    let event = |method: &str, path: &str, t: &str, body: Option<(&str, bool)>| {
        let mut e = serde_json::json!({
            "version": "2.0", "rawPath": path, "rawQueryString": format!("t={t}"),
            "requestContext": {"http": {"method": method, "path": path}},
            "isBase64Encoded": false
        });
        if let Some((b, b64)) = body {
            e["body"] = serde_json::Value::String(if b64 {
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b)
            } else {
                b.to_string()
            });
            e["isBase64Encoded"] = serde_json::Value::Bool(b64);
        }
        e
    };
    let state = || async { store.subscriber(&s.id).await.unwrap().unwrap().state };
    let ask = |e: serde_json::Value| {
        let (store, config, key) = (&store, &c.config, &key);
        async move { atalaya_pages_fn::answer(store, config, key, &e).await }
    };
    let confirm = token(LinkAction::Confirm);
    let page = ask(event("GET", "/confirm", &confirm, None)).await;
    assert_eq!(page["statusCode"], 200);
    assert!(
        page["body"]
            .as_str()
            .unwrap()
            .contains("Confirmar la suscripción"),
        "{page}"
    );
    assert_eq!(page["headers"]["cache-control"], "no-store");
    assert_eq!(
        state().await,
        SubscriberState::Pending,
        "a GET changes nothing"
    );
    let forged = format!("{}x", confirm);
    let page = ask(event("POST", "/confirm", &forged, None)).await;
    assert_eq!(page["statusCode"], 403);
    assert_eq!(state().await, SubscriberState::Pending);
    let page = ask(event("POST", "/confirm", &confirm, None)).await;
    assert_eq!(page["statusCode"], 200);
    assert_eq!(state().await, SubscriberState::Confirmed);
    let unsubscribe = token(LinkAction::Unsubscribe);
    let one_click = event(
        "POST",
        "/email/unsubscribe",
        &unsubscribe,
        Some(("List-Unsubscribe=One-Click", true)),
    );
    let page = ask(one_click.clone()).await;
    assert_eq!(page["statusCode"], 200, "{page}");
    assert_eq!(state().await, SubscriberState::Unsubscribed);
    // Again: harmless.
    let page = ask(one_click.clone()).await;
    assert_eq!(page["statusCode"], 200);
    let page = ask(event("DELETE", "/confirm", &confirm, None)).await;
    assert_eq!(page["statusCode"], 405);
    // Removed and added again: the links sent before are revoked (a new token version).
    store.remove_subscriber(&s.id).await.unwrap();
    let again = Subscriber::new(
        "acme",
        "pat@example.com",
        None,
        Subscription::All,
        false,
        chrono::Utc::now() + chrono::TimeDelta::seconds(5),
    );
    store.put_subscriber(&again).await.unwrap();
    let page = ask(event("POST", "/confirm", &confirm, None)).await;
    assert_eq!(page["statusCode"], 403, "{page}");
    assert!(
        page["body"].as_str().unwrap().contains("ya no es válido"),
        "{page}"
    );
    assert_eq!(state().await, SubscriberState::Pending);
}

/// The status pages' subscribe form on the pages function: a pending subscriber in DynamoDB,
/// its confirmation sent through SES (moto), nothing more when asked again within the hour.
#[tokio::test]
async fn the_pages_function_subscribes_from_the_form_and_confirms_through_ses() {
    let c = Arc::new(checks(FILE));
    let store = Arc::new(store().await);
    let key = Key::new(vec![9; 32]).unwrap();
    let sdk = atalaya_aws::sdk_config("eu-west-1", Some(&atalaya_tests::moto::endpoint())).await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    // The sending domain, verified (the mailer test may have done it already: harmless).
    let _ = ses
        .create_email_identity()
        .email_identity("acme.example")
        .send()
        .await;
    let limiter = atalaya_app::subscriptions::subscribe::Limiter::default();
    let event = |email: &str| {
        serde_json::json!({
            "version": "2.0", "rawPath": "/email/subscribe", "rawQueryString": "",
            "requestContext": {"http": {"method": "POST", "path": "/email/subscribe"}},
            "body": format!("page=acme&lang=es&email={email}"), "isBase64Encoded": false
        })
    };
    let email = format!("form-{}@example.com", std::process::id());
    let (reply, confirm) =
        atalaya_pages_fn::subscribe_form(&*store, &c.config, &limiter, &event(&email))
            .await
            .unwrap();
    assert_eq!(reply["statusCode"], 200, "{reply}");
    assert!(
        reply["body"].as_str().unwrap().contains("Revise su correo"),
        "{reply}"
    );
    assert_eq!(confirm.len(), 1);
    let id = Subscriber::id_for("acme", &email);
    let kept = store.subscriber(&id).await.unwrap().unwrap();
    assert_eq!(kept.state, SubscriberState::Pending);
    atalaya_pages_fn::send_confirmations(&c, &store, &key, &sdk, None, confirm).await;
    let mails: Vec<_> = sent()
        .await
        .into_iter()
        .filter(|(to, _)| to.contains(&email))
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.contains("/email/confirm?t="), "{}", mails[0].1);
    // Again within the hour: the same answer, no one to mail.
    let (again, confirm) =
        atalaya_pages_fn::subscribe_form(&*store, &c.config, &limiter, &event(&email))
            .await
            .unwrap();
    assert_eq!(again["body"], reply["body"]);
    assert!(confirm.is_empty());
    // Another path is not the form's.
    assert!(atalaya_pages_fn::subscribe_form(
        &*store,
        &c.config,
        &limiter,
        &serde_json::json!({"rawPath": "/confirm"})
    )
    .await
    .is_none());
}

/// The link key is that of the checks file in force, read when first needed: without
/// `settings.email.key` the functions say why instead of failing to start; once a file with it
/// is published, its key is read (from SSM here), and read again only when the reference changes.
#[tokio::test]
async fn the_link_key_follows_the_checks_file_in_force() {
    use atalaya_aws::link_key::LinkKey;
    let (_, prefix) = atalaya_tests::moto::store().await;
    let sdk = atalaya_tests::moto::sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for (name, value) in [
        ("a", "a".repeat(40)),
        ("b", "b".repeat(40)),
        ("short", "x".into()),
    ] {
        ssm.put_parameter()
            .name(format!("/{prefix}/{name}"))
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    let with = |key: &str| {
        let text = FILE.replace(
            "key: \"${ssm:/atalaya/email-key}\"",
            &format!("key: \"${{ssm:/{prefix}/{key}}}\""),
        );
        checks(&text).config.clone()
    };
    let without = checks(&FILE.replace(", key: \"${ssm:/atalaya/email-key}\"", ""))
        .config
        .clone();
    // Keys are compared by what they sign (a key has no equality: it is a secret).
    let signed = |k: &Key| {
        atalaya_core::email::Token {
            action: atalaya_core::email::LinkAction::Confirm,
            subscriber: "sub-1".into(),
            version: 1,
        }
        .sign(k)
    };
    let link_key = LinkKey::default();
    let why = link_key.get(&without, &sdk).await.unwrap_err();
    assert!(why.contains("settings.email.key is not set"), "{why}");
    let a = link_key.get(&with("a"), &sdk).await.unwrap();
    assert_eq!(
        signed(&a),
        signed(&Key::from_text(&"a".repeat(40)).unwrap())
    );
    // Published again with another reference: the new key.
    let b = link_key.get(&with("b"), &sdk).await.unwrap();
    assert_eq!(
        signed(&b),
        signed(&Key::from_text(&"b".repeat(40)).unwrap())
    );
    let why = link_key.get(&with("short"), &sdk).await.unwrap_err();
    assert!(why.starts_with("settings.email.key: "), "{why}");
    let why = link_key.get(&with("missing"), &sdk).await.unwrap_err();
    assert!(why.starts_with("settings.email.key: "), "{why}");
}
