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

/// What `now` changed from `stored`, both in the stamps' split form: `None` when a check or a
/// check-region went away (an overlay only adds and replaces).
pub(super) fn diff(stored: &State, now: &State) -> Option<Overlay> {
    let mut overlay = Overlay {
        rest: (!now.same_apart_from_checks(stored)).then(|| now.without_checks()),
        ..Overlay::default()
    };
    for (id, before) in &stored.checks {
        let after = now.checks.get(id)?;
        if before
            .regions
            .keys()
            .any(|r| !after.regions.contains_key(r))
        {
            return None;
        }
        if !after.same_apart_from_regions(before) {
            overlay.checks.insert(id.clone(), after.clone());
            continue;
        }
        for (region, cr) in &after.regions {
            if before.regions.get(region) != Some(cr) {
                overlay
                    .regions
                    .entry(id.clone())
                    .or_default()
                    .insert(region.clone(), cr.clone());
            }
        }
    }
    for (id, after) in &now.checks {
        if !stored.checks.contains_key(id) {
            overlay.checks.insert(id.clone(), after.clone());
        }
    }
    Some(overlay)
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
