//! Atalaya's storage: what the engine remembers and what it has to say.
//!
//! A [`Store`] keeps the probe results, the incident engine's state (one versioned document:
//! writes are conditional on the version read, so two writers can never silently overwrite each
//! other) and the outbox (messages keyed by event id: a message is enqueued once, however often
//! the evaluation that produced it is retried). SQLite here for the local runner; DynamoDB for
//! Lambda.

pub mod dynamodb;
mod sqlite;

pub use dynamodb::{DynamoStore, Tables};
pub use sqlite::SqliteStore;

use atalaya_core::evaluate::State;
use atalaya_core::{Message, ProbeResult};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the state changed since it was read (version {expected} expected); read it again and retry")]
    Conflict { expected: u64 },
    #[error("{0}")]
    Invalid(String),
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

/// The engine state as read, with the version a write must match.
#[derive(Debug, Clone, Default)]
pub struct Versioned {
    pub state: State,
    pub version: u64,
}

pub trait Store {
    /// Keeps results; a result already kept (same check, region and time) is ignored.
    fn put_results(&mut self, results: &[ProbeResult]) -> Result<usize, StoreError>;
    fn load_state(&self) -> Result<Versioned, StoreError>;
    /// Saves `state` and enqueues `messages` in one transaction, if the stored state is still at
    /// `version`. Messages whose id is already in the outbox are not enqueued again.
    fn commit(
        &mut self,
        version: u64,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError>;
    /// Publishes unpublished messages in order through `publish`, marking each one published
    /// once `publish` returns. Only one publisher runs at a time, whatever the process.
    fn publish_pending(
        &mut self,
        publish: &mut dyn FnMut(&Message) -> std::io::Result<()>,
    ) -> Result<usize, StoreError>;
    /// Results of one check, newest first.
    fn recent_results(&self, check: &str, limit: usize) -> Result<Vec<ProbeResult>, StoreError>;
    /// Forgets results older than `before`.
    fn prune_results(&mut self, before: chrono::DateTime<chrono::Utc>)
        -> Result<usize, StoreError>;
}
