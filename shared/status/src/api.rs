//! Statuspage's public API shape (`/api/v2/summary.json`, `/api/v2/status.json`), so that
//! widgets and integrations written for it read an Atalaya page.
//!
//! Statuspage has no word for "the monitor cannot see": a component the monitor cannot see
//! keeps the last status its customers were told (an open incident they heard of: an outage;
//! else operational), its description says monitoring is unavailable, and the page's status
//! says so too (indicator `minor`).

use crate::model::{Page, Status};
use atalaya_core::config::Language;
use serde_json::{json, Value};

pub(crate) const JSON: &str = "application/json";

fn component_status(s: Status, told_outage: bool) -> &'static str {
    match s {
        Status::MonitoringUnavailable if told_outage => "major_outage",
        Status::MonitoringUnavailable => "operational",
        s => s.as_str(),
    }
}

fn indicator(s: Status) -> &'static str {
    match s {
        Status::Operational => "none",
        Status::UnderMaintenance => "maintenance",
        Status::MonitoringUnavailable | Status::DegradedPerformance => "minor",
        Status::PartialOutage => "major",
        Status::MajorOutage => "critical",
    }
}

pub(crate) fn summary(page: &Page, url: Option<&str>, l: Language) -> Value {
    let page_id = page.id.as_str();
    let url = url.map(str::to_string).unwrap_or_else(|| match page_id {
        "public" => "/".to_string(),
        slug => format!("/{slug}/"),
    });
    let updated = page
        .checked_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let components: Vec<Value> = page
        .services
        .iter()
        .enumerate()
        .map(|(n, s)| {
            json!({
                "id": s.id,
                "name": s.name,
                "status": component_status(s.status, s.told_outage),
                "created_at": updated,
                "updated_at": updated,
                "position": n + 1,
                "description": (s.status == Status::MonitoringUnavailable).then(|| Status::MonitoringUnavailable.word(l)),
                "showcase": true,
                "start_date": null,
                "group_id": null,
                "page_id": page_id,
                "group": false,
                "only_show_if_degraded": false,
            })
        })
        .collect();
    let component = |id: &str| components.iter().find(|c| c["id"] == id).cloned();
    let incident = |i: &crate::model::IncidentView| {
        let ts =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        json!({
            "id": i.id,
            "name": i.name,
            "status": i.phase,
            "created_at": ts(i.started_at),
            "updated_at": ts(i.updated_at),
            "monitoring_at": null,
            "resolved_at": i.resolved_at.map(ts),
            "impact": "major",
            "shortlink": format!("{url}#{}", i.id),
            "started_at": ts(i.started_at),
            "page_id": page_id,
            "incident_updates": i.updates.iter().rev().map(|u| json!({
                "id": u.id,
                "status": u.phase,
                "body": if u.paragraphs.is_empty() { u.title.clone() } else { u.paragraphs.join("\n\n") },
                "incident_id": i.id,
                "created_at": ts(u.at),
                "updated_at": ts(u.at),
                "display_at": ts(u.at),
                "affected_components": null,
                "deliver_notifications": true,
                "custom_tweet": null,
                "tweet_id": null,
            })).collect::<Vec<_>>(),
            "components": i.service_ids.iter().filter_map(|s| component(s)).collect::<Vec<_>>(),
        })
    };
    let maintenances: Vec<Value> = page
        .maintenance
        .iter()
        .map(|m| maintenance(m, &url, page_id, &component))
        .collect();
    json!({
        "page": {
            "id": page_id,
            "name": page.title,
            "url": url,
            "time_zone": page.zone,
            "updated_at": updated,
        },
        "components": components,
        "incidents": page.open.iter().map(incident).collect::<Vec<_>>(),
        "scheduled_maintenances": maintenances,
        "status": {
            "indicator": indicator(page.overall),
            "description": page.overall_words,
        },
    })
}

/// A planned maintenance window as Statuspage's API shows it.
fn maintenance(
    m: &crate::model::MaintenanceView,
    url: &str,
    page_id: &str,
    component: &dyn Fn(&str) -> Option<Value>,
) -> Value {
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "id": m.id,
        "name": format!("{}: {}", m.service, m.words),
        "status": if m.in_progress { "in_progress" } else { "scheduled" },
        "created_at": ts(m.start),
        "updated_at": ts(m.start),
        "monitoring_at": null,
        "resolved_at": null,
        "impact": "maintenance",
        "shortlink": url,
        "started_at": ts(m.start),
        "page_id": page_id,
        "incident_updates": m.note.iter().map(|n| json!({
            "id": format!("{}-note", m.id),
            "status": if m.in_progress { "in_progress" } else { "scheduled" },
            "body": n,
            "incident_id": m.id,
            "created_at": ts(m.start),
            "updated_at": ts(m.start),
            "display_at": ts(m.start),
            "affected_components": null,
            "deliver_notifications": true,
            "custom_tweet": null,
            "tweet_id": null,
        })).collect::<Vec<_>>(),
        "components": component(&m.service_id).into_iter().collect::<Vec<_>>(),
        "scheduled_for": ts(m.start),
        "scheduled_until": ts(m.end),
    })
}

pub(crate) fn status(summary: &Value) -> Value {
    json!({ "page": summary["page"], "status": summary["status"] })
}
