//! The operators' paging and chat channels of a checks file (`settings.operators.channels`),
//! made ready to send: their references filled in (the shell reads `${ssm:…}`/`${secret:…}`
//! first: [`references`]), their vendor calls through the probe engine's guarded client. A
//! channel whose secret cannot be read still exists and fails every send (retryably, naming the
//! reference, never a value), so what it should have sent waits for it and the failure is seen.

use crate::opsgenie::OpsgenieChannel;
use crate::pagerduty::PagerDutyChannel;
use crate::slack::{SlackChannel, SlackTarget};
use crate::teams::TeamsChannel;
use crate::vendor::{Policy, Vendor};
use crate::webhook::WebhookChannel;
use crate::{Channel, ChannelError};
use atalaya_core::oncall::{ChannelKind, OnCall, OnCallChannel};
use atalaya_core::{Config, EnvTemplate, Message, Reference};
use atalaya_probe::Engine;
use futures::future::BoxFuture;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The `${ssm:…}` and `${secret:…}` references of the channels: what the shell that delivers
/// reads from AWS (the probe functions never do).
pub fn references(config: &Config) -> BTreeSet<Reference> {
    config
        .settings
        .operators
        .on_call
        .channels
        .iter()
        .flat_map(|c| c.kind.templates())
        .flat_map(|(_, t)| t.references().cloned().collect::<Vec<_>>())
        .filter(|r| r.source.is_remote())
        .collect()
}

/// Where acknowledgement links point: the pages' address and the key that signs them.
#[derive(Clone, Debug)]
pub struct AckLinks {
    pub base: String,
    pub key: atalaya_core::email::Key,
}

/// Every channel of `on_call`, ready to send. `value` gives a reference's value; with `ack`,
/// an open incident's messages carry its acknowledgement link.
pub fn build(
    on_call: &OnCall,
    engine: &Arc<Engine>,
    value: &dyn Fn(&Reference) -> Option<String>,
    policy: &Policy,
    ack: Option<&AckLinks>,
) -> Vec<Box<dyn Channel>> {
    let routes = Arc::new(on_call.clone());
    on_call
        .channels
        .iter()
        .map(|c| {
            let inner = match one(c, engine, value, policy) {
                Ok(ch) => ch,
                Err(why) => {
                    tracing::error!(channel = %c.name, why = %why, "the channel cannot send: what it should send waits for it");
                    Box::new(Unavailable {
                        name: c.name.clone(),
                        why,
                    }) as Box<dyn Channel>
                }
            };
            Box::new(Routed {
                inner,
                routes: routes.clone(),
                ack: ack.cloned(),
            }) as Box<dyn Channel>
        })
        .collect()
}

/// A channel that takes the operator messages its routes (and the escalation) send it.
struct Routed {
    inner: Box<dyn Channel>,
    routes: Arc<OnCall>,
    ack: Option<AckLinks>,
}

impl Routed {
    /// The message with its incident's acknowledgement link, while nobody acknowledged it.
    fn linked(&self, m: &Message) -> Option<Message> {
        let ack = self.ack.as_ref()?;
        let incident = m.attributes.incident.as_deref()?;
        let d = m.details.as_ref()?;
        if d.standing != atalaya_core::message::details::Standing::Open {
            return None;
        }
        let mut m = m.clone();
        if let Some(d) = m.details.as_mut() {
            d.ack_url = Some(atalaya_core::oncall::ack_url(&ack.base, &ack.key, incident));
        }
        Some(m)
    }
}

impl Channel for Routed {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn wants(&self, m: &Message) -> bool {
        self.routes.targets(m).contains(self.inner.name())
    }
    fn threads(&self) -> bool {
        self.inner.threads()
    }
    fn answered(&self) -> Option<String> {
        self.inner.answered()
    }
    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            match self.linked(m) {
                Some(linked) => self.inner.send(&linked).await,
                None => self.inner.send(m).await,
            }
        })
    }
    fn send_in<'a>(
        &'a self,
        m: &'a Message,
        thread: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, ChannelError>> {
        Box::pin(async move {
            match self.linked(m) {
                Some(linked) => self.inner.send_in(&linked, thread).await,
                None => self.inner.send_in(m, thread).await,
            }
        })
    }
}

fn one(
    c: &OnCallChannel,
    engine: &Arc<Engine>,
    value: &dyn Fn(&Reference) -> Option<String>,
    policy: &Policy,
) -> Result<Box<dyn Channel>, String> {
    let mut secrets = Vec::new();
    let mut fill = |t: &EnvTemplate, field: &str| -> Result<String, String> {
        let v = t.resolve(value).map_err(|e| format!("{field}: {e}"))?;
        secrets.extend(v.secrets);
        Ok(v.value)
    };
    let parse = |text: &str, field: &str| {
        url::Url::parse(text)
            .map_err(|_| format!("{field}: not a URL once its references are filled in"))
    };
    let name = c.name.as_str();
    Ok(match &c.kind {
        ChannelKind::PagerDuty {
            routing_key, url, ..
        } => {
            let key = fill(routing_key, "pagerduty.routing_key")?;
            let vendor = Vendor::new(engine.clone(), policy.clone(), &secrets);
            Box::new(PagerDutyChannel::new(
                name,
                key,
                parse(url, "pagerduty.url")?,
                vendor,
            ))
        }
        ChannelKind::Opsgenie { api_key, url, .. } => {
            let key = fill(api_key, "opsgenie.api_key")?;
            let vendor = Vendor::new(engine.clone(), policy.clone(), &secrets);
            Box::new(OpsgenieChannel::new(
                name,
                key,
                parse(url, "opsgenie.url")?,
                vendor,
            ))
        }
        ChannelKind::SlackBot {
            token,
            channel,
            url,
            signing_secret,
        } => {
            let token = fill(token, "slack.token")?;
            let vendor = Vendor::new(engine.clone(), policy.clone(), &secrets);
            let target = SlackTarget::Bot {
                token,
                channel: channel.clone(),
                api: parse(url, "slack.url")?,
                interactive: signing_secret.is_some(),
            };
            Box::new(SlackChannel::new(name, target, vendor))
        }
        ChannelKind::SlackWebhook { webhook } => {
            let url = parse(&fill(webhook, "slack.webhook")?, "slack.webhook")?;
            let vendor = Vendor::new(engine.clone(), policy.clone(), &secrets);
            Box::new(SlackChannel::new(name, SlackTarget::Webhook(url), vendor))
        }
        ChannelKind::Teams { webhook } => {
            let url = parse(&fill(webhook, "teams.webhook")?, "teams.webhook")?;
            let vendor = Vendor::new(engine.clone(), policy.clone(), &secrets);
            Box::new(TeamsChannel::new(name, url, vendor))
        }
        ChannelKind::Webhook { url, secret } => {
            let url = parse(&fill(url, "webhook.url")?, "webhook.url")?;
            let secret = fill(secret, "webhook.secret")?;
            let vendor = Vendor::new(engine.clone(), policy.clone(), &secrets);
            Box::new(
                WebhookChannel::new(name, url, &secret, vendor)
                    .map_err(|e| format!("webhook.secret: {e}"))?,
            )
        }
    })
}

/// A channel that cannot send (its secret could not be read): every send fails, retryably.
struct Unavailable {
    name: String,
    why: String,
}

impl Channel for Unavailable {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            Err(ChannelError {
                channel: self.name.clone(),
                id: m.id.clone(),
                retryable: true,
                detail: format!("the channel cannot send: {}", self.why),
            })
        })
    }
}
