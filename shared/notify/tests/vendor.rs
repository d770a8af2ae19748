//! Calling a vendor: a hang is cut by the attempt's deadline and tried again, a 429 with a
//! Retry-After longer than a send may wait holds the channel until then, a 4xx is given up at
//! once, and a webhook to an address the network guard refuses (loopback, private, metadata) is
//! never dialled. Against the fake vendors on 127.0.0.1, through the loopback-only connector.

#![allow(clippy::unwrap_used)]

use atalaya_core::oncall::{ChannelKind, OnCall, OnCallChannel, Route};
use atalaya_core::EnvTemplate;
use atalaya_notify::oncall::build;
use atalaya_notify::vendor::Policy;
use atalaya_tests::vendors::{Fault, Vendors, WEBHOOK_SECRET};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn quick() -> Policy {
    Policy {
        attempts: 3,
        timeout: Duration::from_millis(300),
        backoff: Duration::from_millis(50),
        max_wait: Duration::from_secs(2),
    }
}

fn webhook(url: &str) -> OnCall {
    OnCall {
        channels: vec![OnCallChannel {
            pos: Default::default(),
            name: "hook".into(),
            kind: ChannelKind::Webhook {
                url: EnvTemplate::literal(url),
                secret: EnvTemplate::parse("${env:ATALAYA_TEST_HOOK_SECRET}").unwrap(),
            },
        }],
        routes: vec![Route {
            services: None,
            min_severity: atalaya_core::evaluate::Severity::Info,
            to: vec!["hook".into()],
        }],
        escalate_to: Vec::new(),
    }
}

fn message() -> atalaya_core::Message {
    let tags = atalaya_core::message::Tags::new(
        atalaya_core::evaluate::Audience::Operators,
        atalaya_core::evaluate::EventKind::MonitoringFault,
        atalaya_core::evaluate::Severity::Warning,
        atalaya_core::Language::En,
    );
    atalaya_core::Message {
        id: "check/x/fault/blocked/1/1".into(),
        at: chrono::Utc::now(),
        topic: atalaya_core::evaluate::Audience::Operators,
        subject: "[MONITORING FAULT] x".into(),
        body: "body".into(),
        attributes: tags,
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: None,
    }
}

fn value(r: &atalaya_core::Reference) -> Option<String> {
    (r.name == "ATALAYA_TEST_HOOK_SECRET").then(|| WEBHOOK_SECRET.to_string())
}

#[tokio::test]
async fn a_hang_is_cut_by_each_attempts_deadline_and_the_send_is_tried_again_later() {
    let v = Vendors::start().await;
    v.fault("webhook", &[Fault::Hang, Fault::Hang, Fault::Hang]);
    let channels = build(
        &webhook(&v.url("/webhook/hook")),
        &atalaya_tests::engine(None),
        &value,
        &quick(),
        None,
    );
    let started = Instant::now();
    let e = channels[0].send(&message()).await.unwrap_err();
    let took = started.elapsed();
    assert!(e.retryable, "{e}");
    assert!(e.detail.contains("no answer within 300 ms"), "{e}");
    assert!(
        took < Duration::from_secs(2),
        "bounded by 3 × 300 ms and the backoff: {took:?}"
    );
    assert_eq!(v.requests("webhook"), 3);
    // The next round succeeds, signed.
    channels[0].send(&message()).await.unwrap();
    assert_eq!(v.problems(), Vec::<String>::new());
}

#[tokio::test]
async fn a_retry_after_longer_than_a_send_may_wait_holds_the_channel_until_then() {
    let v = Vendors::start().await;
    v.fault("webhook", &[Fault::TooMany(30)]);
    let channels = build(
        &webhook(&v.url("/webhook/hook")),
        &atalaya_tests::engine(None),
        &value,
        &quick(),
        None,
    );
    let e = channels[0].send(&message()).await.unwrap_err();
    assert!(
        e.retryable && e.detail.contains("asked to wait 30 s"),
        "{e}"
    );
    // Within the 30 s, the channel does not call the vendor at all.
    let e = channels[0].send(&message()).await.unwrap_err();
    assert!(e.detail.contains("holding off"), "{e}");
    assert_eq!(v.requests("webhook"), 1);
}

#[tokio::test]
async fn a_retry_after_within_reach_is_waited_for_and_a_400_is_given_up_at_once() {
    let v = Vendors::start().await;
    v.fault("webhook", &[Fault::TooMany(1), Fault::ServerError]);
    let channels = build(
        &webhook(&v.url("/webhook/hook")),
        &atalaya_tests::engine(None),
        &value,
        &quick(),
        None,
    );
    let started = Instant::now();
    channels[0].send(&message()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(v.requests("webhook"), 3);
    v.fault("webhook", &[Fault::BadRequest]);
    let e = channels[0].send(&message()).await.unwrap_err();
    assert!(!e.retryable && e.detail.starts_with("status 400"), "{e}");
    assert_eq!(v.requests("webhook"), 4, "a 400 is not tried again");
}

#[tokio::test]
async fn a_webhook_to_an_address_the_guard_refuses_is_never_dialled() {
    // The guard allows nothing here: loopback is refused like private and metadata addresses.
    let mut options = atalaya_tests::options(None);
    options.allow_networks = Vec::new();
    let engine = Arc::new(atalaya_probe::Engine::new(options).unwrap());
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[fd00::1]/hook",
    ] {
        let channels = build(&webhook(url), &engine, &value, &quick(), None);
        let e = channels[0].send(&message()).await.unwrap_err();
        assert!(!e.retryable, "{url}: {e}");
        assert!(
            e.detail.contains("refused by the network guard"),
            "{url}: {e}"
        );
    }
}

#[tokio::test]
async fn a_slack_incoming_webhook_gets_block_kit_one_message_per_event() {
    let v = Vendors::start().await;
    let on_call = OnCall {
        channels: vec![OnCallChannel {
            pos: Default::default(),
            name: "chat".into(),
            kind: ChannelKind::SlackWebhook {
                webhook: EnvTemplate::literal(&v.url("/slack/hook/T000/B000/XXXX")),
            },
        }],
        routes: Vec::new(),
        escalate_to: Vec::new(),
    };
    let channels = build(
        &on_call,
        &atalaya_tests::engine(None),
        &value,
        &quick(),
        None,
    );
    assert!(
        !channels[0].threads(),
        "an incoming webhook keeps no thread"
    );
    channels[0].send(&message()).await.unwrap();
    channels[0].send(&message()).await.unwrap();
    let taken = v.taken("slack");
    assert_eq!(taken.len(), 2);
    assert_eq!(taken[0].path, "/hook/T000/B000/XXXX");
    assert!(taken[0].body["text"]
        .as_str()
        .unwrap()
        .starts_with("[MONITORING FAULT] x"));
    assert_eq!(v.problems(), Vec::<String>::new());
}
