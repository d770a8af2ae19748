//! `atalaya run`: the whole product on one machine. Schedules each check at its interval, probes
//! with the engine, keeps everything in SQLite, evaluates, and publishes every message to stdout
//! and the JSONL outbox.

use anyhow::Context;
use atalaya_app::{deliver, transition, Checks, Mode};
use atalaya_core::evaluate::{evaluate, resume, State, Verdict};
use atalaya_core::{Check, Config, ProbeResult};
use atalaya_notify::{Channel, EmailChannel, JsonlChannel, StdoutChannel};
use atalaya_probe::{CheckError, Engine, EngineOptions};
use atalaya_store::{SqliteStore, Store};
use chrono::Utc;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub struct RunOptions {
    pub file: PathBuf,
    pub once: bool,
    pub db: PathBuf,
    pub outbox: PathBuf,
    pub concurrency: usize,
    /// Serve the subscribers' pages here (`127.0.0.1:8088`).
    pub listen: Option<String>,
    /// Keep the status site in this folder (and serve it with `listen`).
    pub status_page: Option<PathBuf>,
}

/// The local runner's channels: people read stdout, machines read the JSONL outbox, and
/// customers' subscribers get mail when the file has a brand.
pub struct LocalChannels {
    stdout: StdoutChannel,
    jsonl: JsonlChannel,
    email: Option<EmailChannel<SqliteStore>>,
}

impl LocalChannels {
    pub fn open(outbox: &Path) -> anyhow::Result<Self> {
        Ok(LocalChannels {
            stdout: StdoutChannel::default(),
            jsonl: JsonlChannel::open(outbox)
                .with_context(|| format!("opening the outbox {}", outbox.display()))?,
            email: None,
        })
    }

    /// With the email channel of the file (`crate::mail::channel`).
    pub fn with_email(mut self, email: Option<EmailChannel<SqliteStore>>) -> Self {
        self.email = email;
        self
    }

    pub fn email(&self) -> Option<&EmailChannel<SqliteStore>> {
        self.email.as_ref()
    }

    pub fn all(&self) -> Vec<&dyn Channel> {
        let mut all: Vec<&dyn Channel> = vec![&self.stdout, &self.jsonl];
        if let Some(e) = &self.email {
            all.push(e);
        }
        all
    }
}

/// Delivers what is pending to the local channels; a failure is an error (the message stays
/// pending and goes out on the next round).
pub async fn deliver_local(store: &SqliteStore, channels: &LocalChannels) -> anyhow::Result<()> {
    let out = deliver(store, &channels.all()).await?;
    match out.first_error {
        Some(e) => anyhow::bail!("{e}"),
        None => Ok(()),
    }
}

/// Stores `results` and evaluates them now (one transition: the state and its messages in one
/// transaction, again if another writer got there first); what it committed is delivered
/// beside the rounds (`crate::delivery`). `resuming`: the runner's first round after it
/// started, which tells the engine that the time it was stopped is its own gap. Returns the
/// state as it is now.
pub async fn step(
    store: &SqliteStore,
    checks: &Checks,
    results: &[ProbeResult],
    resuming: bool,
) -> anyhow::Result<State> {
    store
        .put_results(results, std::time::Instant::now() + Duration::from_secs(30))
        .await?;
    // Once an hour: latency drift, from the runner's own rollups.
    let drift = atalaya_app::drift::due(store, checks, Utc::now()).await;
    let step = |state: &State| {
        let now = Utc::now();
        let mut base = if resuming {
            resume(state, now)
        } else {
            state.clone()
        };
        atalaya_app::drift::apply(&mut base, &drift, &checks.config);
        Ok::<_, std::convert::Infallible>(evaluate(&base, results, now, &checks.config))
    };
    let t = transition(store, checks, step, Mode::Commit).await?;
    Ok(t.state)
}

/// Accrues each service's time since the last round to the condition it was in then
/// (`atalaya_core::rollup`), and each check's in the runner's region likewise; the first round
/// after the runner starts accrues the time it was stopped as unknown: the monitor did not see
/// it.
fn roll_up(
    store: &SqliteStore,
    config: &Config,
    state: &State,
    results: &[ProbeResult],
    now: chrono::DateTime<Utc>,
    resuming: bool,
) -> anyhow::Result<()> {
    use atalaya_core::rollup::{
        accrue, check_condition, check_key, service_condition, Condition, Hours, Latency,
    };
    use chrono::DurationRound;
    use std::collections::BTreeMap;
    // What the round's results measured, per service and per check in its region, by hour.
    let mut latency: BTreeMap<String, BTreeMap<chrono::DateTime<Utc>, Latency>> = BTreeMap::new();
    for r in results {
        if let Some(check) = config.check(&r.check) {
            let hour =
                r.at.duration_trunc(chrono::TimeDelta::hours(1))
                    .unwrap_or(r.at);
            for key in [check.service.clone(), check_key(&check.id, &r.region)] {
                latency
                    .entry(key)
                    .or_default()
                    .entry(hour)
                    .or_default()
                    .record(r);
            }
        }
    }
    let marks = store.rollup_marks()?;
    let region = atalaya_core::LOCAL_REGION;
    let subjects: Vec<(String, Condition)> = config
        .services
        .iter()
        .map(|s| (s.id.clone(), service_condition(state, config, s, now)))
        .chain(config.checks.iter().map(|c| {
            (
                check_key(&c.id, region),
                check_condition(state, config, c, region, now),
            )
        }))
        .collect();
    let accruals: Vec<atalaya_store::Accrual> = subjects
        .iter()
        .map(|(key, condition)| {
            let mut hours = Hours::new();
            if let Some((at, was)) = marks.get(key) {
                let was = if resuming { Condition::Unknown } else { *was };
                accrue(&mut hours, was, *at, now);
            }
            atalaya_store::Accrual {
                subject: key,
                hours,
                latency: latency.remove(key).unwrap_or_default(),
                mark: (now, *condition),
            }
        })
        .collect();
    store.accrue(&accruals)?;
    Ok(())
}

/// One line per round: `12:00:04  10 checks: 8 up, 1 degraded, 1 down, 0 unknown · 1 open incident`.
pub fn round_line(state: &State, config: &Config, at: chrono::DateTime<Utc>) -> String {
    let count = |v: Verdict| {
        config
            .checks
            .iter()
            .filter(|c| {
                state
                    .checks
                    .get(&c.id)
                    .map_or(Verdict::Unknown, |s| s.verdict)
                    == v
            })
            .count()
    };
    let open = state.incidents.values().filter(|i| i.is_open()).count();
    format!(
        "{}  {}: {} up, {} degraded, {} down, {} unknown · {}",
        at.format("%H:%M:%S"),
        crate::plural(config.checks.len(), "check", "checks"),
        count(Verdict::Up),
        count(Verdict::Degraded),
        count(Verdict::Down),
        count(Verdict::Unknown),
        crate::plural(open, "open incident", "open incidents")
    )
}

pub fn run(opts: RunOptions) -> anyhow::Result<std::process::ExitCode> {
    let text = match atalaya_app::checks::read(&opts.file) {
        Ok(text) => text,
        Err(e @ atalaya_app::checks::LoadError::Read { .. }) => return Err(e.into()),
        Err(e) => {
            for p in e.problems() {
                eprintln!("{p}");
            }
            return Ok(std::process::ExitCode::from(1));
        }
    };
    let base = std::fs::canonicalize(&opts.file)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let checks = match Checks::from_text(
        &text,
        &opts.file.display().to_string(),
        &base,
        atalaya_core::Target::Local,
    ) {
        Ok(c) => c.localized(),
        Err(e) => {
            for p in e.problems() {
                eprintln!("{p}");
            }
            return Ok(std::process::ExitCode::from(1));
        }
    };
    let config = &checks.config;
    if let Some(site) = &opts.status_page {
        crate::status_page::refuse_private(site, &private_files(&opts, config), "--status-page")?;
    }
    let store =
        SqliteStore::open(&opts.db).with_context(|| format!("opening {}", opts.db.display()))?;
    store.set_meta("checks_file", &opts.file.display().to_string())?;
    store.set_meta("checks_dir", &base.display().to_string())?;
    store.set_meta("checks_text", &text)?;
    store.set_meta("outbox", &opts.outbox.display().to_string())?;
    let runtime = atalaya_probe::runtime()?;
    let email = runtime.block_on(crate::mail::channel(
        config,
        &base,
        &opts.db,
        opts.listen.as_deref(),
    ))?;
    let channels = Arc::new(LocalChannels::open(&opts.outbox)?.with_email(email));

    let engine = Arc::new(Engine::new(EngineOptions {
        region: atalaya_core::LOCAL_REGION.into(),
        allow_networks: config.settings.allow_networks.clone(),
        concurrency: opts.concurrency,
        ..EngineOptions::default()
    })?);
    let probes: Arc<[Check]> = config.checks.clone().into();
    // What will not work as written is said now; the runner starts anyway and reports each
    // as a monitoring fault when it runs.
    for w in crate::validate::warnings(config, atalaya_core::Target::Local) {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "atalaya: {} {}{} from {} (database {}, outbox {}){}",
        if opts.once { "probing" } else { "running" },
        crate::plural(probes.len(), "check", "checks"),
        if opts.once { " once" } else { "" },
        opts.file.display(),
        opts.db.display(),
        opts.outbox.display(),
        if opts.once { "" } else { "; Ctrl-C stops" }
    );
    if let Some(email) = channels.email() {
        let subscribers =
            runtime.block_on(atalaya_store::Subscribers::subscribers(&store, None))?;
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
                Some(a) => format!("; subscribers' pages on http://{a}/"),
                None => String::new(),
            }
        );
    }
    if let Some(dir) = &opts.status_page {
        eprintln!(
            "atalaya: status site in {}{}",
            dir.display(),
            match &opts.listen {
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
            }
        );
    }
    // Heartbeats: their tokens, and where their pings' judgements come in.
    let heartbeats = atalaya_app::heartbeat::heartbeats(config).count();
    let hb_key = runtime.block_on(crate::heartbeat::key(config, &opts.db))?;
    let tokens = Arc::new(runtime.block_on(async {
        atalaya_app::heartbeat::read_tokens(config, &crate::mail::sdk().await, hb_key).await
    }));
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<ProbeResult>();
    let mut pings_since = None;
    // Served while the runner runs, on a thread of its own (`crate::listen`).
    let _pages = match &opts.listen {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr.as_str())
                .with_context(|| format!("--listen {addr}"))?;
            let key = runtime.block_on(crate::mail::key(config, &opts.db))?;
            let store = Arc::new(SqliteStore::open(&opts.db)?);
            let since = Utc::now();
            pings_since = Some(since);
            let shared = Arc::new(config.clone());
            let pages = Arc::new(crate::pages::Pages {
                store: store.clone(),
                config: shared.clone(),
                key,
                site: opts
                    .status_page
                    .clone()
                    .map(crate::status_page::Served::new),
                pings: (heartbeats > 0).then(|| crate::heartbeat::PingEndpoint {
                    store,
                    config: shared,
                    tokens: tokens.clone(),
                    since,
                    results: ping_tx.clone(),
                }),
            });
            Some(
                crate::listen::spawn(listener, pages, crate::listen::Caps::for_this_process())
                    .with_context(|| format!("--listen {addr}"))?,
            )
        }
        None => None,
    };
    if heartbeats > 0 {
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
    // The endpoint takes pings from when it started listening; without one, none.
    let availability = match pings_since {
        Some(t) => atalaya_core::kinds::heartbeat::Endpoint::AvailableSince(t),
        None => atalaya_core::kinds::heartbeat::Endpoint::Unavailable,
    };
    let mut remote = crate::references::Remote::of(config);
    runtime.block_on(async {
        remote.refresh(&engine).await;
        // Deliveries run beside the rounds; whatever a previous run recorded and did not
        // publish goes out first.
        let delivery = crate::delivery::Delivery::start(
            SqliteStore::open(&opts.db)?,
            channels.clone(),
        );
        let (tx, mut rx) =
            tokio::sync::mpsc::unbounded_channel::<(usize, Result<ProbeResult, CheckError>)>();
        let permits = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
        let start = Instant::now();
        let mut next_due: Vec<Instant> = vec![start; probes.len()];
        let mut in_flight: HashSet<usize> = HashSet::new();
        let mut ran_once: HashSet<usize> = HashSet::new();
        let mut reported: HashSet<usize> = HashSet::new();
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = Box::pin(shutdown());
        let mut resuming = true;
        let mut site_signature: Option<u64> = None;
        // The results of a round are evaluated together: once the probes started together are
        // all back, or at the next tick (at most a second) when rounds overlap. Evaluating each
        // result as it lands would let the order probes finish in decide which service's
        // incident opens. A line per round follows each such evaluation.
        let mut results: Vec<ProbeResult> = Vec::new();
        let mut pending_since: Option<Instant> = None;
        loop {
            // Secret references are read again when they are older than REFRESH.
            remote.refresh(&engine).await;
            let now = Instant::now();
            let mut judge: Vec<&Check> = Vec::new();
            for (i, check) in probes.iter().enumerate() {
                if in_flight.contains(&i)
                    || next_due[i] > now
                    || (opts.once && ran_once.contains(&i))
                {
                    continue;
                }
                next_due[i] = (next_due[i] + check.interval).max(now);
                if check.kind.is_passive() {
                    // A heartbeat is judged here from its pings, not probed.
                    ran_once.insert(i);
                    judge.push(check);
                    continue;
                }
                in_flight.insert(i);
                let (engine, probes, tx, permits) =
                    (engine.clone(), probes.clone(), tx.clone(), permits.clone());
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let result = engine.probe(&probes[i]).await;
                    let _ = tx.send((i, result));
                });
            }
            if !judge.is_empty() {
                match atalaya_app::heartbeat::judge_all(&store, judge, &tokens, Utc::now(), availability).await {
                    Ok(judged) => results.extend(judged),
                    Err(e) => eprintln!("warning: heartbeats not judged: {e} (tried again next round)"),
                }
            }
            let mut ticked = false;
            let stopping = tokio::select! {
                _ = &mut stop => true,
                _ = ticker.tick() => {
                    ticked = true;
                    false
                }
                Some(pinged) = ping_rx.recv() => {
                    results.push(pinged);
                    false
                }
                Some(first) = rx.recv() => {
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    for (i, r) in batch {
                        in_flight.remove(&i);
                        ran_once.insert(i);
                        match r {
                            Ok(result) => results.push(result),
                            // A check that cannot run is a monitoring fault: the operators hear
                            // of it through the engine, and it is said here once.
                            Err(e) => {
                                if reported.insert(i) {
                                    eprintln!("error: check {}: {e}", probes[i].id);
                                }
                                results.push(e.to_result(&probes[i], atalaya_core::LOCAL_REGION, Utc::now()));
                            }
                        }
                    }
                    false
                }
            };
            let round_done = !results.is_empty() && in_flight.is_empty();
            if results.is_empty() {
                pending_since = None;
            } else {
                pending_since.get_or_insert_with(Instant::now);
            }
            // Results wait for the rest of their round: with --once always (every probe is
            // bounded by its timeout), otherwise for a tick at most (rounds overlap). Evaluating
            // a round piecemeal would let the order probes finish in decide which service's
            // incident opens (a dependent service before the one it depends on).
            let waited_a_tick = !opts.once
                && pending_since.is_some_and(|t| t.elapsed() >= Duration::from_millis(900));
            if round_done || (ticked && (results.is_empty() || waited_a_tick)) || stopping {
                let state = step(&store, &checks, &results, resuming).await?;
                delivery.wake();
                roll_up(&store, config, &state, &results, Utc::now(), resuming)?;
                if let Some(dir) = &opts.status_page {
                    // The site is what customers look at: a failure is said, and the runner
                    // goes on watching. Rebuilt when what the pages show changed.
                    let sig = crate::status_page::signature(&state, config, Utc::now());
                    if site_signature != Some(sig) {
                        match crate::status_page::rebuild(&store, config, dir).await {
                            Ok(_) => site_signature = Some(sig),
                            Err(e) => eprintln!("warning: status site: {e:#} (tried again next round)"),
                        }
                    }
                }
                resuming = false;
                if !results.is_empty() && (in_flight.is_empty() || !opts.once) {
                    println!("{}", round_line(&state, config, Utc::now()));
                }
                results.clear();
            }
            if stopping {
                delivery.stop_soon().await;
                eprintln!(
                    "atalaya: stopped; state and messages are saved in {}",
                    opts.db.display()
                );
                break;
            }
            if opts.once && ran_once.len() == probes.len() && in_flight.is_empty() {
                // Everything this run recorded goes out before it ends, unless Ctrl-C.
                delivery.stop(shutdown()).await;
                break;
            }
        }
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// What the runner keeps that nobody else may read: a site folder must not hold any of it.
fn private_files(opts: &RunOptions, config: &Config) -> Vec<(&'static str, PathBuf)> {
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

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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
