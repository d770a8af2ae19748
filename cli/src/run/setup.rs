//! What the runner opens before its first round: the checks file, the database, the channels,
//! the probe engine, the heartbeats' tokens and the listener; and what it says about them.

use super::channels::LocalChannels;
use super::RunOptions;
use anyhow::Context;
use atalaya_app::Checks;
use atalaya_core::kinds::heartbeat::Endpoint;
use atalaya_core::{Config, ProbeResult};
use atalaya_probe::{Engine, EngineOptions};
use atalaya_store::SqliteStore;
use chrono::Utc;
use std::path::Path;
use std::sync::Arc;

/// Everything a runner works with.
pub struct Setup {
    pub checks: Arc<Checks>,
    pub store: SqliteStore,
    pub channels: Arc<LocalChannels>,
    pub engine: Arc<Engine>,
    pub tokens: Arc<atalaya_app::heartbeat::Tokens>,
    /// The pings' judgements from the listener.
    pub pings: tokio::sync::mpsc::UnboundedReceiver<ProbeResult>,
    /// Whether heartbeats' pings can arrive, and since when (the listener serves on a thread
    /// of its own until the process ends).
    pub endpoint: Endpoint,
}

/// The checks file as the runner runs it (`local`), or the exit code of a file with problems
/// (printed).
pub fn checks(file: &Path) -> anyhow::Result<Result<(Checks, String), std::process::ExitCode>> {
    let text = match atalaya_app::checks::read(file) {
        Ok(text) => text,
        Err(e @ atalaya_app::checks::LoadError::Read { .. }) => return Err(e.into()),
        Err(e) => {
            for p in e.problems() {
                eprintln!("{p}");
            }
            return Ok(Err(std::process::ExitCode::from(1)));
        }
    };
    let base = std::fs::canonicalize(file)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    match Checks::from_text(
        &text,
        &file.display().to_string(),
        &base,
        atalaya_core::Target::Local,
    ) {
        Ok(c) => Ok(Ok((c.localized(), text))),
        Err(e) => {
            for p in e.problems() {
                eprintln!("{p}");
            }
            Ok(Err(std::process::ExitCode::from(1)))
        }
    }
}

impl Setup {
    /// Opens all of it for `checks` (whose text is `text`), inside `runtime`.
    pub fn open(
        opts: &RunOptions,
        checks: Checks,
        text: &str,
        runtime: &tokio::runtime::Runtime,
    ) -> anyhow::Result<Setup> {
        let config = &checks.config;
        if let Some(site) = &opts.status_page {
            crate::status_site::refuse_private(
                site,
                &super::db::private_files(opts, config),
                "--status-page",
            )?;
        }
        let store = SqliteStore::open(&opts.db)
            .with_context(|| format!("opening {}", opts.db.display()))?;
        store.set_meta("checks_file", &opts.file.display().to_string())?;
        store.set_meta("checks_dir", &checks.base.display().to_string())?;
        store.set_meta("checks_text", text)?;
        store.set_meta("outbox", &opts.outbox.display().to_string())?;
        let email = runtime.block_on(crate::mail::channel(
            config,
            &checks.base,
            &opts.db,
            opts.listen.as_deref(),
        ))?;
        let ack = runtime.block_on(super::ack_links(config, &opts.db, opts.listen.as_deref()))?;
        let on_call = runtime.block_on(super::on_call(config, ack.as_ref()))?;
        let channels = Arc::new(
            LocalChannels::open(&opts.outbox)?
                .with_email(email)
                .with_on_call(on_call),
        );
        let engine = Arc::new(Engine::new(EngineOptions {
            region: atalaya_core::LOCAL_REGION.into(),
            allow_networks: config.settings.allow_networks.clone(),
            concurrency: opts.concurrency,
            ..EngineOptions::default()
        })?);
        announce(opts, config, &store, &channels, runtime)?;
        // Heartbeats: their tokens, and where their pings' judgements come in.
        let hb_key = runtime.block_on(crate::heartbeat::key(config, &opts.db))?;
        let tokens = Arc::new(runtime.block_on(async {
            atalaya_app::heartbeat::read_tokens(config, &crate::mail::sdk().await, hb_key).await
        }));
        let (ping_tx, pings) = tokio::sync::mpsc::unbounded_channel::<ProbeResult>();
        let checks = Arc::new(checks);
        let endpoint = match &opts.listen {
            Some(addr) => {
                let since = Utc::now();
                let pages = pages(opts, &checks, &tokens, ping_tx, since, runtime)?;
                let listener = std::net::TcpListener::bind(addr.as_str())
                    .with_context(|| format!("--listen {addr}"))?;
                crate::listen::spawn(listener, pages, crate::listen::Caps::for_this_process())
                    .with_context(|| format!("--listen {addr}"))?;
                Endpoint::AvailableSince(since)
            }
            // Without a listener no ping can arrive.
            None => Endpoint::Unavailable,
        };
        announce_heartbeats(opts, &checks.config);
        Ok(Setup {
            checks,
            store,
            channels,
            engine,
            tokens,
            pings,
            endpoint,
        })
    }
}

/// What the listener serves: the subscribers' pages, the status site, the pings.
fn pages(
    opts: &RunOptions,
    checks: &Arc<atalaya_app::Checks>,
    tokens: &Arc<atalaya_app::heartbeat::Tokens>,
    results: tokio::sync::mpsc::UnboundedSender<ProbeResult>,
    since: chrono::DateTime<Utc>,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Arc<crate::pages::Pages>> {
    let config = &checks.config;
    let key = runtime.block_on(crate::mail::key(config, &opts.db))?;
    let inbound = runtime.block_on(async {
        atalaya_app::on_call::Inbound::read(config, &crate::mail::sdk().await).await
    });
    let store = Arc::new(SqliteStore::open(&opts.db)?);
    let shared = Arc::new(config.clone());
    // The subscribe form's confirmations: the runner's mail, its own connection.
    let mail = runtime
        .block_on(crate::mail::channel(
            config,
            &checks.base,
            &opts.db,
            opts.listen.as_deref(),
        ))?
        .map(Arc::new);
    let heartbeats = atalaya_app::heartbeat::heartbeats(config).count();
    Ok(Arc::new(crate::pages::Pages {
        store: store.clone(),
        config: shared.clone(),
        key,
        checks: checks.clone(),
        inbound,
        mail,
        limiter: atalaya_app::subscriptions::subscribe::Limiter::default(),
        site: opts
            .status_page
            .clone()
            .map(crate::status_site::Served::new),
        pings: (heartbeats > 0).then(|| crate::heartbeat::PingEndpoint {
            store,
            config: shared,
            tokens: tokens.clone(),
            since,
            results,
        }),
    }))
}

/// The file's warnings, what runs from where, customers' mail and the status site.
fn announce(
    opts: &RunOptions,
    config: &Config,
    store: &SqliteStore,
    channels: &LocalChannels,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    // What will not work as written is said now; the runner starts anyway and reports each
    // as a monitoring fault when it runs.
    for w in crate::validate::warnings(config, atalaya_core::Target::Local) {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "atalaya: {} {}{} from {} (database {}, outbox {}){}",
        if opts.once { "probing" } else { "running" },
        crate::plural(config.checks.len(), "check", "checks"),
        if opts.once { " once" } else { "" },
        opts.file.display(),
        opts.db.display(),
        opts.outbox.display(),
        if opts.once { "" } else { "; Ctrl-C stops" }
    );
    if let Some(email) = channels.email() {
        let subscribers = runtime.block_on(atalaya_store::Subscribers::subscribers(store, None))?;
        let confirmed = subscribers
            .iter()
            .filter(|s| s.state == atalaya_core::email::SubscriberState::Confirmed)
            .count();
        eprintln!(
            "atalaya: customer email: {} confirmed of {}; mail goes to {}{}",
            confirmed,
            crate::plural(subscribers.len(), "subscriber", "subscribers"),
            email.transport().describe(),
            match &opts.listen {
                Some(a) => format!(
                    "; subscribers' pages (the links in their mail) on http://{a}/confirm, /unsubscribe and /manage"
                ),
                None => String::new(),
            }
        );
    }
    if let Some(dir) = &opts.status_page {
        let served = match &opts.listen {
            Some(a) => format!(
                ", served on http://{a}/ ({})",
                config
                    .customers
                    .iter()
                    .map(|c| format!("{}: http://{a}/{}/", c.id, c.slug))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        eprintln!("atalaya: status site in {}{served}", dir.display());
    }
    Ok(())
}

fn announce_heartbeats(opts: &RunOptions, config: &Config) {
    let heartbeats = atalaya_app::heartbeat::heartbeats(config).count();
    if heartbeats == 0 {
        return;
    }
    match &opts.listen {
        Some(a) => eprintln!(
            "atalaya: {} pinged on http://{a}/ping/<token> (`atalaya heartbeat url CHECK` prints each URL)",
            crate::plural(heartbeats, "heartbeat", "heartbeats")
        ),
        None => eprintln!(
            "warning: {} but no --listen: nothing can ping them, so they stay unknown (run with --listen 127.0.0.1:8088)",
            crate::plural(heartbeats, "heartbeat check", "heartbeat checks")
        ),
    }
}
