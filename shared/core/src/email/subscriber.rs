//! Subscribers: who hears about which of a customer's services, by email, in which language.

use crate::config::{Customer, Language};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Where a subscriber stands. Only `confirmed` subscribers get incident mail; `pending` ones get
/// the confirmation mail alone (double opt-in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberState {
    Pending,
    Confirmed,
    Unsubscribed,
    /// The address bounced for good (a hard bounce): nothing more is sent to it.
    Bounced,
    /// The recipient marked a mail as spam: nothing more is sent to it.
    Complained,
}

impl SubscriberState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberState::Pending => "pending",
            SubscriberState::Confirmed => "confirmed",
            SubscriberState::Unsubscribed => "unsubscribed",
            SubscriberState::Bounced => "bounced",
            SubscriberState::Complained => "complained",
        }
    }
}

/// Which of the customer's services a subscriber hears about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subscription {
    All,
    Services(BTreeSet<String>),
}

impl Subscription {
    pub fn includes(&self, service: &str) -> bool {
        match self {
            Subscription::All => true,
            Subscription::Services(s) => s.contains(service),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    /// Made from the customer and the address ([`Subscriber::id_for`]): adding the same address
    /// twice finds the same subscriber.
    pub id: String,
    pub customer: String,
    pub email: String,
    /// `None`: the customer's language.
    pub language: Option<Language>,
    pub services: Subscription,
    pub state: SubscriberState,
    /// Raised to revoke every link sent so far (a new one is in each later mail).
    #[serde(default)]
    pub token_version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Why the state last changed when it was not the subscriber's doing (a bounce, a
    /// complaint), for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Subscriber {
    /// The id of `email` among `customer`'s subscribers (the address compared without case).
    pub fn id_for(customer: &str, email: &str) -> String {
        let digest = Sha256::digest(format!("{customer}\n{}", email.to_lowercase()).as_bytes());
        let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        format!("sub-{hex}")
    }

    pub fn new(
        customer: &str,
        email: &str,
        language: Option<Language>,
        services: Subscription,
        confirmed: bool,
        now: DateTime<Utc>,
    ) -> Subscriber {
        Subscriber {
            id: Subscriber::id_for(customer, email),
            customer: customer.to_string(),
            email: email.to_string(),
            language,
            services,
            state: if confirmed {
                SubscriberState::Confirmed
            } else {
                SubscriberState::Pending
            },
            // Links of an earlier subscription of the same address (removed since) stay void.
            token_version: now.timestamp().rem_euclid(i64::from(u32::MAX)) as u32,
            created_at: now,
            updated_at: now,
            note: None,
        }
    }

    /// Whether a message about `service` goes to this subscriber.
    pub fn receives(&self, service: &str) -> bool {
        self.state == SubscriberState::Confirmed && self.services.includes(service)
    }

    /// The language mail to this subscriber is written in.
    pub fn language_with(&self, customer: Option<&Customer>) -> Language {
        self.language
            .or(customer.map(|c| c.language))
            .unwrap_or(Language::En)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_address_in_any_case_is_one_subscriber_per_customer() {
        let a = Subscriber::id_for("acme", "Ana@Example.com");
        assert_eq!(a, Subscriber::id_for("acme", "ana@example.com"));
        assert_ne!(a, Subscriber::id_for("globex", "ana@example.com"));
        assert!(a.starts_with("sub-") && a.len() == 24, "{a}");
    }

    #[test]
    fn only_confirmed_subscribers_of_the_service_receive() {
        let now = Utc::now();
        let some = Subscription::Services(["web".to_string()].into());
        let mut s = Subscriber::new("acme", "a@b.example", None, some, false, now);
        assert!(!s.receives("web"), "pending");
        s.state = SubscriberState::Confirmed;
        assert!(s.receives("web"));
        assert!(!s.receives("api"));
        for state in [
            SubscriberState::Unsubscribed,
            SubscriberState::Bounced,
            SubscriberState::Complained,
        ] {
            s.state = state;
            assert!(!s.receives("web"), "{state:?}");
        }
    }
}
