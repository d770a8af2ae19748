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

/// What the pages depend on that a round can change: each check's verdict, each incident's
/// phase and number of messages, the maintenance windows in force, and the hour (the bars). The
/// runner rebuilds the site only when it differs from the last rebuild's.
pub fn signature(
    state: &atalaya_core::evaluate::State,
    config: &Config,
    now: chrono::DateTime<Utc>,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (id, c) in &state.checks {
        (id, c.verdict.as_str()).hash(&mut h);
    }
    for (id, i) in &state.incidents {
        (id, i.phase.as_str(), i.timeline.len()).hash(&mut h);
    }
    for s in &config.services {
        for m in s
            .maintenance
            .iter()
            .filter(|m| m.start <= now && now < m.end)
        {
            (&s.id, m.start).hash(&mut h);
        }
    }
    now.timestamp().div_euclid(3600).hash(&mut h);
    h.finish()
}

/// A file of the site for a request path, or `None` (not found, or not a path of the site).
pub fn file_for(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel
        .split('/')
        .any(|p| p == ".." || p == "." || p.starts_with('.') || p.contains('\\'))
    {
        return None;
    }
    let file = if rel.is_empty() || rel.ends_with('/') {
        root.join(rel).join("index.html")
    } else {
        root.join(rel)
    };
    file.is_file().then_some(file)
}

/// The content type and cache header a file of the site is served with (as on S3).
pub fn headers_for(file: &Path) -> (&'static str, &'static str) {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let asset = file
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "assets");
    let cache = if asset {
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
