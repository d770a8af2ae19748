//! Latency per phase in mergeable sketches, and drift from the usual.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Latency percentiles, per phase, from mergeable sketches (DDSketch, 1 % relative accuracy):
/// hours merge into days and months without keeping samples.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    /// By phase: `total`, `dns`, `connect`, `tls`, `ttfb`.
    pub phases: BTreeMap<String, sketches_ddsketch::DDSketch>,
}

/// p50, p95 and p99 of one phase, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub samples: usize,
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: BTreeMap<&String, usize> =
            self.phases.iter().map(|(p, s)| (p, s.count())).collect();
        f.debug_struct("Latency").field("samples", &counts).finish()
    }
}

impl Latency {
    fn add(&mut self, phase: &str, ms: f64) {
        if ms.is_finite() && ms >= 0.0 {
            self.phases
                .entry(phase.to_string())
                .or_insert_with(|| sketches_ddsketch::DDSketch::new(Default::default()))
                .add(ms);
        }
    }

    /// Adds what a real result measured (a monitoring fault measured nothing).
    pub fn record(&mut self, r: &crate::result::ProbeResult) {
        if !r.is_real() {
            return;
        }
        self.add("total", r.latency_ms);
        let p = &r.phases;
        for (phase, v) in [
            ("dns", p.dns_ms),
            ("connect", p.connect_ms),
            ("tls", p.tls_ms),
            ("ttfb", p.ttfb_ms),
        ] {
            if let Some(v) = v {
                self.add(phase, v);
            }
        }
    }

    pub fn merge(&mut self, o: &Latency) {
        for (phase, sk) in &o.phases {
            match self.phases.get_mut(phase) {
                // Sketches made with the same configuration always merge.
                Some(mine) => {
                    let _ = mine.merge(sk);
                }
                None => {
                    self.phases.insert(phase.clone(), sk.clone());
                }
            }
        }
    }

    pub fn percentiles(&self, phase: &str) -> Option<Percentiles> {
        let sk = self.phases.get(phase)?;
        let q = |q: f64| sk.quantile(q).ok().flatten();
        Some(Percentiles {
            p50: q(0.5)?,
            p95: q(0.95)?,
            p99: q(0.99)?,
            samples: sk.count(),
        })
    }
}

/// One phase an hour's median left its usual for: (phase, the hour's p50, the usual p50), ms.
pub type PhaseDrift = (String, f64, f64);

/// Fewest samples an hour needs to be compared, and weeks of the same hour a usual needs.
pub const DRIFT_MIN_SAMPLES: usize = 5;
pub const DRIFT_MIN_WEEKS: usize = 2;

/// Whether `hour`'s latency drifted from `usual` (the same hour of the week in the weeks
/// before), phase by phase: a phase drifts when the hour's median is `factor` times the median
/// of the weeks' medians or more. `None` when there is too little to say (fewer than
/// [`DRIFT_MIN_SAMPLES`] in the hour, or fewer than [`DRIFT_MIN_WEEKS`] weeks with some);
/// `Some(empty)` when nothing drifted.
pub fn drift(hour: &Latency, usual: &[Latency], factor: f64) -> Option<Vec<PhaseDrift>> {
    let total = hour.percentiles("total")?;
    if total.samples < DRIFT_MIN_SAMPLES {
        return None;
    }
    let weeks = usual
        .iter()
        .filter(|l| {
            l.percentiles("total")
                .is_some_and(|p| p.samples >= DRIFT_MIN_SAMPLES)
        })
        .count();
    if weeks < DRIFT_MIN_WEEKS {
        return None;
    }
    let mut out = Vec::new();
    for phase in hour.phases.keys() {
        let Some(now) = hour.percentiles(phase).map(|p| p.p50) else {
            continue;
        };
        let mut medians: Vec<f64> = usual
            .iter()
            .filter_map(|l| l.percentiles(phase))
            .filter(|p| p.samples >= DRIFT_MIN_SAMPLES)
            .map(|p| p.p50)
            .collect();
        if medians.len() < DRIFT_MIN_WEEKS {
            continue;
        }
        medians.sort_by(f64::total_cmp);
        let usual = medians[medians.len() / 2];
        // A phase of a millisecond or two drifts on noise alone.
        if usual > 0.0 && now >= 5.0 && now >= factor * usual {
            out.push((phase.clone(), now, usual));
        }
    }
    Some(out)
}
