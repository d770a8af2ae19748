//! A partition's changed checks written with its stamps (`shared/store/src/dynamodb/overlay.rs`):
//! a failure in one region writes that check-region, not the partition; once the check is
//! steady again nothing is carried; and an overlay that lost a race to a whole-partition write
//! is never put over the winner's state.

use super::alert::at_regions;
use super::*;
use atalaya_alert_fn::{handle, Deps};
use atalaya_core::evaluate::CheckRegion;

fn forty_checks() -> Checks {
    let mut checks_text = String::new();
    for i in 0..40 {
        checks_text.push_str(&format!(
            "  - {{ id: k{i}, service: shop, http: {{ url: 'https://shop.acme.example/{i}' }} }}\n"
        ));
    }
    checks(&format!(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: {{ interval: 1m, timeout: 10s, retries: 2, recover_after: 2 }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: shop, customer: acme, name: Shop }}
checks:
{checks_text}"
    ))
}

/// The alert function's dependencies over `s`, telling operators through `channels`.
fn deps<'a>(
    c: &'a Checks,
    s: &'a DynamoStore,
    channels: &'a [&'a dyn atalaya_notify::Channel],
) -> Deps<'a, DynamoStore> {
    Deps {
        checks: c,
        store: s,
        channels,
        site: None,
    }
}

/// An hour two hours back, at its start: the tests' minutes stay in the past and in one hour
/// (or around one turn).
fn two_hours_back() -> chrono::DateTime<chrono::Utc> {
    chrono::DurationRound::duration_trunc(
        chrono::Utc::now() - chrono::TimeDelta::hours(2),
        chrono::TimeDelta::hours(1),
    )
    .unwrap()
}

/// Writes so far to the state table proper and to its stamps items: (items, bytes).
fn written(s: &DynamoStore) -> ((u64, u64), (u64, u64)) {
    let stats = s.stats().snapshot();
    let of = |table: &str| stats.get(table).map_or((0, 0), |t| (t.items, t.bytes));
    let state = &s.tables().state;
    (of(state), of(&format!("{state}#stamps")))
}

fn region<'a>(v: &'a Versioned, check: &str, region: &str) -> &'a CheckRegion {
    &v.state.checks[check].regions[region]
}

#[tokio::test]
async fn one_failing_check_region_is_written_with_the_stamps_and_steady_again_carries_nothing() {
    let c = forty_checks();
    let m = moto().await;
    let s = store().await.with_partitions(2);
    let sns: [&dyn atalaya_notify::Channel; 1] = [&m.sns];
    let deps = deps(&c, &s, &sns);
    let part = c.plan(2).of_check("k7").unwrap().key.clone();
    // Within one hour: once an hour the rollup marks move.
    let t0 = two_hours_back() + chrono::TimeDelta::minutes(5);
    let at = |m: i64| t0 + chrono::TimeDelta::minutes(m);
    // Every check in every region; k7 fails in eu-west-1 in minute `down`.
    let minute = |m: i64, down: Option<i64>| {
        let mut results = Vec::new();
        for i in 0..40 {
            let check = format!("k{i}");
            results.extend(at_regions(
                &check,
                at(m) + chrono::TimeDelta::milliseconds(250),
                Outcome::Up,
            ));
        }
        if down == Some(m) {
            for r in &mut results {
                if r.check == "k7" && r.region == "eu-west-1" {
                    r.outcome = Outcome::Down;
                    r.reason = Reason::Timeout;
                    r.detail = "connect timed out after 10 s".into();
                }
            }
        }
        let deps = &deps;
        async move { handle(deps, &results, None, at(m) + chrono::TimeDelta::seconds(20)).await }
    };
    for m in 0..3 {
        minute(m, None).await;
    }
    let steady = s.load_part(&part).await.unwrap();
    let ((items_before, _), (_, quiet_bytes)) = written(&s);
    minute(3, None).await;
    let ((state_items, _), (_, after_quiet)) = written(&s);
    let quiet = after_quiet - quiet_bytes;
    // (The regions' partition, where each region's last run is kept, is written every minute.)
    let every_minute = state_items - items_before;
    // One soft failure: nothing to tell anyone, the partition is not rewritten.
    let out = minute(4, Some(4)).await;
    assert_eq!(out.events, 0);
    let failed = s.load_part(&part).await.unwrap();
    assert_eq!(
        failed.version, steady.version,
        "the partition was not rewritten"
    );
    let ((items, _), (_, with_overlay)) = written(&s);
    assert_eq!(
        items - state_items,
        every_minute,
        "nothing more written to the state items than in a steady minute"
    );
    let overlay = with_overlay - after_quiet;
    assert!(
        overlay < quiet + 1024,
        "the stamps item carries the one check-region: {quiet} B quiet, {overlay} B with it"
    );
    let cr = region(&failed, "k7", "eu-west-1");
    assert_eq!((cr.fails, cr.outcome), (1, Outcome::Down), "{cr:?}");
    let (other, before) = (
        region(&failed, "k7", "us-east-1"),
        region(&steady, "k7", "us-east-1"),
    );
    assert_eq!(
        (other.fails, other.outcome, &other.history),
        (before.fails, before.outcome, &before.history)
    );
    assert!(other.last_at > before.last_at, "heard since");
    // Its history carries the failure for 21 results, then the check is steady again: the
    // state read back is the stored partition's, with nothing over it but the times.
    for m in 5..30 {
        minute(m, None).await;
    }
    let again = s.load_part(&part).await.unwrap();
    assert_eq!(again.version, steady.version, "never rewritten");
    let ((_, _), (_, before)) = written(&s);
    minute(30, None).await;
    let ((_, _), (_, last)) = written(&s);
    // No check-region is carried any more; the service's rollup marks are (it was degraded
    // for a minute: a new stretch began), until the partition is next written whole: ~200 B
    // compressed, the exact figure the compressor's.
    assert!(
        last - before <= quiet + 256 && last - before < overlay,
        "steady again: {} B against {quiet} B before the failure and {overlay} B with it",
        last - before
    );
    let stored = again.stored.as_deref().unwrap();
    let mut now = region(&again, "k7", "eu-west-1").clone();
    now.last_at = stored.checks["k7"].regions["eu-west-1"].last_at;
    assert_eq!(&now, &stored.checks["k7"].regions["eu-west-1"]);
}

/// Two evaluations of one partition from the same read: one changed a check-region (carried
/// with the stamps), the other most of them (the whole partition, with fresh stamps, in one
/// transaction). Whichever commits first wins; the second fails its condition (and would
/// evaluate again), and what is read is the winner's state, never a mix.
#[tokio::test]
async fn of_two_commits_from_one_read_the_second_fails_whatever_each_writes() {
    let c = forty_checks();
    let s = store().await.with_partitions(2);
    let part = c.plan(2).of_check("k7").unwrap().key.clone();
    let mut base_state = State::default();
    for r in at_regions("k7", chrono::Utc::now(), Outcome::Up) {
        let cr: CheckRegion = serde_json::from_value(serde_json::json!({
            "last_at": r.at, "fails": 0, "oks": 2, "hard_down": false, "outcome": "up",
            "reason": "ok", "detail": "status 200", "latency_ms": 0.0,
            "failing_since": null, "history": [true]
        }))
        .unwrap();
        base_state
            .checks
            .entry("k7".into())
            .or_default()
            .regions
            .insert(r.region.clone(), cr);
    }
    s.commit_part(&part, &Versioned::default(), &base_state, &[])
        .await
        .unwrap();
    let fail = |state: &mut State, region: &str| {
        let cr = state
            .checks
            .get_mut("k7")
            .unwrap()
            .regions
            .get_mut(region)
            .unwrap();
        cr.fails = 1;
        cr.outcome = Outcome::Down;
        cr.history.push(false);
    };
    for small_first in [true, false] {
        let base = s.load_part(&part).await.unwrap();
        let mut small = base.state.clone();
        fail(&mut small, "eu-west-1");
        let mut large = base.state.clone();
        for r in ["us-east-1", "ap-southeast-2"] {
            fail(&mut large, r);
        }
        large.next_incident += 1;
        let (first, second) = if small_first {
            (&small, &large)
        } else {
            (&large, &small)
        };
        s.commit_part(&part, &base, first, &[]).await.unwrap();
        let lost = s.commit_part(&part, &base, second, &[]).await;
        assert!(
            matches!(lost, Err(StoreError::Conflict { .. })),
            "small first: {small_first}: {lost:?}"
        );
        let read = s.load_part(&part).await.unwrap().state;
        let failing: Vec<&String> = read.checks["k7"]
            .regions
            .iter()
            .filter(|(_, cr)| cr.fails > 0)
            .map(|(r, _)| r)
            .collect();
        let expected: Vec<&String> = first.checks["k7"]
            .regions
            .iter()
            .filter(|(_, cr)| cr.fails > 0)
            .map(|(r, _)| r)
            .collect();
        assert_eq!(failing, expected, "small first: {small_first}");
        assert_eq!(read.next_incident, first.next_incident);
        // Back to where the next round starts from.
        let base = s.load_part(&part).await.unwrap();
        s.commit_part(&part, &base, &base_state_at(&base_state, &base), &[])
            .await
            .unwrap();
    }
}

/// `state` with the incident counter `base` has reached (it only goes up).
fn base_state_at(state: &State, base: &Versioned) -> State {
    let mut s = state.clone();
    s.next_incident = base.state.next_incident;
    s
}

/// At the turn of an hour the completed hour is written to the service's rollups, and the
/// partition's next evaluation lets go of it in its own commit: no read and write of its own.
#[tokio::test]
async fn a_completed_hour_is_written_and_let_go_of_by_the_next_evaluation() {
    let c = forty_checks();
    let m = moto().await;
    let s = store().await.with_partitions(2);
    let sns: [&dyn atalaya_notify::Channel; 1] = [&m.sns];
    let deps = deps(&c, &s, &sns);
    let part = c.plan(2).of_check("k7").unwrap().key.clone();
    // The last minutes of an hour, and the first of the next.
    let hour = two_hours_back();
    let at = |m: i64| hour + chrono::TimeDelta::minutes(m);
    let minute = |m: i64| {
        let mut results = Vec::new();
        for i in 0..40 {
            results.extend(at_regions(
                &format!("k{i}"),
                at(m) + chrono::TimeDelta::milliseconds(250),
                Outcome::Up,
            ));
        }
        let deps = &deps;
        async move { handle(deps, &results, None, at(m) + chrono::TimeDelta::seconds(20)).await }
    };
    // State and stamps items written so far.
    let items = || {
        let ((state, _), (stamps, _)) = written(&s);
        state + stamps
    };
    for m in 55..59 {
        minute(m).await;
    }
    let before_quiet = items();
    minute(59).await;
    let quiet = items() - before_quiet;
    let within = s.load_part(&part).await.unwrap();
    assert!(
        within.state.rollup.pending.is_empty(),
        "no hour completed yet: {:?}",
        within.state.rollup
    );
    let before_turn = items();
    minute(60).await;
    let turned = s.load_part(&part).await.unwrap();
    assert_eq!(
        turned.state.rollup.pending["shop"].keys().next(),
        Some(&hour),
        "written, and still held until the next evaluation"
    );
    let hours = atalaya_store::Rollups::service_hours(&s, "shop", hour, at(60))
        .await
        .unwrap();
    assert_eq!(
        hours.len(),
        1,
        "the completed hour is in the rollups: {hours:?}"
    );
    let turn = items() - before_turn;
    let before_next = items();
    minute(61).await;
    let next = s.load_part(&part).await.unwrap();
    assert!(
        next.state
            .rollup
            .pending
            .get("shop")
            .is_none_or(|h| !h.contains_key(&hour)),
        "let go of: {:?}",
        next.state.rollup.pending
    );
    let after_next = items() - before_next;
    // The letting go rode with the partition's own commit: the turn of the hour and the minute
    // after write the state's items a quiet minute does.
    assert_eq!(
        (turn, after_next),
        (quiet, quiet),
        "state and stamps items written in a quiet minute, at the turn, after it"
    );
}
