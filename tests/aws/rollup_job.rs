//! The hourly rollup job on AWS: an hour of results in the results table (two regions, a check
//! failing past its retries, a check silent all hour, a results item that cannot be read),
//! through the rollup function's handler on moto; each check's time per region and the latency
//! percentiles land per service and hour in the state table, equal to what the pure core makes
//! of the same results; a second run has nothing to do.

use super::*;
use atalaya_core::rollup::{check_key, from_results, Detail};
use atalaya_store::dynamodb::MAX_PART_BYTES;
use atalaya_store::Rollups;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DurationRound, TimeDelta, Utc};

const MIN: u64 = 60_000;

fn two_regions() -> Checks {
    checks(
        "settings:
  regions: [eu-west-1, us-east-1]
  defaults: { interval: 1m, timeout: 10s, retries: 2, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp }
services:
  - { id: shop, customer: acme, name: Shop }
  - { id: blog, customer: acme, name: Blog }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: shop-api, service: shop, http: { url: 'https://api.acme.example/' } }
  - { id: blog-home, service: blog, regions: [eu-west-1], http: { url: 'https://blog.acme.example/' } }
",
    )
}

#[tokio::test]
async fn the_rollup_function_keeps_each_check_per_region_and_latency_from_the_results() {
    let c = two_regions();
    let s = store().await;
    let hour = (Utc::now() - TimeDelta::hours(3))
        .duration_trunc(TimeDelta::hours(1))
        .unwrap();
    // From ten minutes before the hour to its end, at :05 past each minute.
    let mut results = Vec::new();
    for m in -10..60i64 {
        let at = hour + TimeDelta::minutes(m) + TimeDelta::seconds(5);
        for (check, region) in [
            ("shop-home", "eu-west-1"),
            ("shop-home", "us-east-1"),
            ("shop-api", "eu-west-1"),
            // shop-api sends nothing from us-east-1 all hour (only before it).
            ("shop-api", "us-east-1"),
            ("blog-home", "eu-west-1"),
        ] {
            if check == "shop-api" && region == "us-east-1" && m >= 0 {
                continue;
            }
            let failing = check == "shop-home" && region == "eu-west-1" && (10..13).contains(&m);
            results.push(ProbeResult {
                check: check.into(),
                region: region.into(),
                at,
                outcome: if failing { Outcome::Down } else { Outcome::Up },
                // 20 ms plus the minute: known percentiles.
                latency_ms: 20.0 + (m.rem_euclid(60)) as f64,
                phases: Phases {
                    connect_ms: Some(5.0),
                    ..Phases::default()
                },
                ..result(0)
            });
        }
    }
    // One probe run a minute per region, as the probe function writes them.
    for m in -10..60i64 {
        let at = hour + TimeDelta::minutes(m) + TimeDelta::seconds(5);
        let run: Vec<ProbeResult> = results.iter().filter(|r| r.at == at).cloned().collect();
        s.put_results(&run, Instant::now() + Duration::from_secs(30))
            .await
            .unwrap();
    }
    // A results item that cannot be read, in the hour: left out, logged, counted.
    let ddb = aws_sdk_dynamodb::Client::new(&atalaya_tests::moto::sdk_config().await);
    ddb.put_item()
        .table_name(&s.tables().results)
        .item("pk", AttributeValue::S("eu-west-1".into()))
        .item(
            "sk",
            AttributeValue::S(format!(
                "{}#garbage",
                (hour + TimeDelta::minutes(30)).format("%Y-%m-%dT%H:%M:%S%.6fZ")
            )),
        )
        .item(
            "results",
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                b"not gzip".to_vec(),
            )),
        )
        .send()
        .await
        .unwrap();

    let now = hour + TimeDelta::hours(1) + TimeDelta::minutes(7);
    let deadline = Instant::now() + Duration::from_secs(120);
    let out = atalaya_rollup_fn::handle(&s, &c.config, now, deadline)
        .await
        .unwrap();
    // The last day's hours in both regions, all done; only `hour` had results.
    assert_eq!(out.done.len(), 48, "{out:?}");
    assert!(out
        .done
        .contains(&format!("{}@eu-west-1", hour.format("%Y-%m-%dT%H"))));
    assert_eq!(out.pending, 0);
    assert_eq!(out.unreadable, 1);
    // Read: for the hour, its results and those of the five minutes before it (the lookback of
    // a one-minute check); for the hour before, the ten minutes before `hour`.
    let in_reach = results
        .iter()
        .filter(|r| r.at >= hour - TimeDelta::minutes(5))
        .count();
    let before = results.iter().filter(|r| r.at < hour).count();
    assert_eq!(out.results, in_reach + before);
    // Two services in eu-west-1, one in us-east-1: in the hour, and in the hour before (its last
    // ten minutes).
    assert_eq!(out.items_written, 6);
    assert!(out.largest_item_part < MAX_PART_BYTES, "{out:?}");
    assert_eq!(out.trimmed, 0);

    // What the store keeps is what the pure core makes of the same results.
    let to = hour + TimeDelta::hours(1);
    let expected = from_results(&c.config, &results, hour, to);
    let subjects: Vec<String> = ["eu-west-1", "us-east-1"]
        .iter()
        .flat_map(|r| ["shop-home", "shop-api"].map(|k| check_key(k, r)))
        .collect();
    let shop: Detail = s.detail("shop", &subjects, hour, to).await.unwrap();
    let eu = shop.checks[&check_key("shop-home", "eu-west-1")];
    assert_eq!(eu, expected.checks[&check_key("shop-home", "eu-west-1")]);
    // Degraded at the first failure (retries 2), down for the next two.
    assert_eq!(
        (eu.up, eu.degraded, eu.down, eu.unknown),
        (57 * MIN, MIN, 2 * MIN, 0)
    );
    // Silent all hour in a region that reported: seen until three intervals after its last
    // result (23:59:05 of the hour before), unknown after.
    let api_us = shop.checks[&check_key("shop-api", "us-east-1")];
    assert_eq!(api_us.total(), 60 * MIN);
    assert_eq!(api_us, expected.checks[&check_key("shop-api", "us-east-1")]);
    assert_eq!(
        (api_us.up, api_us.unknown),
        (2 * MIN + 5_000, 58 * MIN - 5_000)
    );
    // Latency: the service's sketch merges both regions; percentiles as the core gives them.
    let p = shop.latency["shop"].percentiles("total").unwrap();
    assert_eq!(Some(p), expected.latency["shop"].percentiles("total"));
    assert_eq!(p.samples, 60 * 3);
    assert!((p.p50 - 49.0).abs() <= 0.02 * 49.0, "{p:?}");
    assert!((p.p99 - 79.0).abs() <= 0.02 * 79.0, "{p:?}");
    let connect = shop.latency[&check_key("shop-home", "us-east-1")]
        .percentiles("connect")
        .unwrap();
    assert!((connect.p95 - 5.0).abs() <= 0.1, "{connect:?}");
    // A check's hours one by one, as the report and the pages read them.
    let hours = s
        .check_hours(
            "blog",
            "blog-home",
            "eu-west-1",
            hour - TimeDelta::hours(2),
            to,
        )
        .await
        .unwrap();
    let before = hour - TimeDelta::hours(1);
    assert_eq!(
        hours.keys().copied().collect::<Vec<_>>(),
        vec![before, hour]
    );
    assert_eq!(hours[&hour].up, 60 * MIN);
    // The hour before: nothing seen until its first result, at 23:50:05.
    assert_eq!(
        (hours[&before].unknown, hours[&before].up),
        (50 * MIN + 5_000, 10 * MIN - 5_000)
    );

    // Done is done: the next run reads nothing.
    let again = atalaya_rollup_fn::handle(&s, &c.config, now + TimeDelta::minutes(10), deadline)
        .await
        .unwrap();
    assert_eq!((again.done.len(), again.results, again.pending), (0, 0, 0));
    // A run with no time left leaves the hours to the next.
    let later = now + TimeDelta::hours(1);
    let rushed = atalaya_rollup_fn::handle(&s, &c.config, later, Instant::now())
        .await
        .unwrap();
    assert_eq!((rushed.done.len(), rushed.pending), (0, 2));
}
