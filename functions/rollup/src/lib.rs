//! The rollup function: invoked every 10 minutes by a schedule, it works out each check's time
//! per region and the latency sketches of the hours gone by from the results table
//! (`atalaya_app::rollup_job`), oldest hour first, until its deadline nears.
//!
//! The handler is generic over the store: moto tests (tests/aws/rollup_job.rs) run it on the
//! real SDK.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::rollup_job::{self, JobOutput};
use atalaya_core::config::Config;
use atalaya_store::HourlyRollups;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Instant;

/// What the invocation did.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct RollupOutput {
    /// Hours done, as `<hour>@<region>`.
    pub done: Vec<String>,
    /// Hour-regions of the last day still to do (an alarm watches it grow).
    pub pending: usize,
    pub results: usize,
    pub unreadable: usize,
    pub items_written: usize,
    pub bytes_written: usize,
    pub largest_item_part: usize,
    pub trimmed: usize,
}

impl From<JobOutput> for RollupOutput {
    fn from(o: JobOutput) -> Self {
        RollupOutput {
            done: o
                .done
                .iter()
                .map(|(h, r)| format!("{}@{r}", h.format("%Y-%m-%dT%H")))
                .collect(),
            pending: o.pending,
            results: o.results,
            unreadable: o.unreadable,
            items_written: o.written.items,
            bytes_written: o.written.bytes,
            largest_item_part: o.written.largest,
            trimmed: o.written.trimmed,
        }
    }
}

/// One invocation at `now`, to end before `deadline`. An error (the store failed) fails the
/// invocation; what was done before it stays done.
pub async fn handle<S: HourlyRollups>(
    store: &S,
    config: &Config,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Result<RollupOutput, atalaya_store::StoreError> {
    let out: RollupOutput = rollup_job::run(store, config, now, deadline).await?.into();
    println!("{}", emf(&out, now));
    Ok(out)
}

/// The invocation's CloudWatch metrics (EMF): `RollupHoursDone`, `RollupHoursPending` (alarmed
/// when the job falls behind), `RollupResultsRead`, `RollupUnreadableItems`,
/// `RollupTrimmedParts`.
pub fn emf(out: &RollupOutput, now: DateTime<Utc>) -> serde_json::Value {
    atalaya_aws::emf(
        now.timestamp_millis(),
        &[("Function", "rollup")],
        &[
            ("RollupHoursDone", "Count", out.done.len() as f64),
            ("RollupHoursPending", "Count", out.pending as f64),
            ("RollupResultsRead", "Count", out.results as f64),
            ("RollupUnreadableItems", "Count", out.unreadable as f64),
            ("RollupTrimmedParts", "Count", out.trimmed as f64),
        ],
    )
}
