//! The engine state (one versioned item, written only over the version read) and the
//! incidents: reading them, and the items a commit is made of (`commit.rs` writes them).

use super::results::{gunzip, gzip};
use super::stats::item_size;
use super::{get_s, micros, s, sdk, DynamoStore, MAX_ITEM_BYTES};
use crate::{StoreError, Versioned};
use atalaya_core::evaluate::{Incident, State};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) fn incident_item(i: &Incident) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item = HashMap::from([
        ("pk".to_string(), s(i.id.clone())),
        ("service".to_string(), s(i.service.clone())),
        ("opened_at".to_string(), s(micros(i.opened_at))),
        ("incident".to_string(), s(serde_json::to_string(i)?)),
    ]);
    if i.is_open() {
        item.insert("open".to_string(), s("1"));
    }
    Ok(item)
}

/// A partition's stamps item (`stamps.rs`).
pub(super) fn stamps_key(part: &str) -> String {
    format!("{}#stamps", state_key(part))
}

/// A versioned item of the state table, written only over the version read.
pub(super) fn versioned_put(
    table: &str,
    key: String,
    version: u64,
    json: &[u8],
    state_at: u64,
) -> Result<(Put, usize), StoreError> {
    let item = HashMap::from([
        ("pk".to_string(), s(key)),
        (
            "version".to_string(),
            AttributeValue::N((version + 1).to_string()),
        ),
        (
            "state".to_string(),
            AttributeValue::B(Blob::new(gzip(json))),
        ),
        // The state item's version it goes over (`overlay.rs`).
        (
            "state_at".to_string(),
            AttributeValue::N(state_at.to_string()),
        ),
    ]);
    let size = item_size(&item);
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = if version == 0 {
        put.condition_expression("attribute_not_exists(pk)")
    } else {
        put.condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
    };
    Ok((
        put.build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?,
        size,
    ))
}

/// The state item's key: `engine` for the whole state, `engine#<partition>` for a partition.
pub(super) fn state_key(part: &str) -> String {
    if part == crate::ENGINE {
        part.to_string()
    } else {
        format!("{}#{part}", crate::ENGINE)
    }
}

pub(super) fn too_large(
    item: &HashMap<String, AttributeValue>,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    let bytes = item_size(item);
    if bytes > MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge {
            what: what(),
            bytes,
        });
    }
    Ok(())
}

/// What a failed commit means. A transaction is cancelled for several reasons, one per item:
/// a condition that failed (another writer committed first, or recorded these messages) or a
/// conflict with a concurrent transaction on the same items is a version conflict (read
/// again, evaluate again); throttling is worth retrying later; a validation error (an item too
/// large, a malformed item) never goes through however often it is tried.
pub(super) fn canceled(
    e: aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    >,
    version: u64,
) -> StoreError {
    let what = "commit state, incidents and messages";
    let reasons: Vec<String> = match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .iter()
            .filter_map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
            .collect(),
        _ => return sdk(what, e),
    };
    let has = |code: &str| reasons.iter().any(|r| r == code);
    if has("ValidationError") || has("ItemCollectionSizeLimitExceeded") {
        StoreError::Invalid(format!(
            "{what}: DynamoDB refused an item for good ({})",
            reasons.join(", ")
        ))
    } else if has("ThrottlingError") || has("ProvisionedThroughputExceeded") {
        StoreError::Aws {
            what: what.into(),
            retryable: true,
            detail: format!("transaction cancelled: {}", reasons.join(", ")),
        }
    } else {
        // ConditionalCheckFailed, TransactionConflict, or no reason given.
        StoreError::Conflict { expected: version }
    }
}

/// A whole-number attribute of an item.
fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
}

pub(super) fn put(table: &str, item: HashMap<String, AttributeValue>) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

impl DynamoStore {
    /// Writes incidents outside a transaction (only those that did not fit in one).
    pub(super) async fn put_incidents(&self, incidents: &[&Incident]) -> Result<(), StoreError> {
        for i in incidents {
            let item = incident_item(i)?;
            self.stats
                .add(&self.tables.incidents, item_size(&item), false);
            self.client
                .put_item()
                .table_name(&self.tables.incidents)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| sdk("write incident", e))?;
        }
        Ok(())
    }

    /// A stored item of the state table: its version, its gunzipped JSON and the stamps version
    /// it supersedes.
    fn versioned(
        item: &HashMap<String, AttributeValue>,
    ) -> Result<(u64, Vec<u8>, u64), StoreError> {
        let version = number(item, "version")
            .ok_or_else(|| StoreError::Invalid("state without version".into()))?;
        match item.get("state") {
            Some(AttributeValue::B(b)) => Ok((
                version,
                gunzip(b.as_ref(), "the stored state")?,
                number(item, "stamps_at").unwrap_or(0),
            )),
            _ => Err(StoreError::Invalid("state item without state".into())),
        }
    }

    pub(super) async fn read_state(&self, part: &str) -> Result<Versioned, StoreError> {
        // A partition's state and its stamps in one consistent round trip.
        let keys: Vec<String> = if part == crate::ENGINE {
            vec![state_key(part)]
        } else {
            vec![state_key(part), stamps_key(part)]
        };
        let found: HashMap<String, HashMap<String, AttributeValue>> = self
            .batch_get(&self.tables.state, &keys, true, "read state")
            .await?
            .into_iter()
            .filter_map(|item| match item.get("pk") {
                Some(AttributeValue::S(k)) => Some((k.clone(), item)),
                _ => None,
            })
            .collect();
        let Some(item) = found.get(&state_key(part)) else {
            return Ok(Versioned::default());
        };
        let (version, stored, stamps_at) = self.stored(part, item)?;
        let mut state = (*stored).clone();
        let mut stamps_version = 0;
        if let Some(item) = found.get(&stamps_key(part)) {
            let (v, json, _) = Self::versioned(item)?;
            stamps_version = v;
            // Stamps written after the state item was, over this very state item (one written
            // over an earlier one lost a race to a whole-partition write: overlay.rs).
            let over = number(item, "state_at").is_none_or(|at| at == version);
            if v > stamps_at && over {
                let mut stamps: super::stamps::Stamps = serde_json::from_slice(&json)?;
                // The changed checks moved in, not cloned (join would copy them).
                super::overlay::apply(&mut state, std::mem::take(&mut stamps.changed));
                state = super::stamps::join(state, &stamps);
            }
        }
        Ok(Versioned {
            state,
            version,
            stamps: stamps_version,
            stored: Some(stored),
        })
    }

    /// A partition's state item, parsed: its version, its state and the stamps version it
    /// supersedes. A warm function holds the items it last read or wrote, and parses an item
    /// again only when another invocation wrote it since.
    fn stored(
        &self,
        part: &str,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<(u64, Arc<State>, u64), StoreError> {
        let version = number(item, "version");
        let held = self
            .parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(part)
            .filter(|(v, _)| Some(*v) == version)
            .map(|(_, s)| s.clone());
        if let (Some(version), Some(state)) = (version, held) {
            return Ok((version, state, number(item, "stamps_at").unwrap_or(0)));
        }
        let (version, json, stamps_at) = Self::versioned(item)?;
        let state: Arc<State> = Arc::new(serde_json::from_slice(&json)?);
        self.hold(part, version, state.clone());
        Ok((version, state, stamps_at))
    }

    /// Holds a partition's state item as this store last read or wrote it (the newest only).
    pub(super) fn hold(&self, part: &str, version: u64, state: Arc<State>) {
        if part != crate::ENGINE {
            self.parsed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(part.to_string(), (version, state));
        }
    }

    /// Writes one item of a transaction on its own (a write DynamoDB bills once, not twice); a
    /// failed condition is a version conflict.
    pub(super) async fn conditional_put(
        &self,
        put: &Put,
        version: u64,
        what: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_string))
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict { expected: version })
            }
            Err(e) => Err(sdk(what, e)),
        }
    }

    pub(super) async fn read_incidents(
        &self,
        open_only: bool,
    ) -> Result<Vec<Incident>, StoreError> {
        let mut scan = self.client.scan().table_name(&self.tables.incidents);
        if open_only {
            scan = scan
                .filter_expression("attribute_exists(#o)")
                .expression_attribute_names("#o", "open");
        }
        let items = scan
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk("read incidents", e))?;
        let mut out: Vec<Incident> = items
            .iter()
            .map(|i| Ok(serde_json::from_str(get_s(i, "incident")?)?))
            .collect::<Result<_, StoreError>>()?;
        out.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| b.id.cmp(&a.id)));
        Ok(out)
    }

    pub(super) async fn read_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.incidents)
            .key("pk", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read incident", e))?;
        out.item
            .map(|i| Ok(serde_json::from_str(get_s(&i, "incident")?)?))
            .transpose()
    }
}

/// The state item's put, written only over the version read (or where there is none yet).
pub(super) fn versioned_state_put(
    table: &str,
    item: HashMap<String, AttributeValue>,
    version: u64,
) -> Result<Put, StoreError> {
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = if version == 0 {
        put.condition_expression("attribute_not_exists(pk)")
    } else {
        put.condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
    };
    put.build().map_err(|e| StoreError::Invalid(e.to_string()))
}
