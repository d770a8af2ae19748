//! `atalaya run`: the whole product on one machine. Schedules each check at its interval,
//! probes with the engine, keeps everything in SQLite, and runs each round through the same
//! round as the alert function (`atalaya_app::Round`); delivers to stdout, the JSONL outbox and
//! customers' mail, and tallies the hourly rollups, beside the rounds.

mod channels;
mod db;
mod runner;
mod schedule;
mod setup;

pub use channels::{ack_links, deliver_local, on_call, LocalChannels};
pub use db::{open_db, open_db_for};

use std::path::PathBuf;

pub struct RunOptions {
    pub file: PathBuf,
    pub once: bool,
    pub db: PathBuf,
    pub outbox: PathBuf,
    pub concurrency: usize,
    /// Listen here (`127.0.0.1:8088`): heartbeat pings, the subscribers' pages, the status site.
    pub listen: Option<String>,
    /// Keep the status site in this folder (and serve it with `listen`).
    pub status_page: Option<PathBuf>,
}

pub fn run(opts: RunOptions) -> anyhow::Result<std::process::ExitCode> {
    let (checks, text) = match setup::checks(&opts.file)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    // One runner per database (held until the runner ends).
    let _lock = db::lock(&opts.db)?;
    let runtime = atalaya_probe::runtime()?;
    let setup = setup::Setup::open(&opts, checks, &text, &runtime)?;
    runtime.block_on(runner::Runner::new(&opts, setup).go())?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn shutdown() {
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
