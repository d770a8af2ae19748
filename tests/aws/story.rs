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
