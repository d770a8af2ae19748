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

/// Records the moments the handler waits for, without waiting.
struct Simulated(std::sync::Mutex<Vec<chrono::DateTime<chrono::Utc>>>);

impl atalaya_probe_fn::Pacer for Simulated {
    /// Notes the moment asked for, and lets the wall clock reach its next second: results carry
    /// the time to the second, and one check's identical results within one second are one
    /// result to the store (a duplicate). On AWS a check's rounds are seconds apart.
    async fn until(&self, at: chrono::DateTime<chrono::Utc>) {
        self.0.lock().unwrap().push(at);
        let now = chrono::Utc::now();
        let into = now
            - chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::seconds(1)).unwrap();
        tokio::time::sleep(
            (chrono::TimeDelta::seconds(1) - into)
                .to_std()
                .unwrap_or_default(),
        )
        .await;
    }
}

#[tokio::test]
async fn sub_minute_checks_run_at_their_seconds_within_one_invocation_and_are_written_each_round() {
    use atalaya_core::schedule::runs_in_minute;
    use atalaya_probe_fn::{handle_paced, ProbeEvent};
    let addr = atalaya_tests::http::server(None).await;
    let text = format!(
        "settings:
  regions: [eu-west-1]
  allow_networks: [127.0.0.0/8]
customers:
  - {{ id: acme, name: ACME }}
services:
  - {{ id: pay, customer: acme, name: Payments }}
checks:
  - {{ id: pay-10s, service: pay, interval: 10s, timeout: 5s, http: {{ url: 'http://{addr}/ok' }} }}
  - {{ id: pay-15s, service: pay, interval: 15s, timeout: 5s, http: {{ url: 'http://{addr}/ok' }} }}
  - {{ id: pay-30s, service: pay, interval: 30s, timeout: 5s, http: {{ url: 'http://{addr}/ok' }} }}
  - {{ id: pay-1m, service: pay, interval: 1m, timeout: 5s, http: {{ url: 'http://{addr}/ok' }} }}
"
    );
    let config =
        atalaya_core::load_str(&text, "checks.yaml", atalaya_core::Target::Lambda).unwrap();
    // Sub-minute results stay fresh on Lambda for 90 s (the stream's batches), not 30.
    assert_eq!(
        config.check("pay-10s").unwrap().stale_after,
        Duration::from_secs(90)
    );
    assert_eq!(
        config.check("pay-1m").unwrap().stale_after,
        Duration::from_secs(180)
    );
    let s = store().await;
    let engine = atalaya_tests::engine(None);
    // A minute of the simulated clock (long past: nothing waits).
    let now: chrono::DateTime<chrono::Utc> = "2026-11-30T10:00:00.200Z".parse().unwrap();
    let minute = now.timestamp() / 60;
    let pacer = Simulated(std::sync::Mutex::new(Vec::new()));
    let out = handle_paced(
        ProbeEvent {
            region: "eu-west-1".into(),
            shard: 0,
            shards: 1,
        },
        &config,
        &engine,
        &s,
        now,
        Instant::now() + Duration::from_secs(60),
        &pacer,
    )
    .await
    .unwrap();
    // 6 + 4 + 2 + 1 runs, all written.
    assert_eq!((out.checks, out.written, out.failures), (13, 13, 0));
    let stored = s
        .results("eu-west-1", chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    for (id, runs) in [
        ("pay-10s", 6),
        ("pay-15s", 4),
        ("pay-30s", 2),
        ("pay-1m", 1),
    ] {
        assert_eq!(
            stored.iter().filter(|r| r.check == id).count(),
            runs,
            "{id}"
        );
    }
    // The handler waited for each round's second, in order, and for no other.
    let mut seconds: Vec<u32> = config
        .checks
        .iter()
        .flat_map(|c| runs_in_minute(c, minute))
        .filter(|s| *s > 0)
        .collect();
    seconds.sort_unstable();
    seconds.dedup();
    let waited: Vec<u32> = pacer
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|t| (t.timestamp() - minute * 60) as u32)
        .collect();
    assert_eq!(waited, seconds);
    // Each sub-minute check's runs are an interval apart, from a phase below its interval.
    let ten = runs_in_minute(config.check("pay-10s").unwrap(), minute);
    assert_eq!(ten.len(), 6);
    assert!(
        ten[0] < 10 && ten.windows(2).all(|w| w[1] - w[0] == 10),
        "{ten:?}"
    );
    // Each round's results were written as the round ended: one results item per round at
    // least (the stream carries them as they come), not one at the end.
    let items = s.result_ttls("eu-west-1").await.unwrap().len();
    assert!(
        items >= seconds.len() + usize::from(!seconds.contains(&0)),
        "{items} items for {} rounds",
        seconds.len()
    );
}
