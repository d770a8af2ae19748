//! What changed in a partition since its item was written, carried with its stamps instead of
//! the whole partition.
//!
//! A partition holds ~1,500 check-regions at 20,000 checks in 5 regions; rewriting all of them
//! (~20 KB) because a few changed would make the bytes written a minute grow with the number of
//! checks rather than with what changed. So the stamps item (`stamps.rs`) also carries every
//! check-region that differs from the partition's item (the whole check where more than its
//! regions changed), and everything but the checks (incidents, rollup marks, regions) if any of
//! it changed: the overlay. A reader puts it over the partition's item. A check-region that
//! settles back to what the item holds leaves it; once it would be more than half the
//! partition, the whole partition is written (`commit.rs`) and the overlay starts again from
//! none.
//!
//! An overlay is only valid over the item it was computed against: the stamps item names that
//! item's version (`state_at`), and a reader ignores one written over another. A whole write
//! rewrites the stamps item in the same transaction, so the two cannot both succeed from one
//! read; the check stays for stamps items written before that rule.

use super::stamps::{normal, same};
use atalaya_core::evaluate::{CheckRegion, CheckState, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Overlay {
    /// Checks new since the state item, or changed in more than their regions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    checks: BTreeMap<String, CheckState>,
    /// Check-regions changed since the state item, by check, then region.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    regions: BTreeMap<String, BTreeMap<String, CheckRegion>>,
    /// Everything but the checks (incidents, rollup marks, regions…), when any of it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rest: Option<State>,
}

impl Overlay {
    pub(super) fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.regions.is_empty() && self.rest.is_none()
    }

    /// How many check-regions it holds.
    pub(super) fn len(&self) -> usize {
        self.checks.values().map(|c| c.regions.len()).sum::<usize>()
            + self.regions.values().map(BTreeMap::len).sum::<usize>()
    }
}

/// Everything but the checks, without the regions' times (the stamps hold them).
fn rest(state: &State) -> State {
    let mut rest = state.without_checks();
    for r in rest.regions.values_mut() {
        r.last_seen = None;
    }
    rest
}

/// A check as the state proper holds it (`stamps::normal`).
fn normal_check(check: &CheckState) -> CheckState {
    let mut check = check.clone();
    for cr in check.regions.values_mut() {
        *cr = normal(cr);
    }
    check
}

/// What `now` changed from `stored`, in the state proper (without the stamps): `None` when a
/// check or a check-region went away (an overlay only adds and replaces). Neither is copied;
/// only what changed is.
pub(super) fn diff(stored: &State, now: &State) -> Option<Overlay> {
    let (before, after) = (rest(stored), rest(now));
    let mut overlay = Overlay {
        rest: (before != after).then_some(after),
        ..Overlay::default()
    };
    // Both sorted by id: walked side by side, not looked up one by one.
    let mut after = now.checks.iter().peekable();
    for (id, before) in &stored.checks {
        while let Some((new, check)) = after.next_if(|(a, _)| *a < id) {
            overlay.checks.insert(new.clone(), normal_check(check));
        }
        let (_, now) = after.next_if(|(a, _)| *a == id)?;
        if !now.same_apart_from_regions(before) {
            if before.regions.keys().any(|r| !now.regions.contains_key(r)) {
                return None;
            }
            overlay.checks.insert(id.clone(), normal_check(now));
            continue;
        }
        let changed = changed_regions(before, now)?;
        if !changed.is_empty() {
            overlay.regions.insert(id.clone(), changed);
        }
    }
    for (new, check) in after {
        overlay.checks.insert(new.clone(), normal_check(check));
    }
    Some(overlay)
}

/// The regions of a check that changed from `before` to `now` (`None` when one went away).
fn changed_regions(before: &CheckState, now: &CheckState) -> Option<BTreeMap<String, CheckRegion>> {
    let mut changed = BTreeMap::new();
    let mut after = now.regions.iter().peekable();
    for (region, was) in &before.regions {
        while let Some((new, cr)) = after.next_if(|(a, _)| *a < region) {
            changed.insert(new.clone(), normal(cr));
        }
        let (_, is) = after.next_if(|(a, _)| *a == region)?;
        if !same(was, is) {
            changed.insert(region.clone(), normal(is));
        }
    }
    for (new, cr) in after {
        changed.insert(new.clone(), normal(cr));
    }
    Some(changed)
}

/// `state` (a state item's) with `overlay` put over it.
pub(super) fn apply(state: &mut State, overlay: Overlay) {
    if let Some(mut rest) = overlay.rest {
        rest.checks = std::mem::take(&mut state.checks);
        *state = rest;
    }
    for (id, check) in overlay.checks {
        state.checks.insert(id, check);
    }
    for (id, regions) in overlay.regions {
        if let Some(check) = state.checks.get_mut(&id) {
            check.regions.extend(regions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atalaya_core::evaluate::Verdict;

    fn state() -> State {
        let cr: CheckRegion = serde_json::from_value(serde_json::json!({
            "last_at": "1970-01-01T00:00:00Z", "fails": 0, "oks": 2, "hard_down": false,
            "outcome": "up", "reason": "ok", "detail": "status 200", "latency_ms": 0.0,
            "failing_since": null, "history": [true]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut s = State::default();
        for c in ["a", "b", "c"] {
            let mut check = CheckState::default();
            for r in ["eu-west-1", "us-east-1"] {
                check.regions.insert(r.into(), cr.clone());
            }
            s.checks.insert(c.into(), check);
        }
        s
    }

    #[test]
    fn only_what_changed_is_kept_and_putting_it_back_gives_the_new_state() {
        let stored = state();
        let mut now = stored.clone();
        let flapped = now
            .checks
            .get_mut("b")
            .and_then(|c| c.regions.get_mut("us-east-1"))
            .unwrap_or_else(|| panic!("b"));
        flapped.history.push(false);
        flapped.fails = 1;
        now.checks
            .get_mut("c")
            .unwrap_or_else(|| panic!("c"))
            .verdict = Verdict::Down;
        now.checks.insert("d".into(), CheckState::default());
        let overlay = diff(&stored, &now).unwrap_or_else(|| panic!("only checks changed"));
        assert_eq!(overlay.len(), 1 + 2);
        assert_eq!(
            overlay.regions["b"].keys().collect::<Vec<_>>(),
            ["us-east-1"]
        );
        assert_eq!(
            overlay.checks.keys().collect::<Vec<_>>(),
            ["c", "d"],
            "a check changed in more than its regions goes whole, as does a new one"
        );
        let mut back = stored.clone();
        apply(&mut back, overlay);
        assert_eq!(back, now);
        assert_eq!(diff(&stored, &stored).map(|o| o.is_empty()), Some(true));
    }

    #[test]
    fn times_and_the_latency_of_a_check_that_is_up_are_no_change_and_a_change_is_kept_without_them()
    {
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp(1_800_000_000, 0)
            .unwrap_or_else(|| panic!("time"));
        let mut stored = state();
        for (id, cs) in &mut stored.checks {
            for cr in cs.regions.values_mut() {
                cr.last_at = at;
                cr.latency_ms = if id == "a" { 90.0 } else { 40.0 };
            }
        }
        stored
            .regions
            .entry("eu-west-1".into())
            .or_default()
            .last_seen = Some(at);
        let mut now = stored.clone();
        for cs in now.checks.values_mut() {
            for cr in cs.regions.values_mut() {
                cr.last_at = at + chrono::TimeDelta::minutes(1);
                cr.latency_ms += 3.0;
            }
        }
        now.regions.entry("eu-west-1".into()).or_default().last_seen =
            Some(at + chrono::TimeDelta::minutes(1));
        let overlay = diff(&stored, &now).unwrap_or_else(|| panic!("nothing went away"));
        assert!(overlay.is_empty(), "{overlay:?}");
        let down = now
            .checks
            .get_mut("a")
            .and_then(|c| c.regions.get_mut("eu-west-1"))
            .unwrap_or_else(|| panic!("a"));
        down.outcome = atalaya_core::Outcome::Down;
        let overlay = diff(&stored, &now).unwrap_or_else(|| panic!("nothing went away"));
        let kept = &overlay.regions["a"]["eu-west-1"];
        assert_eq!(overlay.len(), 1);
        assert_eq!(kept.latency_ms, 93.0, "a failure keeps its latency");
        assert_eq!(
            kept.last_at,
            chrono::DateTime::UNIX_EPOCH,
            "its time is a stamp's"
        );
        assert!(
            overlay.rest.is_none(),
            "a region's time is a stamp: {overlay:?}"
        );
    }

    proptest::proptest! {
        /// Whatever checks and regions come, change or stay, the overlay put over the stored
        /// state gives the new one (in the state proper); one that lost a check or a
        /// check-region has none.
        #[test]
        fn putting_the_overlay_back_gives_the_new_state(
            before in proptest::collection::btree_map(0u8..30, proptest::collection::btree_set(0u8..4, 0..4), 0..20),
            after in proptest::collection::btree_map(0u8..30, proptest::collection::btree_map(0u8..4, 0u32..3, 0..4), 0..20),
        ) {
            let cr = |fails: u32| {
                let mut cr = state().checks["a"].regions["eu-west-1"].clone();
                cr.fails = fails;
                cr
            };
            let make = |checks: Vec<(u8, Vec<(u8, u32)>)>| {
                let mut s = State::default();
                for (c, regions) in checks {
                    let check = s.checks.entry(format!("c{c}")).or_default();
                    for (r, fails) in regions {
                        check.regions.insert(format!("r{r}"), cr(fails));
                    }
                }
                s
            };
            let stored = make(before.iter().map(|(c, rs)| (*c, rs.iter().map(|r| (*r, 0)).collect())).collect());
            let now = make(after.iter().map(|(c, rs)| (*c, rs.iter().map(|(r, f)| (*r, *f)).collect())).collect());
            let lost = stored.checks.iter().any(|(id, b)| {
                now.checks.get(id).is_none_or(|a| b.regions.keys().any(|r| !a.regions.contains_key(r)))
            });
            match diff(&stored, &now) {
                None => proptest::prop_assert!(lost),
                Some(overlay) => {
                    proptest::prop_assert!(!lost);
                    let mut back = stored.clone();
                    apply(&mut back, overlay);
                    proptest::prop_assert_eq!(back, now);
                }
            }
        }
    }

    #[test]
    fn what_went_away_needs_the_whole_partition_and_the_rest_rides_along() {
        let stored = state();
        let mut gone = stored.clone();
        gone.checks.remove("a");
        assert!(diff(&stored, &gone).is_none(), "a check went away");
        let mut region_gone = stored.clone();
        region_gone
            .checks
            .get_mut("a")
            .map(|c| c.regions.remove("eu-west-1"));
        assert!(
            diff(&stored, &region_gone).is_none(),
            "a check-region went away"
        );
        let mut marks = stored.clone();
        marks.rollup.since.insert(
            "shop".into(),
            (
                chrono::DateTime::UNIX_EPOCH,
                atalaya_core::rollup::Condition::Degraded,
            ),
        );
        let overlay = diff(&stored, &marks).unwrap_or_else(|| panic!("the rest rides along"));
        let mut back = stored.clone();
        apply(&mut back, overlay);
        assert_eq!(back, marks);
        let mut incident = stored.clone();
        incident.next_incident = 7;
        let overlay = diff(&stored, &incident).unwrap_or_else(|| panic!("the rest rides along"));
        assert_eq!(overlay.len(), 0, "no check-region");
        let mut back = stored.clone();
        apply(&mut back, overlay);
        assert_eq!(back, incident);
    }
}
