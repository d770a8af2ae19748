//! Where messages go: one folder per channel, each with a pure builder of what it sends beside
//! the send itself, and its own limits.
//!
//! - `stdout`: a readable rendering for a terminal (the local runner, previews);
//! - `jsonl`: one JSON object per line in a file: exactly what SNS would receive, plus `at`;
//! - `sns`: the operators and customers topics, email-safe subjects, message attributes;
//! - `memory`: keeps what it is sent (tests, and callers that only want to look);
//! - `email`: customer mail in the team's own name: its format, links and transport (who gets
//!   which mail is the application layer's `customer_mail`);
//! - `status_site`: the status site's objects, to a folder or an S3 bucket (only what changed);
//! - operators' paging and chat (`settings.operators.channels`): `pagerduty`, `opsgenie`,
//!   `slack`, `teams`, `webhook`, each calling its vendor through `vendor` (the probe engine's
//!   guarded client, retries, `Retry-After`); `oncall::build` makes them from the checks file.
//!
//! The application layer (`atalaya-app`) delivers each pending message to every channel and
//! records the delivery per message and channel, so a channel that failed is retried alone.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod email;
#[cfg(test)]
mod fixtures;
pub mod jsonl;
pub mod memory;
pub mod oncall;
pub mod opsgenie;
pub mod pagerduty;
pub mod slack;
pub mod sns;
pub mod status_site;
pub mod stdout;
pub mod teams;
pub mod vendor;
pub mod webhook;

pub use jsonl::JsonlChannel;
pub use memory::MemoryChannel;
pub use sns::{email_subject, SnsChannel};
pub use stdout::StdoutChannel;

use atalaya_core::Message;
use futures::future::BoxFuture;

/// A destination for rendered messages.
pub trait Channel: Send + Sync {
    /// A short stable name (`[a-z0-9_]`), recorded with every delivery: `stdout`, `jsonl`,
    /// `sns`.
    fn name(&self) -> &str;
    /// Sends one message, within the channel's own limits (subject length and alphabet, body
    /// size). Sending a message again with the same id must not duplicate it where the
    /// channel can tell (the JSONL file can; SNS subscribers see the id as an attribute).
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>>;

    /// Whether this message is for the channel at all (an operators' paging or chat channel
    /// takes what its routes send it); one that is not counts as done without a send.
    fn wants(&self, _message: &Message) -> bool {
        true
    }

    /// What the vendor last answered (its status and the start of its body), for `atalaya
    /// channels test`; `None` for channels without a vendor.
    fn answered(&self) -> Option<String> {
        None
    }

    /// Whether the channel keeps the messages about one thing (an incident) together in a
    /// thread it opens (Slack with a bot token): delivery then keeps the thread's reference
    /// per channel and key, and hands it to [`Channel::send_in`].
    fn threads(&self) -> bool {
        false
    }

    /// Sends one message into `thread` (the reference an earlier send of the same thing gave);
    /// says which thread the message is in now, to keep for the next.
    fn send_in<'a>(
        &'a self,
        message: &'a Message,
        _thread: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, ChannelError>> {
        Box::pin(async move { self.send(message).await.map(|()| None) })
    }
}

/// A failed send: `retryable` when trying again may succeed (throttling, a full disk);
/// otherwise it never will (the message breaks the channel's rules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{channel}: sending {id}: {detail}{}", if *retryable { " (retryable)" } else { "" })]
pub struct ChannelError {
    pub channel: String,
    pub id: String,
    pub retryable: bool,
    pub detail: String,
}

impl ChannelError {
    pub fn io(channel: &str, id: &str, e: &std::io::Error) -> Self {
        ChannelError {
            channel: channel.into(),
            id: id.into(),
            retryable: true,
            detail: e.to_string(),
        }
    }
}
