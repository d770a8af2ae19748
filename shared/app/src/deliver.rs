//! Delivery: every pending message to every channel, oldest first. A message is claimed (so
//! that of several publishers one delivers it), sent to each channel not yet done with it, and
//! each delivery is recorded per message and channel; when every channel is done the message
//! leaves the outbox's pending list. Channels work in lanes of their own, side by side: a slow
//! one delays nobody else. A channel that fails is tried again alone next round; one that can
//! never deliver a message (a permanent error) gives it up, and it is recorded so.

use atalaya_core::message::merge;
use atalaya_core::Message;
use atalaya_notify::Channel;
use atalaya_store::{Delivery, Pending, Store, StoreError};
use chrono::Utc;
use std::collections::HashMap;
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
    /// Sends that failed or were given up, by channel name (a channel that keeps failing is
    /// alarmed by its kind).
    pub failed_channels: std::collections::BTreeMap<String, usize>,
}

/// Delivers what is pending. Errors reading the outbox are returned; everything else is counted
/// in [`Delivered`] (and logged), and what failed stays pending.
///
/// The parts of one notice (what the monitor cannot see, told by each partition of the state
/// that judged some of the checks: messages with the same digest key) go out as one message,
/// and each part is recorded as delivered with it.
pub async fn deliver<S: Store>(
    store: &S,
    channels: &[&dyn Channel],
) -> Result<Delivered, StoreError> {
    let mut out = Delivered::default();
    let mut groups: Vec<Vec<Pending>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for pending in store.pending().await? {
        match pending.message.digest.as_ref().map(|d| d.key.clone()) {
            Some(key) => match by_key.get(&key) {
                Some(&i) => groups[i].push(pending),
                None => {
                    by_key.insert(key, groups.len());
                    groups.push(vec![pending]);
                }
            },
            None => groups.push(vec![pending]),
        }
    }
    // Each message claimed, its parts merged into the one message that goes out.
    let mut claimed: Vec<(Vec<Pending>, Message)> = Vec::new();
    for group in groups {
        let mut parts = Vec::new();
        for pending in group {
            let id = &pending.message.id;
            match store.claim(id, Utc::now(), CLAIM_LEASE).await {
                Ok(true) => parts.push(pending),
                Ok(false) => {} // another publisher has it
                Err(e) => {
                    tracing::error!(%id, retryable = e.retryable(), error = %e, "cannot claim the message; it stays pending");
                    failed(&mut out, format!("claiming {id}: {e}"));
                }
            }
        }
        let messages: Vec<Message> = parts.iter().map(|p| p.message.clone()).collect();
        if let Some(m) = merge(&messages) {
            claimed.push((parts, m));
        }
    }
    // What the monitor cannot see is told once per episode, whatever the partitions.
    let claimed = crate::episode::apply(store, claimed, &mut out).await;
    // Each channel takes the messages in order, in a lane of its own: a slow channel (a mail
    // relay that does not answer) delays only itself, never the others.
    let lanes = channels
        .iter()
        .map(|channel| lane(store, *channel, &claimed));
    let lanes: Vec<(Vec<bool>, Delivered)> = futures::future::join_all(lanes).await;
    for (_, lane_out) in &lanes {
        out.absorb(lane_out);
    }
    for (i, (parts, _)) in claimed.iter().enumerate() {
        let all_done = lanes.iter().all(|(done, _)| done[i]);
        for part in parts {
            let id = &part.message.id;
            let finished = if all_done {
                store.mark_sent(id).await.map(|_| out.messages += 1)
            } else {
                store.release(id).await
            };
            if let Err(e) = finished {
                tracing::warn!(%id, error = %e, "the outbox was not updated; the claim expires on its own");
                failed(&mut out, format!("updating {id}: {e}"));
            }
        }
    }
    Ok(out)
}

impl Delivered {
    fn absorb(&mut self, other: &Delivered) {
        self.sent += other.sent;
        self.failures += other.failures;
        self.gave_up += other.gave_up;
        for (name, n) in &other.failed_channels {
            *self.failed_channels.entry(name.clone()).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }
}

/// One channel's lane: every claimed message it is not done with, oldest first, each delivery
/// recorded per part. Whether the channel is done with each message, and how it went.
async fn lane<S: Store>(
    store: &S,
    channel: &dyn Channel,
    claimed: &[(Vec<Pending>, Message)],
) -> (Vec<bool>, Delivered) {
    let mut out = Delivered::default();
    let mut done = Vec::with_capacity(claimed.len());
    for (parts, m) in claimed {
        if parts.iter().all(|p| p.done.contains(channel.name())) || !channel.wants(m) {
            done.push(true);
            continue;
        }
        let Some(delivery) = send(store, channel, m, &mut out).await else {
            *out.failed_channels
                .entry(channel.name().to_string())
                .or_default() += 1;
            done.push(false);
            continue;
        };
        if matches!(delivery, Delivery::GaveUp(_)) {
            *out.failed_channels
                .entry(channel.name().to_string())
                .or_default() += 1;
        }
        let mut recorded = true;
        for part in parts {
            if let Err(e) = store
                .record_delivery(&part.message.id, channel.name(), &delivery)
                .await
            {
                // Sent but not recorded: this channel gets it again next round.
                tracing::error!(id = %part.message.id, channel = channel.name(), error = %e, "delivered but not recorded; it will be sent again");
                failed(
                    &mut out,
                    format!("recording {} on {}: {e}", part.message.id, channel.name()),
                );
                recorded = false;
            }
        }
        done.push(recorded);
    }
    (done, out)
}

/// One message to one channel (into the thread it keeps for the message's subject, if it
/// keeps threads): how it went, or `None` when it is to be tried again.
async fn send<S: Store>(
    store: &S,
    channel: &dyn Channel,
    m: &Message,
    out: &mut Delivered,
) -> Option<Delivery> {
    let key = m.details.as_ref().map(|d| d.key.as_str());
    let thread = match key {
        Some(key) if channel.threads() => match store.thread(channel.name(), key).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(id = %m.id, channel = channel.name(), error = %e, "cannot read the channel's thread; it is tried again");
                failed(
                    out,
                    format!("reading the thread of {key} on {}: {e}", channel.name()),
                );
                return None;
            }
        },
        _ => None,
    };
    match channel.send_in(m, thread.as_deref()).await {
        Ok(now_in) => {
            out.sent += 1;
            if let (Some(key), Some(now_in)) = (key, now_in) {
                if thread.as_deref() != Some(now_in.as_str()) {
                    if let Err(e) = store.keep_thread(channel.name(), key, &now_in).await {
                        // Sent; the next message of the thing starts a thread of its own.
                        tracing::warn!(id = %m.id, channel = channel.name(), error = %e, "the channel's thread was not kept");
                    }
                }
            }
            Some(Delivery::Sent)
        }
        Err(e) if e.retryable => {
            tracing::error!(id = %m.id, channel = channel.name(), error = %e, "delivery failed; it is tried again");
            failed(out, e.to_string());
            None
        }
        Err(e) => {
            tracing::error!(id = %m.id, channel = channel.name(), error = %e, "the channel can never deliver this message; given up");
            out.gave_up += 1;
            out.first_error.get_or_insert(e.to_string());
            Some(Delivery::GaveUp(e.detail))
        }
    }
}

fn failed(out: &mut Delivered, what: String) {
    out.failures += 1;
    out.first_error.get_or_insert(what);
}
