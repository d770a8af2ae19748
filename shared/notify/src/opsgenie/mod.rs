//! Opsgenie, through the Alerts API (US or EU): an Atalaya incident (or the monitor's own
//! blindness, a fault, an early warning) is one alert whose `alias` is the thing's key. It is
//! created when the thing opens (and with each update, which Opsgenie adds to the open alert), noted with each update (its priority raised to P1 when the
//! incident escalates), acknowledged and closed with it. Maintenance opens no alert and is not
//! sent.

use crate::vendor::{cut, secret_header, Call, Vendor};
use crate::{Channel, ChannelError};
use atalaya_core::evaluate::{EventKind, Severity};
use atalaya_core::message::details::Action;
use atalaya_core::Message;
use futures::future::BoxFuture;
use http::header::AUTHORIZATION;
use http::Method;
use serde_json::{json, Value};

/// Opsgenie's limits (characters): message 130, alias 512, description 15,000, a note 25,000,
/// a detail's value 8,000.
const MAX_MESSAGE: usize = 130;
const MAX_ALIAS: usize = 512;
const MAX_DESCRIPTION: usize = 15_000;
const MAX_NOTE: usize = 25_000;

pub struct OpsgenieChannel {
    name: String,
    api_key: String,
    base: url::Url,
    vendor: Vendor,
}

impl OpsgenieChannel {
    pub fn new(name: &str, api_key: String, base: url::Url, vendor: Vendor) -> Self {
        OpsgenieChannel {
            name: name.to_string(),
            api_key,
            base,
            vendor,
        }
    }
}

/// The priority: P1 an escalated incident, P2 an incident, P3 the monitor's warnings, P5
/// the rest.
pub fn priority(m: &Message) -> &'static str {
    match (m.attributes.severity, m.attributes.incident.is_some()) {
        (Severity::Critical, _) => "P1",
        (_, true) => "P2",
        (Severity::Warning, false) => "P3",
        (Severity::Info, false) => "P5",
    }
}

/// One request to Opsgenie: a path under the API (with the alias encoded as a path segment)
/// and its body.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub path: Vec<String>,
    pub body: Value,
}

/// What Opsgenie is sent for `m`, in order.
pub fn requests(m: &Message) -> Vec<Request> {
    let Some(d) = &m.details else {
        return Vec::new();
    };
    let alias = cut(&d.key, MAX_ALIAS);
    let on_alert = |what: &str, body: Value| Request {
        path: vec!["v2".into(), "alerts".into(), alias.clone(), what.into()],
        body,
    };
    let by = d
        .acknowledged_by
        .clone()
        .unwrap_or_else(|| "Atalaya".into());
    let note = cut(&format!("{}\n\n{}", m.subject, m.body), MAX_NOTE);
    let create = || {
        let mut details = serde_json::Map::new();
        details.insert("event".into(), json!(m.attributes.event.as_str()));
        for (k, v) in [
            ("service", &m.attributes.service),
            ("customer", &m.attributes.customer),
            ("runbook", &d.runbook),
            ("status_page", &d.status_page),
        ] {
            if let Some(v) = v {
                details.insert(k.into(), json!(v));
            }
        }
        if let Some(since) = d.since {
            details.insert("since".into(), json!(since.to_rfc3339()));
        }
        let mut tags = vec!["atalaya".to_string()];
        tags.extend(m.attributes.service.clone());
        Request {
            path: vec!["v2".into(), "alerts".into()],
            body: json!({
                "message": cut(&m.subject, MAX_MESSAGE),
                "alias": alias,
                "description": cut(&m.body, MAX_DESCRIPTION),
                "priority": priority(m),
                "source": "Atalaya",
                "entity": m.attributes.service.as_deref().unwrap_or("atalaya"),
                "tags": tags,
                "details": details,
            }),
        }
    };
    match d.action {
        Action::Open => vec![create()],
        // An update creates the alert too (Opsgenie adds it to the open one with that alias):
        // a channel that joins later (the escalation's) has an alert to note on.
        Action::Update => {
            let mut out = vec![create()];
            if m.attributes.event == EventKind::Escalated {
                out.push(on_alert("priority", json!({ "priority": "P1" })));
            }
            out.push(on_alert(
                "notes",
                json!({ "note": note, "user": "Atalaya", "source": "Atalaya" }),
            ));
            out
        }
        // Maintenance opens no alert; a note would be on none.
        Action::Note => Vec::new(),
        Action::Acknowledge => vec![on_alert(
            "acknowledge",
            json!({ "user": cut(&by, 100), "source": "Atalaya", "note": note }),
        )],
        Action::Close => vec![on_alert(
            "close",
            json!({ "user": "Atalaya", "source": "Atalaya", "note": note }),
        )],
    }
}

/// The API's address for `path`: each part one encoded path segment (an alias may hold `/`,
/// `?`, `#`), and `identifierType=alias` for an alert's actions.
pub fn url(base: &url::Url, path: &[String]) -> url::Url {
    {
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            segments.extend(path);
        }
        if path.len() > 2 {
            url.set_query(Some("identifierType=alias"));
        }
        url
    }
}

impl Channel for OpsgenieChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn answered(&self) -> Option<String> {
        self.vendor.answered()
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let key = secret_header(&format!("GenieKey {}", self.api_key)).map_err(|detail| {
                ChannelError {
                    channel: self.name.clone(),
                    id: m.id.clone(),
                    retryable: false,
                    detail: format!("opsgenie.api_key: {detail}"),
                }
            })?;
            for r in requests(m) {
                let call = Call {
                    method: Method::POST,
                    url: url(&self.base, &r.path),
                    headers: vec![(AUTHORIZATION, key.clone())],
                    json: r.body,
                };
                self.vendor.call(&self.name, &m.id, &call).await?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
