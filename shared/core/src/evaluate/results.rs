//! Applying new results: per check and region, soft and hard states.

use super::state::{CheckRegion, RegionFault};
use super::{before, flapping, Evaluator};
use crate::result::{Outcome, ProbeResult};

impl Evaluator<'_> {
    pub(super) fn apply_results(&mut self, results: &[ProbeResult]) {
        let mut sorted: Vec<&ProbeResult> = results.iter().collect();
        sorted.sort_by(|a, b| (a.at, &a.check, &a.region).cmp(&(b.at, &b.check, &b.region)));
        for r in sorted {
            if r.at > self.now {
                continue;
            }
            // A region that reports is alive, whatever check the result is about (a partition
            // of the state hears every region's results: `crate::partition`).
            if self.config.settings.regions.contains(&r.region)
                && r.at >= before(self.now, self.region_interval(&r.region) * 3)
            {
                let region = self.state.regions.entry(r.region.clone()).or_default();
                region.last_seen = Some(region.last_seen.map_or(r.at, |s| s.max(r.at)));
            }
            let Some(check) = self.config.check(&r.check) else {
                continue;
            };
            if !check.regions.contains(&r.region) {
                continue;
            }
            // Stale: older than three intervals; it says nothing about now.
            if r.at < before(self.now, check.stale_after) {
                continue;
            }
            let cs = self.state.checks.entry(r.check.clone()).or_default();
            cs.every_s = check.interval.as_secs();
            let cr = cs
                .regions
                .entry(r.region.clone())
                .or_insert_with(CheckRegion::new);
            if r.at <= cr.newest() {
                continue; // duplicate or out of order
            }
            if !r.is_real() {
                // The monitor could not do its job: nothing is learnt about the target, and
                // this region cannot see the check until a real result comes.
                cr.fault = Some(RegionFault {
                    at: r.at,
                    reason: r.reason,
                    detail: r.detail.clone(),
                });
                continue;
            }
            cr.fault = None;
            cr.last_at = r.at;
            if check.expect.cert_warn_before.is_some() {
                cr.cert_days = r.cert_days_left;
            }
            let ok = r.outcome != Outcome::Down;
            if ok {
                // Counted up to what recovery needs: a steady check stops changing its state.
                cr.oks = (cr.oks + 1).min(check.recover_after.max(1));
                cr.fails = 0;
                if cr.hard_down && cr.oks >= check.recover_after {
                    cr.hard_down = false;
                }
                if !cr.hard_down {
                    cr.failing_since = None;
                }
            } else {
                cr.fails += 1;
                cr.oks = 0;
                cr.failing_since.get_or_insert(r.at);
                if cr.fails >= check.retries {
                    cr.hard_down = true;
                }
            }
            cr.outcome = r.outcome;
            cr.reason = r.reason;
            cr.detail = r.detail.clone();
            cr.latency_ms = r.latency_ms;
            flapping::record(&mut cr.history, ok);
        }
    }
}
