//! The status site's objects (`atalaya_status`) published where people read them: a folder
//! (the local runner, `atalaya status-page build`) or an S3 bucket behind CloudFront (the alert
//! function). Only objects whose bytes changed are written, and objects the site no longer has
//! are deleted; each place remembers what it holds by content fingerprints.

mod s3;

pub use s3::S3Site;

use atalaya_status::Object;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("status site: {0}")]
pub struct SiteError(pub String);

/// Objects written at once.
const IN_FLIGHT: usize = 16;

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
    publish_scoped(site, objects, |_| true).await
}

/// [`publish`] for a build of part of the site: only paths `in_scope` may be deleted, and what
/// the site holds outside it is kept as it is.
pub async fn publish_scoped<T: Site>(
    site: &T,
    objects: &[Object],
    in_scope: impl Fn(&str) -> bool,
) -> Result<Published, SiteError> {
    let before = site.fingerprints().await?;
    let mut after: BTreeMap<String, String> = before
        .iter()
        .filter(|(p, _)| !in_scope(p))
        .map(|(p, f)| (p.clone(), f.clone()))
        .collect();
    let mut out = Published::default();
    let mut changed = Vec::new();
    for o in objects {
        let f = fingerprint(&o.body);
        if before.get(&o.path) == Some(&f) {
            out.unchanged += 1;
        } else {
            changed.push(o);
        }
        after.insert(o.path.clone(), f);
    }
    // Several at once: a first publish of a large site is thousands of objects.
    use futures::StreamExt;
    let puts: Vec<Result<String, SiteError>> = futures::stream::iter(
        changed
            .into_iter()
            .map(|o| async move { site.put(o).await.map(|_| o.path.clone()) }),
    )
    .buffer_unordered(IN_FLIGHT)
    .collect()
    .await;
    for p in puts {
        out.written.push(p?);
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

/// The file in the folder that lists what the site wrote (paths and fingerprints).
pub const MANIFEST: &str = ".atalaya-site.json";

impl Folder {
    /// The paths the site wrote, as its manifest lists them (none when there is no manifest):
    /// what may be served from the folder, and nothing else in it.
    pub fn written(&self) -> std::collections::BTreeSet<String> {
        std::fs::read_to_string(self.root.join(MANIFEST))
            .ok()
            .and_then(|s| serde_json::from_str::<BTreeMap<String, String>>(&s).ok())
            .map(|m| m.into_keys().collect())
            .unwrap_or_default()
    }

    fn path(&self, rel: &str) -> Result<PathBuf, SiteError> {
        // Paths are the builder's own (slugs and ids are checked), but never leave the folder.
        if rel
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(SiteError(format!("refusing the path {rel:?}")));
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
        let err = |e: std::io::Error| SiteError(format!("{}: {e}", path.display()));
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
            Err(e) => Err(SiteError(format!("{}: {e}", path.display()))),
        }
    }

    async fn remember(&self, f: &BTreeMap<String, String>) -> Result<(), SiteError> {
        let body = serde_json::to_vec_pretty(f).unwrap_or_default();
        std::fs::create_dir_all(&self.root)
            .and_then(|_| std::fs::write(self.root.join(MANIFEST), body))
            .map_err(|e| SiteError(format!("{}: {e}", self.root.display())))
    }
}
