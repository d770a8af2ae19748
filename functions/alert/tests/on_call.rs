//! The alert function delivering to operators' paging and chat channels, over DynamoDB on moto in
//! four partitions: an outage and its recovery reach a fake PagerDuty and Slack (each payload
//! checked against the vendor's rules), every delivery is recorded per channel on the message
//! (`d_<channel>`), and a channel that keeps failing is counted by its kind for the alarm.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_alert_fn::{channel_emf, handle, Deps};
use atalaya_app::Checks;
use atalaya_core::{Outcome, Phases, ProbeResult, Reason};
use atalaya_notify::{Channel, MemoryChannel};
use atalaya_store::Store;
use atalaya_tests::vendors::{Fault, Vendors, PD_KEY};
use chrono::{DateTime, TimeDelta, Utc};

const ALL: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];

fn results(at: DateTime<Utc>, outcome: Outcome) -> Vec<ProbeResult> {
    ALL.iter()
        .map(|r| ProbeResult {
            check: "shop-home".into(),
            region: r.to_string(),
            at,
            outcome,
            reason: if outcome == Outcome::Down {
                Reason::HttpStatus
            } else {
                Reason::Ok
            },
            detail: "status 503, expected 2xx".into(),
            latency_ms: 12.0,
            phases: Phases::default(),
            http_status: None,
            cert_days_left: None,
        })
        .collect()
}

#[tokio::test]
async fn the_alert_function_pages_and_posts_and_records_each_channel_on_dynamodb() {
    let v = Vendors::start().await;
    std::env::set_var("ATALAYA_TEST_PD_KEY", PD_KEY);
    std::env::set_var("ATALAYA_TEST_SLACK", "xoxb-test-token");
    let text = format!(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }}
  operators:
    channels:
      pd: {{ pagerduty: {{ routing_key: '${{env:ATALAYA_TEST_PD_KEY}}', url: '{pd}' }} }}
      chat: {{ slack: {{ token: '${{env:ATALAYA_TEST_SLACK}}', channel: C0ATALAYA, url: '{slack}' }} }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: shop, customer: acme, name: Online shop }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'https://shop.acme.example/' }} }}
",
        pd = v.url("/pagerduty/v2/enqueue"),
        slack = v.url("/slack/api"),
    );
    let checks = Checks::from_text(
        &text,
        "checks.yaml",
        std::path::Path::new("."),
        atalaya_core::Target::Lambda,
    )
    .unwrap();
    let (store, prefix) = atalaya_tests::moto::store().await;
    let store = store.with_partitions(4);
    let engine = atalaya_tests::engine(None);
    let sdk = atalaya_tests::moto::sdk_config().await;
    let paging =
        atalaya_app::on_call::build(&checks.config, &engine, &sdk, &Default::default(), None).await;
    let sns = MemoryChannel::new("sns");
    let mut channels: Vec<&dyn Channel> = vec![&sns];
    channels.extend(paging.iter().map(|c| c.as_ref()));
    let deps = Deps {
        checks: &checks,
        store: &store,
        channels: &channels,
        site: None::<&atalaya_app::status_site::Folder>,
    };

    // Slack fails four times in a row: counted for its kind's alarm; PagerDuty is not held up.
    v.fault(
        "slack",
        &[Fault::ServerError, Fault::ServerError, Fault::ServerError],
    );
    let t0 = Utc::now() - TimeDelta::minutes(5);
    let out = handle(
        &deps,
        &results(t0, Outcome::Down),
        None,
        t0 + TimeDelta::seconds(5),
    )
    .await;
    assert_eq!(
        v.pagerduty_incidents().0,
        1,
        "paged in the invocation that opened it"
    );
    assert_eq!(out.channel_failures.get("slack"), Some(&1), "{out:?}");
    let emf = channel_emf(&out, t0)
        .iter()
        .map(ToString::to_string)
        .collect::<String>();
    assert!(
        emf.contains("\"ChannelFailures\"") && emf.contains("\"Channel\":\"slack\""),
        "{emf}"
    );
    // The next invocation (a tick) delivers what Slack missed, and nothing twice.
    let t1 = t0 + TimeDelta::minutes(1);
    handle(&deps, &[], None, t1 + TimeDelta::seconds(5)).await;
    let t2 = t0 + TimeDelta::minutes(2);
    handle(
        &deps,
        &results(t2, Outcome::Up),
        None,
        t2 + TimeDelta::seconds(5),
    )
    .await;
    assert!(
        store.pending().await.unwrap().is_empty(),
        "every channel is done with every message"
    );
    let (created, incidents) = v.pagerduty_incidents();
    assert_eq!(created, 1);
    let actions: Vec<&String> = incidents.values().flat_map(|i| &i.actions).collect();
    assert_eq!(actions, ["trigger", "resolve"]);
    // Slack: the opening message (posted on the tick, once Slack answered), edited to the
    // resolution, and the resolution as a reply in its thread.
    let posted: Vec<String> = v
        .taken("slack")
        .iter()
        .filter(|t| t.path == "/api/chat.postMessage")
        .map(|t| {
            t.body["text"]
                .as_str()
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(posted.len(), 2, "{posted:#?}");
    assert!(
        posted[0].starts_with("[OPENED]") && posted[1].starts_with("[RESOLVED]"),
        "{posted:#?}"
    );
    let thread = v.slack_messages();
    assert_eq!(thread[1].thread_ts.as_deref(), Some(thread[0].ts.as_str()));
    assert!(thread[0].edits >= 1 && thread[0].blocks.to_string().contains("Resolved"));
    assert_eq!(v.problems(), Vec::<String>::new());

    // Each operator message records each channel's delivery on its item.
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let items = db
        .scan()
        .table_name(format!("{prefix}outbox"))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let operators: Vec<_> = items
        .iter()
        .filter(|i| {
            i.get("message")
                .and_then(|m| m.as_s().ok())
                .is_some_and(|m| m.contains("\"topic\":\"operators\""))
        })
        .collect();
    assert_eq!(operators.len(), 2);
    for item in operators {
        for channel in ["d_sns", "d_pd", "d_chat"] {
            assert!(item.contains_key(channel), "{channel} missing on {item:?}");
        }
    }
}

/// A channel whose vendor never answers (and no deadline of its own).
struct Stalled;

impl Channel for Stalled {
    fn name(&self) -> &str {
        "stalled"
    }
    fn send<'a>(
        &'a self,
        _: &'a atalaya_core::Message,
    ) -> futures::future::BoxFuture<'a, Result<(), atalaya_notify::ChannelError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_channel_that_never_answers_holds_an_invocation_no_longer_than_the_delivery_budget() {
    let checks = Checks::from_text(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp }
services:
  - { id: shop, customer: acme, name: Online shop }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
",
        "checks.yaml",
        std::path::Path::new("."),
        atalaya_core::Target::Lambda,
    )
    .unwrap();
    let store = atalaya_store::SqliteStore::in_memory().unwrap();
    let sns = MemoryChannel::new("sns");
    let channels: Vec<&dyn Channel> = vec![&sns, &Stalled];
    let deps = Deps {
        checks: &checks,
        store: &store,
        channels: &channels,
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = Utc::now() - TimeDelta::minutes(5);
    let started = std::time::Instant::now();
    let out = handle(
        &deps,
        &results(t0, Outcome::Down),
        None,
        t0 + TimeDelta::seconds(5),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took < atalaya_app::round::DELIVERY_BUDGET + std::time::Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        !out.evaluation_failed,
        "judged and committed first: {out:?}"
    );
    assert_eq!(out.events, 2);
    assert!(out.publish_failures >= 1, "the stall is counted: {out:?}");
    // The other channel was not held up: it has both messages.
    assert_eq!(sns.sent().len(), 2);
}
