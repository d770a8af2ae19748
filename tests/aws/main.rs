//! The DynamoDB adapter against moto_server: batches, TTL, conditional writes, the outbox.

#![allow(clippy::unwrap_used)]

use atalaya_core::evaluate::{Audience, State};
use atalaya_core::{Message, Outcome, Phases, ProbeResult, Reason};
use atalaya_store::{DynamoStore, Store, StoreError, Tables, Versioned};
use std::time::{Duration, Instant};

async fn store() -> DynamoStore {
    atalaya_tests::moto::store().await.0
}

fn result(i: i64) -> ProbeResult {
    ProbeResult {
        check: "shop-home".into(),
        region: "eu-west-1".into(),
        at: "2026-11-24T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::TimeDelta::seconds(i),
        outcome: Outcome::Up,
        reason: Reason::Ok,
        detail: "status 200 OK".into(),
        latency_ms: 12.0,
        phases: Phases::default(),
        http_status: Some(200),
        cert_days_left: None,
    }
}

fn message(id: &str, second: i64) -> Message {
    Message {
        id: id.into(),
        at: "2026-11-24T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::TimeDelta::seconds(second),
        topic: Audience::Customers,
        subject: "Tienda online: estamos resolviendo un problema".into(),
        body: "Hola".into(),
        attributes: Default::default(),
    }
}

#[tokio::test]
async fn results_are_packed_per_region_written_in_batches_of_25_with_their_ttl() {
    let s = store().await;
    // 30 regions: 30 packed items, so two BatchWriteItem calls (25 + 5).
    let results: Vec<ProbeResult> = (0..60)
        .map(|i| ProbeResult {
            region: format!("region-{}", i % 30),
            ..result(i)
        })
        .collect();
    let written = s
        .put_results(&results, Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(written, 60);
    let writes = s.stats().snapshot()[&s.tables().results];
    assert_eq!(writes.items, 30, "one item per region");
    let back = s
        .results("region-7", chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(
        back,
        [results[7].clone(), results[37].clone()],
        "oldest first"
    );
    // Items are keyed by their first result's time.
    assert_eq!(s.results("region-7", results[7].at).await.unwrap(), back);
    assert!(s
        .results("region-7", results[8].at)
        .await
        .unwrap()
        .is_empty());
    let ttls = s.result_ttls("region-7").await.unwrap();
    assert_eq!(
        ttls,
        [results[37].at.timestamp() + 30 * 86_400],
        "expires 30 days after the newest result it holds"
    );
    // Writing the same results again overwrites the same items.
    s.put_results(&results, Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        s.results("region-7", chrono::DateTime::UNIX_EPOCH)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_large_run_is_split_into_items_that_fit() {
    let s = store().await;
    let results: Vec<ProbeResult> = (0..1000)
        .map(|i| ProbeResult {
            check: format!("check-{i}"),
            detail: format!(
                "status 200 OK after {} redirects, body {} bytes",
                i % 7,
                i * 37
            ),
            ..result(i % 50)
        })
        .collect();
    assert_eq!(
        s.put_results(&results, Instant::now() + Duration::from_secs(20))
            .await
            .unwrap(),
        1000
    );
    let writes = s.stats().snapshot()[&s.tables().results];
    assert_eq!(writes.items, 3, "400 results an item at most");
    assert!(writes.bytes < 60_000, "compressed: {} bytes", writes.bytes);
    let mut back = s
        .results("eu-west-1", chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    back.sort_by(|a, b| a.check.cmp(&b.check));
    let mut want = results.clone();
    want.sort_by(|a, b| a.check.cmp(&b.check));
    assert_eq!(back, want);
}

#[tokio::test]
async fn state_is_written_only_over_the_version_read() {
    let s = store().await;
    let v = s.load_state().await.unwrap();
    assert_eq!(v.version, 0);
    let state = State {
        next_incident: 3,
        ..State::default()
    };
    assert_eq!(s.commit(&v, &state, &[]).await.unwrap(), 1);
    assert!(matches!(
        s.commit(&v, &State::default(), &[]).await,
        Err(StoreError::Conflict { .. })
    ));
    let back = s.load_state().await.unwrap();
    assert_eq!((back.version, back.state.next_incident), (1, 3));
}

#[tokio::test]
async fn of_two_racing_writers_exactly_one_wins() {
    let s = store().await;
    s.commit(&Versioned::default(), &State::default(), &[])
        .await
        .unwrap();
    let base = s.load_state().await.unwrap();
    let (one, two) = (State::default(), State::default());
    let (a, b) = tokio::join!(s.commit(&base, &one, &[]), s.commit(&base, &two, &[]));
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    let conflicts = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict { .. })))
        .count();
    assert_eq!((wins, conflicts), (1, 1), "{a:?} {b:?}");
    assert_eq!(s.load_state().await.unwrap().version, 2);
}

#[tokio::test]
async fn outbox_records_each_message_once_and_lists_it_until_sent() {
    let s = store().await;
    assert_eq!(
        s.enqueue(&[
            message("inc-1/1/opened", 1),
            message("inc-1/2/opened/shop", 2)
        ])
        .await
        .unwrap(),
        2
    );
    // A retried invocation records the same messages again: nothing new.
    assert_eq!(
        s.enqueue(&[
            message("inc-1/2/opened/shop", 2),
            message("inc-1/3/update/shop", 3)
        ])
        .await
        .unwrap(),
        1
    );
    let pending: Vec<String> = s
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        pending,
        [
            "inc-1/1/opened",
            "inc-1/2/opened/shop",
            "inc-1/3/update/shop"
        ]
    );
    s.mark_sent("inc-1/2/opened/shop").await.unwrap();
    let pending: Vec<String> = s
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(pending, ["inc-1/1/opened", "inc-1/3/update/shop"]);
    let missing = s.mark_sent("never-recorded").await.unwrap_err();
    assert!(
        matches!(
            missing,
            StoreError::Aws {
                retryable: false,
                ..
            }
        ),
        "{missing}"
    );
}

#[test]
fn throttling_and_server_errors_are_retryable_validation_errors_are_not() {
    assert!(atalaya_aws::retryable(Some(
        "ProvisionedThroughputExceededException"
    )));
    assert!(atalaya_aws::retryable(Some("InternalServerError")));
    assert!(!atalaya_aws::retryable(Some("ValidationException")));
    assert!(!atalaya_aws::retryable(Some(
        "ConditionalCheckFailedException"
    )));
}

mod sns {
    use super::*;
    use atalaya_notify::SnsPublisher;
    use std::collections::BTreeMap;

    fn msg(id: &str, topic: Audience, attrs: &[(&str, &str)], subject: &str) -> Message {
        Message {
            id: id.into(),
            at: "2026-11-24T10:00:00Z".parse().unwrap(),
            topic,
            subject: subject.into(),
            body: format!("body of {id}"),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub async fn queue(
        sqs: &aws_sdk_sqs::Client,
        sns: &aws_sdk_sns::Client,
        name: &str,
        topic: &str,
        filter: Option<&str>,
    ) -> String {
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        let mut sub = sns
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(arn);
        if let Some(f) = filter {
            sub = sub.attributes("FilterPolicy", f);
        }
        sub.send().await.unwrap();
        url
    }

    pub async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            let got = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let batch = got.messages.unwrap_or_default();
            if batch.is_empty() {
                return out;
            }
            for m in batch {
                out.push(serde_json::from_str(m.body.as_deref().unwrap()).unwrap());
            }
        }
    }

    #[tokio::test]
    async fn subscribers_receive_only_what_their_filter_policy_asks_for() {
        let config = atalaya_tests::moto::sdk_config().await;
        let (sns, sqs) = (
            aws_sdk_sns::Client::new(&config),
            aws_sdk_sqs::Client::new(&config),
        );
        let p = atalaya_tests::moto::unique_prefix();
        let (ops, customers) = atalaya_tests::moto::topics(&p).await;
        // A customer's email: only that customer's services. An on-call phone: only critical.
        let acme = queue(
            &sqs,
            &sns,
            &format!("{p}acme"),
            &customers,
            Some(r#"{"customer": ["acme"]}"#),
        )
        .await;
        let oncall = queue(
            &sqs,
            &sns,
            &format!("{p}oncall"),
            &ops,
            Some(r#"{"severity": ["critical"]}"#),
        )
        .await;
        let all_ops = queue(&sqs, &sns, &format!("{p}ops"), &ops, None).await;

        let publisher = SnsPublisher::connect(
            "eu-west-1",
            Some(&atalaya_tests::moto::endpoint()),
            ops.clone(),
            customers.clone(),
        )
        .await;
        let messages = [
            msg(
                "inc-1/1/opened",
                Audience::Operators,
                &[
                    ("severity", "warning"),
                    ("customer", "acme"),
                    ("event", "opened"),
                ],
                "[OPENED] shop",
            ),
            msg(
                "inc-1/2/opened/shop",
                Audience::Customers,
                &[
                    ("customer", "acme"),
                    ("service", "shop"),
                    ("language", "es"),
                ],
                "Envío: problema en la tienda",
            ),
            msg(
                "inc-2/2/opened/portal",
                Audience::Customers,
                &[("customer", "globex"), ("service", "portal")],
                "Portal: a problem",
            ),
            msg(
                "inc-1/3/escalated",
                Audience::Operators,
                &[
                    ("severity", "critical"),
                    ("customer", "acme"),
                    ("event", "escalated"),
                ],
                "[ESCALATED] shop",
            ),
            msg(
                "inc-1/4/resolved/shop",
                Audience::Customers,
                &[("customer", "acme"), ("service", "shop")],
                "Tienda: resuelto",
            ),
        ];
        for m in &messages {
            publisher.publish(m).await.unwrap();
        }
        let acme_got = drain(&sqs, &acme).await;
        let subjects: Vec<&str> = acme_got
            .iter()
            .map(|e| e["Subject"].as_str().unwrap())
            .collect();
        assert_eq!(
            subjects,
            ["Envio: problema en la tienda", "Tienda: resuelto"],
            "only acme's, email-safe"
        );
        let attrs: BTreeMap<&str, &str> = acme_got[0]["MessageAttributes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v["Value"].as_str().unwrap()))
            .collect();
        assert_eq!(attrs.get("service"), Some(&"shop"));
        assert_eq!(
            drain(&sqs, &oncall).await.len(),
            1,
            "only the critical escalation"
        );
        assert_eq!(drain(&sqs, &all_ops).await.len(), 2);
    }
}

#[tokio::test]
async fn the_probe_function_runs_each_regions_due_checks_and_stores_their_results() {
    use atalaya_probe_fn::{handle, ProbeEvent};
    let addr = atalaya_tests::http::server(None).await;
    let text = format!(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  allow_networks: [127.0.0.0/8]
customers:
  - {{ id: acme, name: ACME }}
services:
  - {{ id: shop, customer: acme, name: Shop }}
checks:
  - {{ id: home, service: shop, http: {{ url: 'http://{addr}/ok' }} }}
  - {{ id: broken, service: shop, http: {{ url: 'http://{addr}/500' }} }}
  - {{ id: eu-only, service: shop, regions: [eu-west-1], tcp: {{ host: 127.0.0.1, port: {} }} }}
",
        addr.port()
    );
    let config =
        atalaya_core::load_str(&text, "checks.yaml", atalaya_core::Target::Lambda).unwrap();
    let s = store().await;
    let engine = atalaya_tests::engine(None);
    let now = chrono::Utc::now();
    for region in ["eu-west-1", "us-east-1", "ap-southeast-2"] {
        let event = ProbeEvent {
            region: region.into(),
            shard: 0,
            shards: 1,
        };
        let out = handle(
            event,
            &config,
            &engine,
            &s,
            now,
            Instant::now() + Duration::from_secs(20),
        )
        .await
        .unwrap();
        let expected = if region == "eu-west-1" { 3 } else { 2 };
        assert_eq!(
            (out.checks, out.written, out.failures),
            (expected, expected, 1),
            "{region}"
        );
        let stored: Vec<ProbeResult> = s
            .results(region, chrono::DateTime::UNIX_EPOCH)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.check == "broken")
            .collect();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            (stored[0].region.as_str(), stored[0].outcome),
            (region, Outcome::Down)
        );
    }
    let bad = handle(
        ProbeEvent {
            region: "eu-west-1".into(),
            shard: 3,
            shards: 2,
        },
        &config,
        &engine,
        &s,
        now,
        Instant::now() + Duration::from_secs(5),
    )
    .await;
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("shard 3 of 2 does not exist"));
}

#[tokio::test]
async fn state_and_its_messages_are_committed_together_or_not_at_all() {
    let s = store().await;
    let v1 = s
        .commit(
            &Versioned::default(),
            &State::default(),
            &[
                message("inc-1/1/opened", 1),
                message("inc-1/2/opened/shop", 2),
            ],
        )
        .await
        .unwrap();
    assert_eq!(v1, 1);
    // A racing invocation that evaluated the same transition from version 0: nothing of it lands.
    let racing = s
        .commit(
            &Versioned::default(),
            &State {
                next_incident: 9,
                ..State::default()
            },
            &[message("inc-1/1/opened", 1), message("other", 3)],
        )
        .await;
    assert!(
        matches!(racing, Err(StoreError::Conflict { .. })),
        "{racing:?}"
    );
    let pending: Vec<String> = s
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(pending, ["inc-1/1/opened", "inc-1/2/opened/shop"]);
    assert_eq!(s.load_state().await.unwrap().state.next_incident, 0);
    // More messages than one transaction holds.
    let many: Vec<Message> = (0..130)
        .map(|i| message(&format!("m{i:03}"), 10 + i))
        .collect();
    let base = s.load_state().await.unwrap();
    assert_eq!(s.commit(&base, &State::default(), &many).await.unwrap(), 2);
    assert_eq!(s.pending().await.unwrap().len(), 132);
}

mod truth;

mod alert {
    use super::*;
    use atalaya_alert_fn::{handle, results_of, Deps};
    use atalaya_notify::SnsPublisher;

    /// A batch shaped as Lambda delivers the results table's stream.
    pub fn stream_batch(
        results: &[ProbeResult],
        first_seq: u64,
    ) -> aws_lambda_events::event::dynamodb::Event {
        // One packed item per result, as the probe function writes them.
        let records: Vec<serde_json::Value> = results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let pk = r.region.clone();
                let sk = format!("{}#{i}", r.at.to_rfc3339());
                let blob = atalaya_store::dynamodb::pack_results(std::slice::from_ref(r)).unwrap();
                let blob = aws_smithy_types::base64::encode(&blob[0]);
                serde_json::json!({
                    "eventID": format!("e{}", first_seq + i as u64),
                    "eventName": "INSERT",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "eu-west-1",
                    "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/results/stream/2026",
                    "dynamodb": {
                        "ApproximateCreationDateTime": r.at.timestamp(),
                        "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
                        "NewImage": {"pk": {"S": pk}, "sk": {"S": sk}, "count": {"N": "1"}, "results": {"B": blob}},
                        "SequenceNumber": (first_seq + i as u64).to_string(),
                        "SizeBytes": 400,
                        "StreamViewType": "NEW_IMAGE"
                    }
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    pub fn at_regions(
        check: &str,
        at: chrono::DateTime<chrono::Utc>,
        outcome: Outcome,
    ) -> Vec<ProbeResult> {
        ["eu-west-1", "us-east-1", "ap-southeast-2"]
            .iter()
            .map(|r| ProbeResult {
                check: check.into(),
                region: r.to_string(),
                at,
                outcome,
                ..result(0)
            })
            .collect()
    }

    #[tokio::test]
    async fn a_probe_region_that_stops_reporting_is_counted_in_the_silent_regions_metric() {
        let config = atalaya_core::load_str(
            "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp }
services:
  - { id: shop, customer: acme, name: Shop }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
",
            "checks.yaml",
            atalaya_core::Target::Lambda,
        )
        .unwrap();
        let p = atalaya_tests::moto::unique_prefix();
        let (ops_topic, cust_topic) = atalaya_tests::moto::topics(&p).await;
        let s = store().await;
        let sns = SnsPublisher::connect(
            "eu-west-1",
            Some(&atalaya_tests::moto::endpoint()),
            ops_topic,
            cust_topic,
        )
        .await;
        let renderer = atalaya_core::Renderer::new();
        let deps = Deps {
            config: &config,
            store: &s,
            sns: &sns,
            renderer: &renderer,
        };
        let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(10);
        let all = at_regions("shop-home", t0, Outcome::Up);
        let out = handle(&deps, &all, None, t0 + chrono::TimeDelta::seconds(5)).await;
        assert_eq!(out.silent_regions, 0);
        // ap-southeast-2 stops; the other two keep reporting.
        let mut silent = 0;
        for m in 1..=5 {
            let at = t0 + chrono::TimeDelta::minutes(m);
            let two: Vec<ProbeResult> = at_regions("shop-home", at, Outcome::Up)
                .into_iter()
                .filter(|r| r.region != "ap-southeast-2")
                .collect();
            let out = handle(&deps, &two, None, at + chrono::TimeDelta::seconds(5)).await;
            silent = out.silent_regions;
            let line = atalaya_alert_fn::emf(&out, Duration::from_millis(3), at);
            assert_eq!(
                line["SilentRegions"],
                serde_json::json!(out.silent_regions as f64)
            );
            // The per-region metric has a data point for the reporting regions only.
            let regions: Vec<(String, f64)> = atalaya_alert_fn::region_emf(&two, at)
                .iter()
                .map(|l| {
                    (
                        l["Region"].as_str().unwrap().to_string(),
                        l["ResultsReceived"].as_f64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                regions,
                [
                    ("eu-west-1".to_string(), 1.0),
                    ("us-east-1".to_string(), 1.0)
                ]
            );
        }
        assert_eq!(silent, 1, "three intervals without a result");
        let told: Vec<String> = s
            .incidents(false)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert!(
            told.is_empty(),
            "a silent region is not an incident: {told:?}"
        );
    }

    #[tokio::test]
    async fn an_outage_and_recovery_reach_each_audience_once_whatever_is_delivered_twice() {
        let config = atalaya_core::load_str(
            "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp, language: es }
  - { id: globex, name: Globex }
services:
  - { id: shop, customer: acme, name: Tienda online }
  - { id: portal, customer: globex, name: Portal }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: portal-home, service: portal, http: { url: 'https://portal.globex.example/' } }
",
            "checks.yaml",
            atalaya_core::Target::Lambda,
        )
        .unwrap();
        let sdk = atalaya_tests::moto::sdk_config().await;
        let (sns_client, sqs) = (
            aws_sdk_sns::Client::new(&sdk),
            aws_sdk_sqs::Client::new(&sdk),
        );
        let p = atalaya_tests::moto::unique_prefix();
        let (ops_topic, cust_topic) = atalaya_tests::moto::topics(&p).await;
        let acme_q = super::sns::queue(
            &sqs,
            &sns_client,
            &format!("{p}acme"),
            &cust_topic,
            Some(r#"{"customer": ["acme"]}"#),
        )
        .await;
        let globex_q = super::sns::queue(
            &sqs,
            &sns_client,
            &format!("{p}globex"),
            &cust_topic,
            Some(r#"{"customer": ["globex"]}"#),
        )
        .await;
        let ops_q =
            super::sns::queue(&sqs, &sns_client, &format!("{p}ops"), &ops_topic, None).await;
        let s = store().await;
        let sns = SnsPublisher::connect(
            "eu-west-1",
            Some(&atalaya_tests::moto::endpoint()),
            ops_topic,
            cust_topic,
        )
        .await;
        let renderer = atalaya_core::Renderer::new();
        let deps = Deps {
            config: &config,
            store: &s,
            sns: &sns,
            renderer: &renderer,
        };

        let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(3);
        // The outage: shop-home down in all three regions; delivered twice.
        let down = stream_batch(&at_regions("shop-home", t0, Outcome::Down), 100);
        let (results, first) = results_of(&down);
        assert_eq!((results.len(), first.as_deref()), (3, Some("100")));
        let out = handle(
            &deps,
            &results,
            first.clone(),
            t0 + chrono::TimeDelta::seconds(5),
        )
        .await;
        assert_eq!(
            (
                out.events,
                out.publish_failures,
                out.batch_item_failures.len()
            ),
            (2, 0, 0),
            "{out:?}"
        );
        let again = handle(&deps, &results, first, t0 + chrono::TimeDelta::seconds(6)).await;
        assert_eq!(
            (again.events, again.published),
            (0, 0),
            "a duplicate delivery says nothing: {again:?}"
        );

        // The recovery, delivered to two racing invocations at once.
        let up = stream_batch(
            &at_regions("shop-home", t0 + chrono::TimeDelta::minutes(1), Outcome::Up),
            200,
        );
        let (results, first) = results_of(&up);
        let now = t0 + chrono::TimeDelta::minutes(1) + chrono::TimeDelta::seconds(5);
        let (a, b) = tokio::join!(
            handle(&deps, &results, first.clone(), now),
            handle(&deps, &results, first, now)
        );
        assert_eq!(a.events + b.events, 2, "one of them resolves: {a:?} {b:?}");

        let acme: Vec<String> = super::sns::drain(&sqs, &acme_q)
            .await
            .iter()
            .map(|e| {
                e["MessageAttributes"]["event"]["Value"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(acme, ["opened", "resolved"]);
        assert!(
            super::sns::drain(&sqs, &globex_q).await.is_empty(),
            "nothing about other customers"
        );
        let ops: Vec<String> = super::sns::drain(&sqs, &ops_q)
            .await
            .iter()
            .map(|e| {
                e["MessageAttributes"]["event"]["Value"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ops, ["opened", "resolved"]);
        assert!(s.pending().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_claimed_message_is_published_by_one_invocation_and_a_released_one_by_the_next() {
    let s = store().await;
    s.enqueue(&[message("m1", 1)]).await.unwrap();
    let now = chrono::Utc::now();
    assert!(s.claim("m1", now, Duration::from_secs(60)).await.unwrap());
    assert!(
        !s.claim("m1", now, Duration::from_secs(60)).await.unwrap(),
        "already claimed"
    );
    s.release("m1").await.unwrap();
    assert!(
        s.claim("m1", now, Duration::from_secs(60)).await.unwrap(),
        "released: claimable again"
    );
    // A claim left by a dead invocation expires.
    assert!(s
        .claim(
            "m1",
            now + chrono::TimeDelta::seconds(61),
            Duration::from_secs(60)
        )
        .await
        .unwrap());
    s.mark_sent("m1").await.unwrap();
    assert!(
        !s.claim(
            "m1",
            now + chrono::TimeDelta::seconds(200),
            Duration::from_secs(60)
        )
        .await
        .unwrap(),
        "sent: nothing to claim"
    );
}

mod end_to_end {
    use super::*;
    use atalaya_alert_fn::{handle as alert, results_of, Deps};
    use atalaya_notify::SnsPublisher;
    use atalaya_probe_fn::{handle as probe, ProbeEvent};
    use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};

    /// The results table's stream, read back through moto's DynamoDB Streams API and shaped as
    /// Lambda delivers it to the alert function.
    async fn stream_batch(
        config: &aws_config::SdkConfig,
        table: &str,
    ) -> aws_lambda_events::event::dynamodb::Event {
        let arn = aws_sdk_dynamodb::Client::new(config)
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap()
            .latest_stream_arn
            .unwrap();
        let streams = aws_sdk_dynamodbstreams::Client::new(config);
        let description = streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .unwrap()
            .stream_description
            .unwrap();
        let mut records = Vec::new();
        for shard in description.shards() {
            let iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id().unwrap())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator
                .unwrap();
            let out = streams
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .unwrap();
            for r in out.records() {
                let d = r.dynamodb().unwrap();
                let image = |m: Option<&std::collections::HashMap<String, StreamValue>>| -> serde_json::Value {
                    m.into_iter()
                        .flatten()
                        .map(|(k, v)| {
                            let v = match v {
                                StreamValue::S(s) => serde_json::json!({ "S": s }),
                                StreamValue::N(n) => serde_json::json!({ "N": n }),
                                StreamValue::B(b) => serde_json::json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) }),
                                other => panic!("unexpected attribute {other:?}"),
                            };
                            (k.clone(), v)
                        })
                        .collect::<serde_json::Map<_, _>>()
                        .into()
                };
                records.push(serde_json::json!({
                    "eventID": r.event_id().unwrap_or_default(),
                    "eventName": r.event_name().map(|n| n.as_str().to_string()).unwrap_or_default(),
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "eu-west-1",
                    "eventSourceARN": arn,
                    "dynamodb": {
                        "Keys": image(d.keys.as_ref()),
                        "NewImage": image(d.new_image.as_ref()),
                        "SequenceNumber": d.sequence_number().unwrap_or_default(),
                        "SizeBytes": d.size_bytes().unwrap_or_default(),
                        "StreamViewType": "NEW_IMAGE"
                    }
                }));
            }
        }
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[tokio::test]
    async fn three_probe_regions_through_the_real_stream_to_the_alert_function_and_sns() {
        let target = atalaya_tests::http::server(None).await;
        let config = atalaya_core::load_str(
            &format!(
                "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1m, timeout: 5s, retries: 1, recover_after: 1 }}
customers:
  - {{ id: acme, name: ACME Corp, language: es }}
  - {{ id: globex, name: Globex }}
services:
  - {{ id: shop, customer: acme, name: Tienda online }}
  - {{ id: portal, customer: globex, name: Portal }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{target}/500' }} }}
  - {{ id: portal-home, service: portal, http: {{ url: 'http://{target}/ok' }} }}
"
            ),
            "checks.yaml",
            atalaya_core::Target::Lambda,
        )
        .unwrap();
        let sdk = atalaya_tests::moto::sdk_config().await;
        let (sns_client, sqs) = (
            aws_sdk_sns::Client::new(&sdk),
            aws_sdk_sqs::Client::new(&sdk),
        );
        let p = atalaya_tests::moto::unique_prefix();
        let (ops_topic, cust_topic) = atalaya_tests::moto::topics(&p).await;
        let acme_q = super::sns::queue(
            &sqs,
            &sns_client,
            &format!("{p}acme"),
            &cust_topic,
            Some(r#"{"customer": ["acme"]}"#),
        )
        .await;
        let globex_q = super::sns::queue(
            &sqs,
            &sns_client,
            &format!("{p}globex"),
            &cust_topic,
            Some(r#"{"customer": ["globex"]}"#),
        )
        .await;
        let ops_q =
            super::sns::queue(&sqs, &sns_client, &format!("{p}ops"), &ops_topic, None).await;
        let s = store().await;
        let engine = atalaya_tests::engine(None);

        let now = chrono::Utc::now();
        for region in ["eu-west-1", "us-east-1", "ap-southeast-2"] {
            let event = ProbeEvent {
                region: region.into(),
                shard: 0,
                shards: 1,
            };
            probe(
                event,
                &config,
                &engine,
                &s,
                now,
                Instant::now() + Duration::from_secs(20),
            )
            .await
            .unwrap();
        }
        let batch = stream_batch(&sdk, &s.tables().results).await;
        let (results, first) = results_of(&batch);
        assert_eq!(results.len(), 6, "two checks in three regions");

        let sns = SnsPublisher::connect(
            "eu-west-1",
            Some(&atalaya_tests::moto::endpoint()),
            ops_topic,
            cust_topic,
        )
        .await;
        let renderer = atalaya_core::Renderer::new();
        let deps = Deps {
            config: &config,
            store: &s,
            sns: &sns,
            renderer: &renderer,
        };
        let out = alert(
            &deps,
            &results,
            first.clone(),
            now + chrono::TimeDelta::seconds(5),
        )
        .await;
        assert_eq!(
            (out.events, out.published, out.batch_item_failures.len()),
            (2, 2, 0),
            "{out:?}"
        );
        // Lambda delivers the batch again (a retry): nothing new is said.
        let again = alert(&deps, &results, first, now + chrono::TimeDelta::seconds(6)).await;
        assert_eq!((again.events, again.published), (0, 0));

        let acme = super::sns::drain(&sqs, &acme_q).await;
        assert_eq!(acme.len(), 1);
        assert_eq!(
            acme[0]["Subject"],
            "Tienda online: nuevo problema, estamos trabajando en ello"
        );
        assert!(
            super::sns::drain(&sqs, &globex_q).await.is_empty(),
            "globex's portal is fine, and acme's outage is not theirs"
        );
        let ops = super::sns::drain(&sqs, &ops_q).await;
        assert_eq!(ops.len(), 1);
        assert!(ops[0]["Message"]
            .as_str()
            .unwrap()
            .contains("status 500, expected 2xx"));
    }
}

mod faults {
    use super::*;
    use atalaya_tests::fault_proxy::{self, Fault};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    async fn through_proxy(
        plan: fault_proxy::Plan,
    ) -> (DynamoStore, DynamoStore, Arc<fault_proxy::Stats>) {
        let endpoint = atalaya_tests::moto::endpoint();
        let upstream: std::net::SocketAddr =
            endpoint.trim_start_matches("http://").parse().unwrap();
        let (proxy, stats) = fault_proxy::start(upstream, plan).await;
        let tables = Tables::with_prefix(&atalaya_tests::moto::unique_prefix());
        let direct = DynamoStore::connect(
            "eu-west-1",
            Some(&endpoint),
            tables.clone(),
            Duration::from_secs(86_400),
        )
        .await;
        direct.create_tables().await.unwrap();
        let faulty = DynamoStore::connect(
            "eu-west-1",
            Some(&format!("http://{proxy}")),
            tables,
            Duration::from_secs(86_400),
        )
        .await;
        (direct, faulty, stats)
    }

    #[tokio::test]
    async fn no_result_is_lost_to_throttling_server_errors_dropped_responses_or_partial_batches() {
        let plan: fault_proxy::Plan = Arc::new(|n, target| {
            if target.ends_with("BatchWriteItem") && n % 2 == 0 {
                Some(Fault::PartialBatch)
            } else {
                match n % 5 {
                    1 => Some(Fault::Throttle),
                    3 => Some(Fault::ServerError),
                    _ if n % 11 == 7 => Some(Fault::DropResponse),
                    _ => None,
                }
            }
        });
        let (direct, faulty, stats) = through_proxy(plan).await;
        // 40 regions: 40 packed items, two batches, each of which may come back partial.
        let results: Vec<ProbeResult> = (0..120)
            .map(|i| ProbeResult {
                region: format!("region-{}", i % 40),
                ..result(i)
            })
            .collect();
        let written = faulty
            .put_results(&results, Instant::now() + Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(written, 120);
        let mut landed = 0;
        for r in 0..40 {
            landed += direct
                .results(&format!("region-{r}"), chrono::DateTime::UNIX_EPOCH)
                .await
                .unwrap()
                .len();
        }
        assert_eq!(landed, 120, "every result landed");
        assert!(
            stats.faults.load(Ordering::SeqCst) >= 5,
            "faults were injected: {}",
            stats.faults.load(Ordering::SeqCst)
        );
    }

    #[tokio::test]
    async fn messages_are_recorded_once_and_none_is_lost_through_faults() {
        let plan: fault_proxy::Plan = Arc::new(|n, _| match n % 4 {
            1 => Some(Fault::Throttle),
            2 if n % 3 == 2 => Some(Fault::DropResponse),
            3 => Some(Fault::ServerError),
            _ => None,
        });
        let (direct, faulty, _) = through_proxy(plan).await;
        let batch: Vec<Message> = (0..12).map(|i| message(&format!("m{i:02}"), i)).collect();
        // The commit may fail (a dropped response after it landed reads as a conflict); a retry
        // from the version read must never record a message twice.
        let mut base = Versioned::default();
        for _ in 0..6 {
            match faulty.commit(&base, &State::default(), &batch).await {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) => base = direct.load_state().await.unwrap(),
                Err(StoreError::Aws {
                    retryable: true, ..
                }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(direct.load_state().await.unwrap().version, 1);
        let _ = faulty.enqueue(&batch).await;
        let pending: Vec<String> = direct
            .pending()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(
            pending,
            batch.iter().map(|m| m.id.clone()).collect::<Vec<_>>()
        );
    }
}

/// What running Atalaya costs per million check executions, computed from what the functions
/// actually write here: 100 checks in three regions for ten minutes, an outage of two checks
/// in the middle, the alert function fed one stream batch a minute (the deployment's batching
/// window) and the one-minute tick. Prices are the public on-demand list prices of us-east-1
/// (docs/data-model.md); the test prints the breakdown and holds the total to the goal.
mod cost {
    use super::*;
    use atalaya_alert_fn::{handle as alert, Deps};
    use atalaya_notify::SnsPublisher;
    use atalaya_probe_fn::{handle as probe, ProbeEvent};

    const CHECKS: usize = 100;
    const MINUTES: i64 = 10;
    const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];
    // USD, us-east-1 list prices.
    const PER_WRITE_UNIT: f64 = 0.625e-6; // DynamoDB on-demand write request unit
    const PER_READ_UNIT: f64 = 0.125e-6; // DynamoDB on-demand read request unit
    const PER_GB_MONTH: f64 = 0.25; // DynamoDB standard storage
    const PER_REQUEST: f64 = 0.20e-6; // Lambda request
    const PER_GB_SECOND_ARM: f64 = 0.0000133334; // Lambda arm64 duration
    const PER_SCHEDULE: f64 = 1.0e-6; // EventBridge Scheduler invocation
    const PER_LOG_GB: f64 = 0.50; // CloudWatch Logs ingestion
    const PER_PUBLISH: f64 = 0.50e-6; // SNS publish
    const GOAL: f64 = 0.25;

    #[tokio::test]
    async fn a_million_checks_cost_less_than_the_goal() {
        let target = atalaya_tests::http::server(None).await;
        let mut checks = String::new();
        for i in 0..CHECKS {
            let path = "ok";
            checks.push_str(&format!(
                "  - {{ id: check-{i:03}, service: svc-{}, http: {{ url: 'http://{target}/{path}' }} }}\n",
                i % 10
            ));
        }
        let mut services = String::new();
        for i in 0..10 {
            services.push_str(&format!(
                "  - {{ id: svc-{i}, customer: c{}, name: Service {i} }}\n",
                i % 5
            ));
        }
        let text = format!(
            "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1m, timeout: 5s, retries: 1, recover_after: 1 }}
customers:
  - {{ id: c0, name: C0, language: es }}
  - {{ id: c1, name: C1 }}
  - {{ id: c2, name: C2 }}
  - {{ id: c3, name: C3 }}
  - {{ id: c4, name: C4 }}
services:
{services}checks:
{checks}"
        );
        let config =
            atalaya_core::load_str(&text, "checks.yaml", atalaya_core::Target::Lambda).unwrap();
        let p = atalaya_tests::moto::unique_prefix();
        let (ops_topic, cust_topic) = atalaya_tests::moto::topics(&p).await;
        let sns = SnsPublisher::connect(
            "eu-west-1",
            Some(&atalaya_tests::moto::endpoint()),
            ops_topic,
            cust_topic,
        )
        .await;
        let s = store().await;
        let engine = atalaya_tests::engine(None);
        let renderer = atalaya_core::Renderer::new();
        let deps = Deps {
            config: &config,
            store: &s,
            sns: &sns,
            renderer: &renderer,
        };

        // Minute 0: the real probe function in each region; its results are the pattern of the
        // later minutes (same checks, same details, restamped).
        let t0 = chrono::Utc::now();
        let mut probe_time = Duration::ZERO;
        for region in REGIONS {
            let started = Instant::now();
            probe(
                ProbeEvent {
                    region: region.into(),
                    shard: 0,
                    shards: 1,
                },
                &config,
                &engine,
                &s,
                t0,
                Instant::now() + Duration::from_secs(20),
            )
            .await
            .unwrap();
            probe_time += started.elapsed();
        }
        let mut pattern = Vec::new();
        for region in REGIONS {
            pattern.extend(
                s.results(region, chrono::DateTime::UNIX_EPOCH)
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(pattern.len(), CHECKS * REGIONS.len());
        let failing = pattern
            .iter()
            .find(|r| r.check == "check-000")
            .cloned()
            .unwrap();

        let mut alert_time = Duration::ZERO;
        let mut alert_invocations = 0;
        let mut events = 0;
        for m in 0..MINUTES {
            let at = |r: &ProbeResult| r.at + chrono::TimeDelta::minutes(m);
            let mut minute: Vec<ProbeResult> = pattern
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    // Latencies vary from minute to minute as real ones do (so the results do
                    // not compress better than real ones): ±30 %, deterministic.
                    let jitter = ((m as usize * 7919 + i * 104_729) % 61) as f64 / 100.0 - 0.3;
                    let ms = |v: f64| ((v * (1.0 + jitter)) * 1000.0).round() / 1000.0;
                    let mut r = ProbeResult {
                        at: at(r),
                        latency_ms: ms(r.latency_ms.max(0.5)),
                        phases: atalaya_core::Phases {
                            dns_ms: r.phases.dns_ms.map(ms),
                            connect_ms: r.phases.connect_ms.map(ms),
                            tls_ms: r.phases.tls_ms.map(ms),
                            ttfb_ms: r.phases.ttfb_ms.map(ms),
                        },
                        ..r.clone()
                    };
                    // Two checks fail everywhere from minute 3 to minute 6.
                    if (3..=6).contains(&m) && (r.check == "check-000" || r.check == "check-001") {
                        r.outcome = Outcome::Down;
                        r.reason = Reason::HttpStatus;
                        r.detail = "status 503, expected one of [200]".into();
                        r.http_status = Some(503);
                        r.latency_ms = failing.latency_ms;
                    }
                    r
                })
                .collect();
            if m > 0 {
                // What the probe function writes each minute in each region.
                for region in REGIONS {
                    let mine: Vec<ProbeResult> = minute
                        .iter()
                        .filter(|r| r.region == region)
                        .cloned()
                        .collect();
                    s.put_results(&mine, Instant::now() + Duration::from_secs(20))
                        .await
                        .unwrap();
                }
            }
            minute.sort_by_key(|r| r.at);
            let now = t0 + chrono::TimeDelta::minutes(m) + chrono::TimeDelta::seconds(20);
            let started = Instant::now();
            let out = alert(&deps, &minute, None, now).await;
            assert!(
                !out.evaluation_failed && out.publish_failures == 0,
                "{out:?}"
            );
            events += out.events;
            let tick = alert(&deps, &[], None, now + chrono::TimeDelta::seconds(30)).await;
            events += tick.events;
            alert_time += started.elapsed();
            alert_invocations += 2;
        }
        assert!(
            events >= 4,
            "the outage opened and resolved: {events} events"
        );
        let open = s.incidents(true).await.unwrap();
        assert!(open.is_empty(), "all resolved: {open:?}");

        let executions = (CHECKS * REGIONS.len()) as f64 * MINUTES as f64;
        let minutes = MINUTES as f64;
        let stats = s.stats().snapshot();
        let wru: u64 = stats.values().map(|t| t.write_units).sum();
        let state = &stats[&s.tables().state];
        let state_kb = state.bytes as f64 / state.items as f64 / 1024.0;
        // Each alert invocation reads the state (strongly consistent: 1 unit per 4 KB) and
        // queries the outbox's pending index (1 unit).
        let rru = alert_invocations as f64 * ((state_kb / 4.0).ceil() + 1.0);
        let results_bytes = stats[&s.tables().results].bytes as f64;
        let published = s.pending().await.unwrap().len();
        assert_eq!(published, 0);
        let probe_invocations = REGIONS.len() as f64 * minutes;
        // Probe duration: this run's minute 0, per region (debug build; local targets answer
        // fast, real ones are bounded by the slowest check's latency).
        let probe_seconds = probe_time.as_secs_f64() / REGIONS.len() as f64;
        let alert_seconds = alert_time.as_secs_f64() / alert_invocations as f64;
        let lines: Vec<(&str, f64)> = vec![
            ("DynamoDB writes", wru as f64 * PER_WRITE_UNIT),
            ("DynamoDB reads", rru * PER_READ_UNIT),
            (
                "DynamoDB storage (30 days)",
                results_bytes / 1e9 * PER_GB_MONTH,
            ),
            (
                "Lambda requests",
                (probe_invocations + alert_invocations as f64) * PER_REQUEST,
            ),
            (
                "Lambda duration (probe 128 MB, alert 256 MB, arm64)",
                (probe_invocations * probe_seconds * 0.125
                    + alert_invocations as f64 * alert_seconds * 0.25)
                    * PER_GB_SECOND_ARM,
            ),
            (
                "EventBridge Scheduler",
                (probe_invocations + minutes) * PER_SCHEDULE,
            ),
            (
                "CloudWatch Logs (1 KB per invocation)",
                (probe_invocations + alert_invocations as f64) * 1024.0 / 1e9 * PER_LOG_GB,
            ),
            ("SNS publishes", events as f64 * PER_PUBLISH),
        ];
        println!(
            "{} check executions; writes by table: {:?}",
            executions, stats
        );
        println!(
            "{} state commits of {:.1} KB on average (compressed); results {:.0} bytes per check execution; {:.3} write units per check execution",
            state.items,
            state_kb,
            results_bytes / executions,
            wru as f64 / executions
        );
        println!(
            "probe {:.0} ms per invocation, alert {:.0} ms per invocation",
            probe_seconds * 1000.0,
            alert_seconds * 1000.0
        );
        let mut total = 0.0;
        for (what, usd) in &lines {
            let per_million = usd / executions * 1e6;
            total += per_million;
            println!("| {what} | ${per_million:.4} |");
        }
        println!("| total per million check executions | ${total:.4} |");
        assert!(
            total <= GOAL,
            "${total:.4} per million check executions, over the ${GOAL} goal"
        );
    }
}
