//! The status site from a store: read what the pages show (state, incidents of the last 90
//! days with their customer messages, each service's hours) and publish the objects whose
//! bytes changed to a [`Site`] (a folder here; S3 in the alert function).

use atalaya_core::evaluate::Audience;
use atalaya_core::Config;
use atalaya_status::{build, Input, Object};
use atalaya_store::{Rollups, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

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
    let ids: Vec<String> = incidents
        .iter()
        .flat_map(|i| &i.timeline)
        .filter(|e| e.audience == Audience::Customers)
        .map(|e| e.event.clone())
        .collect();
    let messages = if ids.is_empty() {
        Vec::new()
    } else {
        store.messages(&ids).await?
    };
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

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("status site: {0}")]
    Build(String),
    #[error("status site: {0}")]
    Publish(String),
}

/// A content fingerprint (SHA-256, hex): what a [`Site`] remembers of each object.
pub fn fingerprint(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where a site is published.
pub trait Site {
    /// The fingerprint of each object the site holds, by path.
    fn fingerprints(&self) -> impl Future<Output = Result<BTreeMap<String, String>, SiteError>>;
    fn put(&self, object: &Object) -> impl Future<Output = Result<(), SiteError>>;
    fn delete(&self, path: &str) -> impl Future<Output = Result<(), SiteError>>;
    /// Records the fingerprints after a publish (a site that can list its own has nothing to do).
    fn remember(
        &self,
        _fingerprints: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), SiteError>> {
        async { Ok(()) }
    }
}

/// What a publish did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub written: Vec<String>,
    pub deleted: Vec<String>,
    pub unchanged: usize,
}

/// Writes the objects whose bytes changed and deletes those the site no longer has.
pub async fn publish<T: Site>(site: &T, objects: &[Object]) -> Result<Published, SiteError> {
    let before = site.fingerprints().await?;
    let mut after = BTreeMap::new();
    let mut out = Published::default();
    for o in objects {
        let f = fingerprint(&o.body);
        if before.get(&o.path) == Some(&f) {
            out.unchanged += 1;
        } else {
            site.put(o).await?;
            out.written.push(o.path.clone());
        }
        after.insert(o.path.clone(), f);
    }
    for path in before.keys().filter(|p| !after.contains_key(*p)) {
        site.delete(path).await?;
        out.deleted.push(path.clone());
    }
    if !out.written.is_empty() || !out.deleted.is_empty() {
        site.remember(&after).await?;
    }
    Ok(out)
}

/// A site in a folder (`atalaya status-page build --out DIR`, `atalaya run --status-page DIR`).
/// It remembers what it wrote in `.atalaya-site.json`, so it deletes only its own files.
pub struct Folder {
    pub root: PathBuf,
}

const MANIFEST: &str = ".atalaya-site.json";

impl Folder {
    fn path(&self, rel: &str) -> Result<PathBuf, SiteError> {
        // Paths are the builder's own (slugs and ids are checked), but never leave the folder.
        if rel
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(SiteError::Publish(format!("refusing the path {rel:?}")));
        }
        Ok(self.root.join(rel))
    }
}

impl Site for Folder {
    async fn fingerprints(&self) -> Result<BTreeMap<String, String>, SiteError> {
        let manifest: BTreeMap<String, String> =
            match std::fs::read_to_string(self.root.join(MANIFEST)) {
                Ok(s) => serde_json::from_str(&s).unwrap_or_default(),
                Err(_) => BTreeMap::new(),
            };
        // A file changed or removed by hand is written again.
        Ok(manifest
            .into_iter()
            .filter(|(p, f)| {
                self.path(p)
                    .ok()
                    .and_then(|p| std::fs::read(p).ok())
                    .is_some_and(|b| fingerprint(&b) == *f)
            })
            .collect())
    }

    async fn put(&self, o: &Object) -> Result<(), SiteError> {
        let path = self.path(&o.path)?;
        let err = |e: std::io::Error| SiteError::Publish(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        // Written beside and renamed: a reader never sees half a page.
        let tmp = path.with_extension("tmp~");
        std::fs::write(&tmp, &o.body).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)
    }

    async fn delete(&self, rel: &str) -> Result<(), SiteError> {
        let path = self.path(rel)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SiteError::Publish(format!("{}: {e}", path.display()))),
        }
    }

    async fn remember(&self, f: &BTreeMap<String, String>) -> Result<(), SiteError> {
        let body = serde_json::to_vec_pretty(f).unwrap_or_default();
        std::fs::create_dir_all(&self.root)
            .and_then(|_| std::fs::write(self.root.join(MANIFEST), body))
            .map_err(|e| SiteError::Publish(format!("{}: {e}", self.root.display())))
    }
}
