//! Operators acknowledging from where they are: a signed link in every paging and chat message
//! of an open incident (`/ack/<incident>/<token>`: a GET shows the incident and asks who, only
//! the POST acknowledges, so a link scanner acknowledges nothing), and what the vendors send
//! back (`hooks`): PagerDuty's V3 webhooks and Opsgenie's, Slack's Acknowledge button. Served
//! by `atalaya run --listen` locally. Whatever acknowledges, the engine's rules hold: one
//! acknowledgement stops reminders and escalation everywhere and every channel says who, from
//! where; a resolution in a paging tool resolves only what the monitor sees working.

mod hooks;

use crate::checks::Checks;
use crate::on_call::Inbound;
use crate::operator_action::{act_on, ActFailed};
use crate::transition::Mode;
use atalaya_core::email::Key;
use atalaya_core::evaluate::{Action, ActionError};
use atalaya_store::Store;

/// The largest body taken, in bytes (a vendor's webhook is a few KB).
pub const MAX_BODY: usize = 64 * 1024;

/// One request, as the shell received it.
pub struct Req<'a> {
    pub post: bool,
    pub path: &'a str,
    /// Names in lower case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Req<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub html: bool,
    pub body: String,
}

/// The headers every acknowledgement page goes out with (as subscribers' pages).
pub const HEADERS: &[(&str, &str)] = crate::subscriptions::HEADERS;

/// Whether `path` is one of these pages or hooks.
pub fn ours(path: &str) -> bool {
    path.starts_with("/ack/") || path.starts_with("/hooks/")
}

/// Answers one request to `/ack/…` or `/hooks/…`.
pub async fn answer<S: Store>(
    store: &S,
    checks: &Checks,
    key: &Key,
    inbound: &Inbound,
    req: &Req<'_>,
) -> Reply {
    if let Some(rest) = req.path.strip_prefix("/hooks/") {
        if !req.post {
            return text(405, "POST only");
        }
        return hooks::answer(store, checks, inbound, rest, req).await;
    }
    let Some((id, token)) = req
        .path
        .strip_prefix("/ack/")
        .and_then(|r| r.trim_end_matches('/').split_once('/'))
    else {
        return page(404, "Not found", "There is no such page.");
    };
    let id: String = url::form_urlencoded::parse(format!("i={id}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !same(&atalaya_core::oncall::ack_token(key, &id), token) {
        return page(
            403,
            "Link not valid",
            "This acknowledgement link is not valid (altered, or made with another key).",
        );
    }
    if req.post {
        acknowledge(store, checks, &id, req.body).await
    } else {
        show(store, &id).await
    }
}

async fn show<S: Store>(store: &S, id: &str) -> Reply {
    let inc = match store.incident(id).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return page(
                404,
                "Unknown incident",
                &format!("There is no incident {}.", escape(id)),
            )
        }
        Err(e) => {
            return page(
                503,
                "Try again",
                &format!("The store did not answer: {}", escape(&e.to_string())),
            )
        }
    };
    if let Some(at) = inc.resolved_at {
        return page(
            200,
            "Resolved",
            &format!(
                "Incident {} was resolved at {}.",
                escape(id),
                at.format("%Y-%m-%d %H:%M UTC")
            ),
        );
    }
    let state = match &inc.acknowledged_by {
        Some(by) => format!(
            "<p>Already acknowledged by {}. You can acknowledge too: it is kept beside.</p>",
            escape(by)
        ),
        None => {
            "<p>Nobody has acknowledged it yet: reminders go on and it escalates.</p>".to_string()
        }
    };
    let checks: Vec<String> = inc
        .failures
        .iter()
        .map(|f| {
            format!(
                "{} in {} ({})",
                escape(&f.check),
                escape(&f.region),
                f.reason.as_str()
            )
        })
        .collect();
    let form = format!(
        "<h1>Acknowledge incident {id}</h1><p>Service {svc}, failing since {since}: {checks}.</p>{state}<form method=\"post\"><label>Your name <input name=\"by\" required maxlength=\"60\" autocomplete=\"name\"></label> <button type=\"submit\">Acknowledge</button></form>",
        id = escape(id),
        svc = escape(&inc.service),
        since = inc.started_at.format("%Y-%m-%d %H:%M UTC"),
        checks = if checks.is_empty() { "-".into() } else { checks.join(", ") },
    );
    Reply {
        status: 200,
        html: true,
        body: frame("Acknowledge", &form),
    }
}

async fn acknowledge<S: Store>(store: &S, checks: &Checks, id: &str, body: &[u8]) -> Reply {
    let by = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "by")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if by.is_empty()
        || by.chars().count() > 60
        || atalaya_core::text::hidden_char(&by, false).is_some()
    {
        return page(400, "Who are you?", "Give your name (at most 60 characters): it is shown on every channel with the acknowledgement.");
    }
    let action = Action::Acknowledge {
        by: format!("{by} (link)"),
    };
    match act_on(store, checks, id, &action, Mode::Commit).await {
        Ok(_) => page(200, "Acknowledged", &format!("Incident {} is acknowledged by {}: reminders and the escalation stop, and every channel says so.", escape(id), escape(&by))),
        Err(ActFailed::Action(ActionError::AlreadyAcknowledged { by, .. })) => page(200, "Already acknowledged", &format!("You acknowledged it already (as {}).", escape(&by))),
        Err(ActFailed::Action(ActionError::Resolved(_))) | Err(ActFailed::Closed { .. }) => page(200, "Resolved", &format!("Incident {} is resolved.", escape(id))),
        Err(ActFailed::Action(ActionError::Unknown(_))) => page(404, "Unknown incident", &format!("There is no incident {}.", escape(id))),
        Err(e) => page(503, "Try again", &escape(&e.to_string())),
    }
}

/// Compares secrets in constant time.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn frame(title: &str, inner: &str) -> String {
    format!("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title} · Atalaya</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}button{{font:inherit;padding:.4rem 1rem}}</style></head><body>{inner}</body></html>")
}

fn page(status: u16, title: &str, text: &str) -> Reply {
    Reply {
        status,
        html: true,
        body: frame(title, &format!("<h1>{title}</h1><p>{text}</p>")),
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply {
        status,
        html: false,
        body: body.to_string(),
    }
}
