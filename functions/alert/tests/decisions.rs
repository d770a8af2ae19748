//! The alert function's decisions, each told over both stores with the same expected outcome:
//! SQLite (the runner's) and DynamoDB on moto in four partitions (the functions'), with a
//! channel in memory: what reaches each audience, duplicate and racing deliveries, failed
//! sends, failed commits, silent regions, latency drift.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_alert_fn::{emf, handle, Deps};
use atalaya_app::Checks;
use atalaya_core::evaluate::{Incident, State};
use atalaya_core::{Message, Outcome, Phases, ProbeResult, Reason};
use atalaya_notify::MemoryChannel;
use atalaya_store::{Delivery, HourlyRollups, Pending, Rollups, Store, StoreError, Versioned};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CHECKS: &str = "settings:
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
";

fn checks() -> Checks {
    Checks::from_text(
        CHECKS,
        "checks.yaml",
        std::path::Path::new("."),
        atalaya_core::Target::Lambda,
    )
    .unwrap()
}

fn results(check: &str, at: DateTime<Utc>, outcome: Outcome, regions: &[&str]) -> Vec<ProbeResult> {
    regions
        .iter()
        .map(|r| ProbeResult {
            check: check.into(),
            region: r.to_string(),
            at,
            outcome,
            reason: if outcome == Outcome::Down {
                Reason::HttpStatus
            } else {
                Reason::Ok
            },
            detail: "status 503, expected 2xx".into(),
            latency_ms: 12.0,
            phases: Phases::default(),
            http_status: None,
            cert_days_left: None,
        })
        .collect()
}

const ALL: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];

/// (audience, customer, event) of each message a channel received.
fn seen(c: &MemoryChannel) -> Vec<(String, String, String)> {
    c.sent()
        .iter()
        .map(|m| {
            let a = |k: &str| m.attributes.pairs().get(k).cloned().unwrap_or_default();
            (a("audience"), a("customer"), a("event"))
        })
        .collect()
}

async fn an_outage_and_recovery_reach_each_audience_once_whatever_is_delivered_twice<
    S: Store + Rollups + HourlyRollups + Sync,
>(
    s: S,
) {
    let (c, ch) = (checks(), MemoryChannel::new("sns"));
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&ch],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = Utc::now() - TimeDelta::minutes(3);
    let down = results("shop-home", t0, Outcome::Down, &ALL);
    let out = handle(&deps, &down, Some("100".into()), t0 + TimeDelta::seconds(5)).await;
    assert_eq!(
        (out.events, out.published, out.batch_item_failures.len()),
        (2, 2, 0)
    );
    // The same batch again (Lambda retries): nothing new is said.
    let again = handle(&deps, &down, Some("100".into()), t0 + TimeDelta::seconds(6)).await;
    assert_eq!((again.events, again.published), (0, 0));
    // The recovery, to two racing invocations.
    let up = results("shop-home", t0 + TimeDelta::minutes(1), Outcome::Up, &ALL);
    let now = t0 + TimeDelta::minutes(1) + TimeDelta::seconds(5);
    let (a, b) = tokio::join!(handle(&deps, &up, None, now), handle(&deps, &up, None, now));
    assert_eq!(a.events + b.events, 2, "one of them resolves: {a:?} {b:?}");
    assert_eq!(
        seen(&ch),
        [
            ("operators".into(), "acme".into(), "opened".into()),
            ("customers".into(), "acme".into(), "opened".into()),
            ("operators".into(), "acme".into(), "resolved".into()),
            ("customers".into(), "acme".into(), "resolved".into()),
        ],
        "each once; nothing about globex's portal"
    );
    assert!(s.pending().await.unwrap().is_empty());
}

async fn a_send_that_fails_goes_out_with_the_next_invocation_and_is_counted<
    S: Store + Rollups + HourlyRollups + Sync,
>(
    s: S,
) {
    let (c, ch) = (checks(), MemoryChannel::new("sns"));
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&ch],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = Utc::now() - TimeDelta::minutes(3);
    ch.fail_next(1);
    let out = handle(
        &deps,
        &results("shop-home", t0, Outcome::Down, &ALL),
        None,
        t0,
    )
    .await;
    assert_eq!((out.events, out.published, out.publish_failures), (2, 1, 1));
    let line = emf(&out, Duration::from_millis(3), t0);
    assert_eq!(line["PublishFailures"], serde_json::json!(1.0));
    // The next tick delivers what is left; nothing twice.
    let tick = handle(&deps, &[], None, t0 + TimeDelta::seconds(30)).await;
    assert_eq!((tick.events, tick.published), (0, 1));
    assert_eq!(seen(&ch).len(), 2);
}

/// A store whose next commits fail: throttled (worth retrying) or, with `for_good`, refusing
/// the state as DynamoDB refuses an item over 400 KB.
struct Failing<S> {
    inner: S,
    commits_to_fail: AtomicUsize,
    for_good: bool,
}

impl<S: Store + Rollups + Sync> atalaya_store::Rollups for Failing<S> {
    async fn service_hours(
        &self,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<atalaya_core::rollup::Hours, StoreError> {
        self.inner.service_hours(service, from, to).await
    }
    async fn check_hours(
        &self,
        service: &str,
        check: &str,
        region: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<atalaya_core::rollup::Hours, StoreError> {
        self.inner
            .check_hours(service, check, region, from, to)
            .await
    }
    async fn detail(
        &self,
        service: &str,
        subjects: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<atalaya_core::rollup::Detail, StoreError> {
        self.inner.detail(service, subjects, from, to).await
    }
    async fn write_hours(
        &self,
        hours: &std::collections::BTreeMap<
            String,
            std::collections::BTreeMap<String, atalaya_core::rollup::Hours>,
        >,
    ) -> Result<(), StoreError> {
        self.inner.write_hours(hours).await
    }
    async fn alive(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.alive(now).await
    }
    async fn last_alive(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.last_alive().await
    }
}

impl<S: Store + Rollups + Sync> Store for Failing<S> {
    async fn put_results(&self, r: &[ProbeResult], d: Instant) -> Result<usize, StoreError> {
        self.inner.put_results(r, d).await
    }
    async fn results(
        &self,
        region: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        self.inner.results(region, since).await
    }
    async fn load_state(&self) -> Result<Versioned, StoreError> {
        self.inner.load_state().await
    }
    async fn commit(
        &self,
        base: &Versioned,
        state: &State,
        m: &[Message],
    ) -> Result<u64, StoreError> {
        if self
            .commits_to_fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            if self.for_good {
                return Err(StoreError::TooLarge {
                    what: "the engine state".into(),
                    bytes: 512 * 1024,
                });
            }
            return Err(StoreError::Aws {
                what: "commit".into(),
                retryable: true,
                detail: "ProvisionedThroughputExceededException".into(),
            });
        }
        self.inner.commit(base, state, m).await
    }
    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        self.inner.incidents(open_only).await
    }
    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        self.inner.incident(id).await
    }
    async fn messages(&self, ids: &[String]) -> Result<Vec<Message>, StoreError> {
        self.inner.messages(ids).await
    }
    async fn pending(&self) -> Result<Vec<Pending>, StoreError> {
        self.inner.pending().await
    }
    async fn episode(&self) -> Result<(atalaya_core::message::episode::Episode, u64), StoreError> {
        self.inner.episode().await
    }
    async fn keep_episode(
        &self,
        e: &atalaya_core::message::episode::Episode,
        v: u64,
    ) -> Result<bool, StoreError> {
        self.inner.keep_episode(e, v).await
    }
    async fn thread(&self, channel: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.thread(channel, key).await
    }
    async fn keep_thread(&self, channel: &str, key: &str, r: &str) -> Result<(), StoreError> {
        self.inner.keep_thread(channel, key, r).await
    }
    async fn claim(
        &self,
        id: &str,
        channel: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.claim(id, channel, now, lease).await
    }
    async fn release(&self, id: &str, channel: &str) -> Result<(), StoreError> {
        self.inner.release(id, channel).await
    }
    async fn record_delivery(
        &self,
        id: &str,
        channel: &str,
        d: &Delivery,
    ) -> Result<(), StoreError> {
        self.inner.record_delivery(id, channel, d).await
    }
    async fn mark_sent(&self, id: &str) -> Result<(), StoreError> {
        self.inner.mark_sent(id).await
    }
}

async fn a_batch_whose_evaluation_cannot_be_committed_is_handed_back_to_lambda<
    S: Store + Rollups + HourlyRollups + Sync,
>(
    inner: S,
) {
    let c = checks();
    let s = Failing {
        inner,
        commits_to_fail: AtomicUsize::new(1),
        for_good: false,
    };
    let ch = MemoryChannel::new("sns");
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&ch],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = Utc::now() - TimeDelta::minutes(3);
    let down = results("shop-home", t0, Outcome::Down, &ALL);
    let out = handle(&deps, &down, Some("4711".into()), t0).await;
    assert!(out.evaluation_failed);
    assert_eq!(out.batch_item_failures.len(), 1);
    assert_eq!(out.batch_item_failures[0].item_identifier, "4711");
    assert!(
        ch.sent().is_empty(),
        "nothing said about an evaluation not stored"
    );
    // Lambda retries the batch: now it goes through, told once.
    let retry = handle(
        &deps,
        &down,
        Some("4711".into()),
        t0 + TimeDelta::seconds(1),
    )
    .await;
    assert!(!retry.evaluation_failed && retry.batch_item_failures.is_empty());
    assert_eq!(seen(&ch).len(), 2);
}

async fn a_state_too_large_to_store_is_counted_for_the_alarm_and_never_handed_back<
    S: Store + Rollups + HourlyRollups + Sync,
>(
    inner: S,
) {
    let c = checks();
    let s = Failing {
        inner,
        commits_to_fail: AtomicUsize::new(usize::MAX),
        for_good: true,
    };
    let ch = MemoryChannel::new("sns");
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&ch],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = Utc::now() - TimeDelta::minutes(3);
    let down = results("shop-home", t0, Outcome::Down, &ALL);
    let out = handle(&deps, &down, Some("4711".into()), t0).await;
    assert!(out.evaluation_failed && out.evaluation_failed_for_good);
    // Handed back, the batch would come back for an hour and block the stream shard.
    assert!(out.batch_item_failures.is_empty());
    assert!(ch.sent().is_empty());
    let emf = atalaya_alert_fn::emf(&out, Duration::from_millis(3), t0);
    let metrics = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"].to_string();
    assert!(metrics.contains("EvaluationFailures"), "{emf}");
    assert_eq!(emf["EvaluationFailures"], 1.0, "{emf}");
    assert_eq!(emf["Function"], "alert");
}

async fn a_probe_region_that_stops_reporting_is_counted_and_opens_nothing<
    S: Store + Rollups + HourlyRollups + Sync,
>(
    s: S,
) {
    let (c, ch) = (checks(), MemoryChannel::new("sns"));
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&ch],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = Utc::now() - TimeDelta::minutes(10);
    let mut silent = 0;
    for m in 0..=5 {
        let at = t0 + TimeDelta::minutes(m);
        let regions: &[&str] = if m == 0 { &ALL } else { &ALL[..2] };
        let mut rs = results("shop-home", at, Outcome::Up, regions);
        rs.extend(results("portal-home", at, Outcome::Up, regions));
        silent = handle(&deps, &rs, None, at + TimeDelta::seconds(5))
            .await
            .silent_regions;
    }
    assert_eq!(silent, 1, "three intervals without a result");
    assert!(s.incidents(false).await.unwrap().is_empty());
    let told: Vec<(String, String, String)> = seen(&ch);
    assert_eq!(
        told,
        [("operators".into(), String::new(), "region_silent".into())],
        "operators only"
    );
}

async fn the_monitor_going_blind_partition_by_partition_is_told_once_each_way<
    S: Store + Rollups + HourlyRollups + Sync,
>(
    s: S,
) {
    let (c, ch) = (checks(), MemoryChannel::new("sns"));
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&ch],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let t0 = Utc::now() - TimeDelta::minutes(20);
    // The shop's check is seen by one region only from minute 1 to 7, the portal's from minute
    // 3 to 9: each becomes unknown in its own evaluation (in their own partitions on AWS).
    for m in 0..=14 {
        let at = t0 + TimeDelta::minutes(m);
        let shop: &[&str] = if (1..8).contains(&m) { &ALL[..1] } else { &ALL };
        let portal: &[&str] = if (3..10).contains(&m) {
            &ALL[..1]
        } else {
            &ALL
        };
        let mut rs = results("shop-home", at, Outcome::Up, shop);
        rs.extend(results("portal-home", at, Outcome::Up, portal));
        handle(&deps, &rs, None, at + TimeDelta::seconds(5)).await;
    }
    let sent = ch.sent();
    let of = |event: &str| -> Vec<&Message> {
        sent.iter()
            .filter(|m| m.attributes.event.as_str() == event)
            .collect()
    };
    let subjects: Vec<&str> = sent.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(of("monitoring_blind").len(), 1, "{subjects:#?}");
    assert_eq!(of("monitoring_restored").len(), 1, "{subjects:#?}");
    let restored = of("monitoring_restored")[0];
    assert!(
        restored
            .body
            .contains("the episode is over (2 checks could not be judged during it)"),
        "{}",
        restored.body
    );
    assert!(
        s.pending().await.unwrap().is_empty(),
        "a notice left behind"
    );
}

/// An hour's latency sketch: `n` results around `ms` (±5 %), connect always 20 ms.
fn sketch(ms: f64, n: usize) -> atalaya_core::rollup::Latency {
    let mut l = atalaya_core::rollup::Latency::default();
    for i in 0..n {
        let mut r = results("api", Utc::now(), Outcome::Up, &["eu-west-1"]).remove(0);
        r.latency_ms = ms * (0.95 + 0.1 * (i as f64 / n as f64));
        r.phases.connect_ms = Some(20.0);
        l.record(&r);
    }
    l
}

/// An hour of `api`'s latency, as the hourly job writes it: each region's part (eu-west-1
/// around `eu` ms, us-east-1 around 100 ms).
async fn seed<S: HourlyRollups>(s: &S, at: DateTime<Utc>, eu: f64) {
    for (region, ms) in [("eu-west-1", eu), ("us-east-1", 100.0)] {
        let detail = atalaya_core::rollup::Detail {
            latency: std::collections::BTreeMap::from([(format!("api@{region}"), sketch(ms, 60))]),
            ..Default::default()
        };
        let parts = std::collections::BTreeMap::from([("shop".to_string(), detail)]);
        atalaya_store::HourlyRollups::write_region_hour(s, region, at, &parts)
            .await
            .unwrap();
    }
}

async fn a_check_drifting_from_its_usual_hour_warns_operators_alone_and_clears_when_back<
    S: Store + Rollups + HourlyRollups + Sync,
>(
    s: S,
) {
    let c = Checks::from_text(
        "settings:
  regions: [eu-west-1, us-east-1]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
  operators: { renotify_every: 30m }
customers:
  - { id: acme, name: ACME Corp, language: es }
services:
  - { id: shop, customer: acme, name: Tienda online }
checks:
  - { id: api, service: shop, http: { url: 'https://api.acme.example/' }, expect: { latency: { drift: 2x } } }
",
        "checks.yaml",
        std::path::Path::new("."),
        atalaya_core::Target::Lambda,
    )
    .unwrap();
    let ch = MemoryChannel::new("sns");
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&ch],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    use chrono::DurationRound;
    let top = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap();
    let hour = top - TimeDelta::hours(1);
    // The same hour of the last four weeks around 100 ms in eu-west-1; the hour just over at
    // 300 ms there; us-east-1 as usual.
    for w in 1..=4 {
        seed(&s, hour - TimeDelta::weeks(w), 100.0 + w as f64).await;
    }
    seed(&s, hour, 300.0).await;
    let now = top + TimeDelta::minutes(5);
    let fresh = results(
        "api",
        now - TimeDelta::seconds(20),
        Outcome::Up,
        &["eu-west-1", "us-east-1"],
    );
    handle(&deps, &fresh, None, now - TimeDelta::seconds(10)).await;
    let out = handle(&deps, &[], None, now).await;
    assert!(!out.evaluation_failed, "{out:?}");
    let early: Vec<_> = ch
        .sent()
        .into_iter()
        .filter(|m| m.attributes.event.as_str() == "early_warning")
        .collect();
    assert_eq!(early.len(), 1, "{:?}", seen(&ch));
    let m = &early[0];
    assert_eq!(m.attributes.audience.as_str(), "operators");
    assert_eq!(
        m.subject,
        "[EARLY WARNING] api: latency drifting in eu-west-1"
    );
    assert!(
        m.body.contains("in eu-west-1, the hour from ")
            && m.body.contains("had a median latency of total 30")
            && m.body.contains("against a usual 10")
            && !m.body.contains("connect"),
        "{}",
        m.body
    );
    assert!(seen(&ch)
        .iter()
        .all(|(audience, _, _)| audience == "operators"));
    // The next tick, the same hour: nothing more.
    handle(&deps, &[], None, now + TimeDelta::minutes(1)).await;
    assert_eq!(
        ch.sent()
            .iter()
            .filter(|m| m.attributes.event.as_str() == "early_warning")
            .count(),
        1
    );
    // The next hour back to its usual (that hour's own usual): cleared.
    for w in 1..=4 {
        seed(&s, top - TimeDelta::weeks(w), 100.0).await;
    }
    seed(&s, top, 101.0).await;
    let later = top + TimeDelta::hours(1) + TimeDelta::minutes(5);
    let fresh = results(
        "api",
        later - TimeDelta::seconds(20),
        Outcome::Up,
        &["eu-west-1", "us-east-1"],
    );
    handle(&deps, &fresh, None, later - TimeDelta::seconds(10)).await;
    handle(&deps, &[], None, later).await;
    let events: Vec<String> = seen(&ch).into_iter().map(|(_, _, e)| e).collect();
    assert!(
        events.contains(&"early_warning_cleared".to_string()),
        "{events:?}"
    );
}

/// Each decision over SQLite and over DynamoDB on moto (four partitions).
macro_rules! over_both_stores {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(atalaya_store::SqliteStore::in_memory().unwrap()).await;
            }

            #[tokio::test]
            async fn dynamodb() {
                let (store, _) = atalaya_tests::moto::store().await;
                super::$name(store.with_partitions(4)).await;
            }
        }
    )* };
}

over_both_stores!(
    an_outage_and_recovery_reach_each_audience_once_whatever_is_delivered_twice,
    a_send_that_fails_goes_out_with_the_next_invocation_and_is_counted,
    a_probe_region_that_stops_reporting_is_counted_and_opens_nothing,
    a_batch_whose_evaluation_cannot_be_committed_is_handed_back_to_lambda,
    a_state_too_large_to_store_is_counted_for_the_alarm_and_never_handed_back,
    a_check_drifting_from_its_usual_hour_warns_operators_alone_and_clears_when_back,
    the_monitor_going_blind_partition_by_partition_is_told_once_each_way,
);
