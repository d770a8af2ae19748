//! A partition's freshness stamps, written apart from the rest of its state when nothing else
//! changed.
//!
//! Every result moves its check's `last_at` (and latency) and its region's `last_seen`; nothing
//! else changes while a check is steady (once its flap history is full). When an evaluation
//! changed nothing but those, only a small item is written: the stamps (`engine#<part>#stamps`:
//! when each check was last heard in each region, in whole seconds after a base). When anything
//! else changed, the whole state goes into its item (`engine#<part>`) in one write, with the
//! version of the stamps item it supersedes (`stamps_at`); a reader applies the stamps item only
//! if it was written after that. A quiet minute thus writes a few bytes per check instead of the
//! partition.
//!
//! Stamps are rounded up to the second: a result is never newer than its stamp, so a duplicate
//! is still recognised, and freshness (three intervals of at least a minute) is unchanged. What
//! is compared to decide "nothing else changed" leaves out the latency of a check that is up
//! (never shown: messages quote the latency of failures).

use atalaya_core::evaluate::State;
use atalaya_core::Outcome;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When each check was last heard in each region: seconds after `base`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Stamps {
    base: i64,
    heard: BTreeMap<String, BTreeMap<String, i64>>,
    /// When each region was last heard from (its `last_seen`).
    #[serde(default)]
    regions: BTreeMap<String, i64>,
}

fn ceil_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

/// The state proper and the stamps of `state`.
pub(super) fn split(state: &State) -> (State, Stamps) {
    let mut core = state.clone();
    let mut stamps = Stamps::default();
    let never = DateTime::<Utc>::MIN_UTC;
    let mut all = Vec::new();
    for (check, cs) in &mut core.checks {
        for (region, cr) in &mut cs.regions {
            if cr.outcome == Outcome::Up {
                cr.latency_ms = 0.0;
            }
            if cr.last_at == never {
                continue; // never heard a real result
            }
            all.push((check.clone(), region.clone(), ceil_secs(cr.last_at)));
            cr.last_at = never;
        }
    }
    let mut regions = Vec::new();
    for (region, rs) in &mut core.regions {
        if let Some(t) = rs.last_seen.take() {
            regions.push((region.clone(), ceil_secs(t)));
        }
    }
    stamps.base = all
        .iter()
        .map(|(_, _, s)| *s)
        .chain(regions.iter().map(|(_, s)| *s))
        .min()
        .unwrap_or(0);
    for (region, s) in regions {
        stamps.regions.insert(region, s - stamps.base);
    }
    for (check, region, s) in all {
        stamps
            .heard
            .entry(check)
            .or_default()
            .insert(region, s - stamps.base);
    }
    (core, stamps)
}

/// The state with its stamps put back.
pub(super) fn join(mut core: State, stamps: &Stamps) -> State {
    for (region, secs) in &stamps.regions {
        if let Some(rs) = core.regions.get_mut(region) {
            rs.last_seen = DateTime::<Utc>::from_timestamp(stamps.base + secs, 0);
        }
    }
    for (check, regions) in &stamps.heard {
        let Some(cs) = core.checks.get_mut(check) else {
            continue;
        };
        for (region, secs) in regions {
            if let (Some(cr), Some(t)) = (
                cs.regions.get_mut(region),
                DateTime::<Utc>::from_timestamp(stamps.base + secs, 0),
            ) {
                cr.last_at = t;
            }
        }
    }
    core
}

#[cfg(test)]
mod tests {
    use super::*;
    use atalaya_core::evaluate::{CheckRegion, CheckState};

    fn state(at: &str, latency: f64, outcome: Outcome) -> State {
        let mut s = State::default();
        let mut cs = CheckState::default();
        let mut cr: CheckRegion = serde_json::from_value(serde_json::json!({
            "last_at": at, "fails": 0, "oks": 2, "hard_down": false, "outcome": "up",
            "reason": "ok", "detail": "status 200", "latency_ms": latency,
            "failing_since": null, "history": [true, true]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        cr.outcome = outcome;
        cs.regions.insert("eu-west-1".into(), cr);
        s.checks.insert("home".into(), cs);
        s
    }

    #[test]
    fn a_steady_check_changes_only_its_stamp_and_a_stamp_is_never_older_than_its_result() {
        let (core1, stamps1) = split(&state("2026-11-30T10:00:05.250Z", 41.0, Outcome::Up));
        let (core2, stamps2) = split(&state("2026-11-30T10:01:04.900Z", 57.0, Outcome::Up));
        assert_eq!(core1, core2, "nothing but the stamp moved");
        assert_ne!(stamps1, stamps2);
        let back = join(core2, &stamps2);
        let at = back.checks["home"].regions["eu-west-1"].last_at;
        assert_eq!(at.to_rfc3339(), "2026-11-30T10:01:05+00:00");
        // A failure keeps its latency (messages quote it).
        let (core, _) = split(&state("2026-11-30T10:02:05Z", 900.0, Outcome::Down));
        assert_eq!(core.checks["home"].regions["eu-west-1"].latency_ms, 900.0);
    }
}
