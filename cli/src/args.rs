//! The command line as clap reads it: every command, its arguments and their help.

use crate::{act, heartbeat, report, store, subscribers};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Synthetic monitoring for services on AWS: checks of kind http, tcp, dns, tls, steps (a flow
/// of HTTP requests) and heartbeat (a job that pings), run from several regions; operators and
/// customers are told when a service is really down.
#[derive(Parser)]
#[command(name = "atalaya", version, propagate_version = true)]
#[command(
    after_help = "Start with `atalaya validate checks.yaml`, then `atalaya probe checks.yaml`, then `atalaya run checks.yaml`.\n\
See examples/checks.yaml for an annotated checks file."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Check a checks file and report every problem with file:line:col.
    ///
    /// Warnings (on stderr) name what will not work as written: targets the network guard will
    /// refuse, ${env:NAME} variables not set here, a file without checks.
    ///
    /// Exit status: 0 when the file is valid (warnings or not), 1 when it is not (every problem
    /// is printed on stderr) or, with --strict, when there are warnings; 2 for usage errors.
    #[command(
        after_help = "Examples:\n  atalaya validate checks.yaml\n  atalaya validate --target lambda checks.yaml   # also reject intervals under 1m\n  atalaya validate --strict checks.yaml          # warnings fail too (for CI)"
    )]
    Validate {
        #[command(flatten)]
        file: ChecksFile,
        /// Where the file will run: `local` accepts second-level intervals for the local runner;
        /// `lambda` requires whole minutes of at least 1m, as EventBridge schedules fire once a
        /// minute.
        #[arg(long, value_enum, default_value_t = TargetArg::Local)]
        target: TargetArg,
        /// Treat warnings as errors (exit 1).
        #[arg(long)]
        strict: bool,
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
        #[command(flatten)]
        file: ChecksFile,
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
    /// and appended to the JSONL outbox (exactly what SNS would receive, plus `at`). One line per
    /// round says how the checks are. Stopping and starting again, even mid-incident, neither
    /// loses nor repeats a message, and the time it was stopped is never taken for good news.
    /// Every check runs as the region `local`. Ctrl-C stops cleanly.
    #[command(
        after_help = "Examples:\n  atalaya run examples/checks.yaml\n  atalaya run checks.yaml --db /var/lib/atalaya/atalaya.db --outbox /var/lib/atalaya/outbox.jsonl\n  atalaya run checks.yaml --once    # probe every check once, evaluate, publish, exit"
    )]
    Run {
        #[command(flatten)]
        file: ChecksFile,
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
        /// Listen on this address (e.g. 127.0.0.1:8088) for heartbeat pings (`/ping/<token>`,
        /// the address `atalaya heartbeat url` prints), the subscribers' confirm, unsubscribe
        /// and manage pages (the links in customer mail point there unless
        /// settings.email.pages_url says otherwise) and, with --status-page, the status site.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Keep the status site in this folder, rebuilt after each round (what changed is
        /// written); with --listen it is served there too.
        #[arg(long, value_name = "DIR")]
        status_page: Option<PathBuf>,
    },
    /// List incidents (newest first): the local runner's (--db) or the Lambda functions'
    /// (--store dynamodb).
    #[command(
        after_help = "Examples:\n  atalaya incidents --open\n  atalaya incidents --format json\n  atalaya incidents --store dynamodb --region eu-west-1 --table-prefix atalaya-prod-"
    )]
    Incidents {
        /// Only incidents still open.
        #[arg(long)]
        open: bool,
        /// `table` for people, `json` for machines (every field of every incident).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        store: store::StoreArgs,
    },
    /// Look at or act on one incident: show, ack, update, resolve.
    #[command(
        after_help = "Examples:\n  atalaya incident show inc-3 --messages\n  atalaya incident ack inc-3\n  atalaya incident update inc-3 --phase identified --message \"We found the cause.\" --message-es \"Hemos encontrado la causa.\" --dry-run\n\nWith DynamoDB, acting needs the checks file the functions run with:\n  atalaya incident ack inc-3 --store dynamodb --checks checks.yaml --table-prefix atalaya-prod-"
    )]
    Incident {
        #[command(subcommand)]
        action: IncidentCommand,
        #[command(flatten)]
        store: store::StoreArgs,
    },
    /// Size the probe side of a deployment: per region, the checks, the busiest minute and the
    /// schedules (shards) it needs so that no invocation runs more than 2,000 checks.
    ///
    /// With --shards, prints only the number of shards the largest region needs (what `make
    /// deploy-sam` and the Terraform `shards` variable take).
    #[command(
        after_help = "Examples:\n  atalaya plan checks.yaml\n  atalaya plan --shards checks.yaml"
    )]
    Plan {
        #[command(flatten)]
        file: ChecksFile,
        /// Print only the number of shards per region.
        #[arg(long)]
        shards: bool,
    },
    /// Publish a checks file to the functions: validate it as they will (--target lambda), pack
    /// it with its customers' template folders, and upload it to the checks bucket. The functions
    /// pick the new version up within a minute; one that does not load is refused and the last
    /// good one keeps running (an alarm says so).
    ///
    /// Exit status: 0 when published, 1 when the file is invalid (nothing is uploaded), 2 when
    /// the upload fails.
    #[command(
        after_help = "Examples:\n  atalaya publish-checks checks.yaml --bucket atalaya-checks-123456789012-eu-west-1 --region eu-west-1"
    )]
    PublishChecks {
        #[command(flatten)]
        file: ChecksFile,
        /// The checks bucket (the home stack's ChecksBucketName output).
        #[arg(long, env = "ATALAYA_CHECKS_BUCKET")]
        bucket: String,
        /// The object key the functions read.
        #[arg(long, default_value = atalaya_aws::checks::DEFAULT_KEY)]
        key: String,
        /// The home region (where the bucket is).
        #[arg(long, env = "ATALAYA_HOME_REGION")]
        region: Option<String>,
    },
    /// Check a deployment on AWS, read-only, with your credentials: the tables and functions of
    /// every region exist and ran recently without errors, alarms are OK, operators confirmed
    /// their subscriptions, the SES identity is verified and out of the sandbox, the Lambda
    /// concurrency quota, the public endpoints answer and only their APIs may invoke them, the
    /// functions run the newest published checks file, the status site is deployed. Each
    /// finding says what to do.
    ///
    /// Exit status: 0 nothing wrong (warnings are printed), 1 problems found, 2 it could not
    /// run (the checks file, the credentials).
    #[command(
        after_help = "Examples:\n  atalaya doctor checks.yaml --region eu-west-1\n  AWS_PROFILE=readonly atalaya doctor checks.yaml --region eu-west-1 --prefix acme-"
    )]
    Doctor {
        #[command(flatten)]
        file: ChecksFile,
        /// The home region (where the home stack is).
        #[arg(long, env = "ATALAYA_HOME_REGION")]
        region: Option<String>,
        /// The stacks' prefix (SAM Prefix, Terraform prefix).
        #[arg(long, default_value = "atalaya-")]
        prefix: String,
    },
    /// Uptime per service for a month, under the accounting policy of the checks file
    /// (settings.sla), stated in the report; the month's incidents; the error budget used. From
    /// the local runner's rollups.
    #[command(
        after_help = "Examples:\n  atalaya report --month 2026-11\n  atalaya report --month 2026-11 --customer acme --format csv"
    )]
    Report {
        /// The month, YYYY-MM (UTC).
        #[arg(long)]
        month: String,
        /// Only this customer's services.
        #[arg(long)]
        customer: Option<String>,
        /// Only this service.
        #[arg(long)]
        service: Option<String>,
        #[arg(long, value_enum, default_value_t = report::ReportFormat::Table)]
        format: report::ReportFormat,
        #[command(flatten)]
        store: store::StoreArgs,
    },
    /// The status site: a page per customer, the public page, their API, feed and badges.
    #[command(name = "status-page", subcommand)]
    StatusPage(StatusPageCommand),
    /// Who hears about a customer's services by email: add, list, remove, import.
    Subscribers {
        #[command(subcommand)]
        action: subscribers::SubscribersCommand,
        #[command(flatten)]
        store: store::StoreArgs,
    },
    /// Heartbeat checks: the URL a job pings.
    #[command(subcommand)]
    Heartbeat(heartbeat::HeartbeatCommand),
    /// Operators' paging and chat channels: list them, send a test notification.
    #[command(subcommand)]
    Channels(crate::channels::ChannelsCommand),
    /// Print the checks file's JSON Schema.
    ///
    /// Save it and point your editor at it, e.g. with the yaml-language-server modeline
    /// `# yaml-language-server: $schema=./atalaya.schema.json` on the first line of the file.
    Schema,
}

#[derive(Subcommand)]
pub(crate) enum StatusPageCommand {
    /// Build the site from the local runner's database into a folder.
    #[command(
        after_help = "Example:\n  atalaya status-page build examples/demo.yaml --db atalaya.db --out site"
    )]
    Build {
        #[command(flatten)]
        file: ChecksFile,
        /// The local runner's database.
        #[arg(long, default_value = "atalaya.db")]
        db: PathBuf,
        /// The folder to write the site to (only files whose bytes changed are written).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum IncidentCommand {
    /// The incident and its timeline; with --messages, the text of every message sent about it.
    Show {
        /// The incident's id, as `atalaya incidents` lists it (e.g. inc-3).
        id: String,
        /// Also print every message sent about it (subject and body, as each reader got it).
        #[arg(long)]
        messages: bool,
    },
    /// Acknowledge: stops the operator reminders and the escalation; the operators are told who
    /// is on it. A second operator's acknowledgement is kept too.
    Ack {
        /// The incident's id, as `atalaya incidents` lists it (e.g. inc-3).
        id: String,
        /// Who acknowledges (default: $USER).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        flags: act::ActFlags,
    },
    /// Tell the affected customers something, each in their language, framed by the templates.
    ///
    /// Every text is checked for technical content (URLs, addresses, host names, ports, status
    /// codes, error names, check ids, regions, other customers' names): a finding refuses the
    /// update and says where. Every customer who would read it needs a text in their language.
    /// `--phase monitoring` (working again) needs the monitor to see it working.
    #[command(
        after_help = "Examples:\n  atalaya incident update inc-3 --phase identified --message \"We found the cause: a failed payment provider. A fix is being deployed.\"\n  atalaya incident update inc-3 --phase identified --message \"We found the cause.\" --message-es \"Hemos encontrado la causa.\" --dry-run"
    )]
    Update {
        /// The incident's id, as `atalaya incidents` lists it (e.g. inc-3).
        id: String,
        /// investigating, identified or monitoring.
        #[arg(long, value_enum)]
        phase: PhaseArg,
        #[command(flatten)]
        message: act::MessageArgs,
        #[command(flatten)]
        flags: act::ActFlags,
    },
    /// Resolve by hand; customers are told it is over (with your words, if given).
    ///
    /// Refused while the monitor does not see every check of the incident passing, unless
    /// --force (then marked on the timeline, and no new incident opens for the service until
    /// its checks pass).
    #[command(
        after_help = "Examples:\n  atalaya incident resolve inc-3 --message \"All payments made during the outage went through.\" --message-es \"Todos los pagos realizados durante la incidencia se han procesado.\"\n  atalaya incident resolve inc-3 --dry-run"
    )]
    Resolve {
        /// The incident's id, as `atalaya incidents` lists it (e.g. inc-3).
        id: String,
        #[command(flatten)]
        message: act::MessageArgs,
        #[command(flatten)]
        flags: act::ActFlags,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum PhaseArg {
    Investigating,
    Identified,
    Monitoring,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum TargetArg {
    Local,
    Lambda,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
}

/// The checks file, named the same way in every command: `--checks FILE` (`--file` also
/// works), or, where it is the command's subject (`validate`, `probe`, `run`, `plan`,
/// `publish-checks`, `status-page build`), simply `FILE`.
#[derive(clap::Args, Debug)]
pub struct ChecksFile {
    /// The checks file (YAML); `--checks FILE` says the same.
    #[arg(
        id = "checks_file",
        value_name = "FILE",
        required_unless_present = "checks_flag"
    )]
    positional: Option<PathBuf>,
    /// The checks file (YAML), as the other commands name it.
    #[arg(
        id = "checks_flag",
        long = "checks",
        alias = "file",
        value_name = "FILE",
        conflicts_with = "checks_file"
    )]
    flag: Option<PathBuf>,
}

impl ChecksFile {
    /// The file, however it was named.
    pub fn path(&self) -> PathBuf {
        self.positional
            .clone()
            .or_else(|| self.flag.clone())
            .unwrap_or_default()
    }
}
