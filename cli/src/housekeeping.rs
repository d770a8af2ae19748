//! The runner's housekeeping, beside its rounds, every minute: the hourly rollup job, as the
//! rollup function runs it on AWS (`atalaya_app::rollup_job`: each check's time and latency
//! per hour, tallied from the results once the hour is over; what is not done yet is done by
//! the next run), then retention (`SqliteStore::prune`: what is older than
//! `settings.retention.results` goes, and the file stops growing).

use atalaya_app::Checks;
use atalaya_store::SqliteStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the job looks for hours to do.
const EVERY: Duration = Duration::from_secs(60);
/// How long one run may take.
const BUDGET: Duration = Duration::from_secs(20);

/// Starts the job on a task of its own, with its own connection to the database.
pub fn start(store: SqliteStore, checks: Arc<Checks>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let deadline = std::time::Instant::now() + BUDGET;
            let now = chrono::Utc::now();
            if let Err(e) =
                atalaya_app::rollup_job::run(&store, &checks.config, now, deadline).await
            {
                eprintln!("warning: the hourly rollups: {e} (tried again in a minute)");
            }
            tokio::time::sleep(EVERY).await;
        }
    })
}
