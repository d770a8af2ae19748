//! An incident told to operators: what failed where, since when, what was said, what to do.

use super::sight::unseen_note;
use super::{service_label, span, utc};
use crate::config::Config;
use crate::duration::format_duration;
use crate::evaluate::{Event, EventKind, Incident, Note, Phase};
use crate::result::Reason;
use std::collections::BTreeSet;
use std::fmt::Write;

pub(super) fn incident_message(
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
        EventKind::NotResolved => "NOT RESOLVED".to_string(),
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
    let summary = summary(event, kind, inc, &checks, regions, forced.is_some());
    let mut body = String::new();
    let _ = writeln!(
        body,
        "Incident {} ({}), phase {}",
        inc.id,
        tag.to_lowercase(),
        inc.phase.as_str()
    );
    who(&mut body, event, kind, inc, config);
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
        failures(&mut body, inc);
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

/// The subject's summary: how it ended, or what is failing where.
fn summary(
    event: &Event,
    kind: EventKind,
    inc: &Incident,
    checks: &[String],
    regions: BTreeSet<&str>,
    forced: bool,
) -> String {
    match kind {
        EventKind::Resolved => format!(
            "resolved{} after {}",
            if forced { " by hand" } else { "" },
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
    }
}

/// Which service, whose, what else it takes down, who acknowledged before.
fn who(body: &mut String, event: &Event, kind: EventKind, inc: &Incident, config: &Config) {
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
}

/// What is failing where, and what passes again but is not yet recovered.
fn failures(body: &mut String, inc: &Incident) {
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
