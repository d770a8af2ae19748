//! Atalaya's storage: what the engine remembers and what it has to say.
//!
//! One [`Store`] trait, two implementations: SQLite for the local runner and DynamoDB for the
//! Lambda functions. A store keeps the probe results, the incident engine's state (one versioned
//! document: writes are conditional on the version read, so two writers can never silently
//! overwrite each other), every incident with its timeline (written in the same transaction as
//! the state, so the state itself only carries live incidents), and the outbox (messages keyed
//! by event id: a message is recorded once, however often the evaluation that produced it is
//! retried; publishers claim a message before publishing it).

pub mod dynamodb;
mod sqlite;

pub use dynamodb::{DynamoStore, Tables, WriteStats};
pub use sqlite::SqliteStore;

use atalaya_core::evaluate::{Incident, State};
use atalaya_core::{Message, ProbeResult};
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

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

/// The engine state as read, with the version a write must match.
#[derive(Debug, Clone, Default)]
pub struct Versioned {
    pub state: State,
    pub version: u64,
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
    async fn load_state(&self) -> Result<Versioned, StoreError>;
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
    /// Messages recorded and not yet published, oldest first.
    async fn pending(&self) -> Result<Vec<Message>, StoreError>;
    /// Claims a pending message for `lease`: of several publishers, only the one that claims a
    /// message publishes it. A claim left by a publisher that died expires.
    async fn claim(
        &self,
        id: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError>;
    /// Gives a claim back (the publish failed): the next publisher may try at once.
    async fn release(&self, id: &str) -> Result<(), StoreError>;
    /// Marks a message published.
    async fn mark_sent(&self, id: &str) -> Result<(), StoreError>;
}

/// How a round of publishing went.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Published {
    pub published: usize,
    pub failures: usize,
    /// The first failure, for the caller to report.
    pub first_error: Option<String>,
}

/// How long a publisher holds a message it claimed.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);

/// Publishes every pending message, oldest first: claim, `publish`, mark sent. A message whose
/// publish fails is released and stays pending for the next round; a message published but not
/// marked (the store failed just then) is published again by the next round, with the same id.
/// Errors reading the outbox are returned; everything else is counted in [`Published`].
pub async fn publish_pending<S, E>(
    store: &S,
    mut publish: impl AsyncFnMut(&Message) -> Result<(), E>,
) -> Result<Published, StoreError>
where
    S: Store,
    E: std::fmt::Display,
{
    let mut out = Published::default();
    let fail = |out: &mut Published, what: String| {
        out.failures += 1;
        out.first_error.get_or_insert(what);
    };
    for m in store.pending().await? {
        match store.claim(&m.id, Utc::now(), CLAIM_LEASE).await {
            Ok(true) => {}
            Ok(false) => continue, // another publisher has it
            Err(e) => {
                tracing::error!(id = %m.id, retryable = e.retryable(), error = %e, "cannot claim the message; it stays pending");
                fail(&mut out, format!("claiming {}: {e}", m.id));
                continue;
            }
        }
        match publish(&m).await {
            Ok(()) => match store.mark_sent(&m.id).await {
                Ok(()) => out.published += 1,
                Err(e) => {
                    tracing::error!(id = %m.id, retryable = e.retryable(), error = %e, "published but not marked sent; it will be published again");
                    fail(&mut out, format!("marking {} sent: {e}", m.id));
                }
            },
            Err(e) => {
                tracing::error!(id = %m.id, error = %e, "publish failed; the message stays pending");
                fail(&mut out, format!("publishing {}: {e}", m.id));
                if let Err(e) = store.release(&m.id).await {
                    tracing::warn!(id = %m.id, error = %e, "claim not released; it expires on its own");
                }
            }
        }
    }
    Ok(out)
}
