//! What a paging or chat channel needs besides an operator message's words: the thing the
//! event opens, updates or closes (the same key for every event of it), where it stands now,
//! and the failing checks. Kept with the message in the outbox; built by the operators'
//! renderer (`operators/details.rs`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// The same for every event of one thing: an incident's id, `sight` (what the monitor
    /// cannot see), `fault:<check>`, `early:<check>`, `flapping:<check>`, `region:<region>`,
    /// `maintenance:<service>`.
    pub key: String,
    pub action: Action,
    /// Where the thing stands after this event.
    pub standing: Standing,
    /// One line naming the thing, for a chat message kept current or an alert's title
    /// (`shop (Online shop): shop-home down in eu-west-1, us-east-1`).
    pub title: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FailureLine>,
    /// When it began (an incident's first failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// The service's status page, when the status site has an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_page: Option<String>,
    /// Who acknowledged, and from where (`alice via slack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// Where an operator acknowledges the incident with one click (added by the channels when
    /// the pages have an address; not kept in the outbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_url: Option<String>,
    /// The incident escalated: the escalation's channels hear it from then on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalated: bool,
}

/// What the event does to the thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It begins (an incident opened or re-opened, the monitor blind, a fault…).
    Open,
    /// More about it while it lasts (a reminder, an escalation, an update).
    Update,
    Acknowledge,
    /// It is over.
    Close,
    /// Something to know that opens nothing (maintenance).
    Note,
}

/// Where the thing stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Open,
    Acknowledged,
    Closed,
    Info,
}

/// A failing check in a region, for operators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureLine {
    pub check: String,
    pub region: String,
    /// The stable reason code (`timeout`, `http_status`…).
    pub reason: String,
    pub detail: String,
    pub since: DateTime<Utc>,
}
