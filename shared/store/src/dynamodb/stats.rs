//! What a store wrote: items, bytes and write units per table, counted as DynamoDB bills them.
//! The cost figures of docs/data-model.md are computed from these.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// What a store wrote, per table: items, bytes (DynamoDB's item size: attribute names plus
/// values) and write request units (1 per KB or part of one, per item; twice that inside a
/// transaction). The cost figures of docs/data-model.md are computed from these.
#[derive(Debug, Default)]
pub struct WriteStats {
    tables: Mutex<BTreeMap<String, TableWrites>>,
    largest: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct TableWrites {
    pub items: u64,
    pub bytes: u64,
    pub write_units: u64,
    /// The largest item written, in bytes.
    pub largest: u64,
}

impl WriteStats {
    /// Notes the size of a state item written; [`WriteStats::largest_state_item`] is the largest.
    pub(super) fn largest(&self, size: usize) {
        self.largest
            .fetch_max(size, std::sync::atomic::Ordering::Relaxed);
    }

    /// The largest state item this store has written, in bytes (a metric and alarm watch it:
    /// DynamoDB refuses items over 400 KB).
    pub fn largest_state_item(&self) -> usize {
        self.largest.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes a state item refused for its size (it counts as the largest: the metric says how
    /// far over the limit it is).
    pub(super) fn refused(&self, size: usize) {
        self.largest(size);
    }

    pub(super) fn add(&self, table: &str, size: usize, transactional: bool) {
        let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let w = t.entry(table.to_string()).or_default();
        w.items += 1;
        w.bytes += size as u64;
        w.write_units += (size.max(1) as u64).div_ceil(1024) * if transactional { 2 } else { 1 };
        w.largest = w.largest.max(size as u64);
    }

    /// Writes so far, by table name (a partition's stamps items under `<state table>#stamps`,
    /// the rollup items under `<state table>#rollups`).
    pub fn snapshot(&self) -> BTreeMap<String, TableWrites> {
        self.tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// DynamoDB's size of an attribute value (numbers approximated by their digits).
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => 3 + item_size(m),
        _ => 0,
    }
}

/// DynamoDB's size of an item: each attribute's name plus its value.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}
