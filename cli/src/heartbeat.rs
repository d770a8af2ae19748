//! Heartbeats on the local runner: the ping endpoint `atalaya run --listen` serves
//! (`/ping/<token>`, `/start`, `/fail`, `/<exit status>`), the key tokens are derived from (a
//! reference in the file, else a key file next to the database), and `atalaya heartbeat url`.

use atalaya_app::heartbeat::{self, Tokens};
use atalaya_core::email::Key;
use atalaya_core::kinds::heartbeat::{Endpoint as Availability, MAX_BODY};
use atalaya_core::kinds::CheckKind;
use atalaya_core::{Config, ProbeResult};
use atalaya_store::SqliteStore;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum HeartbeatCommand {
    /// Print a heartbeat check's ping URL: its token (its own reference, or derived from
    /// settings.heartbeats.key; locally from the key file next to the database) under
    /// --base, settings.heartbeats.url or the local runner's address.
    #[command(
        after_help = "Examples:\n  atalaya heartbeat url nightly-backup --checks checks.yaml\n  curl -fsS -m 10 --retry 5 \"$(atalaya heartbeat url nightly-backup --checks checks.yaml)\"\n  atalaya heartbeat url nightly-backup --checks checks.yaml --base https://abc.lambda-url.eu-west-1.on.aws"
    )]
    Url {
        /// The heartbeat check's id.
        check: String,
        /// The checks file (YAML), as every command that takes one names it (`--file` works
        /// too).
        #[arg(long = "checks", alias = "file", default_value = "checks.yaml")]
        file: PathBuf,
        /// The local runner's database (its key file derives tokens when the file has no
        /// settings.heartbeats.key).
        #[arg(long, default_value = "atalaya.db")]
        db: PathBuf,
        /// The ping endpoint's address (the stack's PingUrl output on AWS).
        #[arg(long)]
        base: Option<String>,
    },
}

/// Runs `atalaya heartbeat …`.
pub fn command(action: HeartbeatCommand) -> anyhow::Result<std::process::ExitCode> {
    match action {
        HeartbeatCommand::Url {
            check,
            file,
            db,
            base,
        } => {
            url(&file, &db, &check, base.as_deref())?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// The largest ping body read (the first [`MAX_BODY`] of it is kept); larger is refused.
const MAX_READ: usize = 100 * 1024;

/// The key file of a database: `<db>.heartbeat-key`.
pub fn key_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".heartbeat-key");
    PathBuf::from(name)
}

/// The key heartbeat tokens are derived from, when a heartbeat has no token of its own.
pub async fn key(config: &Config, db: &Path) -> anyhow::Result<Option<Key>> {
    let derived = heartbeat::heartbeats(config).any(|(_, h)| h.token.is_none());
    if !derived {
        return Ok(None);
    }
    crate::mail::key_at(
        config.settings.heartbeats.key.as_ref(),
        "settings.heartbeats.key",
        &key_file(db),
        "heartbeat key",
    )
    .await
    .map(Some)
}

/// The ping endpoint, served by the runner's listener.
pub struct PingEndpoint {
    pub store: Arc<SqliteStore>,
    pub config: Arc<Config>,
    pub tokens: Arc<Tokens>,
    /// When the listener started taking pings.
    pub since: DateTime<Utc>,
    /// Each ping's judgement goes to the runner, evaluated with its round.
    pub results: tokio::sync::mpsc::UnboundedSender<ProbeResult>,
}

fn respond(status: u16, text: String, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text + "\n")));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    if let Some(s) = retry_after {
        h.insert(hyper::header::RETRY_AFTER, s.into());
    }
    r
}

/// A ping: any method (`curl -fsS -m 10 --retry 5 URL`, or a POST with the job's output).
pub async fn answer(ep: &PingEndpoint, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let body = Limited::new(req.into_body(), MAX_READ).collect();
    let body = match tokio::time::timeout(crate::listen::BODY_TIMEOUT, body).await {
        Ok(Ok(b)) => b.to_bytes(),
        Err(_) => {
            return respond(
                408,
                format!(
                    "the body did not arrive within {} s",
                    crate::listen::BODY_TIMEOUT.as_secs()
                ),
                None,
            )
        }
        Ok(Err(_)) => {
            return respond(
                413,
                format!(
                    "the body is over {} KB (the first {} KB of a body is kept)",
                    MAX_READ / 1024,
                    MAX_BODY / 1024
                ),
                None,
            )
        }
    };
    match heartbeat::receive(
        &*ep.store,
        &ep.config,
        &ep.tokens,
        &path,
        &body,
        Utc::now(),
        Availability::AvailableSince(ep.since),
    )
    .await
    {
        Ok(received) => {
            if let Some(result) = received.result {
                let _ = ep.results.send(result);
            }
            respond(received.status, received.message, received.retry_after)
        }
        Err(e) => {
            eprintln!("warning: a ping could not be kept: {e}");
            respond(
                503,
                "the ping could not be kept; send it again".into(),
                Some(5),
            )
        }
    }
}

/// `atalaya heartbeat url CHECK`: the check's ping URL, from the checks file (and, for a
/// derived token locally, the key file of the database).
pub fn url(file: &Path, db: &Path, check: &str, base: Option<&str>) -> anyhow::Result<()> {
    let config = atalaya_app::Checks::load(file, atalaya_core::Target::Local)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .config;
    let Some(c) = config.check(check) else {
        anyhow::bail!("{}: no check {check}", file.display());
    };
    let CheckKind::Heartbeat(h) = &c.kind else {
        anyhow::bail!(
            "{}: check {check} is a {} check, not a heartbeat",
            file.display(),
            c.kind.name()
        );
    };
    let runtime = atalaya_probe::runtime()?;
    let token = runtime.block_on(async {
        let (key, resolved) = match &h.token {
            None => (key(&config, db).await?, None),
            Some(t) => (
                None,
                Some(atalaya_aws::references::resolve(t, &crate::mail::sdk().await).await),
            ),
        };
        heartbeat::token_of(c, h, key.as_ref(), resolved.as_ref())
            .map_err(|e| anyhow::anyhow!("check {check}: {e}"))
    })?;
    let base = base
        .map(str::to_string)
        .or_else(|| config.settings.heartbeats.url.clone())
        .unwrap_or_else(|| format!("http://{}", crate::mail::DEFAULT_LISTEN));
    let u = heartbeat::url(&base, &token);
    println!("{u}");
    eprintln!(
        "{check}: {}, grace {}; ping this URL when a run succeeds; add /start when one begins, /fail or /<exit status> when one ends",
        h.schedule.describe(),
        atalaya_core::duration::format_duration(h.grace),
    );
    Ok(())
}
