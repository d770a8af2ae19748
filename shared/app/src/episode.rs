//! Delivery's part in telling the monitor's blindness once per episode (`atalaya_core::message::
//! episode`): each claimed notice of what the monitor cannot see (or sees again) is applied to
//! the episode the store keeps; the one that begins it and the one that ends it go out, the
//! others leave the outbox without a message. The episode is saved before anything is sent; a
//! publisher that lost the race leaves the notices for the next round.

use crate::deliver::{Delivered, Group};
use atalaya_core::message::episode::{closing_note, Decision};
use atalaya_core::message::Digest;
use atalaya_store::{Pending, Store};

/// Applies the pending notices to the episode: returns what is still to send (folded notices
/// are marked sent, those not decided wait for the next round). A notice applied twice (two
/// publishers) gets the same decision.
pub(crate) async fn apply<S: Store>(
    store: &S,
    claimed: Vec<Group>,
    out: &mut Delivered,
) -> Vec<Group> {
    let is_notice = |parts: &[Pending]| parts.iter().all(|p| p.message.digest.is_some());
    if !claimed.iter().any(|(parts, _)| is_notice(parts)) {
        return claimed;
    }
    let (mut episode, version) = match store.episode().await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the blindness episode; its notices wait");
            return hold(claimed, is_notice, out, format!("reading the episode: {e}"));
        }
    };
    let before = episode.clone();
    let mut keep = Vec::new();
    let mut folded = Vec::new();
    for (parts, mut m) in claimed {
        if !is_notice(&parts) {
            keep.push((parts, m));
            continue;
        }
        let digests: Vec<&Digest> = parts
            .iter()
            .filter_map(|p| p.message.digest.as_ref())
            .collect();
        match episode.apply(&parts[0].message.id, &digests, m.at) {
            Decision::Fold => folded.push(parts),
            Decision::Begins => keep.push((parts, m)),
            Decision::Ends { since, checks } => {
                m.body.push_str(&closing_note(since, checks));
                keep.push((parts, m));
            }
        }
    }
    // Notices decided before (another channel's loop, a retry) change nothing to keep.
    let kept = if episode == before {
        Ok(true)
    } else {
        store.keep_episode(&episode, version).await
    };
    match kept {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            let mut all = keep;
            all.extend(folded.into_iter().map(|p| {
                let m = p[0].message.clone();
                (p, m)
            }));
            return hold(all, is_notice, out, "the episode changed meanwhile".into());
        }
    }
    for parts in folded {
        for p in parts {
            match store.mark_sent(&p.message.id).await {
                Ok(()) => out.messages += 1,
                Err(e) => {
                    tracing::warn!(id = %p.message.id, error = %e, "a notice told with its episode stays pending")
                }
            }
        }
    }
    keep
}

/// Leaves the notices for the next round (they are decided then); the rest is kept.
fn hold(
    claimed: Vec<Group>,
    is_notice: impl Fn(&[Pending]) -> bool,
    out: &mut Delivered,
    why: String,
) -> Vec<Group> {
    let mut keep = Vec::new();
    for (parts, m) in claimed {
        if is_notice(&parts) {
            out.failures += 1;
            out.first_error.get_or_insert(why.clone());
        } else {
            keep.push((parts, m));
        }
    }
    keep
}
