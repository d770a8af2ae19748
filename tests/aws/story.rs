//! One round for every shell: the same three hours told through `atalaya_app::Round` over the
//! runner's store (SQLite, one partition, the only evaluator) and over the functions' (DynamoDB
//! on moto, four partitions) give the same month's report, hours, checks per region and latency
//! included, and the report says what happened.

use super::*;
use atalaya_tests::story::{start, tell, Story, FILE};

/// The report's figures; incidents by when they began and ended (a store split into partitions
/// names them after their partition: `inc-p01-1` for `inc-1`).
fn figures(r: &atalaya_app::report::Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    for s in v["services"].as_array_mut().into_iter().flatten() {
        for i in s["incidents"].as_array_mut().into_iter().flatten() {
            i["id"] = serde_json::Value::Null;
        }
    }
    v
}

#[tokio::test]
async fn a_months_report_is_the_same_from_the_runners_store_and_the_functions() {
    let story = Story::three_hours();
    let t0 = start();
    let sqlite = atalaya_store::SqliteStore::in_memory().unwrap();
    let local = tell(&sqlite, &checks(FILE), &story, t0, true).await;
    let (dynamo, _) = atalaya_tests::moto::store().await;
    let dynamo = dynamo.with_partitions(4);
    let functions = tell(&dynamo, &checks(FILE), &story, t0, false).await;
    // Side by side (shown with --no-capture).
    println!("service  path       uptime %    up s  degraded s  down s  unknown s  incidents  p50 total ms");
    for (path, r) in [("runner", &local), ("functions", &functions)] {
        for s in &r.services {
            println!(
                "{:<8} {:<10} {:>8.3} {:>7.0} {:>11.0} {:>7.0} {:>10.0} {:>10} {:>13.1}",
                s.service,
                path,
                s.uptime_percent.unwrap_or(f64::NAN),
                s.up_s,
                s.degraded_s,
                s.down_s,
                s.unknown_s,
                s.incidents.len(),
                s.latency.get("total").map_or(f64::NAN, |p| p.p50),
            );
        }
    }
    assert_eq!(
        figures(&local),
        figures(&functions),
        "the two paths disagree"
    );

    let service = |id: &str| {
        local
            .services
            .iter()
            .find(|s| s.service == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let near = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() <= 60.0,
            "{what}: {got} s, expected {want} s"
        );
    };
    // The shop: down 45 minutes everywhere, degraded while its API failed in one region (10
    // minutes), unknown the 21 minutes between the rounds either side of the monitor's absence.
    let shop = service("shop");
    near(shop.down_s, 45.0 * 60.0, "shop down");
    near(shop.degraded_s, 10.0 * 60.0, "shop degraded");
    near(shop.unknown_s, 21.0 * 60.0, "shop unknown");
    assert_eq!(shop.incidents.len(), 1);
    let blog = service("blog");
    assert_eq!(blog.down_s, 0.0);
    near(blog.unknown_s, 21.0 * 60.0, "blog unknown");
    // Each check per region, as that region saw it, and the latency of every result.
    let check = |id: &str, region: &str| {
        shop.checks
            .iter()
            .find(|c| c.check == id && c.region == region)
            .unwrap_or_else(|| panic!("{id}@{region}"))
    };
    near(
        check("shop-home", "us-east-1").down_s,
        45.0 * 60.0,
        "shop-home@us-east-1 down",
    );
    near(
        check("shop-api", "us-east-1").down_s,
        10.0 * 60.0,
        "shop-api@us-east-1 down",
    );
    assert_eq!(check("shop-api", "eu-west-1").down_s, 0.0);
    assert!(
        shop.latency.contains_key("total") && shop.latency.contains_key("ttfb"),
        "{:?}",
        shop.latency
    );
}

/// Random stories: outages of any check in any region, at any time and of any length, and a
/// spell when the monitor was away (or none). Each case is told over SQLite and over DynamoDB
/// on moto (a fresh deployment each) and the two reports must be the same.
fn stories() -> impl proptest::strategy::Strategy<Value = Story> {
    use proptest::prelude::*;
    (90i64..=130).prop_flat_map(|minutes| {
        (
            Just(minutes),
            proptest::collection::vec((0usize..3, 0usize..3, 0..minutes, 1i64..60), 0..5),
            proptest::option::of((1..minutes, 1i64..25)),
        )
            .prop_map(|(minutes, outages, away)| Story {
                minutes,
                outages,
                away,
            })
    })
}

#[test]
fn for_random_histories_the_runners_report_and_the_functions_are_equal() {
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 6,
        max_shrink_iters: 8,
        failure_persistence: None,
        ..Config::default()
    });
    let t0 = start();
    runner
        .run(&stories(), |story| {
            rt.block_on(async {
                let sqlite = atalaya_store::SqliteStore::in_memory().unwrap();
                let local = tell(&sqlite, &checks(FILE), &story, t0, true).await;
                let (dynamo, _) = atalaya_tests::moto::store().await;
                let dynamo = dynamo.with_partitions(4);
                let functions = tell(&dynamo, &checks(FILE), &story, t0, false).await;
                proptest::prop_assert_eq!(figures(&local), figures(&functions), "{:?}", story);
                // Something was counted: the story's hours are in the report.
                let counted: f64 = local
                    .services
                    .iter()
                    .map(|s| s.up_s + s.down_s + s.degraded_s + s.unknown_s)
                    .sum();
                proptest::prop_assert!(counted > 0.0, "{:?}", story);
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
