//! Uptime under the accounting policy (`settings.sla`, `crate::config::Policy`), stated with
//! every figure.

use super::*;
pub use crate::config::{Policy, UnknownAs};
use serde::Serialize;

/// Uptime under a policy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Uptime {
    /// In percent; `None` when nothing in the period was counted.
    pub percent: Option<f64>,
    /// Milliseconds counted (the period less what the policy leaves out).
    pub counted_ms: u64,
    /// Milliseconds of downtime (degraded weighted).
    pub downtime_ms: f64,
    /// Of the downtime the target allows in the counted time, the share used (1 = all).
    pub budget_used: Option<f64>,
}

impl Policy {
    pub fn uptime(&self, m: &Millis) -> Uptime {
        let mut counted = m.up + m.degraded + m.down;
        let mut downtime = m.down as f64 + self.partial_weight * m.degraded as f64;
        if !self.exclude_maintenance {
            counted += m.maintenance;
            downtime += m.maintenance as f64;
        }
        match self.unknown {
            UnknownAs::Exclude => {}
            UnknownAs::Up => counted += m.unknown,
            UnknownAs::Down => {
                counted += m.unknown;
                downtime += m.unknown as f64;
            }
        }
        let percent = (counted > 0).then(|| 100.0 * (1.0 - downtime / counted as f64));
        let allowed = counted as f64 * (1.0 - self.target / 100.0);
        Uptime {
            percent,
            counted_ms: counted,
            downtime_ms: downtime,
            budget_used: (allowed > 0.0).then(|| downtime / allowed),
        }
    }
}
