//! The status site from a store: read what the pages show (state, incidents of the last 90
//! days with their customer messages, each service's hours); `atalaya_notify::status_site` publishes
//! the objects whose bytes changed (a folder, S3).

use atalaya_core::evaluate::Audience;
use atalaya_core::Config;
pub use atalaya_notify::status_site::{publish, publish_scoped, Folder, Published, S3Site, Site};
use atalaya_status::{build, Input, Object};
use atalaya_store::{Rollups, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;

/// Builds the site from what `store` holds at `now`: the whole of it, or (`only`) these
/// customers' pages and the public page if one of them has a public service.
pub async fn site<S: Store + Rollups>(
    store: &S,
    config: &Config,
    now: DateTime<Utc>,
    only: Option<&std::collections::BTreeSet<String>>,
) -> Result<Vec<Object>, SiteError> {
    let since = now - TimeDelta::days(atalaya_status::model::DAYS + 1);
    let incidents: Vec<_> = store
        .incidents(false)
        .await?
        .into_iter()
        .filter(|i| i.is_open() || i.resolved_at.is_some_and(|r| r >= since))
        .collect();
    let messages = customer_messages(store, &incidents).await?;
    // The services on the pages rebuilt; their bars 16 at a time (90 days: one BatchGetItem).
    let public = atalaya_status::public_rebuilt(config, only);
    let wanted: Vec<&atalaya_core::Service> = config
        .services
        .iter()
        .filter(|s| only.is_none_or(|o| o.contains(&s.customer)) || (public && s.public))
        .collect();
    let state = state_of(store, config, &wanted).await?;
    let wanted = wanted.into_iter();
    use futures::StreamExt;
    let read: Vec<Result<(String, atalaya_core::rollup::Hours), StoreError>> =
        futures::stream::iter(wanted.map(|s| async move {
            Ok((s.id.clone(), store.service_hours(&s.id, since, now).await?))
        }))
        .buffer_unordered(16)
        .collect()
        .await;
    let hours: BTreeMap<String, atalaya_core::rollup::Hours> =
        read.into_iter().collect::<Result<_, _>>()?;
    build(&Input {
        config,
        state: &state,
        incidents: &incidents,
        messages: &messages,
        hours: &hours,
        now,
        only,
    })
    .map_err(SiteError::Build)
}

/// The engine's state as far as these services go: the one document, or, split into partitions
/// (the alert function's), the partitions that hold them with the regions' (when each region
/// was last heard), read 16 at a time.
async fn state_of<S: Store>(
    store: &S,
    config: &Config,
    services: &[&atalaya_core::Service],
) -> Result<atalaya_core::evaluate::State, StoreError> {
    let n = store.partitions();
    if n <= 1 {
        return Ok(store.load_state().await?.state);
    }
    let plan = atalaya_core::partition::Plan::of(config, n);
    let keys: std::collections::BTreeSet<&str> = services
        .iter()
        .filter_map(|s| plan.of_service(&s.id))
        .map(|p| p.key.as_str())
        .collect();
    let mut state = store.load_part(&plan.regions.key).await?.state;
    use futures::StreamExt;
    let parts: Vec<Result<atalaya_store::Versioned, StoreError>> =
        futures::stream::iter(keys.into_iter().map(|k| store.load_part(k)))
            .buffer_unordered(16)
            .collect()
            .await;
    for part in parts {
        let part = part?.state;
        state.checks.extend(part.checks);
        state.incidents.extend(part.incidents);
    }
    Ok(state)
}

/// The messages the customers of these incidents were sent (their timelines name them).
pub async fn customer_messages<S: Store>(
    store: &S,
    incidents: &[atalaya_core::evaluate::Incident],
) -> Result<Vec<atalaya_core::Message>, StoreError> {
    let ids: Vec<String> = incidents
        .iter()
        .flat_map(|i| &i.timeline)
        .filter(|e| e.audience == Audience::Customers)
        .map(|e| e.event.clone())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    store.messages(&ids).await
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("status site: {0}")]
    Build(String),
    #[error(transparent)]
    Publish(#[from] atalaya_notify::status_site::SiteError),
}

/// What each of `config`'s services shows on its status pages, as a fingerprint: its checks'
/// verdicts, the incidents that touch it (phase, how many updates), its maintenance in force,
/// and the hour (the bars run to the start of the current hour). A page is rebuilt when the
/// fingerprint of one of its services changes, or when hours were written for it.
pub fn signatures(
    state: &atalaya_core::evaluate::State,
    config: &Config,
    now: DateTime<Utc>,
) -> BTreeMap<String, u64> {
    use std::hash::{Hash, Hasher};
    let hour = now.timestamp().div_euclid(3600);
    config
        .services
        .iter()
        .map(|s| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            hour.hash(&mut h);
            for c in config.checks.iter().filter(|c| c.service == s.id) {
                let verdict = state.checks.get(&c.id).map(|c| c.verdict.as_str());
                (&c.id, verdict).hash(&mut h);
            }
            for i in state
                .incidents
                .values()
                .filter(|i| i.service == s.id || i.affected.contains(&s.id))
            {
                (&i.id, i.phase.as_str(), i.timeline.len()).hash(&mut h);
            }
            for m in s
                .maintenance
                .iter()
                .filter(|m| m.start <= now && now < m.end)
            {
                m.start.hash(&mut h);
            }
            (s.id.clone(), h.finish())
        })
        .collect()
}
