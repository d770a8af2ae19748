//! What running Atalaya costs per million check executions, computed from what the functions
//! actually write here: 100 checks in three regions for ten minutes, an outage of two checks
//! in the middle, the alert function fed one stream batch a minute (the deployment's batching
//! window) and the one-minute tick. Prices are the public on-demand list prices of us-east-1
//! (docs/data-model.md); the test prints the breakdown and holds the total to the goal.

use super::*;
use atalaya_alert_fn::{handle as alert, Deps};
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
    let c = super::checks(&text);
    let config = &c.config;
    let m = moto().await;
    let s = store().await;
    let engine = atalaya_tests::engine(None);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
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
            config,
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
            "Lambda duration (probe 128 MB, alert 1,769 MB, arm64)",
            (probe_invocations * probe_seconds * 0.125
                + alert_invocations as f64 * alert_seconds * 1769.0 / 1024.0)
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
