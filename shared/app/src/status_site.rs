//! The status site from a store: read what the pages show (state, incidents of the last 90
//! days with their customer messages, each service's hours); `atalaya_notify::site` publishes
//! the objects whose bytes changed (a folder, S3).

use atalaya_core::evaluate::Audience;
use atalaya_core::Config;
pub use atalaya_notify::site::{publish, Folder, Published, S3Site, Site};
use atalaya_status::{build, Input, Object};
use atalaya_store::{Rollups, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;

/// Builds the whole site from what `store` holds at `now`.
pub async fn site<S: Store + Rollups>(
    store: &S,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<Object>, SiteError> {
    let state = store.load_state().await?.state;
    let since = now - TimeDelta::days(atalaya_status::model::DAYS + 1);
    let incidents: Vec<_> = store
        .incidents(false)
        .await?
        .into_iter()
        .filter(|i| i.is_open() || i.resolved_at.is_some_and(|r| r >= since))
        .collect();
    let messages = customer_messages(store, &incidents).await?;
    let mut hours = BTreeMap::new();
    for s in &config.services {
        hours.insert(s.id.clone(), store.service_hours(&s.id, since, now).await?);
    }
    build(&Input {
        config,
        state: &state,
        incidents: &incidents,
        messages: &messages,
        hours: &hours,
        now,
    })
    .map_err(SiteError::Build)
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
    Publish(#[from] atalaya_notify::site::SiteError),
}
