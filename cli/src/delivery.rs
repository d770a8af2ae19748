//! The runner's deliveries, beside its rounds: a task of its own takes what each round
//! committed to the outbox to stdout, the JSONL outbox and customers' mail, so a mail relay
//! that does not answer never holds up probing or judging. Woken after each round, and every
//! few seconds for what a channel could not take before; stopped within a moment on Ctrl-C
//! (what it had claimed goes out on the next start: claims are leases).

use crate::run::{deliver_local, LocalChannels};
use atalaya_store::SqliteStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How often what failed before is tried again, when no round wakes the task sooner.
const RETRY_EVERY: Duration = Duration::from_secs(5);

/// How long a stopping runner waits for a delivery under way.
const GRACE: Duration = Duration::from_secs(2);

pub struct Delivery {
    wake: Arc<Notify>,
    stopping: Arc<std::sync::atomic::AtomicBool>,
    task: JoinHandle<()>,
}

impl Delivery {
    /// Starts the task with a connection of its own to the database.
    pub fn start(store: SqliteStore, channels: Arc<LocalChannels>) -> Delivery {
        use std::sync::atomic::Ordering;
        let wake = Arc::new(Notify::new());
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (woken, stop) = (wake.clone(), stopping.clone());
        let task = tokio::spawn(async move {
            let mut last = false;
            while !last {
                if let Err(e) = deliver_local(&store, &channels).await {
                    eprintln!("warning: {e:#} (kept; tried again)");
                }
                tokio::select! {
                    _ = woken.notified() => {}
                    _ = tokio::time::sleep(RETRY_EVERY) => {}
                }
                // Asked to stop: one more delivery, for what the last round committed.
                last = stop.load(Ordering::Relaxed);
            }
            if let Err(e) = deliver_local(&store, &channels).await {
                eprintln!("warning: {e:#} (kept; sent when the runner starts again)");
            }
        });
        Delivery {
            wake,
            stopping,
            task,
        }
    }

    /// What a round calls when it committed messages: deliver them now (or as soon as the
    /// delivery under way ends).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stops the task after one more delivery (the last round's messages). It has until
    /// `until` resolves (`GRACE` after Ctrl-C; for `--once`, until it is done or Ctrl-C); a
    /// delivery still under way then (a relay that does not answer) is dropped.
    pub async fn stop(self, until: impl std::future::Future<Output = ()>) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.wake.notify_one();
        let mut task = self.task;
        tokio::select! {
            _ = &mut task => {}
            _ = until => task.abort(),
        }
    }

    /// [`Delivery::stop`] with the grace a stopping runner gives it.
    pub async fn stop_soon(self) {
        self.stop(tokio::time::sleep(GRACE)).await;
    }
}
