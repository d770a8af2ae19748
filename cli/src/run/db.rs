//! The runner's database as the other commands find it, and what it keeps private.

use super::RunOptions;
use anyhow::Context;
use atalaya_app::Checks;
use atalaya_core::Config;
use atalaya_store::SqliteStore;
use std::path::{Path, PathBuf};

/// What the runner keeps that nobody else may read: a site folder must not hold any of it.
pub(super) fn private_files(opts: &RunOptions, config: &Config) -> Vec<(&'static str, PathBuf)> {
    let with = |suffix: &str| {
        let mut name = opts.db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let db_dir = opts.db.parent().unwrap_or(Path::new("."));
    vec![
        ("the database", opts.db.clone()),
        ("the database's log", with("-wal")),
        ("the email key", crate::mail::key_file(&opts.db)),
        ("the heartbeat key", crate::heartbeat::key_file(&opts.db)),
        ("the checks file", opts.file.clone()),
        ("the outbox", opts.outbox.clone()),
        (
            "the customers' mail",
            db_dir.join(config.settings.email.folder.as_deref().unwrap_or("mail")),
        ),
    ]
}

/// Opens (creating if needed) the database at `db` for the checks file `file`, recording it as
/// the runner does (the subscriber commands may come before the first run).
pub fn open_db_for(db: &Path, file: &Path) -> anyhow::Result<(SqliteStore, Checks, PathBuf)> {
    let text = atalaya_app::checks::read(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = std::fs::canonicalize(file)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let checks = Checks::from_text(
        &text,
        &file.display().to_string(),
        &base,
        atalaya_core::Target::Local,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .localized();
    let store = SqliteStore::open(db).with_context(|| format!("opening {}", db.display()))?;
    store.set_meta("checks_file", &file.display().to_string())?;
    store.set_meta("checks_dir", &base.display().to_string())?;
    store.set_meta("checks_text", &text)?;
    let outbox = PathBuf::from(
        store
            .meta("outbox")?
            .unwrap_or_else(|| "outbox.jsonl".into()),
    );
    Ok((store, checks, outbox))
}

/// Opens the runner's database with the checks file it ran with: the store, the checks (with
/// their templates), and the outbox's path.
pub fn open_db(db: &Path) -> anyhow::Result<(SqliteStore, Checks, PathBuf)> {
    if !db.exists() {
        anyhow::bail!(
            "no database at {}: start `atalaya run FILE` first (or pass --db)",
            db.display()
        );
    }
    let store = SqliteStore::open(db)?;
    let text = store
        .meta("checks_text")?
        .context("the database has no checks file yet: run `atalaya run FILE` first")?;
    let name = store
        .meta("checks_file")?
        .unwrap_or_else(|| "checks.yaml".into());
    let outbox = PathBuf::from(
        store
            .meta("outbox")?
            .unwrap_or_else(|| "outbox.jsonl".into()),
    );
    let base = PathBuf::from(store.meta("checks_dir")?.unwrap_or_else(|| ".".into()));
    let checks = Checks::from_text(&text, &name, &base, atalaya_core::Target::Local)
        .map_err(|e| anyhow::anyhow!("the stored checks file no longer loads:\n{e}"))?
        .localized();
    Ok((store, checks, outbox))
}

/// One runner per database: an exclusive lock on `<db>.lock`, held while the runner runs (the
/// system lets it go when the process ends, however it ends). A second runner on the same
/// database would judge the same checks twice and race the first on every message.
pub fn lock(db: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "{}", std::process::id())?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            anyhow::bail!(
                "another `atalaya run` (pid {}) is using {}: stop it first, or give this one its own --db",
                pid.trim(),
                db.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}
