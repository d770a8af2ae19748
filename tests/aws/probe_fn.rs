//! The probe function writing to DynamoDB on moto.

use super::*;

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
