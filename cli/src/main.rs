//! `atalaya`: validate a checks file, probe its checks once, print its JSON Schema.

mod incidents;
mod output;
mod run;

use anyhow::Context;
use atalaya_core::{Config, Target};
use atalaya_probe::{Engine, EngineOptions};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Synthetic monitoring for services on AWS: probe HTTP, TCP, DNS and TLS from several regions,
/// tell operators and customers when a service is really down.
#[derive(Parser)]
#[command(name = "atalaya", version, propagate_version = true)]
#[command(
    after_help = "Start with `atalaya validate checks.yaml`, then `atalaya probe checks.yaml`.\n\
See examples/checks.yaml for an annotated checks file."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a checks file and report every problem with file:line:col.
    ///
    /// Exit status: 0 when the file is valid, 1 when it is not (every problem is printed on
    /// stderr), 2 for usage errors.
    #[command(
        after_help = "Examples:\n  atalaya validate checks.yaml\n  atalaya validate --target lambda checks.yaml   # also reject intervals under 1m"
    )]
    Validate {
        /// The checks file (YAML).
        file: PathBuf,
        /// Where the file will run: `local` accepts second-level intervals for the local runner;
        /// `lambda` requires whole minutes of at least 1m, as EventBridge schedules fire once a
        /// minute.
        #[arg(long, value_enum, default_value_t = TargetArg::Local)]
        target: TargetArg,
    },
    /// Run checks once and print their results.
    ///
    /// Exit status is 0 when the run completed, whatever the outcomes; non-zero only when the
    /// tool could not do its job (1: invalid checks file or a check's configuration, such as an
    /// unset ${env:NAME}; 2: usage or I/O errors).
    #[command(
        after_help = "Examples:\n  atalaya probe checks.yaml\n  atalaya probe checks.yaml --check shop-home --check shop-cert\n  atalaya probe checks.yaml --format json | jq 'select(.outcome != \"up\")'"
    )]
    Probe {
        /// The checks file (YAML).
        file: PathBuf,
        /// Run only this check (repeat for several). Default: every check.
        #[arg(long = "check", value_name = "ID")]
        checks: Vec<String>,
        /// `table` for people (colour on a terminal), `json` for machines: one result per line.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Most probes in flight at once.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        concurrency: u32,
        /// The region name written into results.
        #[arg(long, default_value = atalaya_core::LOCAL_REGION)]
        region: String,
    },
    /// Run the checks continuously: probe, keep results and incidents, tell operators and customers.
    ///
    /// Each check runs at its interval (second-level intervals are fine locally). Results, the
    /// incident engine's state and every message live in a SQLite file; every message is printed
    /// and appended to the JSONL outbox (exactly what SNS would receive, plus `at`). Stopping and
    /// starting again, even mid-incident, neither loses nor repeats a message. Every check runs as
    /// the region `local`. Ctrl-C stops cleanly.
    #[command(
        after_help = "Examples:\n  atalaya run examples/checks.yaml\n  atalaya run checks.yaml --db /var/lib/atalaya/atalaya.db --outbox /var/lib/atalaya/outbox.jsonl\n  atalaya run checks.yaml --once    # probe every check once, evaluate, publish, exit"
    )]
    Run {
        /// The checks file (YAML).
        file: PathBuf,
        /// Probe every check once, evaluate, publish, and exit.
        #[arg(long)]
        once: bool,
        /// The SQLite database.
        #[arg(long, default_value = "atalaya.db")]
        db: PathBuf,
        /// The JSONL outbox.
        #[arg(long, default_value = "outbox.jsonl")]
        outbox: PathBuf,
        /// Most probes in flight at once.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        concurrency: u32,
    },
    /// List incidents (newest first): the local runner's (--db) or the Lambda functions'
    /// (--store dynamodb).
    #[command(
        after_help = "Examples:\n  atalaya incidents --open\n  atalaya incidents --store dynamodb --region eu-west-1 --table-prefix atalaya-prod-"
    )]
    Incidents {
        /// Only incidents still open.
        #[arg(long)]
        open: bool,
        #[command(flatten)]
        store: incidents::StoreArgs,
    },
    /// Look at or act on one incident: show, ack, update, resolve.
    #[command(
        after_help = "With DynamoDB, acting needs the checks file the functions run with:\n  atalaya incident ack inc-3 --store dynamodb --checks checks.yaml --table-prefix atalaya-prod-"
    )]
    Incident {
        #[command(subcommand)]
        action: IncidentCommand,
        #[command(flatten)]
        store: incidents::StoreArgs,
    },
    /// Print the checks file's JSON Schema.
    ///
    /// Save it and point your editor at it, e.g. with the yaml-language-server modeline
    /// `# yaml-language-server: $schema=./atalaya.schema.json` on the first line of the file.
    Schema,
}

#[derive(Subcommand)]
enum IncidentCommand {
    /// The incident and its timeline: every message sent about it.
    Show { id: String },
    /// Acknowledge: stops the operator reminders and the escalation.
    Ack {
        id: String,
        /// Who acknowledges (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Tell the affected customers something, as written, framed in their language.
    #[command(
        after_help = "Example:\n  atalaya incident update inc-3 --phase identified --message \"We found the cause: a failed payment gateway. A fix is being deployed.\""
    )]
    Update {
        id: String,
        /// investigating, identified or monitoring.
        #[arg(long, value_enum)]
        phase: PhaseArg,
        #[arg(long)]
        message: String,
    },
    /// Resolve by hand; customers are told it is over (with your message, if given).
    Resolve {
        id: String,
        #[arg(long)]
        message: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PhaseArg {
    Investigating,
    Identified,
    Monitoring,
}

#[derive(Clone, Copy, ValueEnum)]
enum TargetArg {
    Local,
    Lambda,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes command output to stdout. A reader that went away (`atalaya incidents | head`) is the
/// normal end of the output, not an error.
pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn load(file: &Path, target: Target) -> Result<Config, ExitCode> {
    atalaya_core::load_file(file, target).map_err(|errors| {
        for e in &errors.0 {
            eprintln!("{e}");
        }
        let n = errors.0.len();
        eprintln!(
            "{}: {n} problem{} found",
            file.display(),
            if n == 1 { "" } else { "s" }
        );
        ExitCode::from(1)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { file, target } => {
            let target = match target {
                TargetArg::Local => Target::Local,
                TargetArg::Lambda => Target::Lambda,
            };
            Ok(match load(&file, target) {
                Ok(config)
                    if atalaya_notify::templates::renderer(
                        &config,
                        file.parent().unwrap_or(Path::new(".")),
                    )
                    .is_err() =>
                {
                    let problems = atalaya_notify::templates::renderer(
                        &config,
                        file.parent().unwrap_or(Path::new(".")),
                    )
                    .err()
                    .unwrap_or_default();
                    for p in &problems {
                        eprintln!("{p}");
                    }
                    eprintln!(
                        "{}: {} problem{} found",
                        file.display(),
                        problems.len(),
                        if problems.len() == 1 { "" } else { "s" }
                    );
                    ExitCode::from(1)
                }
                Ok(config) => {
                    emit(&format!(
                        "{}: valid ({} checks, {} services, {} customers)\n",
                        file.display(),
                        config.checks.len(),
                        config.services.len(),
                        config.customers.len()
                    ))?;
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            })
        }
        Command::Run {
            file,
            once,
            db,
            outbox,
            concurrency,
        } => run::run(run::RunOptions {
            file,
            once,
            db,
            outbox,
            concurrency: concurrency as usize,
        }),
        Command::Incidents { open, store } => {
            incidents::list(&store, open).map(|_| ExitCode::SUCCESS)
        }
        Command::Incident { action, store } => {
            use atalaya_core::evaluate::{Action, Phase};
            match action {
                IncidentCommand::Show { id } => incidents::show(&store, &id),
                IncidentCommand::Ack { id, by } => {
                    let by = by
                        .or_else(|| std::env::var("USER").ok())
                        .unwrap_or_else(|| "operator".into());
                    incidents::apply(&store, &id, Action::Acknowledge { by })
                }
                IncidentCommand::Update { id, phase, message } => {
                    let phase = match phase {
                        PhaseArg::Investigating => Phase::Investigating,
                        PhaseArg::Identified => Phase::Identified,
                        PhaseArg::Monitoring => Phase::Monitoring,
                    };
                    incidents::apply(
                        &store,
                        &id,
                        Action::Update {
                            phase,
                            texts: atalaya_core::evaluate::Texts::one(message),
                            force: false,
                        },
                    )
                }
                IncidentCommand::Resolve { id, message } => incidents::apply(
                    &store,
                    &id,
                    Action::Resolve {
                        texts: message.map(atalaya_core::evaluate::Texts::one),
                        force: false,
                    },
                ),
            }
            .map(|_| ExitCode::SUCCESS)
        }
        Command::Schema => {
            emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&atalaya_core::json_schema())?
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe {
            file,
            checks,
            format,
            concurrency,
            region,
        } => {
            let config = match load(&file, Target::Local) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let unknown: Vec<&String> = checks
                .iter()
                .filter(|id| config.check(id).is_none())
                .collect();
            if !unknown.is_empty() {
                let known: Vec<&str> = config.checks.iter().map(|c| c.id.as_str()).collect();
                anyhow::bail!(
                    "no check {} in {}; its checks are: {}",
                    unknown
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    file.display(),
                    known.join(", ")
                );
            }
            let selected: std::sync::Arc<[atalaya_core::Check]> = config
                .checks
                .iter()
                .filter(|c| checks.is_empty() || checks.contains(&c.id))
                .cloned()
                .collect();
            let engine = Arc::new(
                Engine::new(EngineOptions {
                    region,
                    allow_networks: config.settings.allow_networks.clone(),
                    concurrency: concurrency as usize,
                    ..EngineOptions::default()
                })
                .context("starting the probe engine")?,
            );
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            let stdout = std::io::stdout();
            let colour = format == Format::Table
                && stdout.is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            let mut sink = output::Printer::new(format == Format::Json, colour, stdout.lock());
            runtime.block_on(engine.run(selected, &mut sink));
            sink.finish()?;
            Ok(if sink.check_errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
