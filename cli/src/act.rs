//! `atalaya incident ack|update|resolve`: act on an incident, record what it says in the same
//! transaction as the state, and publish it (SQLite: stdout and the runner's outbox; DynamoDB:
//! SNS when the topics are given, else the alert function within a minute). `--dry-run` shows
//! every message and sends nothing; refusals say what to change, and `--force` overrides them.

use crate::store::{open, runtime, Opened, StoreArgs};
use atalaya_app::operator_action::{act_on, ActFailed};
use atalaya_app::{deliver, Checks, Mode};
use atalaya_core::evaluate::{Action, ActionError, Audience, Refusal, State, Texts};
use atalaya_core::{Language, Message};
use atalaya_store::Store;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use std::process::ExitCode;

/// Words for customers: `--message` (the default text, in English) and `--message-<language>`
/// for every language customers may read. Generated from the language list, so a new language
/// brings its own flag.
#[derive(Clone, Debug, Default)]
pub struct MessageArgs {
    pub texts: Texts,
}

impl FromArgMatches for MessageArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut texts = Texts {
            default: m.get_one::<String>("message").cloned(),
            ..Texts::default()
        };
        for l in Language::ALL {
            if let Some(t) = m.get_one::<String>(&format!("message-{}", l.code())) {
                texts.by_language.insert(l, t.clone());
            }
        }
        Ok(MessageArgs { texts })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for MessageArgs {
    fn augment_args(cmd: Command) -> Command {
        let mut cmd = cmd.arg(
            Arg::new("message")
                .long("message")
                .value_name("TEXT")
                .help("The text for customers, in English (the default language). Customers who read another language need its own --message-<language>, or --force"),
        );
        for l in Language::ALL {
            cmd = cmd.arg(
                Arg::new(format!("message-{}", l.code()))
                    .long(format!("message-{}", l.code()))
                    .value_name("TEXT")
                    .help(format!("The text for customers who read {}", l.name())),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// What every acting command takes besides its own arguments.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct ActFlags {
    /// Print every message it would send, rendered per customer and for the operators, and send
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send what the checks refuse: a text with technical content, a customer without a text in
    /// their language, good news the monitor has not seen (marked on the timeline).
    #[arg(long)]
    pub force: bool,
}

/// What the action did, to say so.
enum Outcome {
    Done {
        messages: Vec<Message>,
        state: State,
    },
    Preview(Vec<Message>),
}

pub fn apply(
    args: &StoreArgs,
    id: &str,
    action: Action,
    flags: ActFlags,
) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let opened = open(args).await?;
        let result = match &opened {
            Opened::Sqlite { store, checks, .. } => {
                apply_action(store, checks, id, &action, flags.dry_run).await
            }
            Opened::Dynamo { store, checks } => {
                let checks = checks.as_ref().ok_or_else(|| anyhow::anyhow!(
                    "acting on an incident needs the checks file the functions run with: pass --checks FILE (or set ATALAYA_CHECKS)"
                ))?;
                apply_action(store, checks, id, &action, flags.dry_run).await
            }
        };
        let (messages, state) = match result {
            Ok(Outcome::Preview(messages)) => {
                preview(&messages)?;
                return Ok(ExitCode::SUCCESS);
            }
            Ok(Outcome::Done { messages, state }) => (messages, state),
            Err(Failed::Action(ActionError::AlreadyAcknowledged { by, at })) => {
                eprintln!(
                    "{id} was already acknowledged by {by} at {}; nothing changed",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                );
                return Ok(ExitCode::SUCCESS);
            }
            Err(Failed::Action(ActionError::Refused(refusals))) => {
                eprintln!("refused: nothing was sent.");
                for r in &refusals {
                    eprintln!("{}", explain(r, id));
                }
                let hidden = refusals
                    .iter()
                    .all(|r| matches!(r, Refusal::Hidden { .. }));
                eprintln!(
                    "{}{}.",
                    if hidden {
                        "Preview with --dry-run once it is fixed"
                    } else {
                        "Preview with --dry-run; --force sends it anyway"
                    },
                    if refusals
                        .iter()
                        .any(|r| matches!(r, Refusal::NotSeenPassing { .. }))
                    {
                        " (a forced resolution is marked on the timeline)"
                    } else {
                        ""
                    }
                );
                return Ok(ExitCode::from(1));
            }
            // Nothing to act on (resolved, closed, no such incident): refused, as documented.
            Err(Failed::Action(e)) => {
                eprintln!("refused: {e}; nothing was sent.");
                return Ok(ExitCode::from(1));
            }
            Err(Failed::Closed(e)) => {
                eprintln!("refused: {e}; nothing was sent.");
                return Ok(ExitCode::from(1));
            }
            Err(Failed::Other(e)) => return Err(e),
        };
        eprintln!("{}", describe(id, &action, &messages, &state));
        publish(args, &opened, &messages).await?;
        Ok(ExitCode::SUCCESS)
    })
}

enum Failed {
    Action(ActionError),
    /// Resolved and archived: no longer in the state.
    Closed(String),
    Other(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed::Other(e.into())
    }
}

/// One transition running the operator's action (`atalaya_app::operator_action`).
async fn apply_action<S: Store>(
    store: &S,
    checks: &Checks,
    id: &str,
    action: &Action,
    dry_run: bool,
) -> Result<Outcome, Failed> {
    let mode = if dry_run { Mode::DryRun } else { Mode::Commit };
    match act_on(store, checks, id, action, mode).await {
        Ok(t) if dry_run => Ok(Outcome::Preview(t.messages)),
        Ok(t) => Ok(Outcome::Done {
            messages: t.messages,
            state: t.state,
        }),
        Err(ActFailed::Action(e)) => Err(Failed::Action(e)),
        Err(e @ ActFailed::Closed { .. }) => Err(Failed::Closed(e.to_string())),
        Err(e) => Err(Failed::Other(e.into())),
    }
}

fn preview(messages: &[Message]) -> anyhow::Result<()> {
    let text: String = messages
        .iter()
        .map(atalaya_notify::stdout::render)
        .collect();
    crate::emit(&format!(
        "Dry run: nothing is sent. {} would go out:\n\n{text}",
        crate::plural(messages.len(), "message", "messages"),
    ))
}

fn flag(text: &str) -> String {
    if text == "default" {
        "--message".into()
    } else {
        format!("--message-{text}")
    }
}

fn explain(r: &Refusal, id: &str) -> String {
    match r {
        Refusal::MissingLanguage {
            customer,
            name,
            language,
        } => format!(
            "- customer {customer} ({name}) reads {}: add --message-{} \"…\" (--message is the English text)",
            language.name(),
            language.code()
        ),
        Refusal::Hidden { text, what } => format!(
            "- {} has {what}: customers' mail and pages would carry it as is. Remove it (it is never sent, even with --force).",
            flag(text)
        ),
        Refusal::Technical { text, findings } => {
            let mut out = format!(
                "- {} has technical content customers must not read:",
                flag(text)
            );
            for f in findings {
                out.push_str(&format!("\n    {} {f}", flag(text)));
            }
            out.push_str("\n  Say it in plain words: what customers notice and what you are doing.");
            out
        }
        Refusal::NotSeenPassing { checks } => format!(
            "- the monitor does not see {id} working: {}. Wait until it does (`atalaya incident show {id}`), or --force.",
            checks
                .iter()
                .map(|(c, v)| format!(
                    "{c} is {}",
                    atalaya_core::evaluate::verdict_words(*v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One line that says what the command did.
fn describe(id: &str, action: &Action, messages: &[Message], state: &State) -> String {
    let customers: Vec<String> = messages
        .iter()
        .filter(|m| m.topic == Audience::Customers)
        .map(|m| {
            format!(
                "{} ({})",
                m.attributes.customer.as_deref().unwrap_or("-"),
                m.attributes.language.name()
            )
        })
        .collect();
    let told = if customers.is_empty() {
        "no customer (none was told of it yet, or in maintenance)".to_string()
    } else {
        customers.join(", ")
    };
    let inc = state.incidents.get(id);
    match action {
        Action::Acknowledge { by } => {
            let others: Vec<String> = inc
                .map(|i| {
                    i.acknowledgements
                        .iter()
                        .filter(|a| a.by != *by)
                        .map(|a| a.by.clone())
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{id} acknowledged by {by}: operator reminders and the escalation stop; the operators are told.{}",
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" Also acknowledged by {}.", others.join(", "))
                }
            )
        }
        Action::Update { phase, .. } => format!(
            "{id}: phase {}; the update goes to {told} and to the operators.",
            phase.as_str()
        ),
        Action::ResolvedElsewhere { by } => format!("{id}: resolved by {by}; told: {told}."),
        Action::Resolve { .. } => format!(
            "{id} resolved{}; told: {told} and the operators.",
            if inc.is_some_and(|i| i.forced) {
                " by hand while the monitor did not see it passing (marked on the timeline; no new incident opens until its checks pass)"
            } else {
                ""
            }
        ),
    }
}

async fn publish(args: &StoreArgs, opened: &Opened, messages: &[Message]) -> anyhow::Result<()> {
    match opened {
        Opened::Sqlite {
            store,
            outbox,
            checks,
        } => {
            let email = crate::mail::channel(&checks.config, &checks.base, &args.db, None).await?;
            let channels = crate::run::LocalChannels::open(outbox)?
                .with_email(email)
                .with_on_call(
                    crate::run::on_call(
                        &checks.config,
                        crate::run::ack_links(&checks.config, &args.db, None)
                            .await?
                            .as_ref(),
                    )
                    .await?,
                );
            crate::run::deliver_local(store, &channels).await?;
        }
        Opened::Dynamo { store, .. } => match (&args.operators_topic, &args.customers_topic) {
            (Some(ops), Some(customers)) => {
                let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
                let sns = atalaya_notify::SnsChannel::connect(
                    &args.region,
                    endpoint.as_deref(),
                    ops.clone(),
                    customers.clone(),
                )
                .await;
                let out = deliver(store, &[&sns]).await?;
                if let Some(e) = out.first_error {
                    anyhow::bail!("recorded, but publishing failed (the alert function retries within a minute): {e}");
                }
                eprintln!(
                    "{} published",
                    crate::plural(out.messages, "message", "messages")
                );
            }
            _ => eprintln!(
                "{} recorded; the alert function publishes them within a minute",
                crate::plural(messages.len(), "message", "messages")
            ),
        },
    }
    Ok(())
}
