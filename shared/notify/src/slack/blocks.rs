//! Block Kit for Slack, within its limits: at most 50 blocks, a header's text 150 characters,
//! a section's 3,000, a context of at most 10 elements; `&`, `<` and `>` escaped in mrkdwn.

use crate::vendor::cut;
use atalaya_core::message::details::{Details, Standing};
use atalaya_core::Message;
use serde_json::{json, Value};

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION: usize = 3000;
const MAX_HEADER: usize = 150;
/// The plain-text fallback (notifications, old clients): Slack advises at most 4,000.
const MAX_TEXT: usize = 4000;
/// Sections a body is split into (the rest is cut).
const MAX_BODY_SECTIONS: usize = 8;

/// mrkdwn's control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn standing(d: Option<&Details>) -> &'static str {
    match d.map(|d| d.standing) {
        Some(Standing::Open) => ":red_circle: Open",
        Some(Standing::Acknowledged) => ":large_orange_circle: Acknowledged",
        Some(Standing::Closed) => ":large_green_circle: Resolved",
        Some(Standing::Info) | None => ":information_source: Note",
    }
}

/// The body as preformatted sections of at most [`MAX_SECTION`] characters.
fn body_sections(body: &str) -> Vec<Value> {
    let room = MAX_SECTION - 8; // the fences
    let chars: Vec<char> = escape(body.trim_end()).chars().collect();
    chars
        .chunks(room)
        .take(MAX_BODY_SECTIONS)
        .map(|c| json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("```{}```", c.iter().collect::<String>()) } }))
        .collect()
}

fn links(d: Option<&Details>) -> Option<Value> {
    let d = d?;
    let mut elements = Vec::new();
    if let Some(r) = &d.runbook {
        elements.push(json!({ "type": "mrkdwn", "text": format!("<{}|Runbook>", escape(r)) }));
    }
    if let Some(p) = &d.status_page {
        elements.push(json!({ "type": "mrkdwn", "text": format!("<{}|Status page>", escape(p)) }));
    }
    if let Some(by) = &d.acknowledged_by {
        elements
            .push(json!({ "type": "mrkdwn", "text": format!("Acknowledged by {}", escape(by)) }));
    }
    (!elements.is_empty()).then(|| json!({ "type": "context", "elements": elements }))
}

/// The Acknowledge button, while the incident is open and has a link: in place when Slack's
/// interactivity comes back to us (`interactive`), else opening the acknowledgement page.
fn ack_button(m: &Message, interactive: bool) -> Option<Value> {
    let d = m.details.as_ref()?;
    let url = d.ack_url.as_ref()?;
    let incident = m.attributes.incident.as_ref()?;
    let mut button = json!({
        "type": "button",
        "text": { "type": "plain_text", "text": "Acknowledge" },
        "style": "primary",
        "action_id": ACK_ACTION,
        "value": cut(incident, 2000),
    });
    if !interactive {
        button["url"] = json!(cut(url, 3000));
    }
    Some(json!({ "type": "actions", "elements": [button] }))
}

/// The button's `action_id`, as the interactivity endpoint reads it back.
pub const ACK_ACTION: &str = "atalaya_ack";

fn fallback(m: &Message) -> String {
    cut(&format!("{}\n{}", m.subject, m.body), MAX_TEXT)
}

/// The thread's first message, kept current: where the thing stands, its title, the latest
/// details.
pub fn root_blocks(m: &Message, interactive: bool) -> (String, Vec<Value>) {
    let d = m.details.as_ref();
    let title = d.map_or(m.subject.as_str(), |d| d.title.as_str());
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": cut(title, MAX_HEADER), "emoji": true } }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(&format!("*{}* · {}", standing(d), escape(&m.subject)), MAX_SECTION) } }),
    ];
    let button = ack_button(m, interactive);
    blocks.extend(body_sections(&m.body));
    blocks.extend(links(d));
    blocks.truncate(MAX_BLOCKS - usize::from(button.is_some()));
    blocks.extend(button);
    (fallback(m), blocks)
}

/// One event, as a reply in the thread (or a message of its own through a webhook).
pub fn event_blocks(m: &Message, interactive: bool) -> (String, Vec<Value>) {
    let mut blocks = vec![
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(&format!("*{}*", escape(&m.subject)), MAX_SECTION) } }),
    ];
    let button = ack_button(m, interactive);
    blocks.extend(body_sections(&m.body));
    blocks.extend(links(m.details.as_ref()));
    blocks.truncate(MAX_BLOCKS - usize::from(button.is_some()));
    blocks.extend(button);
    (fallback(m), blocks)
}
