//! `atalaya status-page build FILE --out DIR` and the runner's `--status-page DIR`: the status
//! site (`atalaya_status`) from the local runner's database, written to a folder (only the files
//! whose bytes changed), and served by `--listen` beside the subscribers' pages.

use anyhow::Context;
use atalaya_app::status_site::{publish, site, Folder, Published};
use atalaya_core::Config;
use atalaya_store::SqliteStore;
use chrono::Utc;
use std::path::{Path, PathBuf};

/// Builds the site into `out` and says what it wrote.
pub fn build(file: &Path, db: &Path, out: &Path) -> anyhow::Result<std::process::ExitCode> {
    let checks = atalaya_app::Checks::load(file, atalaya_core::Target::Local)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !db.exists() {
        anyhow::bail!(
            "no database at {}: the site is built from what `atalaya run` recorded (run it first, or pass --db)",
            db.display()
        );
    }
    // The folder is for publishing: nothing private goes in it.
    refuse_private(
        out,
        &[
            ("the database", db.to_path_buf()),
            ("the email key", crate::mail::key_file(db)),
            ("the heartbeat key", crate::heartbeat::key_file(db)),
            ("the checks file", file.to_path_buf()),
        ],
        "--out",
    )?;
    let store = SqliteStore::open(db).with_context(|| format!("opening {}", db.display()))?;
    let p = crate::store::runtime()?.block_on(rebuild(&store, &checks.config, out))?;
    eprintln!(
        "atalaya: status site in {}: {} written, {} unchanged, {} removed",
        out.display(),
        p.written.len(),
        p.unchanged,
        p.deleted.len()
    );
    for c in &checks.config.customers {
        eprintln!("  {}: {}/index.html", c.id, out.join(&c.slug).display());
    }
    if checks.config.services.iter().any(|s| s.public) {
        eprintln!("  public: {}/index.html", out.display());
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Builds the site from `store` and writes what changed to the folder `out`.
pub async fn rebuild(
    store: &SqliteStore,
    config: &Config,
    out: &Path,
) -> anyhow::Result<Published> {
    let objects = site(store, config, Utc::now(), None).await?;
    Ok(publish(
        &Folder {
            root: out.to_path_buf(),
        },
        &objects,
    )
    .await?)
}

/// The site's folder as the listener serves it: only what the site's build wrote (its
/// manifest), never another file that happens to be in the folder (a database, a key, the
/// checks file). The manifest is read again when it changes.
pub struct Served {
    folder: Folder,
    written: std::sync::Mutex<(
        Option<std::time::SystemTime>,
        std::collections::BTreeSet<String>,
    )>,
}

impl Served {
    pub fn new(root: PathBuf) -> Served {
        Served {
            folder: Folder { root },
            written: Default::default(),
        }
    }

    /// Whether the site wrote `rel` (a path in the folder).
    fn wrote(&self, rel: &str) -> bool {
        let modified =
            std::fs::metadata(self.folder.root.join(atalaya_notify::status_site::MANIFEST))
                .and_then(|m| m.modified())
                .ok();
        let Ok(mut cache) = self.written.lock() else {
            return false;
        };
        if cache.0 != modified || modified.is_none() {
            *cache = (modified, self.folder.written());
        }
        cache.1.contains(rel)
    }

    /// The file of the site for a request path, or `None` (not found, not a path of the site,
    /// or not written by the site).
    pub fn file_for(&self, path: &str) -> Option<PathBuf> {
        let rel = site_path(path)?;
        let rel = if rel.is_empty() || rel.ends_with('/') {
            format!("{rel}index.html")
        } else {
            rel.to_string()
        };
        let file = self.folder.root.join(&rel);
        (self.wrote(&rel) && file.is_file()).then_some(file)
    }
}

/// A request path as a path in the site's folder (without its leading `/`), or `None` when it
/// is not one: `//` (a protocol-relative address), `.`/`..` segments, hidden names, `\`.
pub fn site_path(path: &str) -> Option<&str> {
    let rel = path.strip_prefix('/')?;
    let segments: Vec<&str> = rel.split('/').collect();
    let last = segments.len() - 1;
    let bad = segments
        .iter()
        .enumerate()
        .any(|(i, p)| (p.is_empty() && i != last) || p.starts_with('.') || p.contains('\\'));
    (!bad).then_some(rel)
}

/// A site folder may not hold what the runner keeps private (its database, its keys, the
/// checks file, its outbox and mail): a listener serving it would hand them out.
/// `flag` names the folder's option in errors.
pub fn refuse_private(site: &Path, private: &[(&str, PathBuf)], flag: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(site).with_context(|| format!("{flag} {}", site.display()))?;
    let root = std::fs::canonicalize(site)?;
    for (what, path) in private {
        let full = match std::fs::canonicalize(path) {
            Ok(p) => p,
            // Not made yet: where it will be.
            Err(_) => match (path.parent(), path.file_name()) {
                (Some(dir), Some(name)) => std::fs::canonicalize(if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                })
                .map(|d| d.join(name))
                .unwrap_or_else(|_| path.clone()),
                _ => path.clone(),
            },
        };
        if full.starts_with(&root) {
            anyhow::bail!(
                "{flag} {}: the folder holds {what} ({}); a status site is for anyone to read, so give it a folder of its own (e.g. {flag} site)",
                site.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// The content type and cache header a file of the site is served with (as on S3).
pub fn headers_for(file: &Path) -> (&'static str, &'static str) {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let asset = file
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "assets");
    let live = file.file_name().is_some_and(|f| f == atalaya_status::LIVE);
    let cache = if live {
        atalaya_status::Cache::Live.header()
    } else if asset {
        atalaya_status::Cache::Asset.header()
    } else {
        atalaya_status::Cache::Status.header()
    };
    let kind = match ext {
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "atom" => "application/atom+xml; charset=utf-8",
        "svg" => "image/svg+xml",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        _ => "application/octet-stream",
    };
    (kind, cache)
}
