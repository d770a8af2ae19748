//! A partition's freshness stamps, written apart from the rest of its state when nothing else
//! changed.
//!
//! Every result moves its check's `last_at` (and latency) and its region's `last_seen`; nothing
//! else changes while a check is steady. When an evaluation changed nothing but those, only a
//! small item is written: the stamps (`engine#<part>#stamps`). When anything else changed, the
//! whole state goes into its item (`engine#<part>`) in one write, with the version of the stamps
//! item it supersedes (`stamps_at`); a reader applies the stamps item only if it was written
//! after that.
//!
//! The stamps hold no time per check while the checks run on schedule. A check is stamped with
//! the end of the minute its newest result was taken in (rounded up: a result is never newer than
//! its stamp, so a duplicate is still recognised; freshness, three intervals of at least a
//! minute, is judged to the minute). Per region the stamps keep the newest stamp of the
//! partition (`runs`: when the region last ran there); a check whose stamp is the end of its
//! latest due minute before that run (`schedule::last_due`, from the interval the state keeps)
//! needs nothing more; one whose result of that run is not in yet (a stream batch carries part
//! of a run) is one bit (`behind`: per region, a bit per stamped check in the order of their
//! ids, set for a check stamped at its due minute before); only the others are listed (`heard`:
//! a check that is new, silent, or off its schedule). A quiet minute thus writes a few bytes per
//! region, and at most a bit per check, whatever the number of checks. What is compared to decide "nothing else changed" leaves out the latency of
//! a check that is up (never shown: messages quote the latency of failures).

use super::overlay::{self, Overlay};
use atalaya_core::evaluate::{CheckRegion, State};
use atalaya_core::schedule::last_due;
use atalaya_core::Outcome;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When the partition's checks were last heard in each region, in seconds after `base`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Stamps {
    base: i64,
    /// Checks not stamped where their schedule and their region's run put them.
    heard: BTreeMap<String, BTreeMap<String, i64>>,
    /// When each region was last heard from (its `last_seen`).
    #[serde(default)]
    regions: BTreeMap<String, i64>,
    /// The newest check stamp of each region.
    #[serde(default)]
    runs: BTreeMap<String, i64>,
    /// Per region, the checks one due run behind it (hex, a bit per stamped check).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    behind: BTreeMap<String, String>,
    /// The checks changed since the state item (`overlay.rs`).
    #[serde(default, skip_serializing_if = "Overlay::is_empty")]
    pub(super) changed: Overlay,
}

/// Bits in hex, first bit the highest of the first digit.
fn to_hex(bits: &[bool]) -> String {
    bits.chunks(4)
        .map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (3 - i)));
            char::from_digit(n, 16).unwrap_or('0')
        })
        .collect()
}

fn bit(hex: &str, i: usize) -> bool {
    hex.as_bytes()
        .get(i / 4)
        .and_then(|d| char::from(*d).to_digit(16))
        .is_some_and(|n| n & (1 << (3 - i % 4)) != 0)
}

fn ceil_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

/// The end of the minute `t` falls in (`t` itself on a minute boundary), in epoch seconds.
fn ceil_minute(t: DateTime<Utc>) -> i64 {
    let secs = ceil_secs(t);
    secs.div_euclid(60) * 60 + if secs.rem_euclid(60) > 0 { 60 } else { 0 }
}

/// The stamp a check run every `every_s` has if its region's newest stamp is `run`: the end of
/// its latest due minute that ended by then.
fn implied(check: &str, every_s: u64, run: i64) -> i64 {
    (last_due(check, every_s, run.div_euclid(60) - 1) + 1) * 60
}

/// Stands for "stamped" in the state proper, so that steady checks compare equal.
fn stamped() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// A check-region as the state proper holds it: its time a stamp's ("stamped", unless it never
/// heard a real result), and no latency while it is up.
pub(super) fn normal(cr: &CheckRegion) -> CheckRegion {
    let mut cr = cr.clone();
    if cr.outcome == Outcome::Up {
        cr.latency_ms = 0.0;
    }
    if cr.last_at != DateTime::<Utc>::MIN_UTC {
        cr.last_at = stamped();
    }
    cr
}

/// Whether `a` and `b` are the same in the state proper (`normal`), without copying either.
pub(super) fn same(a: &CheckRegion, b: &CheckRegion) -> bool {
    let CheckRegion {
        last_at,
        fails,
        oks,
        hard_down,
        outcome,
        reason,
        detail,
        latency_ms,
        failing_since,
        history,
        fault,
        cert_days,
    } = a;
    let never = DateTime::<Utc>::MIN_UTC;
    (*last_at == never) == (b.last_at == never)
        && (*outcome == Outcome::Up || latency_ms.to_bits() == b.latency_ms.to_bits())
        && *fails == b.fails
        && *oks == b.oks
        && *hard_down == b.hard_down
        && *outcome == b.outcome
        && *reason == b.reason
        && *detail == b.detail
        && *failing_since == b.failing_since
        && *history == b.history
        && *fault == b.fault
        && *cert_days == b.cert_days
}

/// The stamps of `state`: when each check-region and each region was last heard (what the
/// state proper leaves out, `normal`).
pub(super) fn stamps(state: &State) -> Stamps {
    let never = DateTime::<Utc>::MIN_UTC;
    let mut all = Vec::new();
    let mut runs: BTreeMap<&str, i64> = BTreeMap::new();
    for (check, cs) in &state.checks {
        for (region, cr) in &cs.regions {
            if cr.last_at == never {
                continue; // never heard a real result
            }
            let stamp = ceil_minute(cr.last_at);
            let run = runs.entry(region.as_str()).or_insert(stamp);
            *run = (*run).max(stamp);
            all.push((check.as_str(), cs.every_s, region.as_str(), stamp));
        }
    }
    let regions: Vec<(&str, i64)> = state
        .regions
        .iter()
        .filter_map(|(region, rs)| rs.last_seen.map(|t| (region.as_str(), ceil_secs(t))))
        .collect();
    let base = all
        .iter()
        .map(|(_, _, _, s)| *s)
        .chain(regions.iter().map(|(_, s)| *s))
        .min()
        .unwrap_or(0);
    let mut stamps = Stamps {
        base,
        ..Stamps::default()
    };
    for (region, s) in regions {
        stamps.regions.insert(region.to_string(), s - base);
    }
    let mut behind: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for (check, every_s, region, stamp) in all {
        let on_time = implied(check, every_s, runs[region]);
        let late = stamp != on_time && stamp == implied(check, every_s, on_time - 60);
        behind.entry(region).or_default().push(late);
        if stamp != on_time && !late {
            stamps
                .heard
                .entry(check.to_string())
                .or_default()
                .insert(region.to_string(), stamp - base);
        }
    }
    stamps.behind = behind
        .into_iter()
        .filter(|(_, bits)| bits.contains(&true))
        .map(|(r, bits)| (r.to_string(), to_hex(&bits)))
        .collect();
    stamps.runs = runs
        .into_iter()
        .map(|(r, s)| (r.to_string(), s - base))
        .collect();
    stamps
}

/// The state proper of `state`: what is left without its stamps (what an overlay holds).
#[cfg(test)]
pub(super) fn core(state: &State) -> State {
    let mut core = state.clone();
    for cs in core.checks.values_mut() {
        for cr in cs.regions.values_mut() {
            *cr = normal(cr);
        }
    }
    for rs in core.regions.values_mut() {
        rs.last_seen = None;
    }
    core
}

/// The state proper and the stamps of `state`.
#[cfg(test)]
fn split(state: &State) -> (State, Stamps) {
    (core(state), stamps(state))
}

/// The state with its changed checks and its stamps put back. `core` is the state item's (its
/// checks heard then carry the times of then; those heard since were not, or the whole state
/// would have been written).
pub(super) fn join(mut core: State, stamps: &Stamps) -> State {
    overlay::apply(&mut core, stamps.changed.clone());
    let at = |secs: i64| DateTime::<Utc>::from_timestamp(stamps.base + secs, 0);
    for (region, secs) in &stamps.regions {
        if let Some(rs) = core.regions.get_mut(region) {
            rs.last_seen = at(*secs);
        }
    }
    // The position of each stamped check among its region's (the order `split` went in).
    let mut position: BTreeMap<&str, usize> = BTreeMap::new();
    for (check, cs) in &mut core.checks {
        let listed = stamps.heard.get(check);
        for (region, cr) in &mut cs.regions {
            if cr.last_at == DateTime::<Utc>::MIN_UTC
                && listed.and_then(|l| l.get(region)).is_none()
            {
                continue;
            }
            let nth = position.entry(region.as_str()).or_default();
            let i = *nth;
            *nth += 1;
            let secs = match listed.and_then(|l| l.get(region)) {
                Some(secs) => *secs,
                None => match stamps.runs.get(region) {
                    Some(run) => {
                        let on_time = implied(check, cs.every_s, stamps.base + run);
                        let late = stamps.behind.get(region).is_some_and(|hex| bit(hex, i));
                        let stamp = if late {
                            implied(check, cs.every_s, on_time - 60)
                        } else {
                            on_time
                        };
                        stamp - stamps.base
                    }
                    None => continue,
                },
            };
            if let Some(t) = at(secs) {
                cr.last_at = t;
            }
        }
    }
    core
}

#[cfg(test)]
mod tests {
    use super::*;
    use atalaya_core::evaluate::CheckState;

    fn region(at: DateTime<Utc>, latency: f64, outcome: Outcome) -> CheckRegion {
        let mut cr: CheckRegion = serde_json::from_value(serde_json::json!({
            "last_at": at, "fails": 0, "oks": 2, "hard_down": false, "outcome": "up",
            "reason": "ok", "detail": "status 200", "latency_ms": latency,
            "failing_since": null, "history": [true]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        cr.outcome = outcome;
        cr
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(secs, 250_000_000).unwrap_or_else(|| panic!("{secs}"))
    }

    /// A check: its id, its interval in seconds, and when each region heard it.
    type Heard<'a> = (&'a str, u64, &'a [(&'a str, DateTime<Utc>)]);

    fn state(checks: &[Heard]) -> State {
        let mut s = State::default();
        for (id, every_s, heard) in checks {
            let mut cs = CheckState {
                every_s: *every_s,
                ..CheckState::default()
            };
            for (r, at) in *heard {
                cs.regions
                    .insert((*r).into(), region(*at, 41.0, Outcome::Up));
            }
            s.checks.insert((*id).into(), cs);
        }
        s
    }

    const MINUTE: i64 = 29_000_000 * 60; // some minute of 2025

    #[test]
    fn a_steady_check_changes_only_its_stamp_and_a_stamp_is_never_older_than_its_result() {
        let at = |m: i64, s: i64| t(MINUTE + m * 60 + s);
        let (core1, stamps1) = split(&state(&[("home", 60, &[("eu-west-1", at(0, 5))])]));
        let (core2, stamps2) = split(&state(&[("home", 60, &[("eu-west-1", at(1, 4))])]));
        assert_eq!(core1, core2, "nothing but the stamp moved");
        assert_ne!(stamps1, stamps2);
        assert!(stamps2.heard.is_empty(), "on schedule: {stamps2:?}");
        let back = join(core2, &stamps2);
        let last = back.checks["home"].regions["eu-west-1"].last_at;
        assert_eq!(
            last,
            DateTime::<Utc>::from_timestamp(MINUTE + 120, 0).unwrap()
        );
        assert!(last > at(1, 4));
        // A failure keeps its latency (messages quote it).
        let mut down = state(&[("home", 60, &[("eu-west-1", at(2, 5))])]);
        if let Some(cs) = down.checks.get_mut("home") {
            cs.regions
                .insert("eu-west-1".into(), region(at(2, 5), 900.0, Outcome::Down));
        }
        let (core, _) = split(&down);
        assert_eq!(core.checks["home"].regions["eu-west-1"].latency_ms, 900.0);
    }

    #[test]
    fn only_checks_off_their_schedule_are_listed_and_every_stamp_comes_back() {
        let now = MINUTE + 10 * 60; // the run of minute 10
                                    // A check every five minutes last due before now, heard then.
        let due5 = last_due("slow", 300, now / 60);
        let slow = t(due5 * 60 + 3);
        // A check every minute heard now; two whose result of this minute is not in yet; one
        // not heard for three minutes; one heard in another region only.
        let state = state(&[
            (
                "fast",
                60,
                &[("eu-west-1", t(now + 2)), ("us-east-1", t(now + 7))],
            ),
            ("late", 60, &[("eu-west-1", t(now - 60 + 2))]),
            ("later", 60, &[("eu-west-1", t(now - 60 + 9))]),
            ("silent", 60, &[("eu-west-1", t(now - 180 + 2))]),
            ("slow", 300, &[("eu-west-1", slow)]),
        ]);
        let (core, stamps) = split(&state);
        let listed: Vec<(&str, &str)> = stamps
            .heard
            .iter()
            .flat_map(|(c, rs)| rs.keys().map(move |r| (c.as_str(), r.as_str())))
            .collect();
        assert_eq!(listed, [("silent", "eu-west-1")], "{stamps:?}");
        // fast, late, later, silent, slow: late and later are one run behind.
        assert_eq!(stamps.behind["eu-west-1"], "60", "{stamps:?}");
        assert!(!stamps.behind.contains_key("us-east-1"));
        // The stamps go back on the state as the state item holds it (the times of when it
        // was written) and on the state proper alike.
        let back = join(state.clone(), &stamps);
        let from_core = join(core, &stamps);
        for (check, cs) in &state.checks {
            for (region, cr) in &cs.regions {
                let got = back.checks[check].regions[region].last_at;
                assert_eq!(got.timestamp(), ceil_minute(cr.last_at), "{check} {region}");
                assert_eq!(from_core.checks[check].regions[region].last_at, got);
            }
        }
        let json = serde_json::to_vec(&stamps).unwrap_or_default();
        assert!(json.len() < 200, "{}", String::from_utf8_lossy(&json));
    }

    proptest::proptest! {
        /// Whatever the checks, their intervals and when each region last heard them, every
        /// stamp comes back as the end of the minute its result was taken in.
        #[test]
        fn every_stamp_comes_back_to_the_minute(
            heard in proptest::collection::vec(
                (0usize..40, 0usize..3, 0i64..3_600, proptest::sample::select(vec![60u64, 120, 300, 600, 90, 0])),
                0..120,
            )
        ) {
            let mut s = State::default();
            for (check, region, secs, every_s) in heard {
                let cs = s.checks.entry(format!("k{check}")).or_default();
                cs.every_s = every_s;
                cs.regions.insert(
                    ["eu-west-1", "us-east-1", "sa-east-1"][region].into(),
                    region_at(t(MINUTE + secs)),
                );
            }
            let (core, stamps) = split(&s);
            for joined in [join(s.clone(), &stamps), join(core, &stamps)] {
                for (check, cs) in &s.checks {
                    for (region, cr) in &cs.regions {
                        proptest::prop_assert_eq!(
                            joined.checks[check].regions[region].last_at.timestamp(),
                            ceil_minute(cr.last_at)
                        );
                    }
                }
            }
        }
    }

    fn region_at(at: DateTime<Utc>) -> CheckRegion {
        region(at, 41.0, Outcome::Up)
    }

    #[test]
    fn stamps_of_before_runs_were_kept_still_read() {
        let old: Stamps = serde_json::from_str(
            r#"{"base": 1000, "heard": {"home": {"eu-west-1": 5}}, "regions": {}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let back = join(state(&[("home", 60, &[("eu-west-1", t(900))])]), &old);
        assert_eq!(
            back.checks["home"].regions["eu-west-1"].last_at.timestamp(),
            1005
        );
    }
}
