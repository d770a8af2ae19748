//! Latency drift (`expect.latency.drift`), judged once an hour by whoever evaluates (the local
//! runner, the alert function): each drift check's last hour in each region against the same
//! hour of the week over the last [`WEEKS`] weeks, from the rollups (`Rollups::detail`: the
//! runner's own, the rollup job's on AWS). What it finds goes into the checks' state
//! (`CheckState.drift`); the engine's early warnings tell operators (`evaluate/early.rs`).

use crate::Checks;
use atalaya_core::config::Config;
use atalaya_core::evaluate::{DriftSeen, State};
use atalaya_core::rollup::{check_key, drift, Latency};
use atalaya_store::{Rollups, StoreError};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::BTreeMap;

/// Weeks of the same hour that make the usual.
pub const WEEKS: i64 = 4;

/// Found drift, by check, then region.
pub type Seen = BTreeMap<String, BTreeMap<String, DriftSeen>>;

/// Each drift check's `hour` in each of its regions against its usual. A check-region with too
/// little to say (no rollups yet, a new check) is left out. The flag says whether the hour's
/// rollups were there at all (on AWS the rollup job writes them a few minutes after it ends):
/// without them, nothing was judged and the weeks before were not read.
pub async fn seen<S: Rollups>(
    store: &S,
    config: &Config,
    hour: DateTime<Utc>,
) -> Result<(Seen, bool), StoreError> {
    let mut out = Seen::new();
    let mut present = false;
    for service in &config.services {
        let checks: Vec<_> = config
            .checks
            .iter()
            .filter(|c| c.service == service.id && c.expect.latency_drift.is_some())
            .collect();
        if checks.is_empty() {
            continue;
        }
        let subjects: Vec<String> = checks
            .iter()
            .flat_map(|c| c.regions.iter().map(|r| check_key(&c.id, r)))
            .collect();
        let to = hour + TimeDelta::hours(1);
        let now = store.detail(&service.id, &subjects, hour, to).await?;
        if now.latency.is_empty() {
            continue;
        }
        present = true;
        let mut usual = Vec::new();
        for w in 1..=WEEKS {
            let back = TimeDelta::weeks(w);
            usual.push(
                store
                    .detail(&service.id, &subjects, hour - back, to - back)
                    .await?,
            );
        }
        for c in checks {
            let factor = c.expect.latency_drift.unwrap_or(2.0);
            for region in &c.regions {
                let key = check_key(&c.id, region);
                let Some(current) = now.latency.get(&key) else {
                    continue;
                };
                let weeks: Vec<Latency> = usual
                    .iter()
                    .filter_map(|d| d.latency.get(&key).cloned())
                    .collect();
                if let Some(phases) = drift(current, &weeks, factor) {
                    out.entry(c.id.clone())
                        .or_default()
                        .insert(region.clone(), DriftSeen { hour, phases });
                }
            }
        }
    }
    Ok((out, present))
}

/// The hour to judge at `now` (the one just over), if this process has not judged it yet, with
/// what it found; nothing to do otherwise. A failure to read is logged and tried next time.
pub async fn due<S: Rollups>(store: &S, checks: &Checks, now: DateTime<Utc>) -> Seen {
    if !checks
        .config
        .checks
        .iter()
        .any(|c| c.expect.latency_drift.is_some())
    {
        return Seen::new();
    }
    let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now) - TimeDelta::hours(1);
    {
        let judged = checks.drift_hour.lock().unwrap_or_else(|p| p.into_inner());
        if *judged == Some(hour) {
            return Seen::new();
        }
    }
    match seen(store, &checks.config, hour).await {
        // The hour's rollups are not there yet: the next evaluation asks again (one read per
        // drift service, not five).
        Ok((found, false)) => found,
        // Judged, whatever was found (too little history is an answer too): not again this
        // hour.
        Ok((found, true)) => {
            *checks.drift_hour.lock().unwrap_or_else(|p| p.into_inner()) = Some(hour);
            found
        }
        Err(e) => {
            tracing::warn!(error = %e, %hour, "latency drift could not be judged; tried again at the next evaluation");
            Seen::new()
        }
    }
}

/// Puts what was found into the state, for the checks `config` holds (a partition's).
pub fn apply(state: &mut State, seen: &Seen, config: &Config) {
    for (check, regions) in seen {
        if config.check(check).is_none() {
            continue;
        }
        let cs = state.checks.entry(check.clone()).or_default();
        for (region, d) in regions {
            cs.drift.insert(region.clone(), d.clone());
        }
    }
}
