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

/// How much of the error budget was used, as every surface says it: a percentage up to 100 %,
/// past it how many times over (`3.2×`, `458×`), since "45839.77 %" says nothing a reader can
/// weigh. `Exceeded` holds the multiple, formatted.
#[derive(Clone, Debug, PartialEq)]
pub enum Budget {
    Used(f64),
    Exceeded(String),
}

impl Budget {
    /// `used`: the share of the budget used (1 = all of it).
    pub fn of(used: f64) -> Budget {
        if used <= 1.0 {
            Budget::Used(100.0 * used)
        } else if used < 10.0 {
            Budget::Exceeded(format!("{used:.1}×"))
        } else {
            Budget::Exceeded(format!("{used:.0}×"))
        }
    }
}

/// `p` cut to `decimals` places, as every report shows a percentage: never rounded up (99.8999
/// is not 99.9), and a value written with those places stays itself (99.9 is 99.900).
pub fn cut(p: f64, decimals: usize) -> f64 {
    let scale = 10f64.powi(i32::try_from(decimals).unwrap_or(6));
    ((p * scale) + 1e-6).floor() / scale
}
