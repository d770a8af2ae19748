//! The runner's deliveries, beside its rounds: a loop per channel (stdout, the JSONL outbox,
//! customers' mail, each paging and chat channel) takes what the rounds committed to the
//! outbox, each claiming messages for its own channel, so neither a mail relay nor a paging
//! vendor that does not answer holds up probing, judging, or any other channel. Woken after
//! each round, and every few seconds for what a channel could not take before; stopped within a
//! moment on Ctrl-C (what a loop had claimed goes out on the next start: claims are leases).

use crate::run::LocalChannels;
use atalaya_store::SqliteStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How often what failed before is tried again, when no round wakes the loop sooner.
const RETRY_EVERY: Duration = Duration::from_secs(5);

/// How long a stopping runner waits for deliveries under way.
const GRACE: Duration = Duration::from_secs(2);

pub struct Delivery {
    wake: Arc<Notify>,
    stopping: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

/// One channel's loop: deliver, wait to be woken (or `RETRY_EVERY`), again; one more when
/// stopping.
async fn lane(
    store: Arc<SqliteStore>,
    channels: Arc<LocalChannels>,
    index: usize,
    woken: Arc<Notify>,
    stop: Arc<AtomicBool>,
) {
    let all = channels.all();
    let names: Vec<&str> = all.iter().map(|c| c.name()).collect();
    let channel = all[index];
    let mut last = false;
    loop {
        match atalaya_app::deliver_lane(&*store, channel, &names).await {
            Ok(out) => {
                if let Some(e) = out.first_error {
                    let when = if last {
                        "sent when the runner starts again"
                    } else {
                        "tried again"
                    };
                    eprintln!("warning: {}: {e} (kept; {when})", channel.name());
                }
            }
            Err(e) => eprintln!("warning: {}: {e:#} (kept; tried again)", channel.name()),
        }
        if last {
            return;
        }
        tokio::select! {
            _ = woken.notified() => {}
            _ = tokio::time::sleep(RETRY_EVERY) => {}
        }
        // Asked to stop: one more delivery, for what the last round committed.
        last = stop.load(Ordering::Relaxed);
    }
}

impl Delivery {
    /// Starts a loop per channel, sharing a connection of their own to the database.
    pub fn start(store: SqliteStore, channels: Arc<LocalChannels>) -> Delivery {
        let wake = Arc::new(Notify::new());
        let stopping = Arc::new(AtomicBool::new(false));
        let store = Arc::new(store);
        let count = channels.all().len();
        let lanes: Vec<Arc<Notify>> = (0..count).map(|_| Arc::new(Notify::new())).collect();
        let mut tasks: Vec<JoinHandle<()>> = lanes
            .iter()
            .enumerate()
            .map(|(i, woken)| {
                tokio::spawn(lane(
                    store.clone(),
                    channels.clone(),
                    i,
                    woken.clone(),
                    stopping.clone(),
                ))
            })
            .collect();
        // A round's wake-up reaches every loop (one busy now runs again when it is done).
        let (woken, stop) = (wake.clone(), stopping.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                woken.notified().await;
                for l in &lanes {
                    l.notify_one();
                }
            }
        }));
        Delivery {
            wake,
            stopping,
            tasks,
        }
    }

    /// What a round calls when it committed messages: deliver them now (or as soon as the
    /// deliveries under way end).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stops the loops after one more delivery each (the last round's messages). They have
    /// until `until` resolves (`GRACE` after Ctrl-C; for `--once`, until they are done or
    /// Ctrl-C); a delivery still under way then (a relay that does not answer) is dropped.
    pub async fn stop(self, until: impl std::future::Future<Output = ()>) {
        self.stopping.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        let mut tasks = self.tasks;
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        tokio::select! {
            _ = async { for t in tasks.iter_mut() { let _ = t.await; } } => {}
            _ = until => aborts.iter().for_each(|a| a.abort()),
        }
    }

    /// [`Delivery::stop`] with the grace a stopping runner gives it.
    pub async fn stop_soon(self) {
        self.stop(tokio::time::sleep(GRACE)).await;
    }
}
