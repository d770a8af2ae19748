//! Microsoft Teams, through a Workflows webhook ("Post to a channel when a webhook request is
//! received"): an Adaptive Card 1.5 per event, inside Teams' 28 KB message limit.

use crate::vendor::{cut, Call, Vendor};
use crate::{Channel, ChannelError};
use atalaya_core::message::details::Standing;
use atalaya_core::Message;
use futures::future::BoxFuture;
use http::Method;
use serde_json::{json, Value};

/// The body's share of Teams' 28 KB message (the card's frame and facts take the rest).
const MAX_BODY: usize = 20_000;

pub struct TeamsChannel {
    name: String,
    webhook: url::Url,
    vendor: Vendor,
}

impl TeamsChannel {
    pub fn new(name: &str, webhook: url::Url, vendor: Vendor) -> Self {
        TeamsChannel {
            name: name.to_string(),
            webhook,
            vendor,
        }
    }
}

/// The message the workflow receives: one attachment, an Adaptive Card.
pub fn card(m: &Message) -> Value {
    let d = m.details.as_ref();
    let (state, colour) = match d.map(|d| d.standing) {
        Some(Standing::Open) => ("Open", "Attention"),
        Some(Standing::Acknowledged) => ("Acknowledged", "Warning"),
        Some(Standing::Closed) => ("Resolved", "Good"),
        _ => ("Note", "Default"),
    };
    let mut facts = vec![
        json!({ "title": "State", "value": state }),
        json!({ "title": "Event", "value": m.attributes.event.as_str() }),
        json!({ "title": "Severity", "value": m.attributes.severity.as_str() }),
    ];
    if let Some(s) = &m.attributes.service {
        facts.push(json!({ "title": "Service", "value": s }));
    }
    if let Some(i) = &m.attributes.incident {
        facts.push(json!({ "title": "Incident", "value": i }));
    }
    if let Some(by) = d.and_then(|d| d.acknowledged_by.as_ref()) {
        facts.push(json!({ "title": "Acknowledged by", "value": by }));
    }
    let mut actions = Vec::new();
    if let Some(a) = d.and_then(|d| d.ack_url.as_ref()) {
        actions.push(json!({ "type": "Action.OpenUrl", "title": "Acknowledge", "url": a, "style": "positive" }));
    }
    if let Some(r) = d.and_then(|d| d.runbook.as_ref()) {
        actions.push(json!({ "type": "Action.OpenUrl", "title": "Runbook", "url": r }));
    }
    if let Some(p) = d.and_then(|d| d.status_page.as_ref()) {
        actions.push(json!({ "type": "Action.OpenUrl", "title": "Status page", "url": p }));
    }
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "msteams": { "width": "Full" },
        "body": [
            { "type": "TextBlock", "text": m.subject, "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true },
            { "type": "FactSet", "facts": facts },
            { "type": "TextBlock", "text": cut(&m.body, MAX_BODY), "fontType": "Monospace", "wrap": true },
        ],
    });
    if !actions.is_empty() {
        content["actions"] = json!(actions);
    }
    json!({
        "type": "message",
        "attachments": [{ "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": content }],
    })
}

impl Channel for TeamsChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn answered(&self) -> Option<String> {
        self.vendor.answered()
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let call = Call {
                method: Method::POST,
                url: self.webhook.clone(),
                headers: Vec::new(),
                json: card(m),
            };
            self.vendor.call(&self.name, &m.id, &call).await.map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests;
