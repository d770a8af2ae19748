//! The subscribers' pages on AWS: an HTTP API's requests (payload format 2.0) in front of
//! `atalaya_app::subscriptions` — the same pages `atalaya run --listen` serves. A GET shows,
//! only a POST acts (the page's button, or a mail program's one-click unsubscribe). Operators'
//! acknowledgement links (`/ack/…`) and the paging and chat tools' webhooks (`/hooks/…`) are
//! `atalaya_app::acknowledge`'s ([`operators`]). The status pages' subscribe form posts to
//! `…/subscribe` ([`subscribe_form`]); its confirmation goes through SES
//! ([`send_confirmations`]).

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::subscriptions::{action_of, handle, token_of, Request, HEADERS, MAX_FORM};
use atalaya_core::email::Key;
use atalaya_core::Config;
use atalaya_store::Subscribers;
use serde_json::{json, Value};

fn respond(status: u16, body: String) -> Value {
    let headers: serde_json::Map<String, Value> = HEADERS
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    json!({ "statusCode": status, "headers": headers, "body": body })
}

fn pairs(text: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text).into_owned().collect()
}

/// Answers an operators' request (`/ack/…`, `/hooks/…`), or `None` when the path is not one.
pub async fn operators<S: atalaya_store::Store>(
    store: &S,
    checks: &atalaya_app::Checks,
    key: &Key,
    inbound: &atalaya_app::on_call::Inbound,
    event: &Value,
) -> Option<Value> {
    use atalaya_app::acknowledge::{answer, ours, Req, MAX_BODY};
    let path = event["rawPath"].as_str().unwrap_or("/");
    if !ours(path) {
        return None;
    }
    let post = match event["requestContext"]["http"]["method"]
        .as_str()
        .unwrap_or("GET")
    {
        "GET" | "HEAD" => false,
        "POST" => true,
        _ => return Some(respond(405, "method not allowed".into())),
    };
    // Refused from its length as sent, before anything is decoded.
    if atalaya_aws::request_body_over(event, MAX_BODY) {
        return Some(respond(413, "too large".into()));
    }
    let body = atalaya_aws::request_body(event);
    // HTTP APIs (payload 2.0) give header names in lower case.
    let headers: Vec<(String, String)> = event["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
        .collect();
    let reply = answer(
        store,
        checks,
        key,
        inbound,
        &Req {
            post,
            path,
            headers: &headers,
            body: &body,
        },
    )
    .await;
    Some(if reply.html {
        respond(reply.status, reply.body)
    } else {
        json!({ "statusCode": reply.status, "headers": { "content-type": "text/plain; charset=utf-8" }, "body": reply.body })
    })
}

/// `POST …/subscribe`, the status pages' form (`atalaya_app::subscriptions::subscribe`): the
/// reply, and the subscribers to send a confirmation; `None` when the path is another.
pub async fn subscribe_form<S: Subscribers>(
    store: &S,
    config: &Config,
    limiter: &atalaya_app::subscriptions::subscribe::Limiter,
    event: &Value,
) -> Option<(Value, Vec<atalaya_core::email::Subscriber>)> {
    use atalaya_app::subscriptions::subscribe::{subscribe, Asked, ACTION};
    let path = event["rawPath"].as_str().unwrap_or("/");
    if path.trim_end_matches('/').rsplit('/').next() != Some(ACTION) {
        return None;
    }
    if event["requestContext"]["http"]["method"].as_str() != Some("POST") {
        return Some((
            respond(405, "the subscribe form posts here".into()),
            Vec::new(),
        ));
    }
    if atalaya_aws::request_body_over(event, MAX_FORM) {
        return Some((respond(413, "the form is too large".into()), Vec::new()));
    }
    let body = atalaya_aws::request_body(event);
    let asked = Asked::from_form(&pairs(&body));
    let out = subscribe(store, config, &asked, limiter, chrono::Utc::now()).await;
    Some((respond(out.page.status, out.page.html), out.confirm))
}

/// The answer while the pages cannot work (no link key yet): 503, and why in the log.
pub fn unavailable() -> Value {
    respond(
        503,
        "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>Unavailable</title><p>These pages are not available right now. Please try again later.</p></html>".into(),
    )
}

/// Answers one HTTP request (payload format 2.0).
pub async fn answer<S: Subscribers>(store: &S, config: &Config, key: &Key, event: &Value) -> Value {
    let method = event["requestContext"]["http"]["method"]
        .as_str()
        .unwrap_or("GET");
    let post = match method {
        "GET" | "HEAD" => false,
        "POST" => true,
        _ => return respond(405, "method not allowed".into()),
    };
    // Its HTTP API answers: what `atalaya doctor` calls (no store, no key read).
    if event["rawPath"].as_str() == Some("/alive") {
        return respond(200, "OK".into());
    }
    let Some(action) = action_of(event["rawPath"].as_str().unwrap_or("/")) else {
        return respond(404, "not found".into());
    };
    let query = pairs(event["rawQueryString"].as_str().unwrap_or("").as_bytes());
    if atalaya_aws::request_body_over(event, MAX_FORM) {
        return respond(413, "the form is too large".into());
    }
    let body = atalaya_aws::request_body(event);
    let form = if post { pairs(&body) } else { Vec::new() };
    let token = token_of(&query, &form);
    let page = handle(
        store,
        config,
        key,
        &Request {
            post,
            action,
            token: &token,
            form: &form,
        },
    )
    .await;
    respond(page.status, page.html)
}

/// Sends each confirmation through SES, within the function's time: a failure is logged (the
/// person can ask again in an hour), never an error page for a form that did its part.
pub async fn send_confirmations<S: Subscribers + Send + Sync + 'static>(
    checks: &atalaya_app::Checks,
    store: &std::sync::Arc<S>,
    key: &Key,
    sdk: &aws_config::SdkConfig,
    configuration_set: Option<String>,
    confirm: Vec<atalaya_core::email::Subscriber>,
) {
    use atalaya_notify::email::{Templates, Transport};
    if confirm.is_empty() {
        return;
    }
    let config = &checks.config;
    let (Some(pages), Ok(templates)) = (
        config.settings.email.pages_url.as_deref(),
        Templates::new(config, &checks.base),
    ) else {
        tracing::error!("settings.email.pages_url is not set or the templates cannot be read: no confirmation sent");
        return;
    };
    let channel = atalaya_app::EmailChannel::new(
        store.clone(),
        std::sync::Arc::new(config.clone()),
        templates,
        key.clone(),
        pages,
        Transport::ses(sdk, configuration_set),
    );
    for s in confirm {
        match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            channel.send_confirmation(&s),
        )
        .await
        {
            Ok(Ok(_)) => tracing::info!(subscriber = %s.id, "confirmation sent"),
            Ok(Err(e)) => {
                tracing::error!(subscriber = %s.id, error = %e, "the confirmation mail was not sent")
            }
            Err(_) => {
                tracing::error!(subscriber = %s.id, "the confirmation mail took too long; not sent")
            }
        }
    }
}
