//! Operators' words: the technical truth in English, everything they need to act in one
//! message (checks, regions, reasons, timings, first failure, the cause and the fix, the runbook).

use super::Digest;
use crate::config::Config;
use crate::duration::format_duration;
use crate::evaluate::{
    percent_state_change, About, Blindness, CheckSight, Event, EventKind, FaultNote, Incident,
    Note, Phase, State,
};
use crate::result::Reason;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::fmt::Write;

/// A span for operators, to the second: `22s`, `1h5m3s`.
fn span(d: chrono::TimeDelta) -> String {
    format_duration(std::time::Duration::from_secs(d.num_seconds().max(0) as u64))
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn service_label(config: &Config, id: &str) -> String {
    match config.service(id) {
        Some(s) => format!("{id} ({})", s.name),
        None => id.to_string(),
    }
}

/// The part a notice of what the monitor cannot see (or sees again) is made of, if `event` is
/// one.
pub(super) fn digest(event: &Event, config: &Config) -> Option<Digest> {
    match &event.about {
        About::Sight(list) => Some(sight(event, list, config)),
        _ => None,
    }
}

/// The operators' message for `event`: (subject, body).
pub(super) fn render(
    event: &Event,
    incident: Option<&Incident>,
    state: &State,
    config: &Config,
) -> (String, String) {
    match (&event.about, incident) {
        (About::Region { region: r, back }, _) => region(r, *back, state),
        (About::Flapping { check, stopped, .. }, _) => flapping(check, *stopped, state, config),
        (
            About::Maintenance {
                service, window, ..
            },
            _,
        ) => maintenance(event.kind, service, window, config),
        (About::Sight(list), _) => sight_text(&[&sight(event, list, config)]),
        (
            About::Fault {
                check,
                service,
                fault: note,
            },
            _,
        ) => fault(event, check, service, note, config),
        (
            About::Early {
                check,
                service,
                note,
            },
            _,
        ) => early(event, check, service, note, config),
        (About::Incident { .. } | About::Conversation { .. }, Some(inc)) => {
            incident_message(event, event.kind, inc, config)
        }
        (_, None) => (
            format!("[{}] {}", event.kind.as_str().to_uppercase(), event.id),
            String::new(),
        ),
    }
}

fn region(region: &str, back: bool, state: &State) -> (String, String) {
    let last = state
        .regions
        .get(region)
        .and_then(|r| r.last_seen)
        .map(utc)
        .unwrap_or_else(|| "never".into());
    if back {
        (
            format!("[REGION BACK] {region} is reporting again"),
            format!("Region {region} is reporting again. It is back in the quorum.\n"),
        )
    } else {
        (
            format!("[REGION SILENT] {region}: no results since {last}"),
            format!("Region {region} has sent no results for 3 intervals (last result: {last}).\nIt is left out of the quorum until it reports again. Check the probe function and its schedule in that region.\n"),
        )
    }
}

fn flapping(check: &str, stopped: bool, state: &State, config: &Config) -> (String, String) {
    let change = state
        .checks
        .get(check)
        .map(|c| {
            c.regions
                .values()
                .map(|r| percent_state_change(&r.history))
                .fold(0.0, f64::max)
        })
        .unwrap_or(0.0);
    if stopped {
        (
            format!("[FLAPPING STOPPED] {check}"),
            format!("Check {check} has stopped flapping ({change:.0}% state change). Incidents are judged normally again.\n"),
        )
    } else {
        (
            format!("[FLAPPING] {check} keeps changing state"),
            format!(
                "Check {check} is flapping: {change:.0}% state change over its last 21 results (threshold {:.0}%).\nNo incident will be opened or resolved for its service while it flaps; this is the one notice.\n",
                config.settings.flapping_start
            ),
        )
    }
}

fn maintenance(
    kind: EventKind,
    service: &str,
    window: &crate::config::Maintenance,
    config: &Config,
) -> (String, String) {
    let what = match kind {
        EventKind::MaintenanceScheduled => "scheduled",
        EventKind::MaintenanceStarted => "started",
        _ => "ended",
    };
    let mut body = format!(
        "Maintenance of {} {what}: {} to {}. No incident is opened for it during the window.\n",
        service_label(config, service),
        utc(window.start),
        utc(window.end)
    );
    if let Some(note) = &window.note {
        let _ = writeln!(body, "Note: {note}");
    }
    (
        format!(
            "[MAINTENANCE {}] {}",
            what.to_uppercase(),
            service_label(config, service)
        ),
        body,
    )
}

fn blindness(b: &Blindness) -> String {
    match b {
        Blindness::Silent { last } => format!(
            "region silent (last result from it {})",
            last.map(utc).unwrap_or_else(|| "never".into())
        ),
        Blindness::NoResult { last: Some(t) } => {
            format!("no fresh result (last {})", utc(*t))
        }
        Blindness::NoResult { last: None } => "no result yet".into(),
        Blindness::Fault(reason) => format!("monitoring fault ({})", reason.as_str()),
    }
}

/// What an incident's message says of the checks the monitor cannot see: each, and why in
/// each region.
fn unseen_note(checks: &[CheckSight]) -> String {
    if checks.is_empty() {
        return "\nThe monitor cannot see this incident's services right now (no fresh results: a silent region, a monitoring fault, or the monitor itself was stopped): the incident stays as it is, and customers get no good news, until it can.\n".into();
    }
    let mut out = String::from("\nThe monitor cannot see these checks of the incident right now; until it can, they resolve nothing and customers get no good news:\n");
    for c in checks {
        let why: Vec<String> = c
            .regions
            .iter()
            .map(|(region, b)| format!("{region}: {}", blindness(b)))
            .collect();
        let _ = writeln!(out, "  {}  {}", c.check, why.join("; "));
    }
    out
}

/// What the monitor cannot see (or sees again): one part of the notice, which delivery merges
/// with the other partitions' parts of the same evaluation (`merge`).
fn sight(event: &Event, list: &[CheckSight], config: &Config) -> Digest {
    let restored = event.kind != EventKind::MonitoringBlind;
    let mut lines = String::new();
    for c in list {
        if restored {
            let _ = writeln!(
                lines,
                "  {}  service {}  unknown from {} for {}",
                c.check,
                service_label(config, &c.service),
                utc(c.since),
                span(event.at - c.since)
            );
        } else {
            let _ = writeln!(
                lines,
                "  {}  service {}  unknown since {}",
                c.check,
                service_label(config, &c.service),
                utc(c.since)
            );
            for (region, why) in &c.regions {
                let _ = writeln!(lines, "      {region}: {}", blindness(why));
            }
        }
    }
    let regions: BTreeSet<&str> = list
        .iter()
        .flat_map(|c| c.regions.iter().map(|(r, _)| r.as_str()))
        .collect();
    Digest {
        // The same for every partition's part of one evaluation's notice.
        key: format!(
            "monitor/{}/{}",
            if restored { "restored" } else { "blind" },
            event.at.timestamp()
        ),
        restored,
        checks: list.iter().map(|c| c.check.clone()).collect(),
        regions: regions.into_iter().map(str::to_string).collect(),
        lines,
    }
}

/// The subject and body of a notice made of `parts` (one or more partitions' digests of one
/// evaluation).
pub(super) fn sight_text(parts: &[&Digest]) -> (String, String) {
    let restored = parts.first().is_some_and(|d| d.restored);
    let names: Vec<&str> = parts
        .iter()
        .flat_map(|d| d.checks.iter().map(String::as_str))
        .collect();
    let n = names.len();
    let checks = if n == 1 { "check" } else { "checks" };
    let lines: String = parts.iter().map(|d| d.lines.as_str()).collect();
    if restored {
        return (
            clip_list(
                &format!("[MONITOR RESTORED] {n} {checks} can be judged again ("),
                &names,
                ")",
            ),
            format!(
                "The monitor can see {n} {checks} again:\n\n{lines}\nThe monitor sees these checks again; incidents are judged normally.\n"
            ),
        );
    }
    let regions: BTreeSet<&str> = parts
        .iter()
        .flat_map(|d| d.regions.iter().map(String::as_str))
        .collect();
    let body = format!(
        "The monitor cannot see {n} {checks}: fewer regions than the quorum have fresh results for {}.\n\n{lines}\nWhile a check is unknown nothing changes because of it: no incident opens or resolves, no escalation, and customers get no good news (they keep getting the regular updates of an open incident). You will be told once when the monitor sees again.\nCheck the probe function, its schedule and its alarms in the regions above.\n",
        if n == 1 { "it" } else { "them" }
    );
    (
        clip_list(
            &format!("[MONITOR BLIND] {n} {checks} cannot be judged ("),
            &names,
            &format!(
                "); regions: {}",
                regions.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ),
        body,
    )
}

/// `head` + as many names as fit a subject + `tail`.
fn clip_list(head: &str, names: &[&str], tail: &str) -> String {
    let mut shown = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let rest = names.len() - i - 1;
        let more = if rest > 0 {
            format!(" +{rest} more")
        } else {
            String::new()
        };
        let candidate = format!(
            "{head}{}{more}{tail}",
            [shown.clone(), vec![*name]].concat().join(", ")
        );
        if candidate.chars().count() > super::MAX_SUBJECT && !shown.is_empty() {
            return format!(
                "{head}{} +{} more{tail}",
                shown.join(", "),
                names.len() - shown.len()
            );
        }
        shown.push(*name);
    }
    format!("{head}{}{tail}", shown.join(", "))
}

/// What a monitoring fault means and what fixes it (`heartbeat`: the check is judged from the
/// pings its job sends).
fn cause_and_fix(reason: Reason, heartbeat: bool) -> (&'static str, &'static str) {
    match reason {
        _ if heartbeat => (
            "the monitor cannot judge the heartbeat from its pings",
            "make the job call its ping URL (`atalaya heartbeat url <check>` prints it) and check its token; if the ping endpoint is not taking pings, start the local runner with --listen, or on AWS see the ping function's logs and its alarms",
        ),
        Reason::Blocked => (
            "the network guard refused to probe the target: it is (or resolves to) a loopback, private, link-local or metadata address",
            "if the target is meant to be on a private network, add its range to settings.allow_networks; otherwise check the target's DNS records (they may point somewhere they should not)",
        ),
        _ => (
            "the check cannot run as configured where the probes run",
            "set the missing environment variable on the probe function (Lambda: the function's configuration; locally: the environment of `atalaya run`), or fix the check in the checks file",
        ),
    }
}

/// An early warning (operators only): what is coming, since when, what to do, and that nobody
/// else was told.
fn early(
    event: &Event,
    check: &str,
    service: &str,
    note: &crate::evaluate::EarlyNote,
    config: &Config,
) -> (String, String) {
    let what = match note.cause.split_once('@') {
        Some(("latency", region)) => format!("latency drifting in {region}"),
        _ if note.cause == "certificate" => "certificate expiring".to_string(),
        _ => note.cause.clone(),
    };
    if event.kind == EventKind::EarlyWarningCleared {
        return (
            format!("[EARLY WARNING CLEARED] {check}: {what} no more"),
            format!(
                "Check {check} (service {}): the early warning ({what}) given at {} is over after {}.\n",
                service_label(config, service),
                utc(note.since),
                span(event.at - note.since)
            ),
        );
    }
    let fix = match note.cause.as_str() {
        "certificate" => "renew the certificate and deploy it (every server behind the name); the warning clears at the first result that sees the new one",
        c if c.starts_with("latency@") => "look at what changed (a deploy, load, a dependency, the network to that region) before it reaches the latency thresholds; the warning clears after the first hour back within its usual",
        _ => "look into it before it reaches customers",
    };
    let mut body = String::new();
    let _ = writeln!(
        body,
        "{}Check {check} (service {}): {}.\n",
        if note.reminder { "Still coming. " } else { "" },
        service_label(config, service),
        note.detail
    );
    let _ = writeln!(body, "Since: {}", utc(note.since));
    let _ = writeln!(body, "\nWhat to do: {fix}.");
    body.push_str("\nNothing is wrong for customers yet: no incident is open and customers have been told nothing. Reminders follow at the operators' cadence until it is over.\n");
    (
        format!(
            "[EARLY WARNING] {check}: {what}{}",
            if note.reminder { " (reminder)" } else { "" }
        ),
        body,
    )
}

fn fault(
    event: &Event,
    check: &str,
    service: &str,
    note: &FaultNote,
    config: &Config,
) -> (String, String) {
    let FaultNote {
        reason,
        detail,
        regions,
        since,
        reminder,
    } = note;
    if event.kind == EventKind::MonitoringFaultCleared {
        return (
            format!("[MONITORING FAULT CLEARED] {check}: probing normally again ({})", reason.as_str()),
            format!(
                "Check {check} (service {}) runs normally again: the monitoring fault ({}) that began at {} is over after {}.\n",
                service_label(config, service),
                reason.as_str(),
                utc(*since),
                span(event.at - *since)
            ),
        );
    }
    let heartbeat = config.check(check).is_some_and(|c| c.kind.is_passive());
    let (cause, fix) = cause_and_fix(*reason, heartbeat);
    let mut body = String::new();
    let _ = writeln!(
        body,
        "{}Check {check} (service {}) cannot be judged: {cause}.\n",
        if *reminder { "Still not fixed. " } else { "" },
        service_label(config, service)
    );
    let _ = writeln!(body, "Reason: {}", reason.as_str());
    let _ = writeln!(body, "Regions: {}", regions.join(", "));
    let _ = writeln!(body, "Since: {}", utc(*since));
    let _ = writeln!(body, "Detail: {}", crate::text::printable_lines(detail));
    let _ = writeln!(body, "\nFix: {fix}.");
    body.push_str("\nThis is the monitor's own fault, not an outage: no incident opens for it and customers are told nothing. Until it is fixed the check counts as unknown for its service.\n");
    (
        format!(
            "[MONITORING FAULT] {check}: {}{}",
            match reason {
                _ if heartbeat => "heartbeat cannot be judged",
                Reason::Blocked => "target blocked by the network guard",
                _ => "check cannot run",
            },
            if *reminder { " (still)" } else { "" }
        ),
        body,
    )
}

fn incident_message(
    event: &Event,
    kind: EventKind,
    inc: &Incident,
    config: &Config,
) -> (String, String) {
    let tag = match kind {
        EventKind::Opened if inc.reopened > 0 => "REOPENED".to_string(),
        EventKind::Escalated => "ESCALATED".to_string(),
        EventKind::HumanUpdate => "UPDATE".to_string(),
        EventKind::Acknowledged => "ACK".to_string(),
        other => other.as_str().to_uppercase(),
    };
    let checks: Vec<String> = {
        let mut c: Vec<String> = inc.failures.iter().map(|f| f.check.clone()).collect();
        c.dedup();
        c
    };
    let regions: BTreeSet<&str> = inc.failures.iter().map(|f| f.region.as_str()).collect();
    let forced = match event.note() {
        Some(Note::ForcedResolution { checks }) => Some(checks.clone()),
        _ => None,
    };
    let summary = match kind {
        EventKind::Resolved => format!(
            "resolved{} after {}",
            if forced.is_some() { " by hand" } else { "" },
            // Whole seconds: "22s", not "22s3ms".
            format_duration(std::time::Duration::from_secs(
                (inc.resolved_at.unwrap_or(event.at) - inc.started_at)
                    .num_seconds()
                    .max(0) as u64
            ))
        ),
        EventKind::Acknowledged => event.text().unwrap_or_default().to_string(),
        _ if checks.is_empty() => inc.phase.as_str().to_string(),
        _ if inc.phase == Phase::Monitoring => {
            format!("{} passing again, watching", checks.join(", "))
        }
        _ => format!(
            "{} down in {}",
            checks.join(", "),
            regions.into_iter().collect::<Vec<_>>().join(", ")
        ),
    };
    let mut body = String::new();
    let _ = writeln!(
        body,
        "Incident {} ({}), phase {}",
        inc.id,
        tag.to_lowercase(),
        inc.phase.as_str()
    );
    let _ = write!(body, "Service: {}", service_label(config, &inc.service));
    if let Some(svc) = config.service(&inc.service) {
        if let Some(c) = config.customer(&svc.customer) {
            let _ = write!(body, ", customer {} ({})", c.id, c.name);
        }
    }
    body.push('\n');
    if !inc.affected.is_empty() {
        let _ = writeln!(
            body,
            "Also affected (depend on it): {}",
            inc.affected
                .iter()
                .map(|s| service_label(config, s))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if kind == EventKind::Update {
        if let Some(s) = event.service().filter(|s| *s != inc.service) {
            let _ = writeln!(
                body,
                "{} is down too; it is listed on this incident, not paged separately.",
                service_label(config, s)
            );
        }
    }
    if let Some(Note::Acknowledged { before }) = event.note() {
        if !before.is_empty() {
            let _ = writeln!(body, "Also acknowledged by {}.", before.join(", "));
        }
    }
    let _ = writeln!(
        body,
        "First failure: {}\nOpened: {}",
        utc(inc.started_at),
        utc(inc.opened_at)
    );
    if let Some(r) = inc.resolved_at {
        let _ = writeln!(
            body,
            "Resolved: {} (lasted {})",
            utc(r),
            span(r - inc.started_at)
        );
    }
    if let Some(checks) = &forced {
        let _ = writeln!(
            body,
            "Resolved by hand (--force) while the monitor did not see these passing: {}. No new incident opens for this service until they pass (or {} pass).",
            checks.join(", "),
            format_duration(config.settings.reopen_within)
        );
    }
    match event.note() {
        Some(Note::Texts(texts)) if texts.len() > 1 => {
            body.push_str("\nUpdate (each customer gets the text in their language):\n");
            for (key, text) in texts {
                let _ = writeln!(body, "  [{key}] {text}");
            }
        }
        _ => {
            if let (Some(text), false) = (event.text(), kind == EventKind::Acknowledged) {
                let _ = writeln!(body, "\nUpdate: {text}");
            }
        }
    }
    if event.unseen() {
        body.push_str(&unseen_note(event.unseen_checks()));
    }
    if kind != EventKind::Resolved {
        let (failing, recovering): (Vec<_>, Vec<_>) =
            inc.failures.iter().partition(|f| f.reason != Reason::Ok);
        for (title, list) in [
            (
                "Failing (check, region, reason, latency, since, detail)",
                failing,
            ),
            (
                "Passing again, not yet for recover_after results (check, region, failing since)",
                recovering,
            ),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(body, "\n{title}:");
            for f in list {
                if f.reason == Reason::Ok {
                    let _ = writeln!(
                        body,
                        "  {}  {}  {}",
                        f.check,
                        f.region,
                        f.since.format("%H:%M:%S")
                    );
                } else {
                    let _ = writeln!(
                        body,
                        "  {}  {}  {}  {:.1}ms  {}  {}",
                        f.check,
                        f.region,
                        f.reason.as_str(),
                        f.latency_ms,
                        f.since.format("%H:%M:%S"),
                        // A job's output may run over lines: they stay under their row. A
                        // detail that reached the state raw (an older result) is written out.
                        crate::text::printable_lines(f.detail.trim_end()).replace('\n', "\n      ")
                    );
                }
            }
        }
    }
    if let Some(runbook) = config
        .service(&inc.service)
        .and_then(|s| s.runbook.as_ref())
    {
        let _ = writeln!(body, "\nRunbook: {runbook}");
    }
    match (&inc.acknowledged_by, inc.phase) {
        (_, Phase::Resolved) => {}
        (Some(by), _) => {
            let _ = writeln!(body, "\nAcknowledged by {by}.");
        }
        (None, _) => {
            let _ = writeln!(
                body,
                "\nAcknowledge (stops reminders): atalaya incident ack {}",
                inc.id
            );
        }
    }
    (
        format!(
            "[{tag}] {}: {summary} ({})",
            service_label(config, &inc.service),
            inc.id
        ),
        body,
    )
}
