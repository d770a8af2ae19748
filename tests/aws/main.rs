//! The DynamoDB adapter against moto_server: batches, TTL, conditional writes, the outbox.

#![allow(clippy::unwrap_used)]

use atalaya_core::evaluate::{Audience, State};
use atalaya_core::{Message, Outcome, Phases, ProbeResult, Reason};
use atalaya_store::{DynamoStore, StoreError, Tables};
use std::time::{Duration, Instant};

async fn store() -> DynamoStore {
    let endpoint = atalaya_tests::moto::endpoint();
    let s = DynamoStore::connect(
        "eu-west-1",
        Some(&endpoint),
        Tables::with_prefix(&atalaya_tests::moto::unique_prefix()),
        Duration::from_secs(30 * 86_400),
    )
    .await;
    s.create_tables().await.unwrap();
    s
}

fn result(i: i64) -> ProbeResult {
    ProbeResult {
        check: "shop-home".into(),
        region: "eu-west-1".into(),
        at: "2026-11-24T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::TimeDelta::seconds(i),
        outcome: Outcome::Up,
        reason: Reason::Ok,
        detail: "status 200 OK".into(),
        latency_ms: 12.0,
        phases: Phases::default(),
        http_status: Some(200),
        cert_days_left: None,
    }
}

fn message(id: &str, second: i64) -> Message {
    Message {
        id: id.into(),
        at: "2026-11-24T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::TimeDelta::seconds(second),
        topic: Audience::Customers,
        subject: "Tienda online: estamos resolviendo un problema".into(),
        body: "Hola".into(),
        attributes: Default::default(),
    }
}

#[tokio::test]
async fn more_than_25_results_are_written_in_batches_with_their_ttl() {
    let s = store().await;
    let results: Vec<ProbeResult> = (0..60).map(result).collect();
    let written = s
        .put_results(&results, Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(written, 60);
    let back = s
        .recent_results("shop-home", "eu-west-1", 100)
        .await
        .unwrap();
    assert_eq!(back.len(), 60);
    assert_eq!(back[0], results[59], "newest first");
    let ttl = s
        .result_ttl("shop-home", "eu-west-1", results[0].at)
        .await
        .unwrap();
    assert_eq!(
        ttl,
        Some(results[0].at.timestamp() + 30 * 86_400),
        "expires 30 days after the result"
    );
}

#[tokio::test]
async fn state_is_written_only_over_the_version_read() {
    let s = store().await;
    let v = s.load_state().await.unwrap();
    assert_eq!(v.version, 0);
    let state = State {
        next_incident: 3,
        ..State::default()
    };
    assert_eq!(s.commit_state(0, &state).await.unwrap(), 1);
    assert!(matches!(
        s.commit_state(0, &State::default()).await,
        Err(StoreError::Conflict { .. })
    ));
    let back = s.load_state().await.unwrap();
    assert_eq!((back.version, back.state.next_incident), (1, 3));
}

#[tokio::test]
async fn of_two_racing_writers_exactly_one_wins() {
    let s = store().await;
    s.commit_state(0, &State::default()).await.unwrap();
    let (one, two) = (State::default(), State::default());
    let (a, b) = tokio::join!(s.commit_state(1, &one), s.commit_state(1, &two));
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    let conflicts = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict { .. })))
        .count();
    assert_eq!((wins, conflicts), (1, 1), "{a:?} {b:?}");
    assert_eq!(s.load_state().await.unwrap().version, 2);
}

#[tokio::test]
async fn outbox_records_each_message_once_and_lists_it_until_sent() {
    let s = store().await;
    assert_eq!(
        s.enqueue(&[
            message("inc-1/1/opened", 1),
            message("inc-1/2/opened/shop", 2)
        ])
        .await
        .unwrap(),
        2
    );
    // A retried invocation records the same messages again: nothing new.
    assert_eq!(
        s.enqueue(&[
            message("inc-1/2/opened/shop", 2),
            message("inc-1/3/update/shop", 3)
        ])
        .await
        .unwrap(),
        1
    );
    let pending: Vec<String> = s
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        pending,
        [
            "inc-1/1/opened",
            "inc-1/2/opened/shop",
            "inc-1/3/update/shop"
        ]
    );
    s.mark_sent("inc-1/2/opened/shop").await.unwrap();
    let pending: Vec<String> = s
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(pending, ["inc-1/1/opened", "inc-1/3/update/shop"]);
    let missing = s.mark_sent("never-recorded").await.unwrap_err();
    assert!(
        matches!(
            missing,
            StoreError::Aws {
                retryable: false,
                ..
            }
        ),
        "{missing}"
    );
}

#[test]
fn throttling_and_server_errors_are_retryable_validation_errors_are_not() {
    assert!(atalaya_store::dynamodb::retryable(Some(
        "ProvisionedThroughputExceededException"
    )));
    assert!(atalaya_store::dynamodb::retryable(Some(
        "InternalServerError"
    )));
    assert!(!atalaya_store::dynamodb::retryable(Some(
        "ValidationException"
    )));
    assert!(!atalaya_store::dynamodb::retryable(Some(
        "ConditionalCheckFailedException"
    )));
}
