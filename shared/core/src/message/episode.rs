//! What the monitor cannot see, told once per episode whatever the number of partitions: an
//! episode begins when the first partition tells of checks it cannot see, and ends when every
//! partition sees all its checks again. Each partition's notice (a [`Digest`] part: its key,
//! and how many of its checks are still unseen) is applied to the [`Episode`] kept in the store;
//! only the part that begins the episode and the one that ends it are sent, the rest are kept
//! in the outbox and the episode's count without a message of their own.

use super::Digest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many check ids are kept for the closing notice's count.
const MAX_CHECKS: usize = 10_000;
/// While an episode lasts, more checks the monitor cannot see are told again after this long
/// (a reminder; and an episode whose end was never told, a partition's checks removed from the
/// file while unseen, cannot silence new blindness for longer).
pub const RETELL_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The monitor's current episode of blindness, as the store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Per partition, how many of its checks it has told it cannot see.
    pub parts: BTreeMap<String, usize>,
    /// When the open episode began.
    pub since: Option<DateTime<Utc>>,
    /// When it was last told.
    #[serde(default)]
    pub told: Option<DateTime<Utc>>,
    /// The checks it could not see during the open episode.
    pub checks: BTreeSet<String>,
    /// The messages that began and ended episodes, and the decision on each notice applied, so
    /// that a notice delivered again (a send that failed) gets the same decision.
    pub decided: BTreeMap<String, bool>,
}

/// What to do with one notice (its parts, merged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send it: it begins the episode.
    Begins,
    /// Send it: it ends the episode, which lasted since then and counted these checks.
    Ends {
        since: Option<DateTime<Utc>>,
        checks: usize,
    },
    /// Keep it without a message: the episode was told already, or is not over.
    Fold,
}

impl Episode {
    pub fn open(&self) -> bool {
        self.parts.values().any(|n| *n > 0)
    }

    /// Applies one notice (`id`: its message's; `parts`: its digests) at `at`.
    pub fn apply(&mut self, id: &str, parts: &[&Digest], at: DateTime<Utc>) -> Decision {
        if let Some(send) = self.decided.get(id) {
            return if *send {
                self.replayed(parts)
            } else {
                Decision::Fold
            };
        }
        let was_open = self.open();
        for d in parts {
            self.parts.insert(d.part.clone(), d.blind_left);
            if !d.restored {
                for c in &d.checks {
                    if self.checks.len() < MAX_CHECKS {
                        self.checks.insert(c.clone());
                    }
                }
            }
        }
        self.parts.retain(|_, n| *n > 0);
        let restored = parts.first().is_some_and(|d| d.restored);
        let retell = self.told.is_none_or(|t| at - t >= RETELL_AFTER);
        let decision = match (was_open, self.open(), restored) {
            (false, true, false) => {
                self.since = Some(at);
                self.told = Some(at);
                Decision::Begins
            }
            (true, true, false) if retell => {
                self.told = Some(at);
                Decision::Begins
            }
            (true, false, true) => {
                self.told = None;
                Decision::Ends {
                    since: self.since.take(),
                    checks: std::mem::take(&mut self.checks).len(),
                }
            }
            _ => Decision::Fold,
        };
        // Only the last few decisions are needed (a notice retried within minutes).
        if self.decided.len() >= 64 {
            self.decided.clear();
        }
        self.decided
            .insert(id.to_string(), decision != Decision::Fold);
        decision
    }

    /// A notice sent before and delivered again: the same kind of decision.
    fn replayed(&self, parts: &[&Digest]) -> Decision {
        if parts.first().is_some_and(|d| d.restored) {
            Decision::Ends {
                since: None,
                checks: parts.iter().map(|d| d.checks.len()).sum(),
            }
        } else {
            Decision::Begins
        }
    }
}

/// What the notice that ends an episode adds: how long it lasted, how many checks it counted.
pub fn closing_note(since: Option<DateTime<Utc>>, checks: usize) -> String {
    let when = since
        .map(|s| format!(" It began at {}.", s.format("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_default();
    let n = if checks == 1 {
        "1 check"
    } else {
        &format!("{checks} checks")
    };
    format!("\nThe monitor sees every check again: the episode is over ({n} could not be judged during it).{when}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(part: &str, restored: bool, checks: &[&str], left: usize) -> Digest {
        Digest {
            key: "k".into(),
            restored,
            checks: checks.iter().map(|c| c.to_string()).collect(),
            regions: vec!["eu-west-1".into()],
            lines: String::new(),
            part: part.into(),
            blind_left: left,
        }
    }

    fn t(m: i64) -> DateTime<Utc> {
        "2026-12-07T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::TimeDelta::minutes(m)
    }

    #[test]
    fn sixty_four_partitions_going_blind_and_back_are_one_notice_each_way() {
        let mut e = Episode::default();
        let mut sent = Vec::new();
        for p in 0..64 {
            let d = part(&format!("p{p:02}-"), false, &[&format!("c{p}")], 1);
            // Partitions judge in their own invocations, seconds apart.
            sent.push(e.apply(
                &format!("blind-{p}"),
                &[&d],
                t(0) + chrono::TimeDelta::seconds(p),
            ));
        }
        for p in 0..64 {
            let d = part(&format!("p{p:02}-"), true, &[&format!("c{p}")], 0);
            sent.push(e.apply(&format!("back-{p}"), &[&d], t(100 + p)));
        }
        let told: Vec<&Decision> = sent.iter().filter(|d| **d != Decision::Fold).collect();
        assert_eq!(
            told,
            [
                &Decision::Begins,
                &Decision::Ends {
                    since: Some(t(0)),
                    checks: 64
                }
            ]
        );
        assert!(!e.open());
    }

    #[test]
    fn a_notice_delivered_again_gets_the_same_decision() {
        let mut e = Episode::default();
        let d = part("", false, &["a"], 1);
        assert_eq!(e.apply("m1", &[&d], t(0)), Decision::Begins);
        assert_eq!(e.apply("m1", &[&d], t(1)), Decision::Begins);
        let later = part("", false, &["b"], 2);
        assert_eq!(e.apply("m2", &[&later], t(2)), Decision::Fold);
        let back = part("", true, &["a", "b"], 0);
        assert_eq!(
            e.apply("m3", &[&back], t(3)),
            Decision::Ends {
                since: Some(t(0)),
                checks: 2
            }
        );
        assert!(matches!(
            e.apply("m3", &[&back], t(4)),
            Decision::Ends { .. }
        ));
    }

    #[test]
    fn more_blindness_an_hour_into_the_episode_is_told_again() {
        let mut e = Episode::default();
        assert_eq!(
            e.apply("a", &[&part("p1-", false, &["x"], 1)], t(0)),
            Decision::Begins
        );
        assert_eq!(
            e.apply("b", &[&part("p2-", false, &["y"], 1)], t(30)),
            Decision::Fold
        );
        assert_eq!(
            e.apply("c", &[&part("p3-", false, &["z"], 1)], t(61)),
            Decision::Begins
        );
    }

    #[test]
    fn a_partition_still_blind_keeps_the_episode_open() {
        let mut e = Episode::default();
        e.apply(
            "a",
            &[
                &part("p1-", false, &["x"], 1),
                &part("p2-", false, &["y"], 1),
            ],
            t(0),
        );
        assert_eq!(
            e.apply("b", &[&part("p1-", true, &["x"], 0)], t(1)),
            Decision::Fold
        );
        assert!(e.open());
        assert!(matches!(
            e.apply("c", &[&part("p2-", true, &["y"], 0)], t(2)),
            Decision::Ends { .. }
        ));
    }
}
