//! The monitor's own faults (the cause and the fix) and early warnings (what is coming).

use super::{service_label, span, utc};
use crate::config::Config;
use crate::evaluate::{Cause, Event, EventKind, FaultNote};
use crate::result::Reason;
use std::fmt::Write;

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
pub(super) fn early(
    event: &Event,
    check: &str,
    service: &str,
    note: &crate::evaluate::EarlyNote,
    config: &Config,
) -> (String, String) {
    let what = match &note.cause {
        Cause::Latency { region } => format!("latency drifting in {region}"),
        Cause::Certificate => "certificate expiring".to_string(),
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
    let fix = match note.cause {
        Cause::Certificate => "renew the certificate and deploy it (every server behind the name); the warning clears at the first result that sees the new one",
        Cause::Latency { .. } => "look at what changed (a deploy, load, a dependency, the network to that region) before it reaches the latency thresholds; the warning clears after the first hour back within its usual",
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

pub(super) fn fault(
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
    let (cause, mut fix) = cause_and_fix(*reason, heartbeat);
    if *reason == Reason::Blocked && (detail.contains("metadata") || detail.contains("credentials"))
    {
        // Never advise allowing the cloud's metadata endpoint.
        fix = "the monitor never calls the cloud's metadata or credentials endpoints: check where the target's name, its DNS records or a redirect points (they may point somewhere they should not)";
    }
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

/// A check degraded (operators only): which regions see what, since when, and that customers
/// were not told; or that it ended, and what the check is now.
pub(super) fn degraded(
    event: &Event,
    check: &str,
    service: &str,
    note: &crate::evaluate::DegradedNote,
    config: &Config,
) -> (String, String) {
    let label = service_label(config, service);
    if event.kind == EventKind::DegradedCleared {
        let now = note.now.as_deref().unwrap_or("up");
        let how = if now == "down" {
            "it is down now: the incident's messages tell the rest"
        } else {
            "it works normally again"
        };
        return (
            format!("[DEGRADED CLEARED] {check}: {now}"),
            format!(
                "Check {check} (service {label}) is no longer degraded after {} (since {}): {how}.\n",
                span(event.at - note.since),
                utc(note.since)
            ),
        );
    }
    let mut body = format!(
        "{}Check {check} (service {label}) is degraded since {} ({}): it works where the quorum sees it, but not everywhere or not well. No incident is open and customers were not told; their status page shows it as degraded.\n\nRegions not up (region, outcome, reason, detail):\n",
        if note.reminder { "Still degraded. " } else { "" },
        utc(note.since),
        span(event.at - note.since)
    );
    for (region, outcome, reason, detail) in &note.regions {
        let _ = writeln!(
            body,
            "  {region}  {}  {}  {detail}",
            outcome.as_str(),
            reason.as_str()
        );
    }
    if let Some(runbook) = config.service(service).and_then(|s| s.runbook.as_ref()) {
        let _ = writeln!(body, "\nRunbook: {runbook}");
    }
    let regions: Vec<&str> = note.regions.iter().map(|(r, ..)| r.as_str()).collect();
    (
        format!(
            "[DEGRADED] {check} ({label}){}",
            if regions.is_empty() {
                String::new()
            } else {
                format!(" in {}", regions.join(", "))
            }
        ),
        body,
    )
}
