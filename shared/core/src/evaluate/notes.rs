//! What some events carry besides their kind: why the monitor cannot see a check, an early
//! warning, a monitoring fault.

use crate::result::Reason;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why the monitor cannot see a check, and since when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSight {
    pub check: String,
    pub service: String,
    /// When it became unknown (for `monitoring_restored`: how long it lasted).
    pub since: DateTime<Utc>,
    /// Each of the check's regions that cannot see it, and why.
    pub regions: Vec<(String, Blindness)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Blindness {
    /// The region sends no results at all.
    Silent { last: Option<DateTime<Utc>> },
    /// No fresh result of this check from the region (or none since the monitor started).
    NoResult { last: Option<DateTime<Utc>> },
    /// The region's newest result is a monitoring fault.
    Fault(Reason),
}

/// One early warning: its cause, what was seen, since when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyNote {
    pub cause: super::early::Cause,
    /// What was seen, for operators (`expires in 18 days (2026-12-18), in eu-west-1`).
    pub detail: String,
    pub since: DateTime<Utc>,
    /// A reminder of a warning already given.
    pub reminder: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultNote {
    pub reason: Reason,
    /// The newest fault's detail (operators only).
    pub detail: String,
    pub regions: Vec<String>,
    pub since: DateTime<Utc>,
    /// A reminder of a fault already told.
    pub reminder: bool,
}

/// A check degraded, as operators hear of it: each region that does not see it up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DegradedNote {
    /// (region, outcome, reason, detail) of each region whose newest result is not up.
    pub regions: Vec<(String, crate::result::Outcome, Reason, String)>,
    pub since: DateTime<Utc>,
    /// A reminder of a notice already sent.
    pub reminder: bool,
    /// What it is once cleared (`up`, `down`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
}
