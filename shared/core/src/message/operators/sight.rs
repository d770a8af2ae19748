//! What the monitor cannot see, or sees again: the notices, and what an incident's message says
//! of its unseen checks.

use super::{service_label, span, utc};
use crate::config::Config;
use crate::evaluate::{Blindness, CheckSight, Event, EventKind};
use crate::message::Digest;
use std::collections::BTreeSet;
use std::fmt::Write;

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
pub(super) fn unseen_note(checks: &[CheckSight]) -> String {
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
pub(super) fn sight(
    event: &Event,
    list: &[CheckSight],
    state: &crate::evaluate::State,
    config: &Config,
) -> Digest {
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
        part: config.settings.scope.incident_prefix.clone(),
        blind_left: state.checks.values().filter(|c| c.blind_told).count(),
    }
}

/// The subject and body of a notice made of `parts` (one or more partitions' digests of one
/// evaluation).
pub(crate) fn sight_text(parts: &[&Digest]) -> (String, String) {
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
        if candidate.chars().count() > crate::message::MAX_SUBJECT && !shown.is_empty() {
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
