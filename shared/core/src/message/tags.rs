//! What a message is about, typed (design.md's attributes: audience, customer, service,
//! severity, event, language, incident). Turned into strings only at the edges that need them:
//! SNS message attributes ([`Tags::pairs`]) and back in the mailer ([`Tags::from_pairs`]).

use crate::config::Language;
use crate::evaluate::{Audience, EventKind, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A message's tags. Stored with the message (the outbox, the JSONL file) as an object of
/// strings, the same keys SNS subscribers filter on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags {
    pub audience: Audience,
    pub event: EventKind,
    pub severity: Severity,
    /// The language the message is written in.
    pub language: Language,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

impl Tags {
    pub fn new(
        audience: Audience,
        event: EventKind,
        severity: Severity,
        language: Language,
    ) -> Tags {
        Tags {
            audience,
            event,
            severity,
            language,
            customer: None,
            service: None,
            incident: None,
        }
    }

    /// The tags as SNS message attributes.
    pub fn pairs(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = [
            ("audience", self.audience.as_str()),
            ("event", self.event.as_str()),
            ("severity", self.severity.as_str()),
            ("language", self.language.code()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in [
            ("customer", &self.customer),
            ("service", &self.service),
            ("incident", &self.incident),
        ] {
            if let Some(v) = v {
                out.insert(k.to_string(), v.clone());
            }
        }
        out
    }

    /// The tags from SNS message attributes (others, such as `id`, are left aside).
    pub fn from_pairs(pairs: &BTreeMap<String, String>) -> Result<Tags, String> {
        let want = |k: &str| {
            pairs
                .get(k)
                .ok_or_else(|| format!("the message attribute `{k}` is missing"))
        };
        let typed = |k: &str| -> Result<serde_json::Value, String> {
            Ok(serde_json::Value::String(want(k)?.clone()))
        };
        let read = |k: &str, e: serde_json::Error| format!("the message attribute `{k}`: {e}");
        Ok(Tags {
            audience: serde_json::from_value(typed("audience")?)
                .map_err(|e| read("audience", e))?,
            event: serde_json::from_value(typed("event")?).map_err(|e| read("event", e))?,
            severity: serde_json::from_value(typed("severity")?)
                .map_err(|e| read("severity", e))?,
            language: serde_json::from_value(typed("language")?)
                .map_err(|e| read("language", e))?,
            customer: pairs.get("customer").cloned(),
            service: pairs.get("service").cloned(),
            incident: pairs.get("incident").cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_the_strings_subscribers_filter_on_and_read_back_the_same() {
        let mut t = Tags::new(
            Audience::Customers,
            EventKind::Opened,
            Severity::Critical,
            Language::Es,
        );
        t.customer = Some("acme".into());
        t.service = Some("shop".into());
        t.incident = Some("inc-7".into());
        let pairs = t.pairs();
        let expected: BTreeMap<String, String> = [
            ("audience", "customers"),
            ("event", "opened"),
            ("severity", "critical"),
            ("language", "es"),
            ("customer", "acme"),
            ("service", "shop"),
            ("incident", "inc-7"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pairs, expected);
        // Stored as the same object (outbox rows written before the tags were typed read back).
        let stored = serde_json::to_value(&t).unwrap_or_default();
        assert_eq!(serde_json::to_value(&expected).unwrap_or_default(), stored);
        assert_eq!(Tags::from_pairs(&pairs), Ok(t));
        let mut bad = pairs.clone();
        bad.insert("severity".into(), "Critical".into());
        let e = Tags::from_pairs(&bad).expect_err("Debug-formatted severity");
        assert!(e.contains("`severity`"), "{e}");
        bad.remove("severity");
        assert!(Tags::from_pairs(&bad).is_err());
    }
}
