//! The five tables: their names (from a prefix or the environment) and, for tests and
//! development, their creation (deployments create them from the templates).

use super::{sdk, DynamoStore};
use crate::StoreError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

/// The tables' name prefix when none is given.
pub const DEFAULT_PREFIX: &str = "atalaya-";

/// Table names given one by one, over those the prefix makes.
#[derive(Clone, Debug, Default)]
pub struct TableNames {
    pub results: Option<String>,
    pub state: Option<String>,
    pub incidents: Option<String>,
    pub outbox: Option<String>,
    pub subscribers: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Tables {
    pub results: String,
    pub state: String,
    pub incidents: String,
    pub outbox: String,
    pub subscribers: String,
}

impl Tables {
    /// `<prefix>results`, `<prefix>state`, `<prefix>incidents`, `<prefix>outbox`,
    /// `<prefix>subscribers`.
    pub fn with_prefix(prefix: &str) -> Self {
        Tables {
            results: format!("{prefix}results"),
            state: format!("{prefix}state"),
            incidents: format!("{prefix}incidents"),
            outbox: format!("{prefix}outbox"),
            subscribers: format!("{prefix}subscribers"),
        }
    }

    /// The prefix's names, with those given one by one (empty names are ignored).
    pub fn named(prefix: &str, names: TableNames) -> Self {
        let t = Tables::with_prefix(prefix);
        let pick =
            |given: Option<String>, made: String| given.filter(|v| !v.is_empty()).unwrap_or(made);
        Tables {
            results: pick(names.results, t.results),
            state: pick(names.state, t.state),
            incidents: pick(names.incidents, t.incidents),
            outbox: pick(names.outbox, t.outbox),
            subscribers: pick(names.subscribers, t.subscribers),
        }
    }

    /// From the environment: `ATALAYA_TABLE_PREFIX` (default [`DEFAULT_PREFIX`]), each name
    /// overridable with `ATALAYA_RESULTS_TABLE`, `ATALAYA_STATE_TABLE`,
    /// `ATALAYA_INCIDENTS_TABLE`, `ATALAYA_OUTBOX_TABLE`, `ATALAYA_SUBSCRIBERS_TABLE`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let prefix = var("ATALAYA_TABLE_PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.into());
        Tables::named(
            &prefix,
            TableNames {
                results: var("ATALAYA_RESULTS_TABLE"),
                state: var("ATALAYA_STATE_TABLE"),
                incidents: var("ATALAYA_INCIDENTS_TABLE"),
                outbox: var("ATALAYA_OUTBOX_TABLE"),
                subscribers: var("ATALAYA_SUBSCRIBERS_TABLE"),
            },
        )
    }
}

impl DynamoStore {
    /// Creates the four tables (on-demand billing) and turns on the results' TTL. Deployments
    /// create them from the templates; this is for tests and development.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
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
        self.enable_ttl(&self.tables.results, "ttl", "enable the results' TTL")
            .await?;
        for (table, what) in [
            (&self.tables.state, "create state table"),
            (&self.tables.incidents, "create incidents table"),
        ] {
            self.client
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(key("pk", KeyType::Hash))
                .attribute_definitions(attr("pk"))
                .send()
                .await
                .map_err(|e| sdk(what, e))?;
        }
        // Rollup hours in the state table expire 400 days after their day.
        self.enable_ttl(
            &self.tables.state,
            "expires",
            "enable the state table's TTL",
        )
        .await?;
        // Messages left to deliver (a sparse index), and each customer's subscribers.
        self.create_indexed(
            &self.tables.outbox,
            ("pending", "pending", "created"),
            "create outbox table",
        )
        .await?;
        self.create_indexed(
            &self.tables.subscribers,
            ("by_customer", "customer", "email"),
            "create subscribers table",
        )
        .await?;
        self.enable_ttl(
            &self.tables.subscribers,
            "expires",
            "enable the mail records' TTL",
        )
        .await?;
        Ok(())
    }

    /// Lets DynamoDB expire `table`'s items by their `attribute` (epoch seconds).
    async fn enable_ttl(&self, table: &str, attribute: &str, what: &str) -> Result<(), StoreError> {
        self.client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attribute)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| sdk(what, e))?;
        Ok(())
    }

    /// A table keyed by `pk` with one global index (`name`, its hash and range keys, every
    /// attribute projected).
    async fn create_indexed(
        &self,
        table: &str,
        (name, hash, range): (&str, &str, &str),
        what: &str,
    ) -> Result<(), StoreError> {
        let index = GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(hash, KeyType::Hash))
            .key_schema(key(range, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("index");
        self.client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr(hash))
            .attribute_definitions(attr(range))
            .global_secondary_indexes(index)
            .send()
            .await
            .map_err(|e| sdk(what, e))?;
        Ok(())
    }
}

/// A key schema element (the builder fails only without a name or kind).
fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key")
}

/// A string attribute's definition.
fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attr")
}
