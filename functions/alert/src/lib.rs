//! The alert function: triggered by the results table's DynamoDB stream and by a one-minute
//! schedule tick, it runs the round (`atalaya_app::Round`: the evaluation lease, every partition
//! evaluated and committed with its messages, delivery to the channels in the invocation, the
//! status pages that changed) and reports it to Lambda and CloudWatch. A message that fails to
//! go out on a channel stays pending for that channel at the next invocation.
//!
//! The handler is generic over the store and the channels: its decisions are tested over SQLite
//! and a channel in memory (tests/decisions.rs); moto tests cover the AWS adapters end to end.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod subscriptions;

use atalaya_app::status_site::Site;
use atalaya_app::{Checks, Handoff, Round};
use atalaya_core::ProbeResult;
use atalaya_notify::Channel;
use atalaya_store::{Rollups, Store};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What the invocation did; for stream batches, also Lambda's partial-batch response.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct AlertOutput {
    pub results: usize,
    pub events: usize,
    pub published: usize,
    pub publish_failures: usize,
    /// The evaluation could not be committed.
    pub evaluation_failed: bool,
    /// ... and trying again cannot help (an item over DynamoDB's limit, an item refused): the
    /// batch is not handed back to Lambda (it would only come back until it expires), the
    /// failure is counted (`EvaluationFailures`, alarmed) and a tick fails the invocation.
    pub evaluation_failed_for_good: bool,
    /// Configured regions with no result for three intervals (left out of the quorum).
    pub silent_regions: usize,
    /// Status site objects written (or deleted) after the evaluation.
    pub site_objects: usize,
    /// The status site could not be rebuilt or published (the next change or hour tries again).
    pub site_failed: bool,
    /// Failed or given-up sends to operators' paging and chat channels, by kind (`pagerduty`,
    /// `slack`…): `ChannelFailures` by `Channel`, alarmed per kind.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub channel_failures: std::collections::BTreeMap<String, usize>,
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// What the handler works with: the checks file, the store, the channels messages go to, and
/// where the status site is published (none: no site).
pub struct Deps<'a, S, W = atalaya_app::status_site::Folder> {
    pub checks: &'a Checks,
    pub store: &'a S,
    pub channels: &'a [&'a dyn Channel],
    pub site: Option<&'a W>,
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
pub async fn handle<S: Store + Rollups, W: Site>(
    deps: &Deps<'_, S, W>,
    results: &[ProbeResult],
    first_sequence: Option<String>,
    now: DateTime<Utc>,
) -> AlertOutput {
    let started = std::time::Instant::now();
    let out = run(deps, results, first_sequence, now).await;
    println!("{}", emf(&out, started.elapsed(), now));
    for line in channel_emf(&out, now) {
        println!("{line}");
    }
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
            ("SiteObjectsWritten", "Count", o.site_objects as f64),
            ("SiteFailures", "Count", u8::from(o.site_failed).into()),
            (
                "AlertDuration",
                "Milliseconds",
                duration.as_secs_f64() * 1000.0,
            ),
        ],
    )
}

/// `ChannelFailures` by `Channel` (the kind: `pagerduty`, `opsgenie`, `slack`, `teams`,
/// `webhook`), one line per kind that failed in this invocation; an alarm per kind watches it.
pub fn channel_emf(o: &AlertOutput, now: DateTime<Utc>) -> Vec<serde_json::Value> {
    o.channel_failures
        .iter()
        .map(|(kind, n)| {
            atalaya_aws::emf(
                now.timestamp_millis(),
                &[("Channel", kind)],
                &[("ChannelFailures", "Count", *n as f64)],
            )
        })
        .collect()
}

/// The shell's EMF line: `StateItemBytes`, the largest state item written so far by this
/// instance (an alarm fires well before DynamoDB's 400 KB limit), and `ChecksFileRejected`, 1
/// when a published checks file was refused (an alarm says so; the last good one runs on).
pub fn store_emf(
    stats: &atalaya_store::WriteStats,
    checks_rejected: u8,
    now: DateTime<Utc>,
) -> serde_json::Value {
    atalaya_aws::emf(
        now.timestamp_millis(),
        &[("Function", "alert")],
        &[
            ("StateItemBytes", "Bytes", stats.largest_state_item() as f64),
            ("ChecksFileRejected", "Count", f64::from(checks_rejected)),
        ],
    )
}

/// The evaluation failed and may succeed later: the stream batch (if any) goes back to Lambda.
fn hand_back(mut out: AlertOutput, first_sequence: Option<String>) -> AlertOutput {
    out.evaluation_failed = true;
    if let Some(seq) = first_sequence {
        out.batch_item_failures.push(ItemFailure {
            item_identifier: seq,
        });
    }
    out
}

async fn run<S: Store + Rollups, W: Site>(
    deps: &Deps<'_, S, W>,
    results: &[ProbeResult],
    first_sequence: Option<String>,
    now: DateTime<Utc>,
) -> AlertOutput {
    let mut out = AlertOutput {
        results: results.len(),
        ..AlertOutput::default()
    };
    let round = Round {
        store: deps.store,
        checks: deps.checks,
        site: deps.site,
        handoff: Handoff::Now(deps.channels),
        sole: false,
    };
    // A stream batch reads the evaluator's pulse; the schedule's tick records it.
    let outcome = match round.run(results, now, results.is_empty()).await {
        Ok(o) => o,
        Err(e) if e.retryable() => {
            tracing::error!(error = %e, "evaluation not committed; the batch will be retried");
            return hand_back(out, first_sequence);
        }
        Err(e) => {
            // Handing the batch back would bring it back until it expired, blocking the shard;
            // the results stay in the results table, and operators are alarmed.
            tracing::error!(error = %e, "evaluation cannot be committed, and trying again will not help: operators must act");
            out.evaluation_failed = true;
            out.evaluation_failed_for_good = true;
            return out;
        }
    };
    out.events = outcome.evaluated.events;
    out.silent_regions = outcome.evaluated.silent_regions;
    match outcome.delivered {
        Some(Ok(d)) => {
            out.published = d.messages;
            out.publish_failures = d.failures + d.gave_up;
            let on_call = &deps.checks.config.settings.operators.on_call;
            for (name, n) in &d.failed_channels {
                if let Some(c) = on_call.channel(name) {
                    *out.channel_failures
                        .entry(c.kind.kind().to_string())
                        .or_default() += n;
                }
            }
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "cannot read the outbox; messages stay pending");
            out.publish_failures = 1;
        }
        None => {}
    }
    match outcome.site {
        Some(Ok(p)) => out.site_objects = p.written.len() + p.deleted.len(),
        Some(Err(e)) => {
            tracing::error!(error = %e, "the status site was not updated; the next change or hour tries again");
            out.site_failed = true;
        }
        None => {}
    }
    out
}
