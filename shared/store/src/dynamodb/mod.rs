//! DynamoDB: the store the Lambda functions use.
//!
//! Tables (docs/data-model.md):
//! - results: `pk` = region, `sk` = `<first result's time>#<content hash>`; the results of one
//!   probe run packed together, gzip-compressed JSON (`results`, binary), with a `ttl` so
//!   DynamoDB expires them. Packing is what keeps the cost per check a fraction of a write unit.
//! - state: `pk` = `engine` with `version` and the engine state (gzip-compressed JSON); written
//!   only with a condition on the version read.
//! - incidents: `pk` = incident id; the incident with its timeline, written in the same
//!   transaction as the state whenever it changes.
//! - outbox: `pk` = event id; `message` as JSON; `pending` = `1` while a channel has not
//!   delivered it (a sparse index on it lists what is left to deliver); `d_<channel>` once that
//!   channel is done with it.
//!
//! One file per table (`results.rs`, `state.rs` for the state and incidents, `outbox.rs`),
//! `tables.rs` for names and creation, `stats.rs` for what was written.

mod commit;
mod heartbeats;
mod outbox;
mod overlay;
mod results;
mod rollups;
mod stamps;
mod state;
mod stats;
mod subscribers;
mod tables;

pub use results::{pack_results, unpack_results};
pub use rollups::MAX_PART_BYTES;
pub use stats::{item_size, TableWrites, WriteStats};
pub use tables::{TableNames, Tables, DEFAULT_PREFIX};

use crate::{Delivery, Pending, Store, StoreError, Versioned};
use atalaya_core::evaluate::{Incident, State};
use atalaya_core::message::episode::Episode;
use atalaya_core::{Message, ProbeResult};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most items in one BatchWriteItem call (a DynamoDB limit moto does not enforce).
pub const BATCH: usize = 25;
/// Most items in one TransactWriteItems call.
pub const TRANSACTION: usize = 100;
/// Results packed into one item at most (a run's results are split into items of this many).
pub const RESULTS_PER_ITEM: usize = 400;
/// A packed item's compressed size at most; bigger packs are split (DynamoDB's item limit is
/// 400 KB, and a stream batch must fit Lambda's 6 MB event).
pub const MAX_PACKED_BYTES: usize = 64 * 1024;

/// DynamoDB's item size limit (attribute names and values).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// A DynamoDB item.
type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    tables: Tables,
    results_ttl: Duration,
    stats: Arc<WriteStats>,
    partitions: u32,
    /// The partitions' state items as this store last read or wrote them, by partition, with
    /// their versions (`state.rs`): parsing them again for every invocation was a third of the
    /// alert function's CPU.
    parsed: std::sync::Mutex<HashMap<String, (u64, Arc<State>)>>,
}

/// How many partitions the Lambda functions split the engine's state into: at 20,000 checks in
/// 5 regions each holds ~1,600 check-regions, well under DynamoDB's item limit
/// (docs/performance.md).
pub const PARTITIONS: u32 = 64;

fn micros(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn sdk<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    e: aws_sdk_dynamodb::error::SdkError<E>,
) -> StoreError {
    let f = atalaya_aws::classify(&e);
    StoreError::Aws {
        what: what.to_string(),
        retryable: f.retryable,
        detail: f.detail,
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, key: &str) -> Result<&'a str, StoreError> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Invalid(format!("item without {key}")))
}

impl DynamoStore {
    /// The items of `table` with these `pk`s (those that exist), 100 keys per BatchGetItem,
    /// asking again a few times for what DynamoDB leaves unprocessed (throttling).
    pub(super) async fn batch_get(
        &self,
        table: &str,
        pks: &[String],
        consistent: bool,
        what: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in pks.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|k| HashMap::from([("pk".to_string(), s(k.clone()))]))
                .collect();
            let mut request = Some(
                aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(consistent)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            );
            for _ in 0..10 {
                let Some(keys) = request.take() else { break };
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(table, keys)
                    .send()
                    .await
                    .map_err(|e| sdk(what, e))?;
                found.extend(
                    out.responses
                        .unwrap_or_default()
                        .remove(table)
                        .unwrap_or_default(),
                );
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(table))
                    .filter(|k| !k.keys.is_empty());
            }
            if request.is_some() {
                return Err(StoreError::Aws {
                    what: what.into(),
                    retryable: true,
                    detail: "DynamoDB kept keys unprocessed; try again".into(),
                });
            }
        }
        Ok(found)
    }
}

/// How long results are kept when the deployment does not say (`ATALAYA_RESULTS_TTL_DAYS`).
pub const DEFAULT_RESULTS_TTL: Duration = Duration::from_secs(30 * 86_400);

impl DynamoStore {
    /// A client for `region`, at `endpoint` when given (moto in tests); retries and timeouts as
    /// in [`atalaya_aws::sdk_config`].
    pub async fn connect(
        region: &str,
        endpoint: Option<&str>,
        tables: Tables,
        results_ttl: Duration,
    ) -> Self {
        let config = atalaya_aws::sdk_config(region, endpoint).await;
        DynamoStore::from_config(&config, tables, results_ttl)
    }

    /// A client over an SDK configuration the function already made (one per function: each
    /// costs init time).
    pub fn from_config(
        config: &aws_config::SdkConfig,
        tables: Tables,
        results_ttl: Duration,
    ) -> Self {
        DynamoStore::from_client(Client::new(config), tables, results_ttl)
    }

    /// A store over a client built elsewhere (the scale bench's, which counts its calls).
    pub fn from_client(client: Client, tables: Tables, results_ttl: Duration) -> Self {
        DynamoStore {
            client,
            tables,
            results_ttl,
            stats: Arc::default(),
            partitions: 1,
            parsed: std::sync::Mutex::default(),
        }
    }

    /// The tables a function is deployed with (`Tables::from_env`), in `region` (at `endpoint`
    /// in tests), for functions that write no results (the results' TTL is the default).
    pub async fn from_env(region: &str, endpoint: Option<&str>) -> DynamoStore {
        DynamoStore::connect(region, endpoint, Tables::from_env(), DEFAULT_RESULTS_TTL).await
    }

    /// Splits the engine's state into `n` partitions (the Lambda functions and the CLI acting
    /// on them use [`PARTITIONS`]); 1 keeps one document.
    pub fn with_partitions(mut self, n: u32) -> Self {
        self.partitions = n.max(1);
        self
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// What this store has written so far.
    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Where the rollup items' writes are counted: apart from the engine state's, as
    /// `<state table>#rollups` (they live in the state table).
    pub(super) fn rollups_stats(&self) -> String {
        format!("{}#rollups", self.tables.state)
    }
}

/// Each method is written beside its table; see the submodules.
impl Store for DynamoStore {
    async fn put_results(
        &self,
        results: &[ProbeResult],
        deadline: Instant,
    ) -> Result<usize, StoreError> {
        self.write_results(results, deadline).await
    }

    async fn results(
        &self,
        region: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        self.read_results(region, since).await
    }

    async fn load_state(&self) -> Result<Versioned, StoreError> {
        self.read_state(crate::ENGINE).await
    }

    fn partitions(&self) -> u32 {
        self.partitions
    }

    async fn load_part(&self, part: &str) -> Result<Versioned, StoreError> {
        self.read_state(part).await
    }

    async fn commit_part(
        &self,
        part: &str,
        base: &Versioned,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError> {
        self.write_state(part, base, state, messages).await
    }

    async fn commit(
        &self,
        base: &Versioned,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError> {
        self.write_state(crate::ENGINE, base, state, messages).await
    }

    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        self.read_incidents(open_only).await
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        self.read_incident(id).await
    }

    async fn messages(&self, ids: &[String]) -> Result<Vec<Message>, StoreError> {
        self.read_messages(ids).await
    }

    async fn pending(&self) -> Result<Vec<Pending>, StoreError> {
        self.read_pending().await
    }

    async fn claim(
        &self,
        id: &str,
        channel: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        self.try_claim(id, channel, now, lease).await
    }

    async fn release(&self, id: &str, channel: &str) -> Result<(), StoreError> {
        self.release_claim(id, channel).await
    }

    async fn record_delivery(
        &self,
        id: &str,
        channel: &str,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        self.record(id, channel, delivery).await
    }

    async fn thread(&self, channel: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.read_thread(channel, key).await
    }

    async fn keep_thread(
        &self,
        channel: &str,
        key: &str,
        reference: &str,
    ) -> Result<(), StoreError> {
        self.write_thread(channel, key, reference).await
    }

    async fn episode(&self) -> Result<(Episode, u64), StoreError> {
        self.read_episode().await
    }

    async fn keep_episode(&self, episode: &Episode, version: u64) -> Result<bool, StoreError> {
        self.write_episode(episode, version).await
    }

    async fn mark_sent(&self, id: &str) -> Result<(), StoreError> {
        self.finish(id).await
    }

    async fn lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", s(LEASE))
            .item("owner", s(owner))
            .item(
                "until",
                AttributeValue::N(until.timestamp_millis().to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR #u < :now OR #o = :me")
            .expression_attribute_names("#u", "until")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match out {
            Ok(_) => {
                self.stats.add(&self.tables.state, 64, false);
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk("take the evaluation lease", e)),
        }
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.state)
            .key("pk", s(LEASE))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match out {
            Ok(_) => {
                self.stats.add(&self.tables.state, 64, false);
                Ok(())
            }
            // Expired and taken by another: nothing of ours to give back.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk("release the evaluation lease", e)),
        }
    }
}

/// The evaluation lease's item in the state table.
const LEASE: &str = "lease#evaluate";
