//! The alert function: triggered by the results table's DynamoDB stream and by a one-minute
//! schedule tick. Loads the engine state, evaluates, commits the new state together with its
//! messages (one transaction, conditional on the version read: of two racing invocations one
//! wins, the other reloads and evaluates again), then publishes what is pending to SNS and marks
//! it sent. A message that fails to publish stays pending for the next invocation.

use atalaya_core::evaluate::evaluate;
use atalaya_core::{Config, ProbeResult, Renderer};
use atalaya_notify::SnsPublisher;
use atalaya_store::{DynamoStore, Store, StoreError};
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
    /// The evaluation could not be committed (a stream batch is then reported back).
    pub evaluation_failed: bool,
    /// Configured regions with no result for three intervals (left out of the quorum).
    pub silent_regions: usize,
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
        let Some(serde_dynamo::AttributeValue::B(blob)) = record.change.new_image.get("results")
        else {
            continue; // not results (a removal by TTL, or another item)
        };
        match atalaya_store::dynamodb::unpack_results(blob) {
            Ok(r) => results.extend(r),
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
    let started = std::time::Instant::now();
    let out = run(deps, results, first_sequence, now).await;
    println!("{}", emf(&out, started.elapsed(), now));
    for line in region_emf(results, now) {
        println!("{line}");
    }
    out
}

/// One EMF line per probe region present in `results`: `ResultsReceived` by `Region`. A region
/// whose probes stop has no data point; the per-region alarms treat that as breaching.
pub fn region_emf(results: &[ProbeResult], now: DateTime<Utc>) -> Vec<serde_json::Value> {
    let mut by_region: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in results {
        *by_region.entry(r.region.as_str()).or_default() += 1;
    }
    by_region
        .into_iter()
        .map(|(region, n)| {
            atalaya_aws::emf(
                now.timestamp_millis(),
                &[("Region", region)],
                &[("ResultsReceived", "Count", n as f64)],
            )
        })
        .collect()
}

/// A CloudWatch embedded-metric-format log line for one invocation. `EvaluationFailures`
/// counts invocations whose evaluation could not be committed; `SilentRegions` the probe regions
/// that stopped reporting (an alarm watches it).
pub fn emf(
    o: &AlertOutput,
    duration: std::time::Duration,
    now: DateTime<Utc>,
) -> serde_json::Value {
    atalaya_aws::emf(
        now.timestamp_millis(),
        &[("Function", "alert")],
        &[
            ("ResultsEvaluated", "Count", o.results as f64),
            ("Events", "Count", o.events as f64),
            ("MessagesPublished", "Count", o.published as f64),
            ("PublishFailures", "Count", o.publish_failures as f64),
            (
                "EvaluationFailures",
                "Count",
                u8::from(o.evaluation_failed).into(),
            ),
            ("SilentRegions", "Count", o.silent_regions as f64),
            (
                "AlertDuration",
                "Milliseconds",
                duration.as_secs_f64() * 1000.0,
            ),
        ],
    )
}

async fn run(
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
        Ok((events, silent)) => {
            out.events = events;
            out.silent_regions = silent;
        }
        Err(e) => {
            tracing::error!(error = %e, "evaluation not committed; the batch will be retried");
            out.evaluation_failed = true;
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
) -> Result<(usize, usize), AlertError> {
    for _ in 0..8 {
        let current = deps.store.load_state().await?;
        let (state, events) = evaluate(&current.state, results, now, deps.config);
        let silent = state.regions.values().filter(|r| r.silent).count();
        if state == current.state && events.is_empty() {
            return Ok((0, silent)); // nothing changed: write nothing
        }
        let messages = events
            .iter()
            .map(|e| deps.renderer.render(e, &state, deps.config))
            .collect::<Result<Vec<_>, _>>()?;
        match deps.store.commit(&current, &state, &messages).await {
            Ok(_) => return Ok((events.len(), silent)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AlertError::Contention)
}

/// Publishes every pending message, oldest first; a failure leaves that message pending.
/// Returns (published, failures).
pub async fn publish_pending(deps: &Deps<'_>) -> (usize, usize) {
    let sns = deps.sns;
    match atalaya_store::publish_pending(deps.store, async |m: &atalaya_core::Message| {
        sns.publish(m).await.map(|_| ())
    })
    .await
    {
        Ok(p) => (p.published, p.failures),
        Err(e) => {
            tracing::error!(retryable = e.retryable(), error = %e, "cannot read the outbox; messages stay pending");
            (0, 1)
        }
    }
}
