//! `atalaya subscribers`: who hears about a customer's services by email. Kept where incidents
//! are (the runner's database). A subscriber added without `--confirmed` gets a confirmation
//! mail and nothing else until they confirm (double opt-in).

use crate::store::{open, runtime, Opened, StoreArgs};
use anyhow::Context;
use atalaya_app::subscriber_list::{parse_csv, wanted, Wanted};
use atalaya_core::email::{Change, Subscriber, SubscriberState, Subscription};
use atalaya_core::Config;
use atalaya_store::Subscribers;
use chrono::Utc;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum SubscribersCommand {
    /// Add a subscriber (or change one). Without --confirmed a confirmation mail goes out and
    /// nothing else is sent until the subscriber confirms.
    #[command(
        after_help = "Examples:\n  atalaya subscribers add --customer acme --email ana@acme.example --language es\n  atalaya subscribers add --customer acme --email ops@acme.example --services shop,api --confirmed"
    )]
    Add {
        /// The customer (an id of the checks file).
        #[arg(long)]
        customer: String,
        /// The subscriber's address.
        #[arg(long)]
        email: String,
        /// `en` or `es` (default: the customer's language).
        #[arg(long)]
        language: Option<String>,
        /// Only these services (ids, comma-separated); default: all of the customer's.
        #[arg(long, value_delimiter = ',')]
        services: Vec<String>,
        /// The address's owner already agreed (no confirmation mail).
        #[arg(long)]
        confirmed: bool,
    },
    /// List subscribers, by customer and address.
    List {
        /// Only this customer's.
        #[arg(long)]
        customer: Option<String>,
        /// `table` for people, `json` for machines.
        #[arg(long, value_enum, default_value_t = crate::Format::Table)]
        format: crate::Format,
    },
    /// Forget a subscriber (nothing more is sent to the address).
    Remove {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        email: String,
    },
    /// Add subscribers from a CSV file with a header line: `customer,email[,language][,services]`
    /// (services separated by spaces or `;`). Every line is checked before any is added.
    #[command(
        after_help = "Example file:\n  customer,email,language,services\n  acme,ana@acme.example,es,\n  acme,ops@acme.example,en,shop;api"
    )]
    Import {
        file: PathBuf,
        /// Every address's owner already agreed (no confirmation mails).
        #[arg(long)]
        confirmed: bool,
    },
}

/// Adds or changes one subscriber; says what happened.
async fn add_one<S: Subscribers>(
    store: &S,
    w: Wanted,
    confirmed: bool,
) -> anyhow::Result<(Subscriber, &'static str)> {
    let now = Utc::now();
    let id = Subscriber::id_for(&w.customer, &w.email);
    let (s, what) = match store.subscriber(&id).await? {
        Some(mut s) => {
            let before = (s.language, s.services.clone(), s.state);
            s.language = w.language;
            s.services = w.services;
            // Unsubscribed, bounced or complained: only the owner can agree again.
            s.change(Change::AddAgain { confirmed }, now);
            // The same again (an import run twice) changes nothing, and says so.
            if (s.language, s.services.clone(), s.state) == before {
                return Ok((s, "unchanged"));
            }
            s.updated_at = now;
            let what = match s.state {
                SubscriberState::Confirmed if confirmed => "changed (confirmed)",
                SubscriberState::Pending if !confirmed => "pending again",
                _ => "changed",
            };
            (s, what)
        }
        None => (
            Subscriber::new(
                &w.customer,
                &w.email,
                w.language,
                w.services,
                confirmed,
                now,
            ),
            if confirmed {
                "added (confirmed)"
            } else {
                "added (pending)"
            },
        ),
    };
    store.put_subscriber(&s).await?;
    Ok((s, what))
}

pub fn command(
    args: &StoreArgs,
    cmd: SubscribersCommand,
) -> anyhow::Result<std::process::ExitCode> {
    runtime()?.block_on(async {
        // Before the first run, the checks file is given here (--checks) and recorded.
        let opened = match (&args.checks, args.store) {
            (Some(file), crate::store::StoreKind::Sqlite) => {
                let (store, checks, outbox) = crate::run::open_db_for(&args.db, file)?;
                Opened::Sqlite {
                    store,
                    checks,
                    outbox,
                }
            }
            _ => open(args).await?,
        };
        match opened {
            Opened::Sqlite { store, checks, .. } => {
                let mail = Mail::Local {
                    base: checks.base.clone(),
                    db: args.db.clone(),
                };
                act(&store, Some(&checks.config), &mail, cmd).await
            }
            Opened::Dynamo { store, checks } => {
                let store = std::sync::Arc::new(store);
                let mail = Mail::Ses {
                    store: store.clone(),
                    base: checks.as_ref().map(|c| c.base.clone()).unwrap_or_default(),
                    configuration_set: std::env::var("ATALAYA_SES_CONFIGURATION_SET")
                        .unwrap_or_else(|_| format!("{}mail", args.table_prefix)),
                    region: args.region.clone(),
                };
                act(&*store, checks.as_ref().map(|c| &c.config), &mail, cmd).await
            }
        }
    })
}

/// How confirmation mails go out.
enum Mail {
    /// The runner's: SMTP or .eml files.
    Local { base: PathBuf, db: PathBuf },
    /// The functions': SES, from the home region, through the stack's configuration set
    /// (ATALAYA_SES_CONFIGURATION_SET, default `<prefix>mail`), with the operator's credentials.
    Ses {
        store: std::sync::Arc<atalaya_store::DynamoStore>,
        base: PathBuf,
        configuration_set: String,
        region: String,
    },
}

/// The email channel a confirmation mail goes through.
enum Sender {
    Local(atalaya_app::EmailChannel<atalaya_store::SqliteStore>),
    Ses(atalaya_app::EmailChannel<atalaya_store::DynamoStore>),
}

impl Sender {
    async fn confirm(&self, s: &Subscriber) -> Result<(), String> {
        match self {
            Sender::Local(c) => c.send_confirmation(s).await.map(|_| ()),
            Sender::Ses(c) => c.send_confirmation(s).await.map(|_| ()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Sender::Local(c) => c.transport().describe(),
            Sender::Ses(c) => c.transport().describe(),
        }
    }
}

/// The SES channel of the functions' stack, for confirmation mails.
async fn ses_sender(
    config: &Config,
    store: &std::sync::Arc<atalaya_store::DynamoStore>,
    base: &Path,
    configuration_set: &str,
    region: &str,
) -> anyhow::Result<Sender> {
    use atalaya_notify::email::{Templates, Transport};
    let key_ref = config.settings.email.key.as_ref().context(
        "settings.email.key is not set: confirmation links are signed with the functions' key (a ${ssm:...} or ${secret:...} reference)",
    )?;
    let key = atalaya_core::email::Key::from_text(
        &crate::mail::resolve(key_ref, "settings.email.key").await?,
    )
    .map_err(|e| anyhow::anyhow!("settings.email.key: {e}"))?;
    let pages = config.settings.email.pages_url.as_deref().context(
        "settings.email.pages_url is not set: the confirmation link needs the pages' address (the home stack's PagesUrl output)",
    )?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let sdk = atalaya_aws::sdk_config(region, endpoint.as_deref()).await;
    Ok(Sender::Ses(atalaya_app::EmailChannel::new(
        store.clone(),
        std::sync::Arc::new(config.clone()),
        Templates::new(config, base).map_err(|e| anyhow::anyhow!("{e}"))?,
        key,
        pages,
        Transport::ses(&sdk, Some(configuration_set.to_string())),
    )))
}

async fn act<S: Subscribers>(
    store: &S,
    config: Option<&Config>,
    mail: &Mail,
    cmd: SubscribersCommand,
) -> anyhow::Result<std::process::ExitCode> {
    let needs_config = || {
        config.context("adding subscribers checks them against the checks file: pass --checks FILE (the one the functions run with)")
    };
    match cmd {
        SubscribersCommand::List { customer, format } => {
            let list = store.subscribers(customer.as_deref()).await?;
            let text = if format == crate::Format::Json {
                format!("{}\n", serde_json::to_string_pretty(&list)?)
            } else {
                table(&list)
            };
            crate::emit(&text)?;
        }
        SubscribersCommand::Remove { customer, email } => {
            let id = Subscriber::id_for(&customer, email.trim());
            if !store.remove_subscriber(&id).await? {
                anyhow::bail!("{email} is not a subscriber of {customer}");
            }
            crate::emit(&format!("removed {email} from {customer}'s subscribers\n"))?;
        }
        SubscribersCommand::Add {
            customer,
            email,
            language,
            services,
            confirmed,
        } => {
            let config = needs_config()?;
            let w = wanted(config, &customer, &email, language.as_deref(), &services)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let added = vec![add_one(store, w, confirmed).await?];
            report(config, mail, added).await?;
        }
        SubscribersCommand::Import { file, confirmed } => {
            let config = needs_config()?;
            let rows = read_csv(&file, config)?;
            let mut added = Vec::new();
            for w in rows {
                added.push(add_one(store, w, confirmed).await?);
            }
            report(config, mail, added).await?;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Prints what was added and sends the pending ones their confirmation mail.
async fn report(
    config: &Config,
    mail: &Mail,
    added: Vec<(Subscriber, &'static str)>,
) -> anyhow::Result<()> {
    let pending = added
        .iter()
        .any(|(s, _)| s.state == SubscriberState::Pending);
    let channel = match mail {
        _ if !pending => None,
        Mail::Local { base, db } => crate::mail::channel(config, base, db, None)
            .await?
            .map(Sender::Local),
        Mail::Ses {
            store,
            base,
            configuration_set,
            region,
        } => Some(ses_sender(config, store, base, configuration_set, region).await?),
    };
    let mut out = String::new();
    for (s, what) in &added {
        out.push_str(&format!("{} {}: {what}", s.customer, s.email));
        if s.state == SubscriberState::Pending {
            match &channel {
                Some(c) => match c.confirm(s).await {
                    Ok(()) => out.push_str(&format!(
                        "; a confirmation mail went out ({}); nothing else is sent until it is confirmed",
                        c.describe()
                    )),
                    Err(e) => out.push_str(&format!("; the confirmation mail did not go out ({e}): add again to retry")),
                },
                None => out.push_str("; no confirmation mail: the checks file has no settings.brand (no sender)"),
            }
        }
        out.push('\n');
    }
    crate::emit(&out)
}

/// The largest subscriber file read (some 200,000 subscribers); a larger one is refused
/// before it is read whole.
const MAX_CSV: u64 = 16 << 20;

fn read_csv(file: &Path, config: &Config) -> anyhow::Result<Vec<Wanted>> {
    use atalaya_core::source::{read_text, ReadError};
    let text = read_text(file, MAX_CSV).map_err(|e| match e {
        ReadError::Io(e) => anyhow::anyhow!("reading {}: {e}", file.display()),
        e @ ReadError::NotText { pos, .. } => anyhow::anyhow!("{}:{pos}: {e}", file.display()),
        e => anyhow::anyhow!("{}: {e}", file.display()),
    })?;
    parse_csv(&text, &file.display().to_string(), config)
        .map_err(|problems| anyhow::anyhow!("{}\nnothing was imported", problems.join("\n")))
}

fn table(list: &[Subscriber]) -> String {
    if list.is_empty() {
        return "no subscribers\n".into();
    }
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|s| {
            [
                s.customer.clone(),
                s.email.clone(),
                s.state.as_str().to_string(),
                s.language.map_or("-", |l| l.code()).to_string(),
                match &s.services {
                    Subscription::All => "all".into(),
                    Subscription::Services(v) => v.iter().cloned().collect::<Vec<_>>().join(","),
                },
            ]
        })
        .collect();
    let head = ["CUSTOMER", "EMAIL", "STATE", "LANGUAGE", "SERVICES"];
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 5]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 4 {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(head);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out
}
