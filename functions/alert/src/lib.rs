//! The alert function: triggered by the results table's DynamoDB stream and by a one-minute
//! schedule tick. Loads the engine state, evaluates, commits the new state together with its
//! messages (one transaction, conditional on the version read: of two racing invocations one
//! wins, the other reloads and evaluates again), then publishes what is pending to SNS and marks
//! it sent. A message that fails to publish stays pending for the next invocation.

use atalaya_core::evaluate::evaluate;
use atalaya_core::{Config, ProbeResult, Renderer};
use atalaya_notify::SnsPublisher;
use atalaya_store::{DynamoStore, StoreError};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rendering: {0}")]
    Render(#[from] atalaya_core::message::RenderError),
    #[error("the state kept changing under this invocation")]
    Contention,
}

/// What the invocation did; for stream batches, also Lambda's partial-batch response.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct AlertOutput {
    pub results: usize,
    pub events: usize,
    pub published: usize,
    pub publish_failures: usize,
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

pub struct Deps<'a> {
    pub config: &'a Config,
    pub store: &'a DynamoStore,
    pub sns: &'a SnsPublisher,
    pub renderer: &'a Renderer,
}

/// The results carried by a stream batch (inserts and updates of the results table), with the
/// first record's sequence number (to report the batch back if it cannot be processed).
pub fn results_of(event: &StreamEvent) -> (Vec<ProbeResult>, Option<String>) {
    let mut results = Vec::new();
    let first = event
        .records
        .first()
        .and_then(|r| r.change.sequence_number.clone());
    for record in &event.records {
        let Some(serde_dynamo::AttributeValue::S(json)) = record.change.new_image.get("result")
        else {
            continue; // not a result (a removal by TTL, or another item)
        };
        match serde_json::from_str::<ProbeResult>(json) {
            Ok(r) => results.push(r),
            // A record that can never parse would block the shard forever if reported; it is
            // logged with its key instead, so nothing is dropped silently.
            Err(e) => {
                tracing::error!(sequence = ?record.change.sequence_number, error = %e, "unreadable result record skipped")
            }
        }
    }
    (results, first)
}

/// One invocation: `results` from a stream batch (empty for a tick), evaluated at `now`.
pub async fn handle(
    deps: &Deps<'_>,
    results: &[ProbeResult],
    first_sequence: Option<String>,
    now: DateTime<Utc>,
) -> AlertOutput {
    let mut out = AlertOutput {
        results: results.len(),
        ..AlertOutput::default()
    };
    match evaluate_and_commit(deps, results, now).await {
        Ok(events) => out.events = events,
        Err(e) => {
            tracing::error!(error = %e, "evaluation not committed; the batch will be retried");
            if let Some(seq) = first_sequence {
                out.batch_item_failures.push(ItemFailure {
                    item_identifier: seq,
                });
            }
            return out;
        }
    }
    let (published, failures) = publish_pending(deps).await;
    out.published = published;
    out.publish_failures = failures;
    out
}

async fn evaluate_and_commit(
    deps: &Deps<'_>,
    results: &[ProbeResult],
    now: DateTime<Utc>,
) -> Result<usize, AlertError> {
    for _ in 0..8 {
        let current = deps.store.load_state().await?;
        let (state, events) = evaluate(&current.state, results, now, deps.config);
        if state == current.state && events.is_empty() {
            return Ok(0); // nothing changed: write nothing
        }
        let messages = events
            .iter()
            .map(|e| deps.renderer.render(e, &state, deps.config))
            .collect::<Result<Vec<_>, _>>()?;
        match deps.store.commit(current.version, &state, &messages).await {
            Ok(_) => return Ok(events.len()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AlertError::Contention)
}

/// Publishes every pending message, oldest first; a failure leaves that message pending.
pub async fn publish_pending(deps: &Deps<'_>) -> (usize, usize) {
    let pending = match deps.store.pending().await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the outbox; messages stay pending");
            return (0, 1);
        }
    };
    let (mut published, mut failures) = (0, 0);
    for m in pending {
        // Only the invocation that claims a message publishes it.
        match deps
            .store
            .claim(&m.id, Utc::now(), std::time::Duration::from_secs(60))
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                failures += 1;
                tracing::error!(id = %m.id, error = %e, "cannot claim the message; it stays pending");
                continue;
            }
        }
        match deps.sns.publish(&m).await {
            Ok(_) => match deps.store.mark_sent(&m.id).await {
                Ok(()) => published += 1,
                Err(e) => {
                    // Published but not marked: the next invocation publishes it again; SNS
                    // subscribers see the same message id in its attributes.
                    failures += 1;
                    tracing::error!(id = %m.id, error = %e, "published but not marked sent");
                }
            },
            Err(e) => {
                failures += 1;
                tracing::error!(id = %m.id, retryable = e.retryable, error = %e, "publish failed; the message stays pending");
                // Give the claim back so the next invocation retries at once.
                if let Err(e) = deps.store.release(&m.id).await {
                    tracing::warn!(id = %m.id, error = %e, "claim not released; it expires in a minute");
                }
            }
        }
    }
    (published, failures)
}
