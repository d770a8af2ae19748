//! The outbox: messages keyed by event id (each recorded once), a sparse `pending` index of
//! what is left to deliver, one `c_<channel>` claim per channel (so that one publisher sends a
//! message to a channel, and a slow channel holds up no other), and one `d_<channel>` attribute
//! per channel done with it.

use super::stats::item_size;
use super::{get_s, micros, s, sdk, DynamoStore};
use crate::{Delivery, Pending, StoreError};
use atalaya_core::message::episode::Episode;
use atalaya_core::Message;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// The attribute that records a channel done with a message: `d_<channel>`.
const DELIVERED: &str = "d_";
/// The attribute that holds one channel's claim on a message: `c_<channel>`.
const CLAIMED: &str = "c_";
/// The item that keeps the monitor's episode of blindness.
const EPISODE: &str = "episode#sight";

pub(super) fn outbox_item(m: &Message) -> Result<HashMap<String, AttributeValue>, StoreError> {
    Ok(HashMap::from([
        ("pk".to_string(), s(m.id.clone())),
        ("message".to_string(), s(serde_json::to_string(m)?)),
        ("pending".to_string(), s("1")),
        (
            "created".to_string(),
            s(format!("{}#{}", micros(m.at), m.id)),
        ),
    ]))
}

impl DynamoStore {
    /// The monitor's episode of blindness: one item of the outbox table (`episode#sight`),
    /// versioned, never pending.
    pub(super) async fn read_episode(&self) -> Result<(Episode, u64), StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(EPISODE))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read the blindness episode", e))?;
        match got.item {
            Some(item) => {
                let version = get_s(&item, "version")?.parse().unwrap_or(0);
                Ok((serde_json::from_str(get_s(&item, "doc")?)?, version))
            }
            None => Ok((Episode::default(), 0)),
        }
    }

    pub(super) async fn write_episode(
        &self,
        episode: &Episode,
        version: u64,
    ) -> Result<bool, StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.tables.outbox)
            .item("pk", s(EPISODE))
            .item("doc", s(serde_json::to_string(episode)?))
            .item("version", s((version + 1).to_string()));
        put = if version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", s(version.to_string()))
        };
        match put.send().await {
            Ok(_) => {
                self.count_update();
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk("keep the blindness episode", e)),
        }
    }

    /// A channel's thread for a key: an item of its own in the outbox table
    /// (`thread#<channel>#<key>`), never pending.
    pub(super) async fn read_thread(
        &self,
        channel: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(format!("thread#{channel}#{key}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read a thread", e))?;
        match got.item {
            Some(item) => Ok(Some(get_s(&item, "reference")?.to_string())),
            None => Ok(None),
        }
    }

    pub(super) async fn write_thread(
        &self,
        channel: &str,
        key: &str,
        reference: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.outbox)
            .item("pk", s(format!("thread#{channel}#{key}")))
            .item("reference", s(reference.to_string()))
            .send()
            .await
            .map_err(|e| sdk("keep a thread", e))?;
        self.count_update();
        Ok(())
    }

    /// Records messages in the outbox, each once: a conditional put keyed by the event id, so a
    /// retried invocation or a duplicate stream delivery records nothing twice. Returns how many
    /// were new.
    pub async fn enqueue(&self, messages: &[Message]) -> Result<usize, StoreError> {
        let mut new = 0;
        for m in messages {
            let item = outbox_item(m)?;
            let size = item_size(&item);
            let result = self
                .client
                .put_item()
                .table_name(&self.tables.outbox)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match result {
                Ok(_) => {
                    new += 1;
                    self.stats.add(&self.tables.outbox, size, false);
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk("record message", e)),
            }
        }
        Ok(new)
    }

    /// An update of a message item (claims, marks), counted as one write unit.
    fn count_update(&self) {
        self.stats.add(&self.tables.outbox, 1, false);
    }

    /// The messages with these ids (those recorded), in that order.
    pub(super) async fn read_messages(&self, ids: &[String]) -> Result<Vec<Message>, StoreError> {
        let mut found: HashMap<String, Message> = HashMap::new();
        for item in self
            .batch_get(&self.tables.outbox, ids, true, "read messages")
            .await?
        {
            let m: Message = serde_json::from_str(get_s(&item, "message")?)?;
            found.insert(m.id.clone(), m);
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Messages recorded and not yet published, oldest first.
    pub(super) async fn read_pending(&self) -> Result<Vec<Pending>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.tables.outbox)
            .index_name("pending")
            .key_condition_expression("pending = :p")
            .expression_attribute_values(":p", s("1"))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk("read outbox", e))?;
        items
            .iter()
            .map(|i| {
                Ok(Pending {
                    message: serde_json::from_str(get_s(i, "message")?)?,
                    done: i
                        .keys()
                        .filter_map(|k| k.strip_prefix(DELIVERED))
                        .map(str::to_string)
                        .collect(),
                })
            })
            .collect()
    }

    /// `SET d_<channel> = sent` (or why it gave up): that channel is done with the message.
    pub(super) async fn record(
        &self,
        id: &str,
        channel: &str,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        if channel.is_empty()
            || !channel
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::Invalid(format!(
                "channel name {channel:?}: use letters, digits and _"
            )));
        }
        let value = match delivery {
            Delivery::Sent => "sent".to_string(),
            Delivery::GaveUp(why) => format!("gave up: {why}"),
        };
        self.client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("SET #d = :v")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#d", format!("{DELIVERED}{channel}"))
            .expression_attribute_values(":v", s(value))
            .send()
            .await
            .map_err(|e| sdk("record delivery", e))?;
        self.count_update();
        Ok(())
    }

    /// Claims a pending message for publishing, for `lease`: of several invocations publishing
    /// at once, only the one that claims it publishes it. A claim left by an invocation that
    /// died expires, and the message is published by the next one.
    pub(super) async fn try_claim(
        &self,
        id: &str,
        channel: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = now + chrono::TimeDelta::from_std(lease).unwrap_or_default();
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("SET #c = :until")
            .condition_expression(
                "attribute_exists(pending) AND (attribute_not_exists(#c) OR #c < :now)",
            )
            .expression_attribute_names("#c", format!("{CLAIMED}{channel}"))
            .expression_attribute_values(
                ":until",
                AttributeValue::N(until.timestamp_millis().to_string()),
            )
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => {
                self.count_update();
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk("claim message", e)),
        }
    }

    /// Gives a claim back (the publish failed): the next invocation may publish at once.
    pub(super) async fn release_claim(&self, id: &str, channel: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("REMOVE #c")
            .expression_attribute_names("#c", format!("{CLAIMED}{channel}"))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk("release message", e))?;
        self.count_update();
        Ok(())
    }

    /// Marks a message published: it leaves the pending index.
    pub(super) async fn finish(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("REMOVE pending SET sent_at = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", s(chrono::Utc::now().to_rfc3339()))
            .send()
            .await
            .map_err(|e| sdk("mark message sent", e))?;
        self.count_update();
        Ok(())
    }
}
