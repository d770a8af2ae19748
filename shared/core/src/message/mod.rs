//! One renderer, two audiences: events become messages in design.md's shape (topic role,
//! subject, body, attributes).
//!
//! Operators get the technical truth in English. Customers get plain words in their language
//! from templates (minijinja; built in for English and Spanish): their service's customer-facing
//! name, since when, that the team knows and is on it, when the next update comes; never URLs,
//! hosts, addresses, ports, status or reason codes, error text, or anyone else's names, because
//! the templates are only ever given the customer's own name, the service's customer-facing name,
//! times, durations and the operators' own words.

mod customer;
pub mod details;
pub mod episode;
mod operators;
mod speech;
pub use speech::Unit;
mod tags;

pub use customer::{
    built_in_signature, day, duration_parts, duration_short, duration_words, for_late_joiner,
    month_words, on_day_at, signature, stamp, when, window_words,
};
pub use details::Details;
pub use tags::Tags;

use crate::config::{Config, Language};
use crate::evaluate::{Audience, Event, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The message shape (design.md): a subject is one line of at most 99 characters. Channels
/// apply their own rules on top (the SNS channel's ASCII email subjects).
pub const MAX_SUBJECT: usize = 99;
/// A body is bounded so that any outbox can keep it (a DynamoDB item holds 400 KB with the
/// subject and attributes); channels fit it to their own limits (the SNS channel's 256 KB
/// request with several protocol variants).
pub const MAX_BODY: usize = 256 * 1024;

/// One part of a notice that several partitions of the state tell in the same evaluation (what
/// the monitor cannot see, or sees again: each partition judges its own checks). Kept with the
/// message in the outbox, never sent: delivery sends the parts pending together as one message
/// ([`merge`]), so operators get one notice, not one per partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// The same for every part of one notice.
    pub key: String,
    pub restored: bool,
    pub checks: Vec<String>,
    pub regions: Vec<String>,
    /// The part's lines of the body (a check each, with its regions).
    pub lines: String,
    /// The partition that told it (empty: the whole, unsplit state).
    #[serde(default)]
    pub part: String,
    /// How many of that partition's checks the monitor has told it cannot see, after this
    /// evaluation: an episode ends when every partition is at 0 (`episode`).
    #[serde(default)]
    pub blind_left: usize,
}

/// One message made of the parts of one notice (messages with the same digest key; the first
/// gives the id and attributes). A message without a digest comes back as it is.
pub fn merge(parts: &[Message]) -> Option<Message> {
    let first = parts.first()?;
    let digests: Vec<&Digest> = parts.iter().filter_map(|m| m.digest.as_ref()).collect();
    if digests.len() != parts.len() || parts.len() == 1 {
        return Some(Message {
            digest: None,
            ..first.clone()
        });
    }
    let (subject, body) = operators::sight_text(&digests);
    Some(Message {
        subject: clean_subject(&subject),
        body: cap_body(body),
        digest: None,
        ..first.clone()
    })
}

/// What SNS receives (and the local outbox records, one per line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The event's id: the outbox's idempotency key.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The topic role: `operators` or `customers`.
    pub topic: Audience,
    pub subject: String,
    pub body: String,
    /// audience, customer, service, severity, event, language, incident.
    pub attributes: Tags,
    /// A part of a notice several partitions tell at once (never sent as such).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// An operator message's details for paging and chat channels (what it opens or closes,
    /// the failing checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
    /// A customer message in the other languages, by language (kept by code), for subscribers who read another
    /// than the customer's (kept in the outbox; SNS sends the customer's language only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<Language, Translation>,
    /// A customer message about an incident: when it began and when its customers were first
    /// told (a subscriber who joined after that gets a first mail that stands on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_times: Option<IncidentTimes>,
}

/// When an incident began, and when this message's customers last heard of it before this
/// message (their first notice, or the last update).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentTimes {
    pub started_at: DateTime<Utc>,
    pub told_before: DateTime<Utc>,
}

/// A customer message in another language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    pub subject: String,
    pub body: String,
}

impl Message {
    /// The subject and body in `language`, or in the customer's when there is no translation.
    pub fn in_language(&self, language: Language) -> (&str, &str) {
        match self.translations.get(&language) {
            Some(t) => (&t.subject, &t.body),
            None => (&self.subject, &self.body),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("event {0} names something the checks file does not have")]
    Unknown(String),
}

const KINDS: [&str; 7] = [
    "opened",
    "update",
    "human_update",
    "resolved",
    "maintenance_scheduled",
    "maintenance_started",
    "maintenance_ended",
];

macro_rules! built_in {
    ($($lang:literal / $kind:literal),* $(,)?) => {
        [$(
            (
                concat!($lang, "/", $kind),
                include_str!(concat!("../../templates/", $lang, "/", $kind, ".subject")),
                include_str!(concat!("../../templates/", $lang, "/", $kind, ".body")),
            ),
        )*]
    };
}

/// Built-in customer templates (`templates/<language>/<kind>.subject|body`): `(name, subject,
/// body)`.
const BUILT_IN: [(&str, &str, &str); 14] = built_in![
    "en" / "opened",
    "en" / "update",
    "en" / "human_update",
    "en" / "resolved",
    "en" / "maintenance_scheduled",
    "en" / "maintenance_started",
    "en" / "maintenance_ended",
    "es" / "opened",
    "es" / "update",
    "es" / "human_update",
    "es" / "resolved",
    "es" / "maintenance_scheduled",
    "es" / "maintenance_started",
    "es" / "maintenance_ended",
];

/// One line, no control characters or bidirectional overrides, at most [`MAX_SUBJECT`]
/// characters.
pub fn clean_subject(s: &str) -> String {
    let one_line: String = s
        .chars()
        .filter(|c| !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}'))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = one_line.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= MAX_SUBJECT {
        return joined;
    }
    let mut cut: String = joined.chars().take(MAX_SUBJECT - 1).collect();
    cut.push('…');
    cut
}

fn cap_body(mut s: String) -> String {
    if s.len() > MAX_BODY {
        let mut end = MAX_BODY - 4;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

pub struct Renderer {
    env: minijinja::Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// The built-in English and Spanish customer templates.
    pub fn new() -> Self {
        let mut env = minijinja::Environment::new();
        // Customer-supplied templates must not be able to loop forever.
        env.set_fuel(Some(50_000));
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, subject, body) in BUILT_IN {
            env.add_template_owned(format!("{name}.subject"), subject.to_string())
                .expect("built-in template");
            env.add_template_owned(format!("{name}.body"), body.to_string())
                .expect("built-in template");
        }
        Renderer { env }
    }

    /// Overrides customer templates: `name` is `<customer>/<kind>.subject` or `.body`.
    pub fn add_override(&mut self, name: &str, source: &str) -> Result<(), RenderError> {
        self.env
            .add_template_owned(name.to_string(), source.to_string())
            .map_err(|source| RenderError::Template {
                name: name.to_string(),
                source,
            })
    }

    /// Whether an override named `name` (`<customer>/<kind>.subject`) was added.
    pub fn has_override(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// The built-in templates a language lacks (`<language>/<kind>.subject|body`): a new
    /// language is a folder of templates under `templates/`, listed in `BUILT_IN`.
    pub fn missing(&self, language: Language) -> Vec<String> {
        KINDS
            .iter()
            .flat_map(|kind| {
                ["subject", "body"].map(|part| format!("{}/{kind}.{part}", language.code()))
            })
            .filter(|name| self.env.get_template(name).is_err())
            .collect()
    }

    /// Template kinds a customer may override.
    pub fn kinds() -> &'static [&'static str] {
        &KINDS
    }

    pub fn render(
        &self,
        event: &Event,
        state: &State,
        config: &Config,
    ) -> Result<Message, RenderError> {
        let incident = event.incident().and_then(|id| state.incidents.get(id));
        let mut translations = BTreeMap::new();
        let (subject, body, language) = match event.audience {
            Audience::Customers => {
                let own = self.customer(event, incident, config)?;
                // The same words in the other languages, for subscribers who read another
                // (not when people wrote them: their words are in one language).
                if event.text().is_none() {
                    for l in Language::ALL.into_iter().filter(|l| *l != own.2) {
                        let (subject, body, _) =
                            self.customer_in(event, incident, config, Some(l))?;
                        translations.insert(
                            l,
                            Translation {
                                subject: clean_subject(&subject),
                                body: cap_body(body),
                            },
                        );
                    }
                }
                own
            }
            Audience::Operators => {
                let (s, b) = operators::render(event, incident, state, config);
                (s, b, Language::En)
            }
        };
        let mut attributes = Tags::new(event.audience, event.kind, event.severity, language);
        if let Some(s) = event.service() {
            attributes.service = Some(s.to_string());
            attributes.customer = config.service(s).map(|svc| svc.customer.clone());
        }
        if let Some(c) = event.customer() {
            attributes.customer = Some(c.to_string());
        }
        attributes.incident = event.incident().map(str::to_string);
        let subject = clean_subject(&subject);
        let details = (event.audience == Audience::Operators)
            .then(|| operators::details(event, incident, config, &subject));
        Ok(Message {
            id: event.id.clone(),
            at: event.at,
            topic: event.audience,
            subject,
            body: cap_body(body),
            attributes,
            digest: operators::digest(event, state, config),
            details,
            translations,
            incident_times: incident
                .filter(|_| event.audience == Audience::Customers)
                .map(|i| IncidentTimes {
                    started_at: i.started_at,
                    told_before: i
                        .timeline
                        .iter()
                        .filter(|t| {
                            t.audience == Audience::Customers
                                && t.at < event.at
                                && t.service.as_deref() == event.service()
                        })
                        .map(|t| t.at)
                        .max()
                        .unwrap_or(i.opened_at),
                }),
        })
    }
}
