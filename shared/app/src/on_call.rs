//! The operators' paging and chat channels of the checks file in force, made ready for
//! delivery: their `${ssm:…}`/`${secret:…}` references read (by the shell that delivers; the
//! probe functions never read them), made again when a new checks file is in force.

use crate::checks::Checks;
use atalaya_core::{Config, Reference, Source};
use atalaya_notify::oncall::AckLinks;
use atalaya_notify::vendor::Policy;
use atalaya_notify::Channel;
use atalaya_probe::Engine;
use std::sync::{Arc, Mutex};

/// The channels, ready to send: references read with `sdk` (those that cannot be read are
/// logged by name, and their channels wait).
pub async fn build(
    config: &Config,
    engine: &Arc<Engine>,
    sdk: &aws_config::SdkConfig,
    policy: &Policy,
    ack: Option<&AckLinks>,
) -> Vec<Box<dyn Channel>> {
    let on_call = &config.settings.operators.on_call;
    if on_call.channels.is_empty() {
        return Vec::new();
    }
    let remote = atalaya_notify::oncall::references(config);
    let read = if remote.is_empty() {
        Default::default()
    } else {
        atalaya_aws::references::read_logged(&remote, sdk)
            .await
            .values
    };
    let value = |r: &Reference| match r.source {
        Source::Env => std::env::var(&r.name).ok(),
        _ => read.get(r).cloned(),
    };
    atalaya_notify::oncall::build(on_call, engine, &value, policy, ack)
}

/// The secrets that authenticate what the vendors send back (`inbound` of each channel):
/// PagerDuty's webhook signing secrets, Opsgenie's webhook tokens, Slack's signing secrets.
/// A secret that cannot be read is logged by name and left out (its vendor is refused).
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    pub pagerduty: Vec<String>,
    pub opsgenie: Vec<String>,
    pub slack: Vec<String>,
}

impl Inbound {
    pub async fn read(config: &Config, sdk: &aws_config::SdkConfig) -> Inbound {
        let mut out = Inbound::default();
        for c in &config.settings.operators.on_call.channels {
            let Some((field, t)) = c.kind.inbound() else {
                continue;
            };
            match atalaya_aws::references::resolve(t, sdk).await {
                Ok(v) => match c.kind.kind() {
                    "pagerduty" => out.pagerduty.push(v),
                    "opsgenie" => out.opsgenie.push(v),
                    _ => out.slack.push(v),
                },
                Err(why) => {
                    tracing::error!(channel = %c.name, field, why = %why, "cannot read the secret that authenticates this vendor's webhooks: they are refused until it can")
                }
            }
        }
        out
    }
}

/// Channels ready to send, shared by the invocations that use them.
pub type Built = Arc<Vec<Box<dyn Channel>>>;

/// The channels of the checks in force, made once per checks file (when first needed, not at
/// init), with their acknowledgement links.
pub struct OnCallChannels {
    engine: Arc<Engine>,
    policy: Policy,
    built: Mutex<Option<(Arc<Checks>, Built)>>,
}

impl OnCallChannels {
    pub fn new(engine: Arc<Engine>, policy: Policy) -> Self {
        OnCallChannels {
            engine,
            policy,
            built: Mutex::new(None),
        }
    }

    /// The channels of `checks` (made if `checks` is not the file they were made for).
    pub async fn of(&self, checks: &Arc<Checks>, sdk: &aws_config::SdkConfig) -> Built {
        if let Some((made_for, channels)) = &*self.built.lock().unwrap_or_else(|p| p.into_inner()) {
            if Arc::ptr_eq(made_for, checks) {
                return channels.clone();
            }
        }
        let ack = ack_links(&checks.config, sdk).await;
        let channels = Arc::new(
            build(
                &checks.config,
                &self.engine,
                sdk,
                &self.policy,
                ack.as_ref(),
            )
            .await,
        );
        *self.built.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((checks.clone(), channels.clone()));
        channels
    }
}

/// Where acknowledgement links point: the pages function (`settings.email.pages_url`), signed
/// with the link key (`settings.email.key`); none when the file has no paging or chat channel,
/// or either is missing (then messages carry no link: say so).
pub async fn ack_links(config: &Config, sdk: &aws_config::SdkConfig) -> Option<AckLinks> {
    if config.settings.operators.on_call.channels.is_empty() {
        return None;
    }
    let email = &config.settings.email;
    let (Some(base), Some(key)) = (&email.pages_url, &email.key) else {
        tracing::warn!("operators' messages carry no acknowledgement link: set settings.email.pages_url and settings.email.key");
        return None;
    };
    let key = atalaya_aws::references::resolve(key, sdk)
        .await
        .and_then(|text| atalaya_core::email::Key::from_text(&text).map_err(|e| e.to_string()));
    match key {
        Ok(key) => Some(AckLinks {
            base: base.clone(),
            key,
        }),
        Err(e) => {
            tracing::error!(error = %e, "settings.email.key: no acknowledgement links");
            None
        }
    }
}
