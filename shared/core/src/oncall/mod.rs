//! Where operators are told: paging and chat channels, the routes that pick them for each
//! operator message, and who else hears once an incident escalates. Pure: which channels a
//! message goes to is decided here from its tags; sending is the channels' (`atalaya-notify`).

use crate::evaluate::{Audience, Severity};
use crate::message::Message;
use crate::template::EnvTemplate;
use std::collections::BTreeSet;

/// PagerDuty's Events API v2.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Opsgenie's API, in the US and in the EU.
pub const OPSGENIE_US: &str = "https://api.opsgenie.com";
pub const OPSGENIE_EU: &str = "https://api.eu.opsgenie.com";
/// Slack's Web API.
pub const SLACK_URL: &str = "https://slack.com/api";

/// The token of an incident's acknowledgement link: derived from the link key, so a link
/// acknowledges that incident and no other, and cannot be made without the key.
pub fn ack_token(key: &crate::email::Key, incident: &str) -> String {
    key.derive(&format!("ack:{incident}"))
}

/// An incident's acknowledgement link under the pages' address `base`.
pub fn ack_url(base: &str, key: &crate::email::Key, incident: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(incident.as_bytes()).collect();
    format!(
        "{}/ack/{id}/{}",
        base.trim_end_matches('/'),
        ack_token(key, incident)
    )
}

/// Channels, routes and escalation (`settings.operators`).
#[derive(Clone, Debug, Default)]
pub struct OnCall {
    /// By name, in name order.
    pub channels: Vec<OnCallChannel>,
    pub routes: Vec<Route>,
    pub escalate_to: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct OnCallChannel {
    /// The name in the checks file (`pd-shop`), also the name deliveries are recorded under.
    pub name: String,
    pub kind: ChannelKind,
    /// Where it is written.
    pub pos: crate::at::Pos,
}

#[derive(Clone, Debug)]
pub enum ChannelKind {
    PagerDuty {
        routing_key: EnvTemplate,
        url: String,
        webhook_secret: Option<EnvTemplate>,
    },
    Opsgenie {
        api_key: EnvTemplate,
        url: String,
        webhook_token: Option<EnvTemplate>,
    },
    /// A bot token posting to a channel (threads, updates).
    SlackBot {
        token: EnvTemplate,
        channel: String,
        url: String,
        signing_secret: Option<EnvTemplate>,
    },
    /// An incoming webhook (one message per event).
    SlackWebhook {
        webhook: EnvTemplate,
    },
    Teams {
        webhook: EnvTemplate,
    },
    Webhook {
        url: EnvTemplate,
        secret: EnvTemplate,
    },
}

impl ChannelKind {
    /// The kind's name, as written in the checks file and used in metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelKind::PagerDuty { .. } => "pagerduty",
            ChannelKind::Opsgenie { .. } => "opsgenie",
            ChannelKind::SlackBot { .. } | ChannelKind::SlackWebhook { .. } => "slack",
            ChannelKind::Teams { .. } => "teams",
            ChannelKind::Webhook { .. } => "webhook",
        }
    }

    /// The fields that hold references, with their names (`pagerduty.routing_key`).
    pub fn templates(&self) -> Vec<(&'static str, &EnvTemplate)> {
        let mut out = match self {
            ChannelKind::PagerDuty { routing_key, .. } => {
                vec![("pagerduty.routing_key", routing_key)]
            }
            ChannelKind::Opsgenie { api_key, .. } => vec![("opsgenie.api_key", api_key)],
            ChannelKind::SlackBot { token, .. } => vec![("slack.token", token)],
            ChannelKind::SlackWebhook { webhook } => vec![("slack.webhook", webhook)],
            ChannelKind::Teams { webhook } => vec![("teams.webhook", webhook)],
            ChannelKind::Webhook { url, secret } => {
                vec![("webhook.url", url), ("webhook.secret", secret)]
            }
        };
        out.extend(self.inbound());
        out
    }

    /// The secret that authenticates what this channel's vendor sends back (a webhook, a
    /// button), with its field's name.
    pub fn inbound(&self) -> Option<(&'static str, &EnvTemplate)> {
        match self {
            ChannelKind::PagerDuty {
                webhook_secret: Some(t),
                ..
            } => Some(("pagerduty.webhook_secret", t)),
            ChannelKind::Opsgenie {
                webhook_token: Some(t),
                ..
            } => Some(("opsgenie.webhook_token", t)),
            ChannelKind::SlackBot {
                signing_secret: Some(t),
                ..
            } => Some(("slack.signing_secret", t)),
            _ => None,
        }
    }
}

/// One route: the messages it matches go to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Messages about these services; `None`: about anything.
    pub services: Option<BTreeSet<String>>,
    pub min_severity: Severity,
    pub to: Vec<String>,
}

impl Route {
    pub fn matches(&self, service: Option<&str>, severity: Severity) -> bool {
        let service_ok = match (&self.services, service) {
            (None, _) => true,
            (Some(list), Some(s)) => list.contains(s),
            (Some(_), None) => false,
        };
        service_ok && severity >= self.min_severity
    }

    /// Whether this route matches every message `later` matches (so `later` is never reached
    /// when this one comes first).
    pub fn covers(&self, later: &Route) -> bool {
        let services = match (&self.services, &later.services) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => b.is_subset(a),
        };
        services && self.min_severity <= later.min_severity
    }
}

impl OnCall {
    pub fn channel(&self, name: &str) -> Option<&OnCallChannel> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// The channels an operator message goes to: the first matching route's (every channel
    /// when there are no routes), and the escalation's once its incident escalated. Customer
    /// messages go to none of them.
    pub fn targets(&self, m: &Message) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        if m.topic != Audience::Operators {
            return out;
        }
        let tags = &m.attributes;
        if self.routes.is_empty() {
            out.extend(self.channels.iter().map(|c| c.name.as_str()));
        } else if let Some(route) = self
            .routes
            .iter()
            .find(|r| r.matches(tags.service.as_deref(), tags.severity))
        {
            out.extend(route.to.iter().map(String::as_str));
        }
        if m.details.as_ref().is_some_and(|d| d.escalated) {
            out.extend(self.escalate_to.iter().map(String::as_str));
        }
        out
    }
}

#[cfg(test)]
mod tests;
