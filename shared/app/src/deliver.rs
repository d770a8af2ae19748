//! Delivery: every pending message to every channel, each service's oldest first. Each channel
//! works in a lane of its own (in it, different services' messages go side by side) and claims
//! each message for itself (a lease: of several publishers one sends it
//! to that channel), sends it, and records the delivery per message and channel; when every
//! channel is done the message leaves the outbox's pending list. A slow or failing channel
//! delays no other: not within a round (lanes run side by side), and not across rounds either
//! when each channel has a delivery loop of its own ([`deliver_lane`], as the local runner
//! runs them). A channel that fails is tried again alone; one that can never deliver a message
//! (a permanent error) gives it up, and it is recorded so.

use atalaya_core::message::merge;
use atalaya_core::Message;
use atalaya_notify::Channel;
use atalaya_store::{Delivery, Pending, Store, StoreError};
use chrono::Utc;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// How long a publisher holds a message it claimed for a channel.
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
    pub failed_channels: BTreeMap<String, usize>,
}

/// One message as it goes out: its parts (the messages of one notice several partitions
/// told) and the message made of them.
pub(crate) type Group = (Vec<Pending>, Message);

/// Delivers what is pending to every channel. Errors reading the outbox are returned;
/// everything else is counted in [`Delivered`] (and logged), and what failed stays pending.
///
/// The parts of one notice (what the monitor cannot see, told by each partition of the state
/// that judged some of the checks: messages with the same digest key) go out as one message,
/// and each part is recorded as delivered with it.
pub async fn deliver<S: Store>(
    store: &S,
    channels: &[&dyn Channel],
) -> Result<Delivered, StoreError> {
    let all: Vec<&str> = channels.iter().map(|c| c.name()).collect();
    deliver_some(store, channels, &all).await
}

/// Delivers what is pending to one `channel` of `all` (every channel's name: a message every
/// one of them is done with leaves the pending list): the local runner runs one such loop per
/// channel, so a vendor that hangs holds up only its own channel.
pub async fn deliver_lane<S: Store>(
    store: &S,
    channel: &dyn Channel,
    all: &[&str],
) -> Result<Delivered, StoreError> {
    deliver_some(store, &[channel], all).await
}

async fn deliver_some<S: Store>(
    store: &S,
    channels: &[&dyn Channel],
    all: &[&str],
) -> Result<Delivered, StoreError> {
    let mut out = Delivered::default();
    let groups = groups(store.pending().await?);
    // What the monitor cannot see is told once per episode, whatever the partitions.
    let groups = crate::episode::apply(store, groups, &mut out).await;
    // Each channel takes the messages in order, in a lane of its own: a slow channel (a mail
    // relay that does not answer) delays only itself, never the others.
    let lanes = channels
        .iter()
        .map(|channel| lane(store, *channel, &groups));
    let lanes: Vec<(BTreeSet<usize>, Delivered)> = futures::future::join_all(lanes).await;
    for (_, lane_out) in &lanes {
        out.absorb(lane_out);
    }
    let mut finished = Vec::new();
    let mut unsure = false;
    for (i, (parts, _)) in groups.iter().enumerate() {
        let done = |name: &str| {
            parts.iter().all(|p| p.done.contains(name))
                || channels
                    .iter()
                    .zip(&lanes)
                    .any(|(c, (finished, _))| c.name() == name && finished.contains(&i))
        };
        if all.iter().all(|name| done(name)) {
            finished.extend(parts.iter().map(|p| p.message.id.clone()));
        } else {
            unsure |= lanes.iter().any(|(f, _)| f.contains(&i));
        }
    }
    // Other channels' loops may have finished a message since it was read: the last of them
    // to finish sees every delivery recorded, and the message leaves the pending list.
    if unsure && channels.len() < all.len() {
        finished = store
            .pending()
            .await?
            .into_iter()
            .filter(|p| all.iter().all(|name| p.done.contains(*name)))
            .map(|p| p.message.id)
            .chain(finished)
            .collect();
    }
    finished.sort();
    finished.dedup();
    let marked: Vec<(&String, Result<(), StoreError>)> = {
        use futures::StreamExt;
        let marks: Vec<_> = finished.iter().map(|id| mark(store, id)).collect();
        futures::stream::iter(marks)
            .buffer_unordered(MARKED_AT_ONCE)
            .collect()
            .await
    };
    for (id, marked) in marked {
        match marked {
            Ok(()) => out.messages += 1,
            Err(e) => {
                tracing::warn!(%id, error = %e, "the outbox was not updated; it is looked at again next round");
                failed(&mut out, format!("updating {id}: {e}"));
            }
        }
    }
    Ok(out)
}

async fn mark<'a, S: Store>(store: &S, id: &'a String) -> (&'a String, Result<(), StoreError>) {
    (id, store.mark_sent(id).await)
}

/// The pending messages as they go out: the parts of one notice together, merged.
fn groups(pending: Vec<Pending>) -> Vec<Group> {
    let mut groups: Vec<Vec<Pending>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for p in pending {
        match p.message.digest.as_ref().map(|d| d.key.clone()) {
            Some(key) => match by_key.get(&key) {
                Some(&i) => groups[i].push(p),
                None => {
                    by_key.insert(key, groups.len());
                    groups.push(vec![p]);
                }
            },
            None => groups.push(vec![p]),
        }
    }
    groups
        .into_iter()
        .filter_map(|parts| {
            let messages: Vec<Message> = parts.iter().map(|p| p.message.clone()).collect();
            merge(&messages).map(|m| (parts, m))
        })
        .collect()
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

/// How many services' messages a channel's lane sends side by side (a vendor's rate limit is
/// met with a retryable error and the message goes in the next round).
const SIDE_BY_SIDE: usize = 8;
/// How many delivered messages leave the outbox's pending list at once.
const MARKED_AT_ONCE: usize = 32;

/// One channel's lane: every message it is not done with, each claimed for this channel, sent,
/// and recorded per part. A service's messages go oldest first, one after another; different
/// services' (and the monitor's own notices) side by side, so that an outage of many services
/// is not told one round trip at a time. Which messages the channel is now done with (by
/// index), and how it went.
async fn lane<S: Store>(
    store: &S,
    channel: &dyn Channel,
    groups: &[Group],
) -> (BTreeSet<usize>, Delivered) {
    use futures::StreamExt;
    let mut by_service: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, m)) in groups.iter().enumerate() {
        let service = m.attributes.service.as_deref().unwrap_or_default();
        by_service.entry(service).or_default().push(i);
    }
    // The futures made first, then run (a closure in the stream would make the future of a
    // spawned delivery loop less general than `tokio::spawn` needs).
    let runs: Vec<_> = by_service
        .into_values()
        .map(|order| in_order(store, channel, groups, order))
        .collect();
    let runs: Vec<(BTreeSet<usize>, Delivered)> = futures::stream::iter(runs)
        .buffer_unordered(SIDE_BY_SIDE)
        .collect()
        .await;
    let mut out = Delivered::default();
    let mut done = BTreeSet::new();
    for (finished, run) in runs {
        done.extend(finished);
        out.absorb(&run);
    }
    (done, out)
}

/// How many of a service's messages a lane claims at once, ahead of sending them in order (a
/// claim holds for [`CLAIM_LEASE`], far longer than eight sends take).
const CLAIMED_AHEAD: usize = 8;

/// The messages `order` names (indices into `groups`), to one channel, one after another. They
/// are claimed [`CLAIMED_AHEAD`] at a time, and recorded all at once after the last is sent: an
/// outage's many messages wait on a few round trips, not three each. (A publisher that dies
/// between sending and recording leaves claims that expire: the messages go again, as they
/// would had it died before recording one.)
async fn in_order<S: Store>(
    store: &S,
    channel: &dyn Channel,
    groups: &[Group],
    order: Vec<usize>,
) -> (BTreeSet<usize>, Delivered) {
    let mut out = Delivered::default();
    let mut done = BTreeSet::new();
    let name = channel.name();
    let todo: Vec<usize> = order
        .into_iter()
        .filter(|&i| {
            let (parts, m) = &groups[i];
            let finished = parts.iter().all(|p| p.done.contains(name)) || !channel.wants(m);
            if finished {
                done.insert(i);
            }
            !finished
        })
        .collect();
    let mut threads: HashMap<String, Option<String>> = HashMap::new();
    let mut sent: Vec<(usize, Delivery)> = Vec::new();
    for ahead in todo.chunks(CLAIMED_AHEAD) {
        let claims = ahead.iter().map(|&i| claim(store, name, &groups[i].0));
        let claimed: Vec<(bool, Delivered)> = futures::future::join_all(claims).await;
        for (&i, (mine, problems)) in ahead.iter().zip(claimed) {
            out.absorb(&problems);
            if !mine {
                continue; // another publisher sends it to this channel
            }
            let (parts, m) = &groups[i];
            let Some(delivery) = send(store, channel, m, &mut threads, &mut out).await else {
                *out.failed_channels.entry(name.to_string()).or_default() += 1;
                let releases = parts.iter().map(|p| store.release(&p.message.id, name));
                futures::future::join_all(releases).await;
                continue;
            };
            if matches!(delivery, Delivery::GaveUp(_)) {
                *out.failed_channels.entry(name.to_string()).or_default() += 1;
            }
            sent.push((i, delivery));
        }
    }
    let records = sent.iter().flat_map(|(i, delivery)| {
        groups[*i].0.iter().map(move |part| async move {
            let id = &part.message.id;
            (*i, id, store.record_delivery(id, name, delivery).await)
        })
    });
    let recorded = futures::future::join_all(records).await;
    let mut unrecorded = BTreeSet::new();
    for (i, id, r) in recorded {
        if let Err(e) = r {
            // Sent but not recorded: this channel gets it again when the claim expires.
            tracing::error!(%id, channel = name, error = %e, "delivered but not recorded; it will be sent again");
            failed(&mut out, format!("recording {id} on {name}: {e}"));
            unrecorded.insert(i);
        }
    }
    done.extend(
        sent.iter()
            .map(|(i, _)| *i)
            .filter(|i| !unrecorded.contains(i)),
    );
    (done, out)
}

/// Claims every part of a message for `channel` (all at once); gives back what it took when
/// one is another publisher's. Whether it is this publisher's now, and what went wrong.
async fn claim<S: Store>(store: &S, channel: &str, parts: &[Pending]) -> (bool, Delivered) {
    let mut out = Delivered::default();
    let now = Utc::now();
    let claims = parts.iter().map(|p| async move {
        let id = &p.message.id;
        (id, store.claim(id, channel, now, CLAIM_LEASE).await)
    });
    let mut taken = Vec::new();
    for (id, claimed) in futures::future::join_all(claims).await {
        match claimed {
            Ok(true) => taken.push(id),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(%id, channel, retryable = e.retryable(), error = %e, "cannot claim the message; it stays pending");
                failed(&mut out, format!("claiming {id} for {channel}: {e}"));
            }
        }
    }
    if taken.len() == parts.len() {
        return (true, out);
    }
    futures::future::join_all(taken.into_iter().map(|id| store.release(id, channel))).await;
    (false, out)
}

/// One message to one channel (into the thread it keeps for the message's subject, if it
/// keeps threads): how it went, or `None` when it is to be tried again.
async fn send<S: Store>(
    store: &S,
    channel: &dyn Channel,
    m: &Message,
    threads: &mut HashMap<String, Option<String>>,
    out: &mut Delivered,
) -> Option<Delivery> {
    let key = m.details.as_ref().map(|d| d.key.as_str());
    let thread = match key {
        Some(key) if channel.threads() => match threads.get(key) {
            Some(t) => t.clone(),
            None => match store.thread(channel.name(), key).await {
                Ok(t) => {
                    threads.insert(key.to_string(), t.clone());
                    t
                }
                Err(e) => {
                    tracing::error!(id = %m.id, channel = channel.name(), error = %e, "cannot read the channel's thread; it is tried again");
                    failed(
                        out,
                        format!("reading the thread of {key} on {}: {e}", channel.name()),
                    );
                    return None;
                }
            },
        },
        _ => None,
    };
    match channel.send_in(m, thread.as_deref()).await {
        Ok(now_in) => {
            out.sent += 1;
            if let (Some(key), Some(now_in)) = (key, now_in) {
                // The service's next message about the same thing goes into it.
                threads.insert(key.to_string(), Some(now_in.clone()));
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
