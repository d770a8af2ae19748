//! Atalaya's storage: what the engine remembers and what it has to say.
//!
//! One [`Store`] trait, two implementations: SQLite for the local runner and DynamoDB for the
//! Lambda functions. A store keeps the probe results, the incident engine's state (one versioned
//! document: writes are conditional on the version read, so two writers can never silently
//! overwrite each other), every incident with its timeline (written in the same transaction as
//! the state, so the state itself only carries live incidents), and the outbox (messages keyed
//! by event id: a message is recorded once, however often the evaluation that produced it is
//! retried; publishers claim a message before delivering it, and every delivery is recorded per
//! message and channel, so a channel that failed is tried again alone).

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod dynamodb;
mod heartbeats;
mod rollups;
mod sqlite;
mod subscribers;

pub use dynamodb::{
    pack_results, unpack_results, DynamoStore, TableNames, Tables, WriteStats, DEFAULT_PREFIX,
    DEFAULT_RESULTS_TTL,
};
pub use heartbeats::PingLogs;
pub use rollups::{HourlyRollups, Rollups, Written};
pub use sqlite::{Pruned, SqliteStore};
pub use subscribers::{mail_key, Subscribers};

use atalaya_core::evaluate::{Incident, State};
use atalaya_core::message::episode::Episode;
use atalaya_core::{Message, ProbeResult};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the state changed since it was read (version {expected} expected); read it again and retry")]
    Conflict { expected: u64 },
    #[error("{0}")]
    Invalid(String),
    /// An item over DynamoDB's 400 KB limit: trying again cannot help; operators must act.
    #[error("{what} is {} KB, over DynamoDB's item limit of 400 KB; nothing was written (docs/deploy.md, \"The state is too large\")", bytes.div_ceil(1024))]
    TooLarge { what: String, bytes: usize },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
    /// An AWS call failed; `retryable` says whether trying again may help.
    #[error("{what}: {detail}{}", if *retryable { " (retryable)" } else { "" })]
    Aws {
        what: String,
        retryable: bool,
        detail: String,
    },
}

impl StoreError {
    /// Whether trying the same thing again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            StoreError::Conflict { .. } => true,
            StoreError::Aws { retryable, .. } => *retryable,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}

/// The key of the whole, unsplit engine state.
pub const ENGINE: &str = "engine";

/// The engine state as read, with the version a write must match.
#[derive(Debug, Clone, Default)]
pub struct Versioned {
    pub state: State,
    pub version: u64,
    /// The version of a partition's freshness stamps, kept apart from its state (DynamoDB).
    pub stamps: u64,
    /// The partition's state item as stored, before its stamps and changed checks were put
    /// over it: what the next changed checks are computed against (DynamoDB).
    pub stored: Option<std::sync::Arc<State>>,
}

impl Versioned {
    /// Moves the state out for a step that changes it in place, leaving what a commit compares
    /// the new state with: the incidents as read (and [`Versioned::stored`]).
    pub fn take_state(&mut self) -> State {
        let state = std::mem::take(&mut self.state);
        self.state.incidents = state.incidents.clone();
        state
    }
}

/// A message still to deliver, and the channels already done with it (delivered, or given up
/// for good).
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub message: Message,
    pub done: BTreeSet<String>,
}

/// How one channel's delivery of one message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// The channel can never deliver it (a permanent error): not tried again.
    GaveUp(String),
}

/// What both stores do. The functions, the local runner and the `atalaya incident…` commands
/// are written against this trait.
// Used with concrete stores only (no `dyn`), so the futures' auto traits are those of the
// implementation.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Keeps results (a result already kept is ignored). Gives up with a retryable error rather
    /// than run past `deadline`; never returns `Ok` with a result unwritten.
    async fn put_results(
        &self,
        results: &[ProbeResult],
        deadline: Instant,
    ) -> Result<usize, StoreError>;
    /// The results kept for `region` from `since` on (SQLite: each result at or after it;
    /// DynamoDB: the packed runs whose first result is), oldest first.
    async fn results(
        &self,
        region: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<ProbeResult>, StoreError>;
    async fn load_state(&self) -> Result<Versioned, StoreError>;
    /// How many partitions the engine's state is split into (`atalaya_core::partition`); 1:
    /// one document, [`ENGINE`].
    fn partitions(&self) -> u32 {
        1
    }
    /// One partition's state (`ENGINE` is the whole, unsplit state).
    async fn load_part(&self, part: &str) -> Result<Versioned, StoreError> {
        if part == ENGINE {
            self.load_state().await
        } else {
            Err(StoreError::Invalid(format!(
                "this store keeps one state document, not partition {part}"
            )))
        }
    }
    /// [`Store::commit`] for one partition.
    async fn commit_part(
        &self,
        part: &str,
        base: &Versioned,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError> {
        if part == ENGINE {
            self.commit(base, state, messages).await
        } else {
            Err(StoreError::Invalid(format!(
                "this store keeps one state document, not partition {part}"
            )))
        }
    }
    /// Saves `state` over `base` (if the stored state is still at `base.version`), the
    /// incidents that changed since `base`, and records `messages`, in one transaction. Messages
    /// already recorded are not recorded again. Returns the new version.
    async fn commit(
        &self,
        base: &Versioned,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError>;
    /// Every incident kept, newest first; only the open ones if `open_only`.
    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError>;
    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError>;
    /// The messages recorded under these event ids (an incident's timeline), in the order
    /// asked; ids with no message are left out.
    async fn messages(&self, ids: &[String]) -> Result<Vec<Message>, StoreError>;
    /// Messages recorded and not yet delivered to every channel, oldest first.
    async fn pending(&self) -> Result<Vec<Pending>, StoreError>;
    /// Claims a pending message for one channel, for `lease`: of several publishers, only the
    /// one that claims it sends it to that channel (each channel is claimed on its own, so a
    /// slow channel holds up no other). A claim left by a publisher that died expires.
    async fn claim(
        &self,
        id: &str,
        channel: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError>;
    /// Gives a channel's claim back (a delivery failed): the next publisher may try at once.
    async fn release(&self, id: &str, channel: &str) -> Result<(), StoreError>;
    /// Records how one channel's delivery of the message ended.
    async fn record_delivery(
        &self,
        id: &str,
        channel: &str,
        delivery: &Delivery,
    ) -> Result<(), StoreError>;
    /// Every channel is done with the message: it is no longer pending.
    async fn mark_sent(&self, id: &str) -> Result<(), StoreError>;
    /// The thread `channel` keeps the messages about `key` (an incident) in: the reference
    /// its first message gave (Slack's message `ts`).
    async fn thread(&self, channel: &str, key: &str) -> Result<Option<String>, StoreError>;
    /// The monitor's episode of blindness (`atalaya_core::message::episode`) and its version.
    async fn episode(&self) -> Result<(Episode, u64), StoreError>;
    /// Saves the episode if it is still at `version`; false when another publisher changed it.
    async fn keep_episode(&self, episode: &Episode, version: u64) -> Result<bool, StoreError>;
    /// Keeps the thread `channel` opened for `key` (replacing an earlier one: a new episode).
    async fn keep_thread(
        &self,
        channel: &str,
        key: &str,
        reference: &str,
    ) -> Result<(), StoreError>;
    /// Takes the evaluation lease for `owner` until `until` (or until released): of several
    /// evaluators, one evaluates at a time, so none races another on a partition. False when
    /// another holds it. A store with one writer at a time (SQLite) always grants it.
    async fn lease(
        &self,
        _owner: &str,
        _now: DateTime<Utc>,
        _until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Gives the lease back (only if `owner` still holds it).
    async fn release_lease(&self, _owner: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod versioned {
    use super::*;
    use atalaya_core::evaluate::CheckState;

    #[test]
    fn the_state_taken_out_leaves_the_incidents_a_commit_compares_with() {
        let mut state = State::default();
        state.checks.insert("api".into(), CheckState::default());
        let incident: Incident = serde_json::from_value(serde_json::json!({
            "id": "inc-p00-1", "service": "shop", "affected": [], "phase": "investigating",
            "started_at": "2026-12-07T09:58:00Z", "opened_at": "2026-12-07T10:00:00Z",
            "resolved_at": null, "acknowledged_at": null, "acknowledged_by": null,
            "escalated": false, "last_operator_notice": "2026-12-07T10:00:00Z",
            "last_customer_update": {}, "told": ["shop"], "reopened": 0, "failures": [],
            "timeline": [], "seq": 0
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        state.incidents.insert(incident.id.clone(), incident);
        let mut base = Versioned {
            state: state.clone(),
            version: 3,
            ..Versioned::default()
        };
        assert_eq!(base.take_state(), state);
        assert!(base.state.checks.is_empty());
        assert_eq!(base.state.incidents, state.incidents);
        assert_eq!(base.version, 3);
    }
}
