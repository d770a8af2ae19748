//! What paging and chat tools send back, each authenticated before anything is read:
//! - PagerDuty V3 webhooks (`X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>`, one per
//!   signing secret): `incident.acknowledged` acknowledges, `incident.resolved` resolves only
//!   what the monitor sees working (else operators are told why); the incident is the event's
//!   `incident_key`, the `dedup_key` Atalaya sent.
//! - Opsgenie's outgoing webhook (the `X-Atalaya-Token` header set in the integration):
//!   `Acknowledge` and `Close`, the alert's `alias` the incident.
//! - Slack interactivity (`X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<body>">`, the
//!   timestamp within 5 minutes): the Acknowledge button.
//!
//! An incident that is not ours, or already acknowledged, is answered 200 (a vendor retrying
//! it would change nothing); a request that is not authentic is refused with 401.

use super::{same, text, Reply, Req};
use crate::checks::Checks;
use crate::on_call::Inbound;
use crate::operator_action::{act_on, ActFailed};
use crate::transition::Mode;
use atalaya_core::evaluate::{Action, ActionError};
use atalaya_store::Store;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How far a Slack request's timestamp may be from now.
const SLACK_WINDOW_S: i64 = 300;

fn hex_hmac(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) async fn answer<S: Store>(
    store: &S,
    checks: &Checks,
    inbound: &Inbound,
    vendor: &str,
    req: &Req<'_>,
) -> Reply {
    let action = match vendor.trim_end_matches('/') {
        "pagerduty" => pagerduty(inbound, req),
        "opsgenie" => opsgenie(inbound, req),
        "slack" => slack(inbound, req),
        _ => return text(404, "no such hook"),
    };
    let (id, action) = match action {
        Err(reply) => return reply,
        Ok(None) => return text(200, "ignored"),
        Ok(Some(a)) => a,
    };
    match act_on(store, checks, &id, &action, Mode::Commit).await {
        Ok(_) => text(200, "done"),
        Err(ActFailed::Action(
            ActionError::Unknown(_)
            | ActionError::Resolved(_)
            | ActionError::AlreadyAcknowledged { .. },
        ))
        | Err(ActFailed::Closed { .. }) => text(200, "nothing to do"),
        Err(e) => {
            tracing::error!(%id, error = %e, "an acknowledgement from {vendor} could not be applied; the vendor retries");
            text(503, "try again")
        }
    }
}

type Verdict = Result<Option<(String, Action)>, Reply>;

fn refused(vendor: &str) -> Reply {
    tracing::warn!("a request to /hooks/{vendor} was not authentic (signature or token): refused");
    text(401, "not authentic")
}

fn pagerduty(inbound: &Inbound, req: &Req<'_>) -> Verdict {
    let given = req.header("x-pagerduty-signature").unwrap_or("");
    let authentic = inbound.pagerduty.iter().any(|secret| {
        let expected = format!("v1={}", hex_hmac(secret.as_bytes(), &[req.body]));
        given.split(',').any(|s| same(s.trim(), &expected))
    });
    if !authentic {
        return Err(refused("pagerduty"));
    }
    let v: Value = serde_json::from_slice(req.body).map_err(|_| text(400, "not JSON"))?;
    let e = &v["event"];
    let Some(id) = e["data"]["incident_key"].as_str() else {
        return Ok(None);
    };
    let who = e["agent"]["summary"].as_str().unwrap_or("someone");
    Ok(match e["event_type"].as_str() {
        Some("incident.acknowledged") => Some((
            id.to_string(),
            Action::Acknowledge {
                by: format!("{} (PagerDuty)", clean(who)),
            },
        )),
        Some("incident.resolved") => Some((
            id.to_string(),
            Action::ResolvedElsewhere {
                by: format!("{} in PagerDuty", clean(who)),
            },
        )),
        _ => None,
    })
}

fn opsgenie(inbound: &Inbound, req: &Req<'_>) -> Verdict {
    let given = req.header("x-atalaya-token").unwrap_or("");
    if given.is_empty() || !inbound.opsgenie.iter().any(|t| same(t, given)) {
        return Err(refused("opsgenie"));
    }
    let v: Value = serde_json::from_slice(req.body).map_err(|_| text(400, "not JSON"))?;
    let Some(id) = v["alert"]["alias"].as_str() else {
        return Ok(None);
    };
    let who = v["alert"]["username"]
        .as_str()
        .or(v["source"]["name"].as_str())
        .unwrap_or("someone");
    Ok(match v["action"].as_str() {
        Some("Acknowledge") => Some((
            id.to_string(),
            Action::Acknowledge {
                by: format!("{} (Opsgenie)", clean(who)),
            },
        )),
        Some("Close") => Some((
            id.to_string(),
            Action::ResolvedElsewhere {
                by: format!("{} in Opsgenie", clean(who)),
            },
        )),
        _ => None,
    })
}

fn slack(inbound: &Inbound, req: &Req<'_>) -> Verdict {
    let ts = req.header("x-slack-request-timestamp").unwrap_or("");
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= SLACK_WINDOW_S);
    let given = req.header("x-slack-signature").unwrap_or("");
    let authentic = fresh
        && inbound.slack.iter().any(|secret| {
            let expected = format!(
                "v0={}",
                hex_hmac(secret.as_bytes(), &[b"v0:", ts.as_bytes(), b":", req.body])
            );
            same(given, &expected)
        });
    if !authentic {
        return Err(refused("slack"));
    }
    let payload = url::form_urlencoded::parse(req.body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let v: Value = serde_json::from_str(&payload).map_err(|_| text(400, "no payload"))?;
    let Some(action) = v["actions"].as_array().and_then(|a| {
        a.iter()
            .find(|x| x["action_id"] == atalaya_notify::slack::ACK_ACTION)
    }) else {
        return Ok(None);
    };
    let Some(id) = action["value"].as_str() else {
        return Ok(None);
    };
    let who = v["user"]["name"]
        .as_str()
        .or(v["user"]["username"].as_str())
        .unwrap_or("someone");
    Ok(Some((
        id.to_string(),
        Action::Acknowledge {
            by: format!("{} (Slack)", clean(who)),
        },
    )))
}

/// A vendor's name for a person: one line, at most 60 characters.
fn clean(who: &str) -> String {
    let one: String = who.chars().filter(|c| !c.is_control()).take(60).collect();
    if one.trim().is_empty() {
        "someone".into()
    } else {
        one.trim().to_string()
    }
}
