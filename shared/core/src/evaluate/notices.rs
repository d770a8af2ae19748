//! Notices told to operators about one check while a cause lasts (a monitoring fault, an early
//! warning): one when the cause begins, a reminder at the operators' cadence while it lasts, one
//! when it ends. The bookkeeping both share.

use super::elapsed;
use super::state::{EarlyState, FaultState};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a notice remembers.
pub(super) trait Told: Clone {
    fn last_notice(&self) -> DateTime<Utc>;
    /// Another notice goes out at `now`.
    fn told(&mut self, now: DateTime<Utc>);
    fn notices(&self) -> u32;
}

/// What to tell about one cause.
pub(super) enum Turn<S> {
    Began(S),
    Again(S),
    Ended(S),
}

/// Updates `told` with the causes in force now (each with the state a new one starts with) and
/// says what to tell: the ended first, then the new and the due reminders, by cause.
pub(super) fn turns<K: Ord + Clone, S: Told>(
    told: &mut BTreeMap<K, S>,
    current: Vec<(K, S)>,
    now: DateTime<Utc>,
    renotify: Duration,
) -> Vec<(K, Turn<S>)> {
    let mut out = Vec::new();
    let ended: Vec<K> = told
        .keys()
        .filter(|k| !current.iter().any(|(c, _)| c == *k))
        .cloned()
        .collect();
    for cause in ended {
        if let Some(s) = told.remove(&cause) {
            out.push((cause, Turn::Ended(s)));
        }
    }
    for (cause, fresh) in current {
        match told.get_mut(&cause) {
            Some(s) if elapsed(s.last_notice(), now, renotify) => {
                s.told(now);
                out.push((cause, Turn::Again(s.clone())));
            }
            Some(_) => {}
            None => {
                told.insert(cause.clone(), fresh.clone());
                out.push((cause, Turn::Began(fresh)));
            }
        }
    }
    out
}

/// Both states keep the same three fields for it.
macro_rules! told {
    ($($state:ty),*) => {$(
        impl Told for $state {
            fn last_notice(&self) -> DateTime<Utc> {
                self.last_notice
            }
            fn told(&mut self, now: DateTime<Utc>) {
                self.last_notice = now;
                self.notices += 1;
            }
            fn notices(&self) -> u32 {
                self.notices
            }
        }
    )*};
}

told!(FaultState, EarlyState);
