//! Where incidents are kept: the local runner's SQLite database, or the Lambda functions'
//! DynamoDB tables. One set of options, under one heading in every command's help.

use anyhow::Context;
use atalaya_app::Checks;
use atalaya_store::{DynamoStore, SqliteStore, TableNames, Tables, DEFAULT_RESULTS_TTL};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The local runner's database (`--db`).
    Sqlite,
    /// The Lambda functions' tables (`--table-prefix` or each table's name, `--region`).
    Dynamodb,
}

/// Where incidents are kept.
#[derive(Args, Clone)]
#[command(next_help_heading = "Where incidents are kept (the runner's database, or DynamoDB)")]
pub struct StoreArgs {
    /// `sqlite` (the local runner's database) or `dynamodb` (the Lambda functions' tables).
    #[arg(
        long,
        value_enum,
        default_value = "sqlite",
        env = "ATALAYA_STORE",
        global = true
    )]
    pub store: StoreKind,
    /// The local runner's SQLite database.
    #[arg(long, value_name = "FILE", default_value = "atalaya.db", global = true)]
    pub db: PathBuf,
    /// DynamoDB: the tables' name prefix (`<prefix>state`, `<prefix>incidents`, ...).
    #[arg(
        long,
        value_name = "PREFIX",
        env = "ATALAYA_TABLE_PREFIX",
        default_value = atalaya_store::DEFAULT_PREFIX,
        global = true
    )]
    pub table_prefix: String,
    /// DynamoDB: the state table's name, if not `<prefix>state`.
    #[arg(long, value_name = "NAME", env = "ATALAYA_STATE_TABLE", global = true)]
    pub state_table: Option<String>,
    /// DynamoDB: the incidents table's name, if not `<prefix>incidents`.
    #[arg(
        long,
        value_name = "NAME",
        env = "ATALAYA_INCIDENTS_TABLE",
        global = true
    )]
    pub incidents_table: Option<String>,
    /// DynamoDB: the outbox table's name, if not `<prefix>outbox`.
    #[arg(long, value_name = "NAME", env = "ATALAYA_OUTBOX_TABLE", global = true)]
    pub outbox_table: Option<String>,
    /// DynamoDB: the home region (where the tables are).
    #[arg(
        long,
        env = "ATALAYA_HOME_REGION",
        default_value = "us-east-1",
        global = true
    )]
    pub region: String,
    /// The checks file: with DynamoDB, the one the functions run with (service names; needed
    /// to act); with the subscriber commands before the first run, the one the runner will use.
    #[arg(long, value_name = "FILE", env = "ATALAYA_CHECKS", global = true)]
    pub checks: Option<PathBuf>,
    /// DynamoDB: publish at once to this operators topic (else the alert function publishes
    /// what the command records within a minute).
    #[arg(
        long,
        value_name = "ARN",
        env = "ATALAYA_OPERATORS_TOPIC_ARN",
        global = true
    )]
    pub operators_topic: Option<String>,
    /// DynamoDB: the customers topic, with --operators-topic.
    #[arg(
        long,
        value_name = "ARN",
        env = "ATALAYA_CUSTOMERS_TOPIC_ARN",
        global = true
    )]
    pub customers_topic: Option<String>,
}

pub enum Opened {
    Sqlite {
        store: SqliteStore,
        checks: Checks,
        outbox: PathBuf,
    },
    Dynamo {
        store: DynamoStore,
        checks: Option<Checks>,
    },
}

impl Opened {
    pub fn checks(&self) -> Option<&Checks> {
        match self {
            Opened::Sqlite { checks, .. } => Some(checks),
            Opened::Dynamo { checks, .. } => checks.as_ref(),
        }
    }
}

pub async fn open(args: &StoreArgs) -> anyhow::Result<Opened> {
    match args.store {
        StoreKind::Sqlite => {
            let (store, checks, outbox) = crate::run::open_db(&args.db)?;
            Ok(Opened::Sqlite {
                store,
                checks,
                outbox,
            })
        }
        StoreKind::Dynamodb => {
            let tables = Tables::named(
                &args.table_prefix,
                TableNames {
                    state: args.state_table.clone(),
                    incidents: args.incidents_table.clone(),
                    outbox: args.outbox_table.clone(),
                    results: None,
                    subscribers: None,
                },
            );
            let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
            // Split as the Lambda functions split it, to act on their incidents.
            let store = DynamoStore::connect(
                &args.region,
                endpoint.as_deref(),
                tables,
                DEFAULT_RESULTS_TTL,
            )
            .await
            .with_partitions(atalaya_store::dynamodb::PARTITIONS);
            let checks = args
                .checks
                .as_deref()
                .map(|p| {
                    Checks::load(p, atalaya_core::Target::Lambda)
                        .with_context(|| format!("loading {}", p.display()))
                })
                .transpose()?;
            Ok(Opened::Dynamo { store, checks })
        }
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
