//! The mailer function: subscribed to the customers SNS topic (the product stays SNS-driven), it
//! turns each customer message into a branded mail to every confirmed subscriber of the service
//! (`atalaya_notify::email`), through SES. The message is read back from the outbox by its id
//! (the SNS attribute `id`), with its translations for subscribers who read another language;
//! each mail is claimed per message and subscriber, so SNS delivering a message again sends
//! nothing twice. SES's bounce and complaint events (a configuration set publishing to a topic
//! the mailer also hears) mark the subscriber, and nothing more is sent to them.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::EmailChannel;
use atalaya_core::email::Change;
use atalaya_core::evaluate::Audience;
use atalaya_core::message::Tags;
use atalaya_core::Message;
use atalaya_notify::Channel;
use atalaya_store::{DynamoStore, Store, Subscribers};
use aws_lambda_events::event::sns::{SnsEvent, SnsRecord};
use chrono::Utc;
use serde::Serialize;

/// What one invocation did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Handled {
    /// Customer messages delivered to their subscribers.
    pub messages: usize,
    /// Subscribers marked bounced or complained.
    pub marked: usize,
    /// Records that were neither (logged).
    pub ignored: usize,
}

/// The customer message a record carries: from the outbox (with its translations) when it is
/// there, else as SNS delivered it.
async fn message_of(store: &DynamoStore, r: &SnsRecord) -> Option<Message> {
    let attr = |name: &str| r.sns.message_attributes.get(name).map(|a| a.value.clone());
    let id = attr("id")?;
    if attr("audience").as_deref() != Some("customers") {
        return None;
    }
    match store.messages(std::slice::from_ref(&id)).await {
        Ok(mut found) if !found.is_empty() => return Some(found.remove(0)),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(%id, error = %e, "the outbox could not be read; the message is mailed as SNS delivered it")
        }
    }
    let pairs = r
        .sns
        .message_attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    let attributes = match Tags::from_pairs(&pairs) {
        Ok(tags) => tags,
        Err(e) => {
            tracing::error!(%id, error = %e, "a customer message whose attributes cannot be read; not mailed");
            return None;
        }
    };
    Some(Message {
        id,
        at: r.sns.timestamp,
        topic: Audience::Customers,
        subject: r.sns.subject.clone().unwrap_or_default(),
        body: r.sns.message.clone(),
        attributes,
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: None,
    })
}

/// An SES event about a mail: (the subscriber it was tagged with, what happens to it).
fn ses_event(body: &str) -> Option<(String, Change)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let kind = v
        .get("eventType")
        .or_else(|| v.get("notificationType"))?
        .as_str()?;
    let subscriber = v["mail"]["tags"]["subscriber"][0].as_str()?.to_string();
    match kind {
        // A transient bounce (a full mailbox) is not a reason to stop.
        "Bounce" if v["bounce"]["bounceType"] == "Permanent" => Some((
            subscriber,
            Change::Bounce(format!(
                "SES: permanent bounce ({})",
                v["bounce"]["bounceSubType"].as_str().unwrap_or("General")
            )),
        )),
        "Complaint" => Some((
            subscriber,
            Change::Complain("SES: the recipient marked a mail as spam".into()),
        )),
        _ => None,
    }
}

/// Handles one SNS delivery. A message whose mail could not go to every subscriber is an
/// error: Lambda invokes again (SNS invokes asynchronously), and the mails already sent are not
/// sent again.
pub async fn handle(
    store: &DynamoStore,
    channel: &EmailChannel<DynamoStore>,
    event: &SnsEvent,
) -> Result<Handled, String> {
    let mut out = Handled::default();
    let mut failed = None;
    for r in &event.records {
        if let Some(m) = message_of(store, r).await {
            match channel.send(&m).await {
                Ok(()) => out.messages += 1,
                Err(e) => {
                    tracing::error!(id = %m.id, error = %e, "not every subscriber got the mail; invoked again");
                    failed.get_or_insert(e.to_string());
                }
            }
        } else if let Some((id, change)) = ses_event(&r.sns.message) {
            match store.subscriber(&id).await {
                Ok(Some(mut s)) => {
                    if s.change(change, Utc::now()) {
                        tracing::warn!(subscriber = %id, customer = %s.customer, state = s.state.as_str(), why = s.note.as_deref().unwrap_or(""), "nothing more is sent to this subscriber");
                        store.put_subscriber(&s).await.map_err(|e| e.to_string())?;
                        out.marked += 1;
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        } else {
            tracing::info!(message_id = %r.sns.message_id, "a record that is neither a customer message nor an SES event; ignored");
            out.ignored += 1;
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
