//! Operators' words: the technical truth in English, everything they need to act in one
//! message (checks, regions, reasons, timings, first failure, the cause and the fix, the runbook).
//! One file per family: what the monitor cannot see (`sight.rs`), its own faults and early
//! warnings (`fault.rs`), incidents (`incident.rs`).

mod details;
mod fault;
mod incident;
mod sight;

pub(super) use details::details;
pub(super) use sight::sight_text;

use super::Digest;
use crate::config::Config;
use crate::duration::format_duration;
use crate::evaluate::{percent_state_change, About, Event, EventKind, Incident, State};
use chrono::{DateTime, Utc};
use fault::{degraded, early, fault};
use incident::incident_message;
use sight::sight;
use std::fmt::Write;

/// A span for operators, to the second: `22s`, `1h5m3s`.
pub(super) fn span(d: chrono::TimeDelta) -> String {
    format_duration(std::time::Duration::from_secs(d.num_seconds().max(0) as u64))
}

pub(super) fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(super) fn service_label(config: &Config, id: &str) -> String {
    match config.service(id) {
        Some(s) => format!("{id} ({})", s.name),
        None => id.to_string(),
    }
}

/// The part a notice of what the monitor cannot see (or sees again) is made of, if `event` is
/// one.
pub(super) fn digest(event: &Event, state: &State, config: &Config) -> Option<Digest> {
    match &event.about {
        About::Sight(list) => Some(sight(event, list, state, config)),
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
        (About::Sight(list), _) => sight_text(&[&sight(event, list, state, config)]),
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
        (
            About::Degraded {
                check,
                service,
                note,
            },
            _,
        ) => degraded(event, check, service, note, config),
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
