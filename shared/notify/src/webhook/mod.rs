//! A team's own endpoint: a documented, versioned JSON body ([`body`], `"version": 1`),
//! signed after the Standard Webhooks convention: `webhook-id` (the event's id, the same on
//! every retry, for the receiver to drop duplicates), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature` (`v1,` then base64 of HMAC-SHA256 over `id.timestamp.body`, keyed with
//! the secret's bytes: `whsec_` then base64).

use crate::vendor::{secret_header, Call, Vendor};
use crate::{Channel, ChannelError};
use atalaya_core::Message;
use base64::Engine as _;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use http::header::HeaderName;
use http::{HeaderValue, Method};
use serde_json::{json, Value};
use sha2::Sha256;

/// The body's version: a field's meaning never changes within it.
pub const VERSION: u32 = 1;

pub struct WebhookChannel {
    name: String,
    url: url::Url,
    key: Vec<u8>,
    vendor: Vendor,
}

impl WebhookChannel {
    /// `secret`: `whsec_` then base64 (or base64 alone).
    pub fn new(name: &str, url: url::Url, secret: &str, vendor: Vendor) -> Result<Self, String> {
        Ok(WebhookChannel {
            name: name.to_string(),
            url,
            key: key(secret)?,
            vendor,
        })
    }
}

/// The signing key's bytes.
pub fn key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "the webhook secret is not `whsec_` and base64".to_string())
}

/// What is posted: the event, what it is about, its words, the failing checks.
pub fn body(m: &Message) -> Value {
    let mut data = json!({
        "id": m.id,
        "event": m.attributes.event.as_str(),
        "severity": m.attributes.severity.as_str(),
        "subject": m.subject,
        "text": m.body,
    });
    for (k, v) in [
        ("service", &m.attributes.service),
        ("customer", &m.attributes.customer),
        ("incident", &m.attributes.incident),
    ] {
        if let Some(v) = v {
            data[k] = json!(v);
        }
    }
    if let Some(d) = &m.details {
        data["key"] = json!(d.key);
        data["action"] = json!(d.action);
        data["standing"] = json!(d.standing);
        data["title"] = json!(d.title);
        data["failing"] = json!(d.failures);
        data["since"] = json!(d.since);
        data["runbook"] = json!(d.runbook);
        data["status_page"] = json!(d.status_page);
        data["acknowledged_by"] = json!(d.acknowledged_by);
        data["ack_url"] = json!(d.ack_url);
        data["escalated"] = json!(d.escalated);
    }
    json!({
        "version": VERSION,
        "type": m.attributes.event.as_str(),
        "timestamp": m.at.to_rfc3339(),
        "data": data,
    })
}

/// `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

impl Channel for WebhookChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn answered(&self) -> Option<String> {
        self.vendor.answered()
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let json = body(m);
            // The bytes signed are the bytes sent: the vendor layer serializes the same value.
            let bytes = serde_json::to_vec(&json).unwrap_or_default();
            let now = chrono::Utc::now().timestamp();
            let id = format!("msg_{}", m.id);
            let sig = signature(&self.key, &id, now, &bytes);
            let header =
                |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("invalid"));
            let signed = secret_header(&sig).unwrap_or(HeaderValue::from_static("invalid"));
            let call = Call {
                method: Method::POST,
                url: self.url.clone(),
                headers: vec![
                    (HeaderName::from_static("webhook-id"), header(&id)),
                    (
                        HeaderName::from_static("webhook-timestamp"),
                        header(&now.to_string()),
                    ),
                    (HeaderName::from_static("webhook-signature"), signed),
                ],
                json,
            };
            self.vendor.call(&self.name, &m.id, &call).await.map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests;
