//! Operator messages of one incident's life, with their details, for the channels' tests.

use atalaya_core::evaluate::{Audience, EventKind, Severity};
use atalaya_core::message::details::{Action, Details, FailureLine, Standing};
use atalaya_core::message::Tags;
use atalaya_core::{Language, Message};

pub fn message(
    event: EventKind,
    severity: Severity,
    action: Action,
    standing: Standing,
) -> Message {
    let at = "2026-12-07T10:00:00Z".parse().unwrap();
    let mut tags = Tags::new(Audience::Operators, event, severity, Language::En);
    tags.service = Some("shop".into());
    tags.customer = Some("acme".into());
    tags.incident = Some("inc-7".into());
    Message {
        id: format!("inc-7:{}", event.as_str()),
        at,
        topic: Audience::Operators,
        subject: format!(
            "[{}] shop (Online shop): shop-home down in eu-west-1 (inc-7)",
            event.as_str().to_uppercase()
        ),
        body: "Incident inc-7\nFailing: shop-home eu-west-1 http_status <503> & more\n".into(),
        attributes: tags,
        digest: None,
        details: Some(Details {
            key: "inc-7".into(),
            action,
            standing,
            title: "shop (Online shop): shop-home down in eu-west-1 (inc-7)".into(),
            failures: vec![FailureLine {
                check: "shop-home".into(),
                region: "eu-west-1".into(),
                reason: "http_status".into(),
                detail: "status 503, expected 2xx".into(),
                since: at,
            }],
            since: Some(at),
            runbook: Some("https://wiki.acme.example/shop".into()),
            status_page: Some("https://status.acme.example/acme/".into()),
            acknowledged_by: (standing == Standing::Acknowledged).then(|| "alice via slack".into()),
            ack_url: None,
            escalated: event == EventKind::Escalated,
        }),
        translations: Default::default(),
        incident_times: None,
    }
}

/// Opened, escalated, acknowledged, resolved.
pub fn life() -> Vec<Message> {
    vec![
        message(
            EventKind::Opened,
            Severity::Warning,
            Action::Open,
            Standing::Open,
        ),
        message(
            EventKind::Escalated,
            Severity::Critical,
            Action::Update,
            Standing::Open,
        ),
        message(
            EventKind::Acknowledged,
            Severity::Info,
            Action::Acknowledge,
            Standing::Acknowledged,
        ),
        message(
            EventKind::Resolved,
            Severity::Info,
            Action::Close,
            Standing::Closed,
        ),
    ]
}

/// The opening message with a body of `n` bytes.
pub fn long(n: usize) -> Message {
    let mut m = life().remove(0);
    m.body = "shop-home eu-west-1 <timeout> & reset\n".repeat(n / 38 + 1);
    m
}
