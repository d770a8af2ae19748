//! The vendors' published request rules, checked on every payload the fake vendors receive:
//! - PagerDuty Events API v2 (developer.pagerduty.com, "Send an Event"): the top-level and
//!   payload fields, `event_action`, severities, the 1,024-character summary, 255-character
//!   dedup key, ISO 8601 timestamps, links;
//! - Opsgenie Alert API: create (message ≤ 130, alias ≤ 512, description ≤ 15,000, ≤ 20 tags of
//!   ≤ 50, details' values ≤ 8,000, priority P1–P5, source ≤ 100, entity ≤ 512), acknowledge,
//!   close, notes (≤ 25,000), priority;
//! - Slack `chat.postMessage`/`chat.update` and Block Kit: ≤ 50 blocks, header plain text ≤ 150,
//!   section text ≤ 3,000, context ≤ 10 elements, `text` ≤ 40,000;
//! - Adaptive Cards 1.5 in a Teams Workflows message (≤ 28 KB);
//! - Standard Webhooks' signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

use serde_json::Value;

fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn only(obj: &Value, allowed: &[&str], what: &str, out: &mut Vec<String>) {
    match obj.as_object() {
        Some(map) => {
            for k in map.keys() {
                if !allowed.contains(&k.as_str()) {
                    out.push(format!("{what}: unknown field {k:?}"));
                }
            }
        }
        None => out.push(format!("{what}: not an object")),
    }
}

fn max(v: &Value, n: usize, what: &str, out: &mut Vec<String>) {
    if !v.is_null() && !v.is_string() {
        out.push(format!("{what}: not a string"));
    } else if len(v) > n {
        out.push(format!("{what}: {} characters, at most {n}", len(v)));
    }
}

fn required(v: &Value, what: &str, out: &mut Vec<String>) {
    if v.as_str().is_none_or(str::is_empty) {
        out.push(format!("{what}: required"));
    }
}

/// PagerDuty Events API v2.
pub fn pagerduty(b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    only(
        b,
        &[
            "routing_key",
            "event_action",
            "dedup_key",
            "payload",
            "images",
            "links",
            "client",
            "client_url",
        ],
        "event",
        &mut out,
    );
    if len(&b["routing_key"]) != 32 {
        out.push("routing_key: 32 characters".into());
    }
    let action = b["event_action"].as_str().unwrap_or("");
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        out.push(format!("event_action: {action:?}"));
    }
    max(&b["dedup_key"], 255, "dedup_key", &mut out);
    if action != "trigger" {
        required(&b["dedup_key"], "dedup_key", &mut out);
        return out;
    }
    let p = &b["payload"];
    only(
        p,
        &[
            "summary",
            "source",
            "severity",
            "timestamp",
            "component",
            "group",
            "class",
            "custom_details",
        ],
        "payload",
        &mut out,
    );
    required(&p["summary"], "payload.summary", &mut out);
    max(&p["summary"], 1024, "payload.summary", &mut out);
    required(&p["source"], "payload.source", &mut out);
    if !["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or("")) {
        out.push(format!("payload.severity: {}", p["severity"]));
    }
    if let Some(t) = p["timestamp"].as_str() {
        if chrono::DateTime::parse_from_rfc3339(t).is_err() {
            out.push(format!("payload.timestamp: {t:?} is not ISO 8601"));
        }
    }
    for l in b["links"].as_array().into_iter().flatten() {
        only(l, &["href", "text"], "links[]", &mut out);
        required(&l["href"], "links[].href", &mut out);
    }
    out
}

/// Opsgenie's Alert API: `path` is the request's path (without the prefix), `query` its query.
pub fn opsgenie(path: &str, query: &str, b: &Value, auth: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if !auth.is_some_and(|a| a.starts_with("GenieKey ")) {
        out.push("Authorization: GenieKey <key> required".into());
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["v2", "alerts"] => {
            only(
                b,
                &[
                    "message",
                    "alias",
                    "description",
                    "responders",
                    "visibleTo",
                    "actions",
                    "tags",
                    "details",
                    "entity",
                    "source",
                    "priority",
                    "user",
                    "note",
                ],
                "alert",
                &mut out,
            );
            required(&b["message"], "message", &mut out);
            max(&b["message"], 130, "message", &mut out);
            max(&b["alias"], 512, "alias", &mut out);
            max(&b["description"], 15_000, "description", &mut out);
            max(&b["entity"], 512, "entity", &mut out);
            max(&b["source"], 100, "source", &mut out);
            let tags = b["tags"].as_array().cloned().unwrap_or_default();
            if tags.len() > 20 || tags.iter().any(|t| len(t) > 50) {
                out.push("tags: at most 20 of at most 50 characters".into());
            }
            for (k, v) in b["details"].as_object().into_iter().flatten() {
                if !v.is_string() || len(v) > 8000 || k.chars().count() > 8000 {
                    out.push(format!("details.{k}: a string of at most 8000 characters"));
                }
            }
            if !["P1", "P2", "P3", "P4", "P5"].contains(&b["priority"].as_str().unwrap_or("P3")) {
                out.push(format!("priority: {}", b["priority"]));
            }
        }
        ["v2", "alerts", _, action] => {
            if query != "identifierType=alias" {
                out.push(format!("query: {query:?}, expected identifierType=alias"));
            }
            match *action {
                "acknowledge" | "close" => only(b, &["user", "source", "note"], action, &mut out),
                "notes" => {
                    only(b, &["user", "source", "note"], "notes", &mut out);
                    required(&b["note"], "note", &mut out);
                }
                "priority" => {
                    only(b, &["priority"], "priority", &mut out);
                    required(&b["priority"], "priority", &mut out);
                }
                other => out.push(format!("no such action {other:?}")),
            }
            max(&b["note"], 25_000, "note", &mut out);
            max(&b["user"], 100, "user", &mut out);
            max(&b["source"], 100, "source", &mut out);
        }
        _ => out.push(format!("no such endpoint {path}")),
    }
    out
}

fn text_object(t: &Value, max_len: usize, plain_only: bool, what: &str, out: &mut Vec<String>) {
    let kind = t["type"].as_str().unwrap_or("");
    if !(kind == "plain_text" || (!plain_only && kind == "mrkdwn")) {
        out.push(format!("{what}.type: {kind:?}"));
    }
    required(&t["text"], &format!("{what}.text"), out);
    max(&t["text"], max_len, &format!("{what}.text"), out);
}

/// Block Kit blocks, within Slack's limits.
pub fn blocks(blocks: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(list) = blocks.as_array() else {
        return vec!["blocks: not a list".into()];
    };
    if list.len() > 50 {
        out.push(format!("blocks: {} blocks, at most 50", list.len()));
    }
    for (i, b) in list.iter().enumerate() {
        let what = format!("blocks[{i}]");
        match b["type"].as_str() {
            Some("header") => text_object(&b["text"], 150, true, &what, &mut out),
            Some("section") => text_object(&b["text"], 3000, false, &what, &mut out),
            Some("context") => {
                let els = b["elements"].as_array().cloned().unwrap_or_default();
                if els.is_empty() || els.len() > 10 {
                    out.push(format!("{what}.elements: 1 to 10"));
                }
                for e in &els {
                    text_object(e, 3000, false, &what, &mut out);
                }
            }
            Some("actions") => {
                let els = b["elements"].as_array().cloned().unwrap_or_default();
                if els.is_empty() || els.len() > 25 {
                    out.push(format!("{what}.elements: 1 to 25"));
                }
            }
            other => out.push(format!("{what}.type: {other:?}")),
        }
    }
    out
}

/// `chat.postMessage` (`update`: `chat.update`).
pub fn slack(b: &Value, update: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut allowed = vec![
        "channel",
        "text",
        "blocks",
        "unfurl_links",
        "unfurl_media",
        "thread_ts",
    ];
    if update {
        allowed.push("ts");
        required(&b["ts"], "ts", &mut out);
    }
    only(b, &allowed, "message", &mut out);
    required(&b["channel"], "channel", &mut out);
    required(&b["text"], "text (the fallback)", &mut out);
    max(&b["text"], 40_000, "text", &mut out);
    if !b["blocks"].is_null() {
        out.extend(blocks(&b["blocks"]));
    }
    out
}

/// A Teams Workflows message holding one Adaptive Card 1.5.
pub fn teams(raw: &[u8], b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if raw.len() > 28 * 1024 {
        out.push(format!("{} bytes, at most 28 KB", raw.len()));
    }
    if b["type"] != "message" {
        out.push("type: message".into());
    }
    let Some([a]) = b["attachments"].as_array().map(Vec::as_slice) else {
        out.push("attachments: one".into());
        return out;
    };
    if a["contentType"] != "application/vnd.microsoft.card.adaptive" {
        out.push("contentType".into());
    }
    let c = &a["content"];
    if c["type"] != "AdaptiveCard" || c["version"] != "1.5" {
        out.push("content: an AdaptiveCard, version 1.5".into());
    }
    for (i, e) in c["body"].as_array().into_iter().flatten().enumerate() {
        match e["type"].as_str() {
            Some("TextBlock") => required(&e["text"], &format!("body[{i}].text"), &mut out),
            Some("FactSet") => {
                for f in e["facts"].as_array().into_iter().flatten() {
                    if !f["title"].is_string() || !f["value"].is_string() {
                        out.push(format!("body[{i}].facts: title and value strings"));
                    }
                }
            }
            other => out.push(format!("body[{i}].type: {other:?}")),
        }
    }
    for a in c["actions"].as_array().into_iter().flatten() {
        if a["type"] != "Action.OpenUrl"
            || url::Url::parse(a["url"].as_str().unwrap_or("")).is_err()
        {
            out.push("actions: Action.OpenUrl with a url".into());
        }
    }
    out
}

/// Verifies a Standard Webhooks signature: `secret` is `whsec_` and base64.
pub fn webhook_signature(
    secret: &str,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) -> Result<(), String> {
    use base64::Engine as _;
    use hmac::Mac;
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .map_err(|_| "the secret is not base64")?;
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| "webhook-timestamp is not a number")?;
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return Err("webhook-timestamp is more than 5 minutes away".into());
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|_| "key")?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
        .then_some(())
        .ok_or_else(|| "no v1 signature matches".to_string())
}
