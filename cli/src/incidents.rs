//! `atalaya incidents` and `atalaya incident show|ack|update|resolve`, against the local
//! runner's SQLite database or the Lambda functions' DynamoDB tables: one implementation over
//! the `Store` trait.

use anyhow::Context;
use atalaya_core::evaluate::{act, Action, Incident};
use atalaya_core::{Config, Message, Renderer};
use atalaya_store::{DynamoStore, Store, StoreError, Tables};
use chrono::Utc;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The local runner's database (`--db`).
    Sqlite,
    /// The Lambda functions' tables (`--table-prefix` or each table's name, `--region`).
    Dynamodb,
}

/// Where incidents are kept.
#[derive(Args, Clone)]
pub struct StoreArgs {
    #[arg(
        long,
        value_enum,
        default_value = "sqlite",
        env = "ATALAYA_STORE",
        global = true
    )]
    pub store: StoreKind,
    /// The local runner's SQLite database.
    #[arg(long, default_value = "atalaya.db", global = true)]
    pub db: PathBuf,
    /// DynamoDB: the tables' name prefix (`<prefix>state`, `<prefix>incidents`, ...).
    #[arg(
        long,
        env = "ATALAYA_TABLE_PREFIX",
        default_value = "atalaya-",
        global = true
    )]
    pub table_prefix: String,
    /// DynamoDB: the state table's name, if not `<prefix>state`.
    #[arg(long, env = "ATALAYA_STATE_TABLE", global = true)]
    pub state_table: Option<String>,
    /// DynamoDB: the incidents table's name, if not `<prefix>incidents`.
    #[arg(long, env = "ATALAYA_INCIDENTS_TABLE", global = true)]
    pub incidents_table: Option<String>,
    /// DynamoDB: the outbox table's name, if not `<prefix>outbox`.
    #[arg(long, env = "ATALAYA_OUTBOX_TABLE", global = true)]
    pub outbox_table: Option<String>,
    /// DynamoDB: the home region (where the tables are).
    #[arg(
        long,
        env = "ATALAYA_HOME_REGION",
        default_value = "us-east-1",
        global = true
    )]
    pub region: String,
    /// DynamoDB: the checks file the functions run with (service names; needed to act).
    #[arg(long, env = "ATALAYA_CHECKS", global = true)]
    pub checks: Option<PathBuf>,
    /// DynamoDB: publish at once to this operators topic (else the alert function publishes
    /// what the command records within a minute).
    #[arg(long, env = "ATALAYA_OPERATORS_TOPIC_ARN", global = true)]
    pub operators_topic: Option<String>,
    /// DynamoDB: the customers topic, with --operators-topic.
    #[arg(long, env = "ATALAYA_CUSTOMERS_TOPIC_ARN", global = true)]
    pub customers_topic: Option<String>,
}

/// What a command needs from the checks file, when it has one.
struct Checks {
    config: Config,
    renderer: Renderer,
}

enum Opened {
    Sqlite {
        store: atalaya_store::SqliteStore,
        checks: Checks,
        outbox: PathBuf,
    },
    Dynamo {
        store: DynamoStore,
        checks: Option<Checks>,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn open(args: &StoreArgs) -> anyhow::Result<Opened> {
    match args.store {
        StoreKind::Sqlite => {
            let (store, config, outbox, renderer) = crate::run::open_db(&args.db)?;
            Ok(Opened::Sqlite {
                store,
                checks: Checks { config, renderer },
                outbox,
            })
        }
        StoreKind::Dynamodb => {
            let mut tables = Tables::with_prefix(&args.table_prefix);
            for (over, slot) in [
                (&args.state_table, &mut tables.state),
                (&args.incidents_table, &mut tables.incidents),
                (&args.outbox_table, &mut tables.outbox),
            ] {
                if let Some(name) = over {
                    slot.clone_from(name);
                }
            }
            let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
            let store = DynamoStore::connect(
                &args.region,
                endpoint.as_deref(),
                tables,
                Duration::from_secs(30 * 86_400),
            )
            .await;
            let checks = match &args.checks {
                None => None,
                Some(path) => {
                    let config = atalaya_core::load_file(path, atalaya_core::Target::Lambda)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let base = path.parent().unwrap_or(std::path::Path::new("."));
                    let renderer = atalaya_notify::templates::renderer(&config, base)
                        .map_err(|p| anyhow::anyhow!("{}", p.join("\n")))?;
                    Some(Checks { config, renderer })
                }
            };
            Ok(Opened::Dynamo { store, checks })
        }
    }
}

pub fn list(args: &StoreArgs, open_only: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let text = match open(args).await? {
            Opened::Sqlite { store, checks, .. } => {
                render_list(&store.incidents(open_only).await?, Some(&checks.config))
            }
            Opened::Dynamo { store, checks } => render_list(
                &store.incidents(open_only).await?,
                checks.as_ref().map(|c| &c.config),
            ),
        };
        crate::emit(&text?)
    })
}

pub fn show(args: &StoreArgs, id: &str) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let incident = match open(args).await? {
            Opened::Sqlite { store, .. } => store.incident(id).await?,
            Opened::Dynamo { store, .. } => store.incident(id).await?,
        };
        let incident = incident.with_context(|| format!("no incident {id}"))?;
        crate::emit(&render_incident(&incident)?)
    })
}

/// Applies an operator's action, records what it says, and publishes it (SQLite: to stdout and
/// the runner's outbox; DynamoDB: to SNS when the topics are given, else the alert function
/// publishes it within a minute).
pub fn apply(args: &StoreArgs, id: &str, action: Action) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        match open(args).await? {
            Opened::Sqlite {
                store,
                checks,
                outbox,
            } => {
                act_and_commit(&store, &checks, id, action).await?;
                let mut publisher = crate::run::local_publisher(&outbox)?;
                crate::run::publish_local(&store, &mut publisher).await?;
            }
            Opened::Dynamo { store, checks } => {
                let checks = checks.context(
                    "acting on an incident needs the checks file the functions run with: pass --checks FILE (or set ATALAYA_CHECKS)",
                )?;
                let messages = act_and_commit(&store, &checks, id, action).await?;
                match (&args.operators_topic, &args.customers_topic) {
                    (Some(ops), Some(customers)) => {
                        let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
                        let sns = atalaya_notify::SnsPublisher::connect(
                            &args.region,
                            endpoint.as_deref(),
                            ops.clone(),
                            customers.clone(),
                        )
                        .await;
                        let out = atalaya_store::publish_pending(&store, async |m: &Message| {
                            sns.publish(m).await.map(|_| ())
                        })
                        .await?;
                        if let Some(e) = out.first_error {
                            anyhow::bail!("recorded, but publishing failed (the alert function retries within a minute): {e}");
                        }
                        eprintln!("{} message(s) published", out.published);
                    }
                    _ => eprintln!(
                        "{} message(s) recorded; the alert function publishes them within a minute",
                        messages.len()
                    ),
                }
            }
        }
        Ok(())
    })
}

async fn act_and_commit<S: Store>(
    store: &S,
    checks: &Checks,
    id: &str,
    action: Action,
) -> anyhow::Result<Vec<Message>> {
    for _ in 0..10 {
        let v = store.load_state().await?;
        if !v.state.incidents.contains_key(id) {
            // Not live: tell resolved-and-archived from unknown.
            if let Some(i) = store.incident(id).await? {
                anyhow::bail!(
                    "incident {id} is {} and closed{}",
                    i.phase.as_str(),
                    i.resolved_at
                        .map(|r| format!(" since {}", r.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default()
                );
            }
        }
        let (state, events) = act(&v.state, id, action.clone(), Utc::now(), &checks.config)?;
        let messages = events
            .iter()
            .map(|e| checks.renderer.render(e, &state, &checks.config))
            .collect::<Result<Vec<_>, _>>()?;
        match store.commit(&v, &state, &messages).await {
            Ok(_) => return Ok(messages),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("the incident kept changing; try again")
}

fn render_list(incidents: &[Incident], config: Option<&Config>) -> anyhow::Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    writeln!(
        out,
        "{:<8}  {:<13}  {:<22}  {:<20}  {:<20}  ACK",
        "ID", "PHASE", "SERVICE", "OPENED", "RESOLVED"
    )?;
    for i in incidents {
        let service = match config.and_then(|c| c.service(&i.service)) {
            Some(s) => format!("{} ({})", i.service, s.name),
            None => i.service.clone(),
        };
        writeln!(
            out,
            "{:<8}  {:<13}  {:<22}  {:<20}  {:<20}  {}",
            i.id,
            i.phase.as_str(),
            service,
            i.opened_at.format("%Y-%m-%d %H:%M:%S"),
            i.resolved_at
                .map(|r| r.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
            i.acknowledged_by.as_deref().unwrap_or("-")
        )?;
    }
    Ok(out)
}

fn render_incident(inc: &Incident) -> anyhow::Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    writeln!(
        out,
        "{} · {} · service {}{}",
        inc.id,
        inc.phase.as_str(),
        inc.service,
        if inc.affected.is_empty() {
            String::new()
        } else {
            format!(" (also {})", inc.affected.join(", "))
        }
    )?;
    writeln!(
        out,
        "first failure {} · opened {}",
        inc.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        inc.opened_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    if let Some(r) = inc.resolved_at {
        writeln!(out, "resolved {}", r.format("%Y-%m-%d %H:%M:%S UTC"))?;
    }
    if let Some(by) = &inc.acknowledged_by {
        writeln!(out, "acknowledged by {by}")?;
    }
    writeln!(out, "\ntimeline:")?;
    for t in &inc.timeline {
        writeln!(
            out,
            "  {}  {:<9}  {:<13}  {:<12}  {}{}",
            t.at.format("%H:%M:%S"),
            format!("{:?}", t.audience).to_lowercase(),
            t.kind.as_str(),
            t.phase.as_str(),
            t.service.as_deref().unwrap_or(""),
            t.text
                .as_deref()
                .map(|x| format!(" — {x}"))
                .unwrap_or_default()
        )?;
    }
    Ok(out)
}
