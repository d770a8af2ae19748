//! DynamoDB: the store the Lambda functions use.
//!
//! Tables (docs/data-model.md):
//! - results: `pk` = `check#region`, `sk` = time (RFC 3339); the result as JSON; `ttl` (epoch
//!   seconds) so DynamoDB expires old results.
//! - state: one item `pk` = `engine` with `version` and the state as JSON; written only with a
//!   condition on the version read.
//! - outbox: `pk` = event id; `message` as JSON; `pending` = `1` while unsent (a sparse index on it
//!   lists what is left to publish).

use crate::{StoreError, Versioned};
use atalaya_core::evaluate::State;
use atalaya_core::{Message, ProbeResult};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, PutRequest, ScalarAttributeType, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most items in one BatchWriteItem call (a DynamoDB limit moto does not enforce).
pub const BATCH: usize = 25;

#[derive(Clone, Debug)]
pub struct Tables {
    pub results: String,
    pub state: String,
    pub outbox: String,
}

impl Tables {
    /// `atalaya-results`, `atalaya-state`, `atalaya-outbox` behind a prefix.
    pub fn with_prefix(prefix: &str) -> Self {
        Tables {
            results: format!("{prefix}results"),
            state: format!("{prefix}state"),
            outbox: format!("{prefix}outbox"),
        }
    }
}

pub struct DynamoStore {
    client: Client,
    tables: Tables,
    results_ttl: Duration,
}

/// Is an SDK error worth retrying? Throttling and server errors are; validation errors are not.
pub fn retryable(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "TransactionConflictException"
        )
    )
}

fn sdk<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    e: aws_sdk_dynamodb::error::SdkError<E>,
) -> StoreError {
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string);
    let message = e
        .as_service_error()
        .and_then(|s| s.message())
        .map(str::to_string);
    StoreError::Aws {
        what: what.to_string(),
        retryable: retryable(code.as_deref()) || e.as_service_error().is_none(),
        detail: format!(
            "{} {}",
            code.unwrap_or_else(|| "transport".into()),
            message.unwrap_or_else(|| format!("{e:?}"))
        ),
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
    /// A client for `region`, at `endpoint` when given (moto in tests); retries and timeouts as
    /// in [`atalaya_aws::sdk_config`].
    pub async fn connect(
        region: &str,
        endpoint: Option<&str>,
        tables: Tables,
        results_ttl: Duration,
    ) -> Self {
        let config = atalaya_aws::sdk_config(region, endpoint).await;
        DynamoStore {
            client: Client::new(&config),
            tables,
            results_ttl,
        }
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Creates the three tables (on-demand billing). Deployments create them from the templates;
    /// this is for tests and development.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attr")
        };
        self.client
            .create_table()
            .table_name(&self.tables.results)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            // The alert function is triggered by this stream.
            .stream_specification(
                aws_sdk_dynamodb::types::StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| sdk("create results table", e))?;
        self.client
            .create_table()
            .table_name(&self.tables.state)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .attribute_definitions(attr("pk"))
            .send()
            .await
            .map_err(|e| sdk("create state table", e))?;
        let pending = GlobalSecondaryIndex::builder()
            .index_name("pending")
            .key_schema(key("pending", KeyType::Hash))
            .key_schema(key("created", KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("index");
        self.client
            .create_table()
            .table_name(&self.tables.outbox)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("pending"))
            .attribute_definitions(attr("created"))
            .global_secondary_indexes(pending)
            .send()
            .await
            .map_err(|e| sdk("create outbox table", e))?;
        Ok(())
    }

    /// Writes results in batches of [`BATCH`], resending what DynamoDB leaves unprocessed with
    /// exponential backoff until `deadline`. Never returns `Ok` with a result unwritten.
    pub async fn put_results(
        &self,
        results: &[ProbeResult],
        deadline: Instant,
    ) -> Result<usize, StoreError> {
        let mut written = 0;
        for chunk in results.chunks(BATCH) {
            let mut requests = Vec::with_capacity(chunk.len());
            for r in chunk {
                let expires = r.at.timestamp() + self.results_ttl.as_secs() as i64;
                let item = HashMap::from([
                    ("pk".to_string(), s(format!("{}#{}", r.check, r.region))),
                    (
                        "sk".to_string(),
                        s(r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                    ),
                    ("result".to_string(), s(serde_json::to_string(r)?)),
                    ("ttl".to_string(), AttributeValue::N(expires.to_string())),
                ]);
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            let mut backoff = Duration::from_millis(50);
            let mut pending = requests;
            loop {
                let attempt = pending.len();
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.tables.results, pending)
                    .send()
                    .await
                    .map_err(|e| sdk("write results", e))?;
                let left: Vec<WriteRequest> = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.tables.results))
                    .unwrap_or_default();
                written += attempt - left.len();
                if left.is_empty() {
                    break;
                }
                if Instant::now() + backoff > deadline {
                    return Err(StoreError::Aws {
                        what: "write results".into(),
                        retryable: true,
                        detail: format!("{} results still unprocessed at the deadline", left.len()),
                    });
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                pending = left;
            }
        }
        Ok(written)
    }

    /// The newest results of one check in one region.
    pub async fn recent_results(
        &self,
        check: &str,
        region: &str,
        limit: i32,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.results)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("{check}#{region}")))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(|e| sdk("read results", e))?;
        out.items()
            .iter()
            .map(|i| Ok(serde_json::from_str(get_s(i, "result")?)?))
            .collect()
    }

    pub async fn load_state(&self) -> Result<Versioned, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("pk", s("engine"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read state", e))?;
        let Some(item) = out.item else {
            return Ok(Versioned::default());
        };
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Invalid("state without version".into()))?;
        Ok(Versioned {
            state: serde_json::from_str(get_s(&item, "state")?)?,
            version,
        })
    }

    /// Writes the state if it is still at `version` (of two racing writers, one wins; the other
    /// gets [`StoreError::Conflict`], reloads and evaluates again).
    pub async fn commit_state(&self, version: u64, state: &State) -> Result<u64, StoreError> {
        let next = version + 1;
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", s("engine"))
            .item("version", AttributeValue::N(next.to_string()))
            .item("state", s(serde_json::to_string(state)?))
            .condition_expression(if version == 0 {
                "attribute_not_exists(pk)"
            } else {
                "version = :v"
            })
            .set_expression_attribute_values((version > 0).then(|| {
                HashMap::from([(":v".to_string(), AttributeValue::N(version.to_string()))])
            }))
            .send()
            .await;
        match result {
            Ok(_) => Ok(next),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict { expected: version })
            }
            Err(e) => Err(sdk("write state", e)),
        }
    }

    /// Saves `state` over `version` and records `messages` in one transaction: either the new
    /// state and all its messages are stored, or nothing is (a version conflict, or messages
    /// already recorded by a racing invocation that committed this very transition). Returns the
    /// new version. More messages than fit in a transaction are recorded right after, each once.
    pub async fn commit(
        &self,
        version: u64,
        state: &State,
        messages: &[Message],
    ) -> Result<u64, StoreError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let next = version + 1;
        let mut state_put = Put::builder()
            .table_name(&self.tables.state)
            .item("pk", s("engine"))
            .item("version", AttributeValue::N(next.to_string()))
            .item("state", s(serde_json::to_string(state)?));
        state_put = if version == 0 {
            state_put.condition_expression("attribute_not_exists(pk)")
        } else {
            state_put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        };
        let mut items = vec![TransactWriteItem::builder()
            .put(
                state_put
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .build()];
        let (now, later) = messages.split_at(messages.len().min(99));
        for m in now {
            let put = self.outbox_put(m)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                return Err(StoreError::Conflict { expected: version });
            }
            Err(e) => return Err(sdk("commit state and messages", e)),
        }
        self.enqueue(later).await?;
        Ok(next)
    }

    fn outbox_put(&self, m: &Message) -> Result<aws_sdk_dynamodb::types::Put, StoreError> {
        aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.tables.outbox)
            .item("pk", s(m.id.clone()))
            .item("message", s(serde_json::to_string(m)?))
            .item("pending", s("1"))
            .item(
                "created",
                s(format!(
                    "{}#{}",
                    m.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    m.id
                )),
            )
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// Records messages in the outbox, each once: a conditional put keyed by the event id, so a
    /// retried invocation or a duplicate stream delivery records nothing twice. Returns how many
    /// were new.
    pub async fn enqueue(&self, messages: &[Message]) -> Result<usize, StoreError> {
        let mut new = 0;
        for m in messages {
            let result = self
                .client
                .put_item()
                .table_name(&self.tables.outbox)
                .item("pk", s(m.id.clone()))
                .item("message", s(serde_json::to_string(m)?))
                .item("pending", s("1"))
                .item(
                    "created",
                    s(format!(
                        "{}#{}",
                        m.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        m.id
                    )),
                )
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match result {
                Ok(_) => new += 1,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk("record message", e)),
            }
        }
        Ok(new)
    }

    /// Messages recorded and not yet published, oldest first.
    pub async fn pending(&self) -> Result<Vec<Message>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.outbox)
                .index_name("pending")
                .key_condition_expression("pending = :p")
                .expression_attribute_values(":p", s("1"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk("read outbox", e))?;
            for item in page.items() {
                out.push(serde_json::from_str(get_s(item, "message")?)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Claims a pending message for publishing, for `lease`: of several invocations publishing
    /// at once, only the one that claims it publishes it. A claim left by an invocation that
    /// died expires, and the message is published by the next one.
    pub async fn claim(
        &self,
        id: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = now + chrono::TimeDelta::from_std(lease).unwrap_or_default();
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("SET claimed_until = :until")
            .condition_expression("attribute_exists(pending) AND (attribute_not_exists(claimed_until) OR claimed_until < :now)")
            .expression_attribute_values(":until", AttributeValue::N(until.timestamp_millis().to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp_millis().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
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
    pub async fn release(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("pk", s(id))
            .update_expression("REMOVE claimed_until")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk("release message", e))?;
        Ok(())
    }

    /// Marks a message published: it leaves the pending index.
    pub async fn mark_sent(&self, id: &str) -> Result<(), StoreError> {
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
        Ok(())
    }

    /// Records that `region` ran at `at` (silent regions are judged from these).
    pub async fn put_heartbeat(
        &self,
        region: &str,
        at: chrono::DateTime<chrono::Utc>,
        checks: usize,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", s(format!("heartbeat#{region}")))
            .item(
                "at",
                s(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            )
            .item("checks", AttributeValue::N(checks.to_string()))
            .send()
            .await
            .map_err(|e| sdk("write heartbeat", e))?;
        Ok(())
    }

    /// When `region` last ran, if ever.
    pub async fn heartbeat(
        &self,
        region: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("pk", s(format!("heartbeat#{region}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read heartbeat", e))?;
        Ok(out.item.and_then(|i| {
            i.get("at")
                .and_then(|v| v.as_s().ok())
                .and_then(|t| t.parse().ok())
        }))
    }

    /// The TTL attribute of a stored result (for tests and the data-model document).
    pub async fn result_ttl(
        &self,
        check: &str,
        region: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.results)
            .key("pk", s(format!("{check}#{region}")))
            .key(
                "sk",
                s(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            )
            .send()
            .await
            .map_err(|e| sdk("read result", e))?;
        Ok(out.item.and_then(|i| {
            i.get("ttl")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
        }))
    }
}
