//! Delivery: every pending message to every channel, oldest first. A message is claimed (so
//! that of several publishers one delivers it), sent to each channel not yet done with it, and
//! each delivery is recorded per message and channel; when every channel is done the message
//! leaves the outbox's pending list. A channel that fails is tried again alone next round; one
//! that can never deliver a message (a permanent error) gives it up, and it is recorded so.

use atalaya_core::Message;
use atalaya_notify::Channel;
use atalaya_store::{Delivery, Store, StoreError};
use chrono::Utc;
use std::time::Duration;

/// How long a publisher holds a message it claimed.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);

/// How a round of delivery went.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Delivered {
    /// Messages every channel is now done with.
    pub messages: usize,
    /// Sends that succeeded (a message to one channel).
    pub sent: usize,
    /// Sends that failed and will be tried again.
    pub failures: usize,
    /// Sends given up for good (the channel can never deliver that message).
    pub gave_up: usize,
    /// The first problem, for the caller to report.
    pub first_error: Option<String>,
}

/// Delivers what is pending. Errors reading the outbox are returned; everything else is counted
/// in [`Delivered`] (and logged), and what failed stays pending.
pub async fn deliver<S: Store>(
    store: &S,
    channels: &[&dyn Channel],
) -> Result<Delivered, StoreError> {
    let mut out = Delivered::default();
    for pending in store.pending().await? {
        let m = &pending.message;
        match store.claim(&m.id, Utc::now(), CLAIM_LEASE).await {
            Ok(true) => {}
            Ok(false) => continue, // another publisher has it
            Err(e) => {
                tracing::error!(id = %m.id, retryable = e.retryable(), error = %e, "cannot claim the message; it stays pending");
                failed(&mut out, format!("claiming {}: {e}", m.id));
                continue;
            }
        }
        let mut all_done = true;
        for channel in channels {
            if pending.done.contains(channel.name()) {
                continue;
            }
            if !send(store, *channel, m, &mut out).await {
                all_done = false;
            }
        }
        let finished = if all_done {
            store.mark_sent(&m.id).await.map(|_| out.messages += 1)
        } else {
            store.release(&m.id).await
        };
        if let Err(e) = finished {
            tracing::warn!(id = %m.id, error = %e, "the outbox was not updated; the claim expires on its own");
            failed(&mut out, format!("updating {}: {e}", m.id));
        }
    }
    Ok(out)
}

/// One message to one channel, recorded. True when the channel is done with it.
async fn send<S: Store>(
    store: &S,
    channel: &dyn Channel,
    m: &Message,
    out: &mut Delivered,
) -> bool {
    let delivery = match channel.send(m).await {
        Ok(()) => {
            out.sent += 1;
            Delivery::Sent
        }
        Err(e) if e.retryable => {
            tracing::error!(id = %m.id, channel = channel.name(), error = %e, "delivery failed; it is tried again");
            failed(out, e.to_string());
            return false;
        }
        Err(e) => {
            tracing::error!(id = %m.id, channel = channel.name(), error = %e, "the channel can never deliver this message; given up");
            out.gave_up += 1;
            out.first_error.get_or_insert(e.to_string());
            Delivery::GaveUp(e.detail)
        }
    };
    match store
        .record_delivery(&m.id, channel.name(), &delivery)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            // Sent but not recorded: this channel gets it again next round, with the same id.
            tracing::error!(id = %m.id, channel = channel.name(), error = %e, "delivered but not recorded; it will be sent again");
            failed(
                out,
                format!("recording {} on {}: {e}", m.id, channel.name()),
            );
            false
        }
    }
}

fn failed(out: &mut Delivered, what: String) {
    out.failures += 1;
    out.first_error.get_or_insert(what);
}
