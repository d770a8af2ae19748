//! Faults between the SDK and moto (throttling, 500s, dropped responses, partial batches):
//! nothing is lost, nothing recorded twice.

use super::*;
use atalaya_tests::fault_proxy::{self, Fault};
use std::sync::atomic::Ordering;
use std::sync::Arc;

async fn through_proxy(
    plan: fault_proxy::Plan,
) -> (DynamoStore, DynamoStore, Arc<fault_proxy::Stats>) {
    let endpoint = atalaya_tests::moto::endpoint();
    let upstream: std::net::SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    let (proxy, stats) = fault_proxy::start(upstream, plan).await;
    let tables = Tables::with_prefix(&atalaya_tests::moto::unique_prefix());
    let direct = DynamoStore::connect(
        "eu-west-1",
        Some(&endpoint),
        tables.clone(),
        Duration::from_secs(86_400),
    )
    .await;
    direct.create_tables().await.unwrap();
    let faulty = DynamoStore::connect(
        "eu-west-1",
        Some(&format!("http://{proxy}")),
        tables,
        Duration::from_secs(86_400),
    )
    .await;
    (direct, faulty, stats)
}

#[tokio::test]
async fn no_result_is_lost_to_throttling_server_errors_dropped_responses_or_partial_batches() {
    let plan: fault_proxy::Plan = Arc::new(|n, target| {
        if target.ends_with("BatchWriteItem") && n % 2 == 0 {
            Some(Fault::PartialBatch)
        } else {
            match n % 5 {
                1 => Some(Fault::Throttle),
                3 => Some(Fault::ServerError),
                _ if n % 11 == 7 => Some(Fault::DropResponse),
                _ => None,
            }
        }
    });
    let (direct, faulty, stats) = through_proxy(plan).await;
    // 40 regions: 40 packed items, two batches, each of which may come back partial.
    let results: Vec<ProbeResult> = (0..120)
        .map(|i| ProbeResult {
            region: format!("region-{}", i % 40),
            ..result(i)
        })
        .collect();
    let written = faulty
        .put_results(&results, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(written, 120);
    let mut landed = 0;
    for r in 0..40 {
        landed += direct
            .results(&format!("region-{r}"), chrono::DateTime::UNIX_EPOCH)
            .await
            .unwrap()
            .len();
    }
    assert_eq!(landed, 120, "every result landed");
    assert!(
        stats.faults.load(Ordering::SeqCst) >= 5,
        "faults were injected: {}",
        stats.faults.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn messages_are_recorded_once_and_none_is_lost_through_faults() {
    let plan: fault_proxy::Plan = Arc::new(|n, _| match n % 4 {
        1 => Some(Fault::Throttle),
        2 if n % 3 == 2 => Some(Fault::DropResponse),
        3 => Some(Fault::ServerError),
        _ => None,
    });
    let (direct, faulty, _) = through_proxy(plan).await;
    let batch: Vec<Message> = (0..12).map(|i| message(&format!("m{i:02}"), i)).collect();
    // The commit may fail (a dropped response after it landed reads as a conflict); a retry
    // from the version read must never record a message twice.
    let mut base = Versioned::default();
    for _ in 0..6 {
        match faulty.commit(&base, &State::default(), &batch).await {
            Ok(_) => break,
            Err(StoreError::Conflict { .. }) => base = direct.load_state().await.unwrap(),
            Err(StoreError::Aws {
                retryable: true, ..
            }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(direct.load_state().await.unwrap().version, 1);
    let _ = faulty.enqueue(&batch).await;
    let pending: Vec<String> = direct
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.message.id)
        .collect();
    assert_eq!(
        pending,
        batch.iter().map(|m| m.id.clone()).collect::<Vec<_>>()
    );
}
