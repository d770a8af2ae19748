//! `atalaya channels list` and `atalaya channels test NAME`: the operators' paging and chat
//! channels of a checks file, and a clearly marked test notification through one of them.

use atalaya_core::evaluate::{Audience, EventKind, Severity};
use atalaya_core::message::details::{Action, Details, Standing};
use atalaya_core::message::Tags;
use atalaya_core::{Config, Language, Message};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum ChannelsCommand {
    /// Every paging and chat channel of the file: its kind and which routes send to it.
    List {
        /// The checks file (YAML).
        #[arg(long, default_value = "checks.yaml")]
        checks: PathBuf,
    },
    /// Send a test notification (marked [TEST], opened then resolved at once) through one
    /// channel, and print what the vendor answered. PagerDuty and Opsgenie get a trigger and
    /// its resolution, Slack a message and a reply in its thread.
    #[command(after_help = "Example:\n  atalaya channels test ops-chat --checks checks.yaml")]
    Test {
        /// The channel's name (settings.operators.channels).
        name: String,
        /// The checks file (YAML).
        #[arg(long, default_value = "checks.yaml")]
        checks: PathBuf,
    },
}

pub fn command(cmd: ChannelsCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        ChannelsCommand::List { checks } => list(&load(&checks)?),
        ChannelsCommand::Test { name, checks } => test(&load(&checks)?, &name),
    }
}

fn load(file: &Path) -> anyhow::Result<Config> {
    Ok(atalaya_app::Checks::load(file, atalaya_core::Target::Local)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .config)
}

fn list(config: &Config) -> anyhow::Result<std::process::ExitCode> {
    let on_call = &config.settings.operators.on_call;
    if on_call.channels.is_empty() {
        println!("no paging or chat channels (settings.operators.channels)");
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!("{:<20} {:<10} routes", "channel", "kind");
    for c in &on_call.channels {
        let mut routes: Vec<String> = on_call
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.to.contains(&c.name))
            .map(|(i, _)| format!("routes[{i}]"))
            .collect();
        if on_call.routes.is_empty() {
            routes.push("every message (no routes)".into());
        }
        if on_call.escalate_to.contains(&c.name) {
            routes.push("escalation".into());
        }
        let routes = if routes.is_empty() {
            "none".to_string()
        } else {
            routes.join(", ")
        };
        println!("{:<20} {:<10} {routes}", c.name, c.kind.kind());
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The test notification: opened, then resolved.
fn notification(name: &str, action: Action) -> Message {
    let now = chrono::Utc::now();
    let key = format!("atalaya-test-{name}-{}", now.timestamp());
    let (event, standing, severity, subject) = match action {
        Action::Open => (
            EventKind::Opened,
            Standing::Open,
            Severity::Warning,
            format!("[TEST] Atalaya test notification through {name}"),
        ),
        _ => (
            EventKind::Resolved,
            Standing::Closed,
            Severity::Info,
            format!("[TEST RESOLVED] Atalaya test notification through {name}"),
        ),
    };
    Message {
        id: format!("{key}:{}", event.as_str()),
        at: now,
        topic: Audience::Operators,
        subject: subject.clone(),
        body: format!("This is a test sent by `atalaya channels test {name}`. Nothing is down; it resolves itself at once.\n"),
        attributes: Tags::new(Audience::Operators, event, severity, Language::En),
        digest: None,
        details: Some(Details {
            key,
            action,
            standing,
            title: subject,
            failures: Vec::new(),
            since: Some(now),
            runbook: None,
            status_page: None,
            acknowledged_by: None,
            ack_url: None,
            escalated: false,
        }),
        translations: Default::default(),
        incident_times: None,
    }
}

fn test(config: &Config, name: &str) -> anyhow::Result<std::process::ExitCode> {
    let on_call = &config.settings.operators.on_call;
    if on_call.channel(name).is_none() {
        let known: Vec<&str> = on_call.channels.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "no channel {name:?} in settings.operators.channels (there are: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        );
    }
    let runtime = atalaya_probe::runtime()?;
    runtime.block_on(async {
        let channels = crate::run::on_call(config, None).await?;
        let channel = channels
            .iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| anyhow::anyhow!("channel {name} was not made"))?;
        let mut thread = None;
        for action in [Action::Open, Action::Close] {
            let m = notification(name, action);
            let sent = channel.send_in(&m, thread.as_deref()).await;
            let answer = channel.answered().unwrap_or_else(|| "no answer".into());
            match sent {
                Ok(t) => {
                    println!(
                        "{}: sent \"{}\"; the vendor answered: {answer}",
                        name, m.subject
                    );
                    thread = t.or(thread);
                }
                Err(e) => {
                    println!(
                        "{}: \"{}\" failed: {}; the vendor last answered: {answer}",
                        name, m.subject, e.detail
                    );
                    return Ok(std::process::ExitCode::FAILURE);
                }
            }
        }
        Ok(std::process::ExitCode::SUCCESS)
    })
}
