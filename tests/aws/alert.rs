//! The alert function against DynamoDB and SNS on moto (its decisions alone are tested over
//! SQLite in functions/alert/tests).

use super::*;
use atalaya_alert_fn::{handle, results_of, Deps};

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
    let c = checks(
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
    );
    let m = moto().await;
    let s = store().await;
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
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
    let c = checks(
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
    );
    let m = moto().await;
    let acme_q = m
        .queue("acme", &m.cust_topic, Some(r#"{"customer": ["acme"]}"#))
        .await;
    let globex_q = m
        .queue("globex", &m.cust_topic, Some(r#"{"customer": ["globex"]}"#))
        .await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let s = store().await;
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
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

    let acme: Vec<String> = m
        .drain(&acme_q)
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
        m.drain(&globex_q).await.is_empty(),
        "nothing about other customers"
    );
    let ops: Vec<String> = m
        .drain(&ops_q)
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

#[tokio::test]
async fn a_publish_that_fails_is_counted_for_its_alarm_and_delivered_once_the_topic_answers() {
    let c = checks(
        "settings:
  regions: [eu-west-1]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp }
services:
  - { id: shop, customer: acme, name: Shop }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
",
    );
    let m = moto().await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let s = store().await;
    // The operators topic as a mistyped ARN: SNS answers NotFound.
    let broken = SnsChannel::connect(
        "eu-west-1",
        Some(&atalaya_tests::moto::endpoint()),
        format!("{}-gone", m.ops_topic),
        m.cust_topic.clone(),
    )
    .await;
    let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(3);
    let down = stream_batch(&at_regions("shop-home", t0, Outcome::Down), 100);
    let (results, first) = results_of(&down);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&broken],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let out = handle(&deps, &results, first, t0 + chrono::TimeDelta::seconds(5)).await;
    assert!(out.events > 0 && out.publish_failures > 0, "{out:?}");
    assert!(
        out.batch_item_failures.is_empty(),
        "the evaluation itself was stored"
    );
    let emf = atalaya_alert_fn::emf(&out, Duration::from_millis(1), t0);
    assert!(emf["PublishFailures"].as_f64().unwrap() >= 1.0, "{emf}");
    assert!(m.drain(&ops_q).await.is_empty());
    assert!(!s.pending().await.unwrap().is_empty(), "kept to try again");

    // The topic fixed: the next tick delivers what was pending, once.
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let tick = handle(&deps, &[], None, t0 + chrono::TimeDelta::seconds(30)).await;
    assert_eq!(tick.publish_failures, 0, "{tick:?}");
    let delivered = m.drain(&ops_q).await;
    assert_eq!(events(&delivered), vec!["opened".to_string()]);
}
