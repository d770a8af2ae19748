//! The SQLite store on real database files.

use super::migrations::MIGRATIONS;
use super::*;
use atalaya_core::evaluate::Audience;
use atalaya_core::{Outcome, Phases, Reason};

fn result(at: &str) -> ProbeResult {
    ProbeResult {
        check: "home".into(),
        region: "local".into(),
        at: at.parse().unwrap(),
        outcome: Outcome::Up,
        reason: Reason::Ok,
        detail: "status 200 OK".into(),
        latency_ms: 1.5,
        phases: Phases::default(),
        http_status: Some(200),
        cert_days_left: None,
    }
}

fn message(id: &str) -> Message {
    Message {
        id: id.into(),
        at: "2026-11-24T10:00:00Z".parse().unwrap(),
        topic: Audience::Operators,
        subject: "s".into(),
        body: "b".into(),
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

fn later() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

/// The pending messages' ids, with the channels done with each.
async fn pending(s: &SqliteStore) -> Vec<(String, Vec<String>)> {
    s.pending()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.message.id, p.done.into_iter().collect()))
        .collect()
}

/// Claims and finishes every pending message, as a publisher would; returns their ids.
async fn publish_all(s: &SqliteStore) -> Vec<String> {
    let mut seen = Vec::new();
    for p in s.pending().await.unwrap() {
        if s.claim(&p.message.id, "jsonl", Utc::now(), Duration::from_secs(60))
            .await
            .unwrap()
        {
            s.mark_sent(&p.message.id).await.unwrap();
            seen.push(p.message.id);
        }
    }
    seen
}

#[tokio::test]
async fn results_are_kept_once_and_read_newest_first() {
    let s = SqliteStore::in_memory().unwrap();
    let rs = [
        result("2026-11-24T10:00:00Z"),
        result("2026-11-24T10:01:00Z"),
    ];
    assert_eq!(s.put_results(&rs, later()).await.unwrap(), 2);
    assert_eq!(
        s.put_results(&rs, later()).await.unwrap(),
        0,
        "duplicates ignored"
    );
    let back = s.recent_results("home", 10).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0], rs[1]);
    assert_eq!(
        s.prune_results("2026-11-24T10:00:30Z".parse().unwrap())
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_stale_version_cannot_overwrite_the_state() {
    let s = SqliteStore::in_memory().unwrap();
    let v = s.load_state().await.unwrap();
    let mut state = v.state.clone();
    state.next_incident = 7;
    assert_eq!(s.commit(&v, &state, &[]).await.unwrap(), 1);
    assert!(matches!(
        s.commit(&v, &State::default(), &[]).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.load_state().await.unwrap().state.next_incident, 7);
}

#[tokio::test]
async fn outbox_records_each_message_once_and_publishes_in_order() {
    let s = SqliteStore::in_memory().unwrap();
    let v0 = Versioned::default();
    s.commit(&v0, &State::default(), &[message("a"), message("b")])
        .await
        .unwrap();
    let v1 = s.load_state().await.unwrap();
    s.commit(&v1, &State::default(), &[message("b"), message("c")])
        .await
        .unwrap();
    assert_eq!(publish_all(&s).await, ["a", "b", "c"]);
    assert!(publish_all(&s).await.is_empty(), "nothing left");
    assert!(s.outbox().unwrap().iter().all(|(_, sent)| *sent));
}

#[tokio::test]
async fn deliveries_are_recorded_per_channel_until_the_message_is_done() {
    let s = SqliteStore::in_memory().unwrap();
    s.commit(
        &Versioned::default(),
        &State::default(),
        &[message("a"), message("b")],
    )
    .await
    .unwrap();
    s.record_delivery("a", "sns", &Delivery::Sent)
        .await
        .unwrap();
    s.record_delivery("a", "email", &Delivery::GaveUp("no such mailbox".into()))
        .await
        .unwrap();
    // Recording again is harmless (a retried round).
    s.record_delivery("a", "sns", &Delivery::Sent)
        .await
        .unwrap();
    assert_eq!(
        pending(&s).await,
        [
            (
                "a".to_string(),
                vec!["email".to_string(), "sns".to_string()]
            ),
            ("b".to_string(), vec![])
        ]
    );
    s.mark_sent("a").await.unwrap();
    assert_eq!(pending(&s).await, [("b".to_string(), vec![])]);
}

#[tokio::test]
async fn results_are_read_back_by_region_from_a_time_on() {
    let s = SqliteStore::in_memory().unwrap();
    let mut other = result("2026-11-24T10:01:00Z");
    other.region = "eu-west-1".into();
    let rs = [
        result("2026-11-24T10:00:00Z"),
        result("2026-11-24T10:01:00Z"),
        other,
    ];
    s.put_results(&rs, later()).await.unwrap();
    let back = s
        .results("local", "2026-11-24T10:00:30Z".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(back, [rs[1].clone()]);
}

#[test]
fn two_processes_opening_a_new_database_at_once_both_succeed() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atalaya.db");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let opens: Vec<_> = (0..2)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path).map(|s| s.schema_version().unwrap())
                })
            })
            .collect();
        for open in opens {
            assert_eq!(open.join().unwrap().unwrap(), MIGRATIONS.len() as i64);
        }
    }
}

#[tokio::test]
async fn a_claimed_message_is_published_by_its_claimant_only() {
    let s = SqliteStore::in_memory().unwrap();
    s.commit(&Versioned::default(), &State::default(), &[message("a")])
        .await
        .unwrap();
    let now = Utc::now();
    let lease = Duration::from_secs(60);
    assert!(s.claim("a", "jsonl", now, lease).await.unwrap());
    assert!(!s.claim("a", "jsonl", now, lease).await.unwrap(), "held");
    assert!(
        s.claim("a", "stdout", now, lease).await.unwrap(),
        "each channel is claimed on its own"
    );
    s.release("a", "stdout").await.unwrap();
    assert!(
        publish_all(&s).await.is_empty(),
        "another publisher skips it"
    );
    assert!(
        s.claim("a", "jsonl", now + chrono::TimeDelta::seconds(61), lease)
            .await
            .unwrap(),
        "an expired claim is taken over"
    );
    s.mark_sent("a").await.unwrap();
    assert!(!s
        .claim("a", "jsonl", now + chrono::TimeDelta::hours(1), lease)
        .await
        .unwrap());
    assert!(s.mark_sent("nope").await.is_err());
}

#[tokio::test]
async fn incidents_are_kept_after_the_state_lets_them_go() {
    let s = SqliteStore::in_memory().unwrap();
    let text = "settings:\n  regions: [local]\n  quorum: 1\n  defaults: {interval: 1m, timeout: 5s, retries: 1, recover_after: 1}\ncustomers:\n  - {id: acme, name: ACME, language: en}\nservices:\n  - {id: shop, name: Shop, customer: acme}\nchecks:\n  - {id: home, service: shop, http: {url: 'https://shop.example.com/'}}\n";
    let config = atalaya_core::load_str(text, "t.yaml", atalaya_core::Target::Local).unwrap();
    let t0: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
    let mut v = s.load_state().await.unwrap();
    let feed = |m: i64, outcome| {
        let mut r = result("2026-11-24T10:00:00Z");
        r.at = t0 + chrono::TimeDelta::minutes(m);
        r.outcome = outcome;
        vec![r]
    };
    for (m, o) in [
        (0, Outcome::Down),
        (1, Outcome::Down),
        (2, Outcome::Up),
        (90, Outcome::Up),
    ] {
        let now = t0 + chrono::TimeDelta::minutes(m) + chrono::TimeDelta::seconds(5);
        let (state, _) = atalaya_core::evaluate::evaluate(&v.state, &feed(m, o), now, &config);
        s.commit(&v, &state, &[]).await.unwrap();
        v = s.load_state().await.unwrap();
        if m == 1 {
            assert_eq!(s.incidents(true).await.unwrap().len(), 1, "open");
        }
    }
    assert!(v.state.incidents.is_empty(), "archived from the state");
    let all = s.incidents(false).await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(!all[0].is_open());
    assert!(s.incidents(true).await.unwrap().is_empty());
    assert_eq!(
        s.incident(&all[0].id).await.unwrap().as_ref(),
        Some(&all[0])
    );
    assert!(s.incident("inc-404").await.unwrap().is_none());
}

#[tokio::test]
async fn a_version_2_database_keeps_its_incidents_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atalaya.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        let mut state = State::default();
        let inc: Incident = serde_json::from_value(serde_json::json!({
            "id": "inc-1", "service": "shop", "affected": [], "phase": "investigating",
            "started_at": "2026-11-24T10:00:00Z", "opened_at": "2026-11-24T10:01:00Z",
            "resolved_at": null, "acknowledged_at": null, "acknowledged_by": null,
            "escalated": false, "last_operator_notice": "2026-11-24T10:01:00Z",
            "last_customer_update": {}, "told": [], "reopened": 0, "failures": [],
            "timeline": [], "seq": 1
        }))
        .unwrap();
        state.incidents.insert("inc-1".into(), inc);
        conn.execute(
            "INSERT INTO engine_state (id, version, state) VALUES (1, 5, ?1)",
            params![serde_json::to_string(&state).unwrap()],
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(s.incident("inc-1").await.unwrap().unwrap().service, "shop");
    assert_eq!(s.load_state().await.unwrap().version, 5);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atalaya.db");
    std::fs::write(&path, "these are my notes, not a database ".repeat(100)).unwrap();
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(
        err.to_string().contains("is not an atalaya database"),
        "{err}"
    );
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("these are my notes"));
}

#[test]
fn migrations_run_once_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atalaya.db");
    assert_eq!(
        SqliteStore::open(&path).unwrap().schema_version().unwrap(),
        MIGRATIONS.len() as i64
    );
    assert_eq!(
        SqliteStore::open(&path).unwrap().schema_version().unwrap(),
        MIGRATIONS.len() as i64
    );
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(
        err.to_string().contains("newer than this atalaya knows"),
        "{err}"
    );
}
