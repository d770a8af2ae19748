//! Customer email for the local runner and the subscriber commands: the email channel built from
//! `settings.brand` and `settings.email` — SMTP when `settings.email.smtp` is set, else `.eml`
//! files in a folder — with the key that signs subscribers' links (a reference from the file,
//! else a key file kept next to the database).

use anyhow::Context;
use atalaya_app::EmailChannel;
use atalaya_core::email::Key;
use atalaya_core::{Config, EnvTemplate};
use atalaya_notify::email::{Templates, Transport};
use atalaya_store::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the pages are served when neither `settings.email.pages_url` nor `--listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8088";

/// The AWS configuration the CLI reads references with: the usual credentials, AWS_REGION (or
/// AWS_DEFAULT_REGION, else us-east-1), AWS_ENDPOINT_URL (tests).
pub async fn sdk() -> aws_config::SdkConfig {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    atalaya_aws::sdk_config(&region, endpoint.as_deref()).await
}

/// Fills a setting's references: `${env:…}` from the environment, `${ssm:…}`/`${secret:…}` from
/// AWS (the usual credentials, AWS_REGION). Never prints a value.
pub async fn resolve(t: &EnvTemplate, what: &str) -> anyhow::Result<String> {
    atalaya_aws::references::resolve(t, &sdk().await)
        .await
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

/// The key file of a database: `<db>.email-key`.
pub fn key_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".email-key");
    PathBuf::from(name)
}

/// The signing key: the file's reference, else the key file next to the database (made, from
/// the system's random source and readable by its owner only, when there is none).
pub async fn key(config: &Config, db: &Path) -> anyhow::Result<Key> {
    key_at(
        config.settings.email.key.as_ref(),
        "settings.email.key",
        &key_file(db),
        "email key",
    )
    .await
}

/// A key: `reference` read (named `what` in errors), else the key file `path` (made, from the
/// system's random source and readable by its owner only, when there is none).
pub async fn key_at(
    reference: Option<&EnvTemplate>,
    what: &str,
    path: &Path,
    noun: &str,
) -> anyhow::Result<Key> {
    if let Some(t) = reference {
        let text = resolve(t, what).await?;
        return Key::from_text(&text).map_err(|e| anyhow::anyhow!("{what}: {e}"));
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Key::from_text(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Read;
            let mut bytes = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .with_context(|| format!("reading the system's random source for the {noun}"))?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            write_private(path, &hex)
                .with_context(|| format!("writing the {noun} {}", path.display()))?;
            Key::from_text(&hex).map_err(|e| anyhow::anyhow!("{e}"))
        }
        Err(e) => Err(e).with_context(|| format!("reading the {noun} {}", path.display())),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// Where mail goes: the SMTP server (its private certificate authority, if any, relative to
/// `base`, the checks file's folder), else the folder (`settings.email.folder`, relative to the
/// database's folder; default `mail`).
pub async fn transport(config: &Config, base: &Path, db: &Path) -> anyhow::Result<Transport> {
    match &config.settings.email.smtp {
        Some(t) => {
            let url = resolve(t, "settings.email.smtp").await?;
            let ca = match &config.settings.email.smtp_ca {
                Some(file) => {
                    let path = base.join(file);
                    Some(std::fs::read(&path).with_context(|| {
                        format!("settings.email.smtp_ca: reading {}", path.display())
                    })?)
                }
                None => None,
            };
            Transport::smtp(&url, ca.as_deref())
                .map_err(|e| anyhow::anyhow!("settings.email.smtp: {e}"))
        }
        None => {
            let dir = db.parent().unwrap_or(Path::new("."));
            let folder = config.settings.email.folder.as_deref().unwrap_or("mail");
            Ok(Transport::folder(dir.join(folder)))
        }
    }
}

/// The pages' address: `settings.email.pages_url`, else the runner's `--listen` address.
pub fn pages_url(config: &Config, listen: Option<&str>) -> String {
    config
        .settings
        .email
        .pages_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", listen.unwrap_or(DEFAULT_LISTEN)))
}

/// The email channel (its own connection to the database at `db`), or `None` when the file has
/// no brand (no customer email).
pub async fn channel(
    config: &Config,
    base: &Path,
    db: &Path,
    listen: Option<&str>,
) -> anyhow::Result<Option<EmailChannel<SqliteStore>>> {
    if config.settings.brand.is_none()
        && !config
            .customers
            .iter()
            .any(|c| config.brand_for(&c.id).is_some())
    {
        return Ok(None);
    }
    let templates = Templates::new(config, base).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store =
        Arc::new(SqliteStore::open(db).with_context(|| format!("opening {}", db.display()))?);
    Ok(Some(EmailChannel::new(
        store,
        Arc::new(config.clone()),
        templates,
        key(config, db).await?,
        &pages_url(config, listen),
        transport(config, base, db).await?,
    )))
}
