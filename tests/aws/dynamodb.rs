//! The DynamoDB adapter on moto: batches, TTL, conditional writes, the outbox.

use super::*;

#[tokio::test]
async fn results_are_packed_per_region_written_in_batches_of_25_with_their_ttl() {
    let s = store().await;
    // 30 regions: 30 packed items, so two BatchWriteItem calls (25 + 5).
    let results: Vec<ProbeResult> = (0..60)
        .map(|i| ProbeResult {
            region: format!("region-{}", i % 30),
            ..result(i)
        })
        .collect();
    let written = s
        .put_results(&results, Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(written, 60);
    let writes = s.stats().snapshot()[&s.tables().results];
    assert_eq!(writes.items, 30, "one item per region");
    let back = s
        .results("region-7", chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(
        back,
        [results[7].clone(), results[37].clone()],
        "oldest first"
    );
    // Items are keyed by their first result's time.
    assert_eq!(s.results("region-7", results[7].at).await.unwrap(), back);
    assert!(s
        .results("region-7", results[8].at)
        .await
        .unwrap()
        .is_empty());
    let ttls = s.result_ttls("region-7").await.unwrap();
    assert_eq!(
        ttls,
        [results[37].at.timestamp() + 30 * 86_400],
        "expires 30 days after the newest result it holds"
    );
    // Writing the same results again overwrites the same items.
    s.put_results(&results, Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        s.results("region-7", chrono::DateTime::UNIX_EPOCH)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_large_run_is_split_into_items_that_fit() {
    let s = store().await;
    let results: Vec<ProbeResult> = (0..1000)
        .map(|i| ProbeResult {
            check: format!("check-{i}"),
            detail: format!(
                "status 200 OK after {} redirects, body {} bytes",
                i % 7,
                i * 37
            ),
            ..result(i % 50)
        })
        .collect();
    assert_eq!(
        s.put_results(&results, Instant::now() + Duration::from_secs(20))
            .await
            .unwrap(),
        1000
    );
    let writes = s.stats().snapshot()[&s.tables().results];
    assert_eq!(writes.items, 3, "400 results an item at most");
    assert!(writes.bytes < 60_000, "compressed: {} bytes", writes.bytes);
    let mut back = s
        .results("eu-west-1", chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    back.sort_by(|a, b| a.check.cmp(&b.check));
    let mut want = results.clone();
    want.sort_by(|a, b| a.check.cmp(&b.check));
    assert_eq!(back, want);
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
    assert_eq!(s.commit(&v, &state, &[]).await.unwrap(), 1);
    assert!(matches!(
        s.commit(&v, &State::default(), &[]).await,
        Err(StoreError::Conflict { .. })
    ));
    let back = s.load_state().await.unwrap();
    assert_eq!((back.version, back.state.next_incident), (1, 3));
}

#[tokio::test]
async fn a_state_over_the_item_limit_is_refused_for_good_and_nothing_is_written() {
    let s = store().await;
    let v = s.load_state().await.unwrap();
    s.commit(&v, &State::default(), &[]).await.unwrap();
    // Keys that do not compress (pseudo-random hex), 1.9 MB of them.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        format!("{x:016x}{:016x}", x.rotate_left(29))
    };
    let big = State {
        maintenance_sent: (0..60_000).map(|_| noise()).collect(),
        ..State::default()
    };
    let base = s.load_state().await.unwrap();
    let err = s
        .commit(&base, &big, &[message("m-big", 0)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
    assert!(!err.retryable());
    let text = err.to_string();
    assert!(
        text.starts_with("the engine state is ")
            && text.contains("over DynamoDB's item limit of 400 KB"),
        "{text}"
    );
    // Nothing written: the state is the one before, and the message was not recorded.
    assert_eq!(s.load_state().await.unwrap().version, base.version);
    assert!(s.pending().await.unwrap().is_empty());
    // The largest state item is what the alert function reports (StateItemBytes): the refused
    // one counts, so the metric says how far over the limit it was.
    assert!(s.stats().largest_state_item() > 400 * 1024);
}

#[tokio::test]
async fn of_two_racing_writers_exactly_one_wins() {
    let s = store().await;
    s.commit(&Versioned::default(), &State::default(), &[])
        .await
        .unwrap();
    let base = s.load_state().await.unwrap();
    let (one, two) = (State::default(), State::default());
    let (a, b) = tokio::join!(s.commit(&base, &one, &[]), s.commit(&base, &two, &[]));
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
        .map(|p| p.message.id)
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
        .map(|p| p.message.id)
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
    assert!(atalaya_aws::retryable(Some(
        "ProvisionedThroughputExceededException"
    )));
    assert!(atalaya_aws::retryable(Some("InternalServerError")));
    assert!(!atalaya_aws::retryable(Some("ValidationException")));
    assert!(!atalaya_aws::retryable(Some(
        "ConditionalCheckFailedException"
    )));
}

#[tokio::test]
async fn state_and_its_messages_are_committed_together_or_not_at_all() {
    let s = store().await;
    let v1 = s
        .commit(
            &Versioned::default(),
            &State::default(),
            &[
                message("inc-1/1/opened", 1),
                message("inc-1/2/opened/shop", 2),
            ],
        )
        .await
        .unwrap();
    assert_eq!(v1, 1);
    // A racing invocation that evaluated the same transition from version 0: nothing of it lands.
    let racing = s
        .commit(
            &Versioned::default(),
            &State {
                next_incident: 9,
                ..State::default()
            },
            &[message("inc-1/1/opened", 1), message("other", 3)],
        )
        .await;
    assert!(
        matches!(racing, Err(StoreError::Conflict { .. })),
        "{racing:?}"
    );
    let pending: Vec<String> = s
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.message.id)
        .collect();
    assert_eq!(pending, ["inc-1/1/opened", "inc-1/2/opened/shop"]);
    assert_eq!(s.load_state().await.unwrap().state.next_incident, 0);
    // More messages than one transaction holds.
    let many: Vec<Message> = (0..130)
        .map(|i| message(&format!("m{i:03}"), 10 + i))
        .collect();
    let base = s.load_state().await.unwrap();
    assert_eq!(s.commit(&base, &State::default(), &many).await.unwrap(), 2);
    assert_eq!(s.pending().await.unwrap().len(), 132);
}

#[tokio::test]
async fn a_claimed_message_is_published_by_one_invocation_and_a_released_one_by_the_next() {
    let s = store().await;
    s.enqueue(&[message("m1", 1)]).await.unwrap();
    let now = chrono::Utc::now();
    let lease = Duration::from_secs(60);
    assert!(s.claim("m1", "sns", now, lease).await.unwrap());
    assert!(
        !s.claim("m1", "sns", now, lease).await.unwrap(),
        "already claimed"
    );
    // Each channel is claimed on its own: a slow one holds up no other.
    assert!(s.claim("m1", "pd", now, lease).await.unwrap());
    s.release("m1", "sns").await.unwrap();
    assert!(
        s.claim("m1", "sns", now, lease).await.unwrap(),
        "released: claimable again"
    );
    assert!(
        !s.claim("m1", "pd", now, lease).await.unwrap(),
        "still pd's"
    );
    // A claim left by a dead invocation expires.
    assert!(s
        .claim("m1", "sns", now + chrono::TimeDelta::seconds(61), lease)
        .await
        .unwrap());
    s.mark_sent("m1").await.unwrap();
    assert!(
        !s.claim("m1", "sns", now + chrono::TimeDelta::seconds(200), lease)
            .await
            .unwrap(),
        "sent: nothing to claim"
    );
}

#[tokio::test]
async fn one_evaluator_holds_the_lease_at_a_time_and_a_dead_ones_lease_expires() {
    let s = store().await;
    let t = chrono::Utc::now();
    let later = |secs: i64| t + chrono::TimeDelta::seconds(secs);
    assert!(s.lease("a", t, later(60)).await.unwrap());
    assert!(
        !s.lease("b", later(1), later(61)).await.unwrap(),
        "a holds it"
    );
    assert!(
        s.lease("a", later(2), later(62)).await.unwrap(),
        "its holder may renew it"
    );
    s.release_lease("b").await.unwrap(); // not b's: nothing happens
    assert!(!s.lease("b", later(3), later(63)).await.unwrap());
    s.release_lease("a").await.unwrap();
    assert!(
        s.lease("b", later(4), later(64)).await.unwrap(),
        "given back, it is free"
    );
    // b dies holding it: after its expiry another takes it.
    assert!(!s.lease("c", later(30), later(90)).await.unwrap());
    assert!(s.lease("c", later(65), later(125)).await.unwrap());
}
