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
    };
    let tick = handle(&deps, &[], None, t0 + chrono::TimeDelta::seconds(30)).await;
    assert_eq!(tick.publish_failures, 0, "{tick:?}");
    let delivered = m.drain(&ops_q).await;
    assert_eq!(events(&delivered), vec!["opened".to_string()]);
}

/// The state split into partitions, as the alert function keeps it on DynamoDB: an outage opens
/// one incident (named after its partition) listing the dependent service beside it, each
/// audience hears once, a silent region is told once (not once per partition), and the
/// resolution comes when every region sees the services working.
#[tokio::test]
async fn with_the_state_in_partitions_an_outage_and_a_silent_region_are_told_once() {
    let mut services = String::new();
    let mut checks_text = String::new();
    for i in 0..24 {
        let dep = if i == 1 { ", depends_on: [s0]" } else { "" };
        services.push_str(&format!(
            "  - {{ id: s{i}, customer: acme, name: Service {i}{dep} }}\n"
        ));
        checks_text.push_str(&format!(
            "  - {{ id: k{i}, service: s{i}, http: {{ url: 'https://s{i}.acme.example/' }} }}\n"
        ));
    }
    let c = checks(&format!(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: {{ interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
{services}checks:
{checks_text}"
    ));
    let m = moto().await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let cust_q = m.queue("cust", &m.cust_topic, None).await;
    let s = store().await.with_partitions(8);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
    };
    let plan = c.plan(8);
    assert!(plan.parts.len() > 1, "the services spread over partitions");
    let home = plan.of_check("k0").unwrap().key.clone();
    assert_eq!(
        plan.of_check("k1").unwrap().key,
        home,
        "a dependency stays together"
    );

    let all = |m: i64, down: &[&str], regions: &[&str]| -> Vec<ProbeResult> {
        let t = chrono::Utc::now() - chrono::TimeDelta::minutes(10) + chrono::TimeDelta::minutes(m);
        (0..24)
            .flat_map(|i| {
                let id = format!("k{i}");
                let outcome = if down.contains(&id.as_str()) {
                    Outcome::Down
                } else {
                    Outcome::Up
                };
                at_regions(&id, t, outcome)
                    .into_iter()
                    .filter(|r| regions.contains(&r.region.as_str()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let every = ["eu-west-1", "us-east-1", "ap-southeast-2"];
    let base = chrono::Utc::now() - chrono::TimeDelta::minutes(10);
    let at = |m: i64| base + chrono::TimeDelta::minutes(m) + chrono::TimeDelta::seconds(20);
    // Minute 0: all well. Minutes 1-2: s0 and its dependent s1 down everywhere.
    handle(&deps, &all(0, &[], &every), None, at(0)).await;
    for minute in 1..=2 {
        let out = handle(&deps, &all(minute, &["k0", "k1"], &every), None, at(minute)).await;
        assert!(!out.evaluation_failed, "{out:?}");
    }
    let open = s.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(
        open[0].id.starts_with(&format!("inc-{home}-")),
        "{}",
        open[0].id
    );
    let listed: Vec<&String> = open[0].services().collect();
    assert!(listed.iter().any(|s| *s == "s1"), "{listed:?}");
    // Minutes 3-6: recovered, and ap-southeast-2 stops reporting.
    for minute in 3..=6 {
        let out = handle(&deps, &all(minute, &[], &every[..2]), None, at(minute)).await;
        assert!(!out.evaluation_failed, "{out:?}");
        handle(
            &deps,
            &[],
            None,
            at(minute) + chrono::TimeDelta::seconds(30),
        )
        .await;
    }
    assert!(
        s.incidents(true).await.unwrap().is_empty(),
        "resolved by the two regions that see it"
    );
    let subjects: Vec<String> = m
        .drain(&ops_q)
        .await
        .iter()
        .map(|o| o["Subject"].as_str().unwrap_or_default().to_string())
        .collect();
    let cust = events(&m.drain(&cust_q).await);
    let count = |p: &str| subjects.iter().filter(|s| s.starts_with(p)).count();
    assert_eq!(count("[OPENED] s0"), 1, "{subjects:?}");
    assert_eq!(count("[RESOLVED] s0"), 1, "{subjects:?}");
    assert_eq!(
        count("[REGION SILENT] ap-southeast-2"),
        1,
        "told once, not once per partition: {subjects:?}"
    );
    // The customer hears once about each of its two services, and once of each resolution.
    assert_eq!(
        cust.iter().filter(|e| *e == "opened").count(),
        2,
        "{cust:?}"
    );
    assert_eq!(
        cust.iter().filter(|e| *e == "resolved").count(),
        2,
        "{cust:?}"
    );
    // Every partition's item is small; the unsplit document was never written.
    assert_eq!(s.load_state().await.unwrap().version, 0);
    assert!(
        s.stats().largest_state_item() < 8 * 1024,
        "{}",
        s.stats().largest_state_item()
    );
}

/// Two invocations at once (two stream shards, or a batch and the tick): the lease lets one
/// evaluate at a time, both succeed, and the outage is told once.
#[tokio::test]
async fn concurrent_invocations_take_turns_and_tell_once() {
    let c = checks(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp }
services:
  - { id: shop, customer: acme, name: Shop }
  - { id: blog, customer: acme, name: Blog }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: blog-home, service: blog, http: { url: 'https://blog.acme.example/' } }
",
    );
    let m = moto().await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let s = store().await.with_partitions(4);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
    };
    let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(3);
    let mut down = at_regions("shop-home", t0, Outcome::Down);
    down.extend(at_regions("blog-home", t0, Outcome::Up));
    let (first, second) = down.split_at(3);
    let now = t0 + chrono::TimeDelta::seconds(20);
    let (a, b) = tokio::join!(
        handle(&deps, first, Some("1".into()), now),
        handle(&deps, second, Some("2".into()), now)
    );
    assert!(!a.evaluation_failed && !b.evaluation_failed, "{a:?} {b:?}");
    assert_eq!(
        a.events + b.events,
        2,
        "opened, for operators and the customer: {a:?} {b:?}"
    );
    let subjects: Vec<String> = m
        .drain(&ops_q)
        .await
        .iter()
        .map(|o| o["Subject"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("[OPENED] shop"))
            .count(),
        1,
        "{subjects:?}"
    );
    // The lease was given back.
    let t = chrono::Utc::now();
    assert!(s
        .lease("after", t, t + chrono::TimeDelta::seconds(60))
        .await
        .unwrap());
}

/// A new dependency joins a service's group to another partition while its incident is open:
/// the incident moves with it, and the customer still hears it resolved when it is seen working.
#[tokio::test]
async fn an_open_incident_moves_with_its_service_to_another_partition() {
    let file = |depends: bool, a: &str, b: &str| {
        checks(&format!(
            "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: {{ interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: {a}, customer: acme, name: Core }}
  - {{ id: {b}, customer: acme, name: Shop{} }}
checks:
  - {{ id: core-home, service: {a}, http: {{ url: 'https://core.acme.example/' }} }}
  - {{ id: shop-home, service: {b}, http: {{ url: 'https://shop.acme.example/' }} }}
",
            if depends {
                format!(", depends_on: [{a}]")
            } else {
                String::new()
            }
        ))
    };
    // Two service ids that land in different partitions on their own.
    let (a, b) = (0..)
        .map(|i| (format!("core{i}"), format!("shop{i}")))
        .find(|(a, b)| {
            let p = file(false, a, b).plan(8);
            p.of_service(a).map(|x| x.key.clone()) != p.of_service(b).map(|x| x.key.clone())
        })
        .unwrap();
    let (before, after) = (file(false, &a, &b), file(true, &a, &b));
    let from = before.plan(8).of_service(&b).unwrap().key.clone();
    let to = after.plan(8).of_service(&b).unwrap().key.clone();
    assert_ne!(from, to);
    assert_eq!(
        to,
        after.plan(8).of_service(&a).unwrap().key,
        "the group follows its first service"
    );

    let m = moto().await;
    let cust_q = m.queue("cust", &m.cust_topic, None).await;
    let s = store().await.with_partitions(8);
    let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(5);
    let at = |m: i64| t0 + chrono::TimeDelta::minutes(m);
    let minute = |m: i64, shop: Outcome| {
        let mut r = at_regions("core-home", at(m), Outcome::Up);
        r.extend(at_regions("shop-home", at(m), shop));
        r
    };
    let deps = Deps {
        checks: &before,
        store: &s,
        channels: &[&m.sns],
    };
    handle(
        &deps,
        &minute(0, Outcome::Down),
        None,
        at(0) + chrono::TimeDelta::seconds(20),
    )
    .await;
    let open = s.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1);
    let id = open[0].id.clone();
    assert!(id.starts_with(&format!("inc-{from}-")), "{id}");

    // The file changes: the shop now depends on the core. A tick moves the incident.
    let deps = Deps {
        checks: &after,
        store: &s,
        channels: &[&m.sns],
    };
    handle(&deps, &[], None, at(0) + chrono::TimeDelta::seconds(50)).await;
    assert!(
        s.load_part(&to)
            .await
            .unwrap()
            .state
            .incidents
            .contains_key(&id),
        "now where its service is"
    );
    assert!(
        !s.load_part(&from)
            .await
            .unwrap()
            .state
            .incidents
            .contains_key(&id),
        "and only there"
    );
    // Seen working again: resolved, and the customer is told.
    handle(
        &deps,
        &minute(1, Outcome::Up),
        None,
        at(1) + chrono::TimeDelta::seconds(20),
    )
    .await;
    handle(
        &deps,
        &minute(2, Outcome::Up),
        None,
        at(2) + chrono::TimeDelta::seconds(20),
    )
    .await;
    assert!(
        s.incidents(true).await.unwrap().is_empty(),
        "{:?}",
        s.incidents(true).await.unwrap()
    );
    let cust = events(&m.drain(&cust_q).await);
    assert_eq!(
        cust.iter().filter(|e| *e == "resolved").count(),
        1,
        "{cust:?}"
    );
}

/// A steady minute writes only the partitions' freshness stamps, never their state proper;
/// a change writes both.
#[tokio::test]
async fn a_steady_minute_writes_only_the_stamps() {
    let c = checks(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 2, recover_after: 2 }
customers:
  - { id: acme, name: ACME Corp }
services:
  - { id: shop, customer: acme, name: Shop }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
",
    );
    let m = moto().await;
    let s = store().await.with_partitions(4);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
    };
    let part = c.plan(4).of_check("shop-home").unwrap().key.clone();
    let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(30);
    let at = |m: i64| t0 + chrono::TimeDelta::minutes(m);
    let minute = |m: i64, outcome: Outcome| {
        let results = at_regions(
            "shop-home",
            at(m) + chrono::TimeDelta::milliseconds(250),
            outcome,
        );
        let deps = &deps;
        async move { handle(deps, &results, None, at(m) + chrono::TimeDelta::seconds(20)).await }
    };
    // The first minutes fill the flap history (20 results); from then on the check is steady.
    for m in 0..21 {
        minute(m, Outcome::Up).await;
    }
    let before = s.load_part(&part).await.unwrap();
    for m in 21..24 {
        minute(m, Outcome::Up).await;
    }
    let after = s.load_part(&part).await.unwrap();
    assert_eq!(
        after.version, before.version,
        "the state proper was not rewritten"
    );
    assert_eq!(
        after.stamps,
        before.stamps + 3,
        "the stamps were, once a minute"
    );
    let heard = after.state.checks["shop-home"].regions["eu-west-1"].last_at;
    assert!(
        heard >= at(23) + chrono::TimeDelta::milliseconds(250),
        "{heard}"
    );
    // A failure changes the state proper.
    minute(24, Outcome::Down).await;
    assert_eq!(s.load_part(&part).await.unwrap().version, after.version + 1);
    // A duplicate of an applied result is still recognised (its stamp is not older than it).
    let down = at_regions(
        "shop-home",
        at(24) + chrono::TimeDelta::milliseconds(250),
        Outcome::Down,
    );
    let again = handle(&deps, &down, None, at(24) + chrono::TimeDelta::seconds(40)).await;
    assert_eq!(again.events, 0);
    let state = s.load_part(&part).await.unwrap().state;
    assert_eq!(
        state.checks["shop-home"].regions["eu-west-1"].fails, 1,
        "counted once"
    );
}
