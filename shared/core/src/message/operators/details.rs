//! The details paging and chat channels build on (see `message::details`).

use crate::config::Config;
use crate::evaluate::{About, Event, EventKind, Incident, Phase};
use crate::message::details::{Action, Details, FailureLine, Standing};

/// The details of an operator event: what it opens, updates or closes. `subject`: the
/// message's, whose text after its `[TAG]` is the title.
pub(in crate::message) fn details(
    event: &Event,
    incident: Option<&Incident>,
    config: &Config,
    subject: &str,
) -> Details {
    let (key, action, service) = thing(event);
    let title = match subject.strip_prefix('[').and_then(|r| r.split_once("] ")) {
        Some((_, rest)) => rest.to_string(),
        None => subject.to_string(),
    };
    let standing = match (action, incident) {
        (_, Some(inc)) if inc.phase == Phase::Resolved => Standing::Closed,
        (_, Some(inc)) if inc.acknowledged_at.is_some() => Standing::Acknowledged,
        (Action::Close, _) => Standing::Closed,
        (Action::Note, _) => Standing::Info,
        _ => Standing::Open,
    };
    let service = service.and_then(|s| config.service(s));
    let status_page = match (&config.settings.status_site.url, service) {
        (Some(url), Some(s)) => config
            .customer(&s.customer)
            .map(|c| format!("{url}/{}/", c.slug)),
        (Some(url), None) => Some(format!("{url}/")),
        _ => None,
    };
    Details {
        key,
        action,
        standing,
        title,
        failures: incident
            .map(|inc| {
                inc.failures
                    .iter()
                    .map(|f| FailureLine {
                        check: f.check.clone(),
                        region: f.region.clone(),
                        reason: f.reason.as_str().to_string(),
                        detail: f.detail.clone(),
                        since: f.since,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        since: incident.map(|inc| inc.started_at),
        runbook: service.and_then(|s| s.runbook.clone()),
        status_page,
        acknowledged_by: incident.and_then(|inc| inc.acknowledged_by.clone()),
        ack_url: None,
        escalated: incident.is_some_and(|inc| inc.escalated),
    }
}

/// The thing's key, what the event does to it, and its service.
fn thing(event: &Event) -> (String, Action, Option<&str>) {
    let open_or_close = |closed: bool| if closed { Action::Close } else { Action::Open };
    match &event.about {
        About::Incident {
            incident, service, ..
        }
        | About::Conversation {
            incident, service, ..
        } => {
            let action = match event.kind {
                EventKind::Opened => Action::Open,
                EventKind::Acknowledged => Action::Acknowledge,
                EventKind::Resolved => Action::Close,
                _ => Action::Update,
            };
            (incident.clone(), action, Some(service.as_str()))
        }
        About::Maintenance { service, .. } => (
            format!("maintenance:{service}"),
            Action::Note,
            Some(service.as_str()),
        ),
        About::Region { region, back } => (format!("region:{region}"), open_or_close(*back), None),
        About::Flapping {
            check,
            service,
            stopped,
        } => (
            format!("flapping:{check}"),
            open_or_close(*stopped),
            Some(service.as_str()),
        ),
        About::Sight(_) => (
            "sight".to_string(),
            open_or_close(event.kind == EventKind::MonitoringRestored),
            None,
        ),
        About::Fault { check, service, .. } => (
            format!("fault:{check}"),
            open_or_close(event.kind == EventKind::MonitoringFaultCleared),
            Some(service.as_str()),
        ),
        About::Early { check, service, .. } => (
            format!("early:{check}"),
            open_or_close(event.kind == EventKind::EarlyWarningCleared),
            Some(service.as_str()),
        ),
        About::Degraded { check, service, .. } => (
            format!("degraded:{check}"),
            open_or_close(event.kind == EventKind::DegradedCleared),
            Some(service.as_str()),
        ),
    }
}
