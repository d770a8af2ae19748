//! Operators acknowledging on AWS: the pages function's `/ack/…` link and `/hooks/pagerduty`,
//! over DynamoDB on moto with the state in four partitions, as the alert function keeps it.

use super::checks;
use atalaya_core::email::Key;
use atalaya_core::{Outcome, Phases, ProbeResult, Reason};
use atalaya_notify::MemoryChannel;
use atalaya_store::Store;
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

fn event(method: &str, path: &str, headers: Value, body: &str) -> Value {
    json!({
        "version": "2.0", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": { "http": { "method": method, "path": path } },
        "body": body, "isBase64Encoded": false,
    })
}

#[tokio::test]
async fn the_pages_function_takes_an_acknowledgement_link_and_pagerdutys_webhook() {
    let c = checks(
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
    );
    let (store, _) = atalaya_tests::moto::store().await;
    let store = store.with_partitions(4);
    let sns = MemoryChannel::new("sns");
    let deps = atalaya_alert_fn::Deps {
        checks: &c,
        store: &store,
        channels: &[&sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let at = Utc::now() - TimeDelta::minutes(2);
    let down: Vec<ProbeResult> = ["eu-west-1", "us-east-1", "ap-southeast-2"]
        .iter()
        .map(|r| ProbeResult {
            check: "shop-home".into(),
            region: r.to_string(),
            at,
            outcome: Outcome::Down,
            reason: Reason::HttpStatus,
            detail: "status 503".into(),
            latency_ms: 10.0,
            phases: Phases::default(),
            http_status: Some(503),
            cert_days_left: None,
        })
        .collect();
    atalaya_alert_fn::handle(&deps, &down, None, at + TimeDelta::seconds(5)).await;
    let id = store.incidents(true).await.unwrap()[0].id.clone();
    assert!(id.starts_with("inc-p"), "in a partition: {id}");

    let key = Key::new(vec![7; 32]).unwrap();
    let inbound = atalaya_app::on_call::Inbound {
        pagerduty: vec!["pd-secret".into()],
        ..Default::default()
    };
    let ask = |e: Value| {
        let (store, c, key, inbound) = (&store, &c, &key, &inbound);
        async move {
            atalaya_pages_fn::operators(store, c, key, inbound, &e)
                .await
                .expect("an operators' path")
        }
    };
    let link = atalaya_core::oncall::ack_url("", &key, &id);
    let page = ask(event("GET", &link, json!({}), "")).await;
    assert_eq!(page["statusCode"], 200, "{page}");
    assert_eq!(page["headers"]["cache-control"], "no-store");
    assert!(store
        .incident(&id)
        .await
        .unwrap()
        .unwrap()
        .acknowledged_by
        .is_none());
    let forged = ask(event(
        "POST",
        &format!("/ack/{id}/x"),
        json!({}),
        "by=mallory",
    ))
    .await;
    assert_eq!(forged["statusCode"], 403);
    let page = ask(event(
        "POST",
        &link,
        json!({ "content-type": "application/x-www-form-urlencoded" }),
        "by=carol",
    ))
    .await;
    assert_eq!(page["statusCode"], 200, "{page}");
    assert_eq!(
        store
            .incident(&id)
            .await
            .unwrap()
            .unwrap()
            .acknowledged_by
            .as_deref(),
        Some("carol (link)")
    );

    let body = json!({ "event": { "event_type": "incident.acknowledged",
        "agent": { "summary": "Erin" }, "data": { "incident_key": id } } })
    .to_string();
    let sig = format!(
        "v1={}",
        atalaya_tests::vendors::hex_hmac("pd-secret", &[body.as_bytes()])
    );
    let refused = ask(event(
        "POST",
        "/hooks/pagerduty",
        json!({ "x-pagerduty-signature": "v1=00" }),
        &body,
    ))
    .await;
    assert_eq!(refused["statusCode"], 401);
    let done = ask(event(
        "POST",
        "/hooks/pagerduty",
        json!({ "x-pagerduty-signature": sig }),
        &body,
    ))
    .await;
    assert_eq!(done["statusCode"], 200, "{done}");
    let inc = store.incident(&id).await.unwrap().unwrap();
    let by: Vec<&str> = inc.acknowledgements.iter().map(|a| a.by.as_str()).collect();
    assert_eq!(by, ["carol (link)", "Erin (PagerDuty)"]);
    // Not an operators' path: the subscribers' pages answer it.
    assert!(atalaya_pages_fn::operators(
        &store,
        &c,
        &key,
        &inbound,
        &event("GET", "/confirm", json!({}), "")
    )
    .await
    .is_none());
}
