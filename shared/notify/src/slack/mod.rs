//! Slack. With a bot token: one message per incident (or per episode of the monitor's
//! blindness, a fault, an early warning), kept current by editing it (`chat.update`), every
//! later event a reply in its thread (`chat.postMessage` with `thread_ts`); the thread's
//! message id is kept by delivery, per channel and key. With an incoming webhook: one message
//! per event, no threads, no edits.
//!
//! Messages are Block Kit within Slack's limits ([`blocks`]), with a plain-text fallback.

mod blocks;

pub use blocks::{event_blocks, root_blocks, ACK_ACTION, MAX_BLOCKS, MAX_SECTION};

use crate::vendor::{secret_header, Call, Vendor};
use crate::{Channel, ChannelError};
use atalaya_core::message::details::Action;
use atalaya_core::Message;
use futures::future::BoxFuture;
use http::header::AUTHORIZATION;
use http::Method;
use serde_json::{json, Value};

/// Slack's errors a later try may get past; every other is the configuration's.
const RETRYABLE: [&str; 5] = [
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

pub enum SlackTarget {
    Bot {
        token: String,
        channel: String,
        api: url::Url,
        /// Interactivity comes back to us (a signing secret is set): the Acknowledge button
        /// acknowledges in place; otherwise it opens the acknowledgement page.
        interactive: bool,
    },
    Webhook(url::Url),
}

pub struct SlackChannel {
    name: String,
    target: SlackTarget,
    vendor: Vendor,
}

impl SlackChannel {
    pub fn new(name: &str, target: SlackTarget, vendor: Vendor) -> Self {
        SlackChannel {
            name: name.to_string(),
            target,
            vendor,
        }
    }

    fn error(&self, m: &Message, retryable: bool, detail: String) -> ChannelError {
        ChannelError {
            channel: self.name.clone(),
            id: m.id.clone(),
            retryable,
            detail: self.vendor.scrub(&detail),
        }
    }

    /// One Web API method; its answer's `ts`.
    async fn api(
        &self,
        m: &Message,
        method: &str,
        body: Value,
    ) -> Result<Option<String>, ChannelError> {
        let SlackTarget::Bot { token, api, .. } = &self.target else {
            return Err(self.error(m, false, "no bot token".into()));
        };
        let auth = secret_header(&format!("Bearer {token}"))
            .map_err(|d| self.error(m, false, format!("slack.token: {d}")))?;
        let mut url = api.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty().push(method);
        }
        let call = Call {
            method: Method::POST,
            url,
            headers: vec![(AUTHORIZATION, auth)],
            json: body,
        };
        let answer = self.vendor.call(&self.name, &m.id, &call).await?;
        let reply: Value = serde_json::from_slice(&answer.body)
            .map_err(|_| self.error(m, true, format!("{method}: the answer is not JSON")))?;
        if reply["ok"].as_bool() == Some(true) {
            return Ok(reply["ts"].as_str().map(str::to_string));
        }
        let error = reply["error"].as_str().unwrap_or("unknown_error");
        Err(self.error(m, RETRYABLE.contains(&error), format!("{method}: {error}")))
    }
}

/// `chat.postMessage`'s body for an event: as a reply when `thread` is given.
pub fn post_body(channel: &str, m: &Message, thread: Option<&str>, interactive: bool) -> Value {
    let (text, blocks) = if thread.is_some() {
        event_blocks(m, interactive)
    } else {
        root_blocks(m, interactive)
    };
    let mut body = json!({ "channel": channel, "text": text, "blocks": blocks, "unfurl_links": false, "unfurl_media": false });
    if let Some(ts) = thread {
        body["thread_ts"] = json!(ts);
    }
    body
}

impl Channel for SlackChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn answered(&self) -> Option<String> {
        self.vendor.answered()
    }

    fn threads(&self) -> bool {
        matches!(self.target, SlackTarget::Bot { .. })
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move { self.send_in(m, None).await.map(|_| ()) })
    }

    fn send_in<'a>(
        &'a self,
        m: &'a Message,
        thread: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, ChannelError>> {
        Box::pin(async move {
            let channel = match &self.target {
                SlackTarget::Webhook(url) => {
                    let (text, blocks) = event_blocks(m, false);
                    let call = Call {
                        method: Method::POST,
                        url: url.clone(),
                        headers: Vec::new(),
                        json: json!({ "text": text, "blocks": blocks }),
                    };
                    self.vendor.call(&self.name, &m.id, &call).await?;
                    return Ok(None);
                }
                SlackTarget::Bot {
                    channel,
                    interactive,
                    ..
                } => (channel, *interactive),
            };
            let (channel, interactive) = channel;
            let opens = m.details.as_ref().is_none_or(|d| d.action == Action::Open);
            match thread {
                Some(ts) if !opens => {
                    let (text, blocks) = root_blocks(m, interactive);
                    self.api(
                        m,
                        "chat.update",
                        json!({ "channel": channel, "ts": ts, "text": text, "blocks": blocks }),
                    )
                    .await?;
                    self.api(
                        m,
                        "chat.postMessage",
                        post_body(channel, m, Some(ts), interactive),
                    )
                    .await?;
                    Ok(Some(ts.to_string()))
                }
                // It opens (or its thread is unknown: the channel came later): a new message.
                _ => {
                    self.api(
                        m,
                        "chat.postMessage",
                        post_body(channel, m, None, interactive),
                    )
                    .await
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
