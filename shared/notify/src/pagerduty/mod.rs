//! PagerDuty, through the Events API v2: an Atalaya incident (or the monitor's own blindness,
//! a monitoring fault, an early warning) is one PagerDuty incident, its `dedup_key` the
//! thing's key, so an event sent again never makes a second one. It is triggered when it
//! opens (again with each update, which PagerDuty adds to the same alert), acknowledged when
//! acknowledged in Atalaya, resolved with it. Notes that open nothing (maintenance) page no one
//! and are not sent.

use crate::vendor::{cut, Call, Vendor};
use crate::{Channel, ChannelError};
use atalaya_core::evaluate::{EventKind, Severity};
use atalaya_core::message::details::Action;
use atalaya_core::Message;
use futures::future::BoxFuture;
use http::Method;
use serde_json::{json, Value};

/// PagerDuty's limits: a summary of 1024 characters, a dedup key of 255.
const MAX_SUMMARY: usize = 1024;
const MAX_DEDUP_KEY: usize = 255;

pub struct PagerDutyChannel {
    name: String,
    routing_key: String,
    url: url::Url,
    vendor: Vendor,
}

impl PagerDutyChannel {
    pub fn new(name: &str, routing_key: String, url: url::Url, vendor: Vendor) -> Self {
        PagerDutyChannel {
            name: name.to_string(),
            routing_key,
            url,
            vendor,
        }
    }
}

/// PagerDuty's severity: an escalated incident is `critical`, an open one `error`; the
/// monitor's warnings `warning`; the rest `info`.
pub fn severity(m: &Message) -> &'static str {
    let incident = m.attributes.incident.is_some();
    match m.attributes.severity {
        Severity::Critical => "critical",
        Severity::Warning if incident => "error",
        Severity::Warning => "warning",
        Severity::Info if incident && m.attributes.event != EventKind::Resolved => "error",
        Severity::Info => "info",
    }
}

/// The event PagerDuty receives for `m`, or `None` when it pages no one.
pub fn event(m: &Message, routing_key: &str) -> Option<Value> {
    let d = m.details.as_ref()?;
    let action = match d.action {
        Action::Open | Action::Update => "trigger",
        Action::Acknowledge => "acknowledge",
        Action::Close => "resolve",
        Action::Note => return None,
    };
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": cut(&d.key, MAX_DEDUP_KEY),
        "client": "Atalaya",
    });
    if let Some(page) = &d.status_page {
        body["client_url"] = json!(page);
    }
    if action == "trigger" {
        let failures: Vec<Value> = d
            .failures
            .iter()
            .map(|f| json!({ "check": f.check, "region": f.region, "reason": f.reason, "detail": f.detail, "since": f.since.to_rfc3339() }))
            .collect();
        let mut custom = json!({
            "event": m.attributes.event.as_str(),
            "details": m.body,
        });
        if !failures.is_empty() {
            custom["failing"] = json!(failures);
        }
        if let Some(since) = d.since {
            custom["since"] = json!(since.to_rfc3339());
        }
        if let Some(by) = &d.acknowledged_by {
            custom["acknowledged_by"] = json!(by);
        }
        let mut payload = json!({
            "summary": cut(&m.subject, MAX_SUMMARY),
            "source": m.attributes.service.as_deref().unwrap_or("atalaya"),
            "severity": severity(m),
            "timestamp": m.at.to_rfc3339(),
            "class": m.attributes.event.as_str(),
            "custom_details": custom,
        });
        if let Some(service) = &m.attributes.service {
            payload["component"] = json!(service);
        }
        if let Some(customer) = &m.attributes.customer {
            payload["group"] = json!(customer);
        }
        body["payload"] = payload;
        let mut links = Vec::new();
        if let Some(a) = &d.ack_url {
            links.push(json!({ "href": a, "text": "Acknowledge in Atalaya" }));
        }
        if let Some(r) = &d.runbook {
            links.push(json!({ "href": r, "text": "Runbook" }));
        }
        if let Some(p) = &d.status_page {
            links.push(json!({ "href": p, "text": "Status page" }));
        }
        if !links.is_empty() {
            body["links"] = json!(links);
        }
    }
    Some(body)
}

impl Channel for PagerDutyChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn answered(&self) -> Option<String> {
        self.vendor.answered()
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let Some(json) = event(m, &self.routing_key) else {
                return Ok(());
            };
            let call = Call {
                method: Method::POST,
                url: self.url.clone(),
                headers: Vec::new(),
                json,
            };
            self.vendor.call(&self.name, &m.id, &call).await.map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests;
