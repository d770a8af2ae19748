//! `settings.operators`' channels, routes and escalation: each channel one kind with its
//! secrets written as references, routes naming channels and services that exist, no route
//! that can never be reached, no channel that nothing sends to.

use super::{unknown, Errs};
use crate::at::At;
use crate::evaluate::Severity;
use crate::oncall::*;
use crate::raw::{RawChannel, RawOperators, RawRoute};
use crate::template::EnvTemplate;
use std::collections::{BTreeSet, HashSet};

/// Names the built-in outputs record their deliveries under.
const BUILT_IN: [&str; 4] = ["stdout", "jsonl", "sns", "email"];

/// The on-call part of `settings.operators`; unused channels become warnings.
pub(super) fn on_call(
    raw: Option<&RawOperators>,
    services: &HashSet<String>,
    errs: &mut Errs,
    warnings: &mut Vec<crate::ConfigError>,
) -> OnCall {
    let Some(raw) = raw else {
        return OnCall::default();
    };
    let s = "settings";
    let mut out = OnCall::default();
    if let Some(channels) = &raw.channels {
        for (name, c) in &channels.value {
            if let Some(kind) = channel(name, c, errs) {
                out.channels.push(OnCallChannel {
                    name: name.clone(),
                    kind,
                    pos: c.pos,
                });
            }
        }
    }
    let names: HashSet<String> = raw
        .channels
        .iter()
        .flat_map(|c| c.value.keys().cloned())
        .collect();
    let mut used = BTreeSet::new();
    let mut to = |list: &At<Vec<At<String>>>, field: &str, errs: &mut Errs| -> Vec<String> {
        let mut out = Vec::new();
        for n in &list.value {
            if names.contains(&n.value) {
                used.insert(n.value.clone());
                out.push(n.value.clone());
            } else {
                errs.push(n.pos, s, field, unknown("channel", &n.value, &names));
            }
        }
        out
    };
    if let Some(list) = &raw.escalate_to {
        out.escalate_to = to(list, "operators.escalate_to", errs);
    }
    if let Some(routes) = &raw.routes {
        for (i, r) in routes.value.iter().enumerate() {
            let field = format!("operators.routes[{i}]");
            let route = Route {
                services: route_services(&r.value, services, &field, errs),
                min_severity: severity(&r.value, &field, errs),
                to: to(&r.value.to, &format!("{field}.to"), errs),
            };
            if let Some(j) = out
                .routes
                .iter()
                .position(|earlier: &Route| earlier.covers(&route))
            {
                errs.push(r.pos, s, &field, format!("never reached: operators.routes[{j}] comes first and matches every message this one does"));
            }
            out.routes.push(route);
        }
        if !out.routes.is_empty()
            && !out
                .routes
                .iter()
                .any(|r| r.services.is_none() && r.min_severity == Severity::Info)
        {
            errs.push(routes.pos, s, "operators.routes", "no route catches the rest: end with one without services or min_severity (`{ to: [ops-chat] }`, or `{ to: [] }` to send the rest nowhere)");
        }
    } else {
        used.extend(names.iter().cloned());
    }
    if let Some(channels) = &raw.channels {
        for (name, c) in &channels.value {
            if !used.contains(name) {
                warnings.push(crate::ConfigError {
                    file: errs.file.clone(),
                    pos: c.pos,
                    subject: s.into(),
                    field: format!("operators.channels.{name}"),
                    message: "no route sends to this channel".into(),
                });
            }
        }
    }
    out
}

fn route_services(
    r: &RawRoute,
    known: &HashSet<String>,
    field: &str,
    errs: &mut Errs,
) -> Option<BTreeSet<String>> {
    let list = r.services.as_ref()?;
    if list.value.is_empty() {
        errs.push(
            list.pos,
            "settings",
            &format!("{field}.services"),
            "lists no service: leave it out to match every service",
        );
    }
    for sv in &list.value {
        if !known.contains(&sv.value) {
            errs.push(
                sv.pos,
                "settings",
                &format!("{field}.services"),
                unknown("service", &sv.value, known),
            );
        }
    }
    Some(list.value.iter().map(|v| v.value.clone()).collect())
}

fn severity(r: &RawRoute, field: &str, errs: &mut Errs) -> Severity {
    match r.min_severity.as_ref().map(|v| (v.value.as_str(), v.pos)) {
        None | Some(("info", _)) => Severity::Info,
        Some(("warning", _)) => Severity::Warning,
        Some(("critical", _)) => Severity::Critical,
        Some((other, pos)) => {
            errs.push(
                pos,
                "settings",
                &format!("{field}.min_severity"),
                format!("{other:?} is not a severity: info, warning or critical"),
            );
            Severity::Info
        }
    }
}

/// One channel: a valid name and exactly one kind, its secrets as references.
fn channel(name: &str, c: &At<RawChannel>, errs: &mut Errs) -> Option<ChannelKind> {
    let field = format!("operators.channels.{name}");
    let s = "settings";
    let valid = (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        errs.push(
            c.pos,
            s,
            &field,
            "channel names are 1 to 40 lowercase letters, digits, '-' or '_'",
        );
    }
    if BUILT_IN.contains(&name) {
        errs.push(
            c.pos,
            s,
            &field,
            format!("{name:?} is the name of a built-in output: choose another"),
        );
    }
    let raw = &c.value;
    let present = [
        raw.pagerduty.is_some(),
        raw.opsgenie.is_some(),
        raw.slack.is_some(),
        raw.teams.is_some(),
        raw.webhook.is_some(),
    ];
    if present.iter().filter(|p| **p).count() != 1 {
        errs.push(
            c.pos,
            s,
            &field,
            "give exactly one of pagerduty, opsgenie, slack, teams, webhook",
        );
        return None;
    }
    let mut cx = Secrets {
        errs,
        field: &field,
    };
    if let Some(p) = &raw.pagerduty {
        let webhook_secret = match &p.value.webhook_secret {
            Some(v) => Some(cx.secret(v, "pagerduty.webhook_secret")?),
            None => None,
        };
        return Some(ChannelKind::PagerDuty {
            routing_key: cx.secret(&p.value.routing_key, "pagerduty.routing_key")?,
            url: cx.address(p.value.url.as_ref(), "pagerduty.url", PAGERDUTY_URL)?,
            webhook_secret,
        });
    }
    if let Some(o) = &raw.opsgenie {
        return opsgenie(&o.value, &mut cx);
    }
    if let Some(sl) = &raw.slack {
        return slack(&sl.value, sl.pos, &mut cx);
    }
    if let Some(t) = &raw.teams {
        return Some(ChannelKind::Teams {
            webhook: cx.secret(&t.value.webhook, "teams.webhook")?,
        });
    }
    let w = raw.webhook.as_ref()?;
    webhook(&w.value, &mut cx)
}

fn opsgenie(o: &crate::raw::RawOpsgenie, cx: &mut Secrets) -> Option<ChannelKind> {
    let region = match o.region.as_ref().map(|r| (r.value.as_str(), r.pos)) {
        None | Some(("us", _)) => OPSGENIE_US,
        Some(("eu", _)) => OPSGENIE_EU,
        Some((other, pos)) => {
            cx.errs.push(
                pos,
                "settings",
                &format!("{}.opsgenie.region", cx.field),
                format!("{other:?} is not an Opsgenie region: us or eu"),
            );
            OPSGENIE_US
        }
    };
    let webhook_token = match &o.webhook_token {
        Some(v) => Some(cx.secret(v, "opsgenie.webhook_token")?),
        None => None,
    };
    Some(ChannelKind::Opsgenie {
        api_key: cx.secret(&o.api_key, "opsgenie.api_key")?,
        url: cx.address(o.url.as_ref(), "opsgenie.url", region)?,
        webhook_token,
    })
}

fn webhook(w: &crate::raw::RawWebhook, cx: &mut Secrets) -> Option<ChannelKind> {
    let field = format!("{}.webhook.url", cx.field);
    let url = EnvTemplate::parse(&w.url.value)
        .map_err(|e| cx.errs.push(w.url.pos, "settings", &field, e))
        .ok()?;
    if !matches!(url::Url::parse(&url.with_stand_in("x")), Ok(u) if matches!(u.scheme(), "https" | "http"))
    {
        cx.errs
            .push(w.url.pos, "settings", &field, "is not an http(s) URL");
    }
    Some(ChannelKind::Webhook {
        url,
        secret: cx.secret(&w.secret, "webhook.secret")?,
    })
}

fn slack(raw: &crate::raw::RawSlack, pos: crate::at::Pos, cx: &mut Secrets) -> Option<ChannelKind> {
    match (&raw.token, &raw.channel, &raw.webhook) {
        (Some(token), Some(channel), None) => {
            let ok = !channel.value.is_empty()
                && channel.value.len() <= 80
                && channel
                    .value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                cx.errs.push(
                    channel.pos,
                    "settings",
                    &format!("{}.slack.channel", cx.field),
                    "give the channel's id (like C0123ABCD, in the channel's details)",
                );
            }
            let signing_secret = match &raw.signing_secret {
                Some(v) => Some(cx.secret(v, "slack.signing_secret")?),
                None => None,
            };
            Some(ChannelKind::SlackBot {
                token: cx.secret(token, "slack.token")?,
                channel: channel.value.clone(),
                url: cx.address(raw.url.as_ref(), "slack.url", SLACK_URL)?,
                signing_secret,
            })
        }
        (None, None, Some(webhook)) => Some(ChannelKind::SlackWebhook {
            webhook: cx.secret(webhook, "slack.webhook")?,
        }),
        _ => {
            cx.errs.push(pos, "settings", &format!("{}.slack", cx.field), "give a bot token and a channel id (`{ token: \"${secret:…}\", channel: C0123ABCD }`), or an incoming webhook (`{ webhook: \"${secret:…}\" }`)");
            None
        }
    }
}

/// Where a channel's problems go.
struct Secrets<'a, 'e> {
    errs: &'e mut Errs,
    field: &'a str,
}

impl Secrets<'_, '_> {
    /// A secret: written as references only (a key in the file would be in every copy of it).
    fn secret(&mut self, v: &At<String>, name: &str) -> Option<EnvTemplate> {
        let field = format!("{}.{name}", self.field);
        let t = EnvTemplate::parse(&v.value)
            .map_err(|e| self.errs.push(v.pos, "settings", &field, e))
            .ok()?;
        if !t.has_references() {
            self.errs.push(v.pos, "settings", &field, "a secret is written as a reference (`${secret:atalaya/alert/name}`, `${ssm:/atalaya/alert/name}` or `${env:NAME}`), never in the checks file");
            return None;
        }
        Some(t)
    }

    /// A vendor API's address: an https URL (http only on loopback, for tests), else `default`.
    fn address(&mut self, v: Option<&At<String>>, name: &str, default: &str) -> Option<String> {
        let Some(v) = v else {
            return Some(default.to_string());
        };
        let ok = match url::Url::parse(&v.value) {
            Ok(u) => {
                u.scheme() == "https"
                    || (u.scheme() == "http"
                        && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")))
            }
            Err(_) => false,
        };
        if !ok {
            self.errs.push(
                v.pos,
                "settings",
                &format!("{}.{name}", self.field),
                "is not an https URL",
            );
            return None;
        }
        Some(v.value.trim_end_matches('/').to_string())
    }
}
