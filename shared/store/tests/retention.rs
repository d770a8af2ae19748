//! The local runner's database in steady state: a simulated month of 200 checks (a result each
//! every 15 minutes), pruned every hour with the shortest retention (2 days): once the retention
//! is reached the file stops growing. Delivered messages and sent mails go after theirs.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_core::evaluate::{Audience, State};
use atalaya_core::{Message, Outcome, Phases, ProbeResult, Reason};
use atalaya_store::{SqliteStore, Store, Subscribers, Versioned};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const CHECKS: usize = 200;

fn result(check: usize, at: DateTime<Utc>) -> ProbeResult {
    ProbeResult {
        check: format!("check-{check:03}"),
        region: "local".into(),
        at,
        outcome: Outcome::Up,
        reason: Reason::Ok,
        detail: "status 200 OK".into(),
        latency_ms: 42.0,
        phases: Phases::default(),
        http_status: Some(200),
        cert_days_left: None,
    }
}

fn message(id: String, at: DateTime<Utc>) -> Message {
    Message {
        id,
        at,
        topic: Audience::Operators,
        subject: "[REMINDER] shop: still down".into(),
        body: "Still failing: shop-home in local since 10:00 (status 503).\n".repeat(20),
        attributes: atalaya_core::message::Tags::new(
            atalaya_core::evaluate::Audience::Operators,
            atalaya_core::evaluate::EventKind::Opened,
            atalaya_core::evaluate::Severity::Critical,
            atalaya_core::Language::En,
        ),
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: None,
    }
}

#[tokio::test]
async fn a_month_in_steady_state_keeps_the_file_the_same_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atalaya.db");
    let store = SqliteStore::open(&path).unwrap();
    let t0: DateTime<Utc> = "2026-10-01T00:00:00Z".parse().unwrap();
    let retention = Duration::from_secs(2 * 86_400);
    let mut sizes = Vec::new();
    for day in 0..30i64 {
        for quarter in 0..96i64 {
            let at = t0 + TimeDelta::days(day) + TimeDelta::minutes(15 * quarter);
            let results: Vec<ProbeResult> = (0..CHECKS).map(|c| result(c, at)).collect();
            store
                .put_results(&results, Instant::now() + Duration::from_secs(30))
                .await
                .unwrap();
            if quarter % 4 == 0 {
                store.prune(at, retention, &BTreeSet::new()).unwrap();
            }
        }
        let (bytes, free) = store.size().unwrap();
        let on_disk = std::fs::metadata(&path).unwrap().len();
        sizes.push((day, bytes, free, on_disk));
    }
    for (day, bytes, free, on_disk) in &sizes {
        eprintln!(
            "day {day:2}: {} KiB in pages ({} KiB free), file {} KiB",
            bytes / 1024,
            free / 1024,
            on_disk / 1024
        );
    }
    // From the day the retention is reached (plus a day), the pages in use do not grow: every
    // later day within 5 % of the first of them.
    let steady: Vec<u64> = sizes.iter().filter(|s| s.0 >= 4).map(|s| s.1).collect();
    let first = steady[0] as f64;
    for s in &steady {
        assert!(
            (*s as f64 - first).abs() / first < 0.05,
            "the file grew: {steady:?}"
        );
    }
    // What is older than the retention is gone; what is newer is there.
    let end = t0 + TimeDelta::days(30);
    assert!(store
        .results("local", t0)
        .await
        .unwrap()
        .iter()
        .all(|r| r.at >= end - TimeDelta::days(3)));
}

#[tokio::test]
async fn delivered_messages_and_sent_mails_go_after_their_retention_and_pending_ones_stay() {
    let store = SqliteStore::in_memory().unwrap();
    let now = Utc::now();
    let mut base = Versioned::default();
    for id in ["sent", "pending"] {
        base.version = store
            .commit(&base, &State::default(), &[message(id.into(), now)])
            .await
            .unwrap();
    }
    store.mark_sent("sent").await.unwrap();
    assert!(store
        .claim_mail("sent/sub-1", now, Duration::from_secs(60))
        .await
        .unwrap());
    store.mail_sent("sent/sub-1").await.unwrap();
    let retention = Duration::from_secs(30 * 86_400);
    // Within the retention (and the 100 days the status site's history needs): kept.
    let p = store
        .prune(now + TimeDelta::days(31), retention, &BTreeSet::new())
        .unwrap();
    assert_eq!((p.messages, p.mails), (0, 1));
    let p = store
        .prune(now + TimeDelta::days(101), retention, &BTreeSet::new())
        .unwrap();
    assert_eq!(p.messages, 1);
    // A message not yet delivered is never let go of.
    let pending: Vec<String> = store
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.message.id)
        .collect();
    assert_eq!(pending, ["pending"]);
}
