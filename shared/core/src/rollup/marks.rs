//! Where each subject's accounting stands in the engine's state.

use super::*;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where each subject's accounting stands, kept in the engine's state by shells that write
/// rollups elsewhere (the alert function): the condition each has been in since when, and the
/// completed time not yet written. It changes when a condition changes and once an hour, so a
/// calm state is not rewritten for it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Marks {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<String, (DateTime<Utc>, Condition)>,
    /// Accrued time by subject and hour; hours before the current one are complete.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, Hours>,
}

fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

impl Marks {
    pub fn is_empty(&self) -> bool {
        self.since.is_empty() && self.pending.is_empty()
    }

    /// Moves every subject to its condition at `now`: the time since its mark goes to the
    /// condition it was in, up to `now` if that changed, else up to the start of `now`'s hour
    /// (so each completed hour is whole once an evaluation runs in the next). `blind_from`: the
    /// monitor itself was not running from then (the shell knows); that time is unknown.
    /// Subjects no longer given are accrued to `now` and dropped.
    pub fn advance(
        &mut self,
        now: DateTime<Utc>,
        current: &BTreeMap<String, Condition>,
        blind_from: Option<DateTime<Utc>>,
    ) {
        let hour = hour_of(now);
        let gone: Vec<String> = self
            .since
            .keys()
            .filter(|k| !current.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some((at, c)) = self.since.remove(&k) {
                accrue(self.pending.entry(k).or_default(), c, at, now);
            }
        }
        for (k, c) in current {
            let Some((at, was)) = self.since.get(k).copied() else {
                self.since.insert(k.clone(), (now, *c));
                continue;
            };
            if at >= now {
                continue;
            }
            let hours = self.pending.entry(k.clone()).or_default();
            match blind_from {
                Some(b) if at < b => {
                    accrue(hours, was, at, b);
                    accrue(hours, Condition::Unknown, b, now);
                    self.since.insert(k.clone(), (now, *c));
                }
                _ if was != *c => {
                    accrue(hours, was, at, now);
                    self.since.insert(k.clone(), (now, *c));
                }
                _ if at < hour => {
                    accrue(hours, was, at, hour);
                    self.since.insert(k.clone(), (hour, was));
                }
                _ => {}
            }
            if hours.is_empty() {
                self.pending.remove(k);
            }
        }
    }

    /// `subject`'s time not yet written, up to `now`: what is accrued, and the time since its
    /// mark in the condition it is in (for a look at the hour under way; the rollups count an
    /// hour once it is complete).
    pub fn so_far(&self, subject: &str, now: DateTime<Utc>) -> Hours {
        let mut hours = self.pending.get(subject).cloned().unwrap_or_default();
        if let Some((at, c)) = self.since.get(subject) {
            accrue(&mut hours, *c, *at, now);
        }
        hours
    }

    /// The completed hours (before `now`'s hour) waiting to be written, by subject.
    pub fn completed(&self, now: DateTime<Utc>) -> BTreeMap<String, Hours> {
        let hour = hour_of(now);
        self.pending
            .iter()
            .map(|(k, h)| {
                (
                    k.clone(),
                    h.range(..hour).map(|(t, m)| (*t, *m)).collect::<Hours>(),
                )
            })
            .filter(|(_, h)| !h.is_empty())
            .collect()
    }

    /// Lets go of hours that were written.
    pub fn forget(&mut self, written: &BTreeMap<String, Hours>) {
        for (k, hours) in written {
            if let Some(p) = self.pending.get_mut(k) {
                for t in hours.keys() {
                    p.remove(t);
                }
                if p.is_empty() {
                    self.pending.remove(k);
                }
            }
        }
    }
}
