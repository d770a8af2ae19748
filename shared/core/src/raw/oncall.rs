//! `settings.operators` as written: the cadence, and where operators are told (channels,
//! routes, escalation).

use crate::at::At;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How operators are reminded and escalated to, and where they are told.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Operators")]
#[serde(deny_unknown_fields)]
pub struct RawOperators {
    /// Remind operators of an unacknowledged incident this often (default `30m`, at most `7d`).
    pub renotify_every: Option<At<String>>,
    /// Escalate (severity critical) when unacknowledged this long (default `15m`, at most
    /// `7d`).
    pub escalate_after: Option<At<String>>,
    /// Channels that also get an incident once it escalates, and every later event of it
    /// (reminders, the acknowledgement, the resolution), whatever the routes say:
    /// `[pd-lead]`.
    pub escalate_to: Option<At<Vec<At<String>>>>,
    /// Paging and chat channels, by a name of your choosing (`[a-z0-9_-]`, at most 40):
    /// `{ pd-shop: { pagerduty: { routing_key: "${secret:atalaya/alert/pd-shop}" } }, ops-chat: {
    /// slack: { token: "${secret:atalaya/alert/slack}", channel: C0123ABCD } } }`. Each takes one of
    /// `pagerduty`, `opsgenie`, `slack`, `teams`, `webhook`. Keys, tokens and webhook URLs are
    /// written as references (`${secret:…}`, `${ssm:…}`, `${env:…}`), never in the file.
    /// The built-in outputs (stdout and the JSONL outbox locally, the operators' SNS topic on
    /// AWS) always get every operator message.
    pub channels: Option<At<BTreeMap<String, At<RawChannel>>>>,
    /// Which channels get which operator messages; the first route that matches wins:
    /// `[{ services: [shop, payments], min_severity: warning, to: [pd-shop, ops-chat] }, { to:
    /// [ops-chat] }]`. With channels and no routes, every channel gets every message. A route
    /// with neither `services` nor `min_severity` catches the rest; `to: []` sends nothing.
    pub routes: Option<At<Vec<At<RawRoute>>>>,
}

/// One route.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Route")]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Messages about these services (ids). Messages about no service (the monitor's own
    /// sight, a silent region) match only routes without `services`.
    pub services: Option<At<Vec<At<String>>>>,
    /// Messages of this severity or above: `info`, `warning` (an incident, a monitoring fault,
    /// an early warning) or `critical` (an escalated incident).
    pub min_severity: Option<At<String>>,
    /// The channels (names from `channels`).
    pub to: At<Vec<At<String>>>,
}

/// One channel: exactly one of its kinds.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Channel")]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// PagerDuty Events API v2: `{ routing_key: "${secret:…}" }`. An incident is one PagerDuty
    /// incident (`dedup_key`), triggered, acknowledged and resolved with it.
    pub pagerduty: Option<At<RawPagerDuty>>,
    /// Opsgenie Alerts API: `{ api_key: "${secret:…}", region: eu }`. An incident is one alert
    /// (`alias`): created, noted, acknowledged and closed with it.
    pub opsgenie: Option<At<RawOpsgenie>>,
    /// Slack: a bot token and a channel id (`{ token: "${secret:…}", channel: C0123ABCD }`:
    /// one message per incident, kept current, every later event a reply in its thread), or an
    /// incoming webhook (`{ webhook: "${secret:…}" }`: one message per event, no threads).
    pub slack: Option<At<RawSlack>>,
    /// Microsoft Teams, through a Workflows webhook ("Post to a channel when a webhook request
    /// is received"): `{ webhook: "${secret:…}" }`; an Adaptive Card per event.
    pub teams: Option<At<RawTeams>>,
    /// Your own endpoint: a versioned JSON body, signed after the Standard Webhooks convention:
    /// `{ url: "https://…", secret: "${secret:…}" }` (the secret `whsec_` and base64, as
    /// Standard Webhooks libraries expect).
    pub webhook: Option<At<RawWebhook>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "PagerDuty")]
#[serde(deny_unknown_fields)]
pub struct RawPagerDuty {
    /// The integration's routing key (a reference).
    pub routing_key: At<String>,
    /// The Events API address (default `https://events.pagerduty.com/v2/enqueue`; EU accounts
    /// may use `https://events.eu.pagerduty.com/v2/enqueue`).
    pub url: Option<At<String>>,
    /// The signing secret of a V3 webhook subscription (a reference) sending to
    /// `<pages>/hooks/pagerduty`: an incident acknowledged or resolved in PagerDuty is
    /// acknowledged or resolved in Atalaya too (a resolution only if the monitor sees it
    /// working).
    pub webhook_secret: Option<At<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Opsgenie")]
#[serde(deny_unknown_fields)]
pub struct RawOpsgenie {
    /// An API integration's key (a reference).
    pub api_key: At<String>,
    /// `us` (default, api.opsgenie.com) or `eu` (api.eu.opsgenie.com).
    pub region: Option<At<String>>,
    /// The API's address, instead of the region's.
    pub url: Option<At<String>>,
    /// A token (a reference) Opsgenie's outgoing webhook sends in the `X-Atalaya-Token` header
    /// to `<pages>/hooks/opsgenie`: an alert acknowledged or closed there is acknowledged or
    /// resolved in Atalaya too (a resolution only if the monitor sees it working).
    pub webhook_token: Option<At<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Slack")]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    /// A bot token (`xoxb-…`, a reference) with `chat:write`; with `channel`.
    pub token: Option<At<String>>,
    /// The channel's id (`C0123ABCD`) the bot is a member of.
    pub channel: Option<At<String>>,
    /// An incoming-webhook URL (a reference), instead of a token: no threads, no updates.
    pub webhook: Option<At<String>>,
    /// Slack's Web API address (default `https://slack.com/api`).
    pub url: Option<At<String>>,
    /// The app's signing secret (a reference), with interactivity sent to
    /// `<pages>/hooks/slack`: the Acknowledge button then acknowledges in place. Without it the
    /// button opens the acknowledgement page.
    pub signing_secret: Option<At<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Teams")]
#[serde(deny_unknown_fields)]
pub struct RawTeams {
    /// The workflow's webhook URL (a reference).
    pub webhook: At<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Webhook")]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// Where events are posted (it may hold references).
    pub url: At<String>,
    /// The signing secret (a reference): `whsec_` then base64.
    pub secret: At<String>,
}
