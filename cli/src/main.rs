//! `atalaya`: validate a checks file, probe its checks, run the monitoring locally, look at and
//! act on incidents.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod act;
mod args;
mod channels;
mod delivery;
mod doctor;
mod heartbeat;
mod housekeeping;
mod incidents;
mod listen;
mod mail;
mod output;
mod pages;
mod probe;
mod references;
mod report;
mod run;
mod status_site;
mod store;
mod subscribers;
mod validate;

use args::{Cli, Command, Format, IncidentCommand, PhaseArg, StatusPageCommand, TargetArg};
use atalaya_core::Target;
use clap::Parser;
use std::path::Path;
use std::process::ExitCode;

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

/// `1 check`, `2 checks`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn init_tracing() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Whatever RUST_LOG says, libraries that would log resolved values stay at warn.
    for directive in atalaya_probe::QUIET_LIBRARIES {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Loads a checks file; on errors prints every one and gives the exit code.
/// A file that cannot be read at all (missing, no permission) is an I/O error: exit 2.
/// The checks file as every command reads it (`atalaya_app::Checks::load`: validated for
/// `target`, with its PEM files and its customers' templates); every problem is printed, and
/// the exit code returned: 2 when it cannot be read, 1 when it has problems.
fn load(file: &Path, target: Target) -> Result<atalaya_app::Checks, ExitCode> {
    use atalaya_app::checks::LoadError;
    atalaya_app::Checks::load(file, target).map_err(|e| {
        let problems = e.problems();
        for p in &problems {
            eprintln!("{p}");
        }
        if matches!(e, LoadError::Read { .. }) {
            return ExitCode::from(2);
        }
        eprintln!(
            "{}: {} found",
            file.display(),
            plural(problems.len(), "problem", "problems")
        );
        ExitCode::from(1)
    })
}

fn publish_checks(
    file: &Path,
    bucket: &str,
    key: &str,
    region: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (checks, bundle) = match atalaya_app::bundle::pack(file) {
        Ok(packed) => packed,
        Err(e) => {
            for p in e.problems() {
                eprintln!("{p}");
            }
            eprintln!("{}: not published", file.display());
            return Ok(ExitCode::from(1));
        }
    };
    let region = region
        .or_else(|| std::env::var("AWS_REGION").ok())
        .unwrap_or_else(|| "us-east-1".into());
    let runtime = tokio::runtime::Runtime::new()?;
    let published = runtime.block_on(async {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
        let sdk = atalaya_aws::sdk_config(&region, endpoint.as_deref()).await;
        let s3 = atalaya_aws::checks::S3Checks::new(&sdk, bucket, key);
        s3.publish(bundle).await.map(|v| (s3.url(), v))
    });
    match published {
        Ok((url, version)) => {
            emit(&format!(
                "{}: published to {url} as version {version} ({}); the functions use it within a minute\n",
                file.display(),
                plural(checks.config.checks.len(), "check", "checks")
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: not published: {e}", file.display());
            Ok(ExitCode::from(2))
        }
    }
}

/// `atalaya incident show|ack|update|resolve`.
fn incident(action: IncidentCommand, store: &store::StoreArgs) -> anyhow::Result<ExitCode> {
    use atalaya_core::evaluate::{Action, Phase};
    match action {
        IncidentCommand::Show { id, messages } => {
            incidents::show(store, &id, messages).map(|_| ExitCode::SUCCESS)
        }
        IncidentCommand::Ack { id, by, flags } => {
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "operator".into());
            act::apply(store, &id, Action::Acknowledge { by }, flags)
        }
        IncidentCommand::Update {
            id,
            phase,
            message,
            flags,
        } => {
            let phase = match phase {
                PhaseArg::Investigating => Phase::Investigating,
                PhaseArg::Identified => Phase::Identified,
                PhaseArg::Monitoring => Phase::Monitoring,
            };
            act::apply(
                store,
                &id,
                Action::Update {
                    phase,
                    texts: message.texts,
                    force: flags.force,
                },
                flags,
            )
        }
        IncidentCommand::Resolve { id, message, flags } => {
            let texts = (!message.texts.is_empty()).then_some(message.texts);
            act::apply(
                store,
                &id,
                Action::Resolve {
                    texts,
                    force: flags.force,
                },
                flags,
            )
        }
    }
}

/// `atalaya plan`: probe shards per region, from the busiest minute.
fn plan(file: &Path, shards: bool) -> anyhow::Result<ExitCode> {
    let config = match load(file, Target::Lambda) {
        Ok(c) => c.config,
        Err(code) => return Ok(code),
    };
    let plan = atalaya_core::schedule::plan(&config);
    let most = plan.iter().map(|p| p.shards).max().unwrap_or(1);
    if shards {
        emit(&format!("{most}\n"))?;
    } else {
        let label = |region: &str| match config.settings.private_locations.get(region) {
            Some(aws) => format!("{region} (private, {aws})"),
            None => region.to_string(),
        };
        let w = plan
            .iter()
            .map(|p| label(&p.region).len())
            .max()
            .unwrap_or(0)
            .max(20);
        let mut out = format!(
            "{:<w$} {:>8} {:>15} {:>7}\n",
            "region", "checks", "busiest minute", "shards"
        );
        for p in &plan {
            out.push_str(&format!(
                "{:<w$} {:>8} {:>15} {:>7}\n",
                label(&p.region),
                p.checks,
                p.busiest_minute,
                p.shards
            ));
        }
        out.push_str(&format!(
            "{most} shard(s) per region (at most {} checks per invocation)\n",
            atalaya_core::schedule::CHECKS_PER_SHARD
        ));
        emit(&out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate {
            file,
            target,
            strict,
        } => validate::validate(
            &file.path(),
            match target {
                TargetArg::Local => Target::Local,
                TargetArg::Lambda => Target::Lambda,
            },
            strict,
        ),
        Command::Run {
            file,
            once,
            db,
            outbox,
            concurrency,
            listen,
            status_page,
        } => run::run(run::RunOptions {
            file: file.path(),
            once,
            db,
            outbox,
            concurrency: concurrency as usize,
            listen,
            status_page,
        }),
        Command::StatusPage(StatusPageCommand::Build { file, db, out }) => {
            status_site::build(&file.path(), &db, &out)
        }
        Command::Subscribers { action, store } => subscribers::command(&store, action),
        Command::Heartbeat(action) => heartbeat::command(action),
        Command::Channels(cmd) => channels::command(cmd),
        Command::Report {
            month,
            customer,
            service,
            format,
            store,
        } => report::report(
            &store,
            &month,
            customer.as_deref(),
            service.as_deref(),
            format,
        )
        .map(|_| ExitCode::SUCCESS),
        Command::Incidents {
            open,
            format,
            store,
        } => incidents::list(&store, open, format == Format::Json).map(|_| ExitCode::SUCCESS),
        Command::Incident { action, store } => incident(action, &store),
        Command::Plan { file, shards } => plan(&file.path(), shards),
        Command::PublishChecks {
            file,
            bucket,
            key,
            region,
        } => publish_checks(&file.path(), &bucket, &key, region),
        Command::Doctor {
            file,
            region,
            prefix,
        } => {
            tokio::runtime::Runtime::new()?.block_on(doctor::doctor(&file.path(), region, &prefix))
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
        } => probe::probe(probe::ProbeOptions {
            file: &file.path(),
            checks: &checks,
            json: format == Format::Json,
            concurrency: concurrency as usize,
            region,
        }),
    }
}
