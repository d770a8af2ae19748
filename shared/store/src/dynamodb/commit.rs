//! A commit: the state of one partition, the incidents that changed and the new messages, in
//! one conditional write or one transaction.
//!
//! A partition's state goes in one of two ways. Usually only what changed since the partition's
//! item was written goes, with the stamps (`overlay.rs`, `stamps.rs`): the stamps item, written
//! over the stamps version read. When that would be more than half the partition, the whole
//! state goes into the partition's item (over the version read) together with a fresh stamps
//! item (over the stamps version read) in one transaction: whichever of two racing evaluations
//! commits second fails its condition and evaluates again, so no evaluation is lost.

use super::outbox::outbox_item;
use super::results::gzip;
use super::state::{
    canceled, incident_item, put, stamps_key, state_key, too_large, versioned_put,
    versioned_state_put,
};
use super::stats::item_size;
use super::{s, DynamoStore, MAX_ITEM_BYTES, TRANSACTION};
use crate::{StoreError, Versioned};
use atalaya_core::evaluate::{Incident, State};
use atalaya_core::Message;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use std::collections::HashMap;
use std::sync::Arc;

/// The items that carry a partition's state, each with where its writes are counted and its
/// size; the version the commit leaves; whether the partition's item is among them.
struct Head {
    items: Vec<(Put, String, usize)>,
    version: u64,
    whole: bool,
}

impl DynamoStore {
    /// Saves `state` over `base`, the incidents that changed, and records `messages`: either
    /// all of it is stored, or nothing is (a version conflict, or messages already recorded by
    /// a racing invocation that committed this very transition). What does not fit in one
    /// transaction (100 items) is written right after, each message once.
    pub(super) async fn write_state(
        &self,
        part: &str,
        base: &Versioned,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError> {
        let head = self.head(part, base, state)?;
        let (version, whole) = (head.version, head.whole);
        self.commit_with(head, base, state, messages).await?;
        if whole {
            self.hold(part, version, Arc::new(state.clone()));
        }
        Ok(version)
    }

    fn stamps_stats(&self) -> String {
        format!("{}#stamps", self.tables.state)
    }

    /// What carries `state`: what changed, with the stamps, while that is under half the
    /// partition; else the whole partition and fresh stamps.
    fn head(&self, part: &str, base: &Versioned, state: &State) -> Result<Head, StoreError> {
        let version = base.version;
        let mut stamps = (part != crate::ENGINE).then(|| super::stamps::stamps(state));
        if let Some(stamps) = stamps.as_mut().filter(|_| version > 0) {
            let stored = base.stored.as_deref().unwrap_or(&base.state);
            let all: usize = stored.checks.values().map(|c| c.regions.len()).sum();
            // They leave again as their checks settle back. (Three quarters instead of half
            // wrote a tenth fewer bytes for more CPU: every read parses them.)
            let changed = super::overlay::diff(stored, state).filter(|c| c.len() <= all / 2);
            if let Some(changed) = changed {
                stamps.changed = changed;
                let json = serde_json::to_vec(stamps)?;
                let (put, size) = versioned_put(
                    &self.tables.state,
                    stamps_key(part),
                    base.stamps,
                    &json,
                    version,
                )?;
                self.stats.largest(size);
                return Ok(Head {
                    items: vec![(put, self.stamps_stats(), size)],
                    version,
                    whole: false,
                });
            }
        }
        let next = version + 1;
        let state_item = HashMap::from([
            ("pk".to_string(), s(state_key(part))),
            ("version".to_string(), AttributeValue::N(next.to_string())),
            (
                "state".to_string(),
                AttributeValue::B(Blob::new(gzip(&serde_json::to_vec(state)?))),
            ),
            (
                "stamps_at".to_string(),
                AttributeValue::N(base.stamps.to_string()),
            ),
        ]);
        let size = item_size(&state_item);
        if size > MAX_ITEM_BYTES {
            self.stats.refused(size);
            return Err(StoreError::TooLarge {
                what: "the engine state".into(),
                bytes: size,
            });
        }
        self.stats.largest(size);
        let whole = versioned_state_put(&self.tables.state, state_item, version)?;
        let mut items = vec![(whole, self.tables.state.clone(), size)];
        if let Some(stamps) = &stamps {
            let json = serde_json::to_vec(stamps)?;
            let (put, size) = versioned_put(
                &self.tables.state,
                stamps_key(part),
                base.stamps,
                &json,
                next,
            )?;
            items.push((put, self.stamps_stats(), size));
        }
        Ok(Head {
            items,
            version: next,
            whole: true,
        })
    }

    async fn commit_with(
        &self,
        head: Head,
        base: &Versioned,
        state: &State,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let version = base.version;
        let mut sizes: Vec<(String, usize)> = Vec::new();
        let mut items = Vec::new();
        for (put, table, size) in head.items {
            sizes.push((table, size));
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let changed: Vec<&Incident> = state.changed_incidents(&base.state).collect();
        let room = TRANSACTION - items.len();
        let (incidents_now, incidents_later) = changed.split_at(changed.len().min(room));
        for i in incidents_now {
            let item = incident_item(i)?;
            too_large(&item, || format!("incident {}", i.id))?;
            sizes.push((self.tables.incidents.clone(), item_size(&item)));
            items.push(
                TransactWriteItem::builder()
                    .put(put(&self.tables.incidents, item)?)
                    .build(),
            );
        }
        let room = TRANSACTION - items.len();
        let (now, later) = messages.split_at(messages.len().min(room));
        for m in now {
            let item = outbox_item(m)?;
            too_large(&item, || format!("message {}", m.id))?;
            sizes.push((self.tables.outbox.clone(), item_size(&item)));
            let put = Put::builder()
                .table_name(&self.tables.outbox)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        if items.len() == 1 {
            // One item (the usual minute): one conditional write, not a transaction, which
            // DynamoDB bills twice.
            let put = items
                .pop()
                .and_then(|i| i.put)
                .ok_or_else(|| StoreError::Invalid("no state to write".into()))?;
            self.conditional_put(&put, version, "commit state").await?;
            for (table, size) in sizes {
                self.stats.add(&table, size, false);
            }
            return Ok(());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| canceled(e, version))?;
        for (table, size) in sizes {
            self.stats.add(&table, size, true);
        }
        self.put_incidents(incidents_later).await?;
        self.enqueue(later).await?;
        Ok(())
    }
}
