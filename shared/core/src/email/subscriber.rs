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
    /// When they last became confirmed (none for one kept from before this was recorded): mail
    /// about an incident that opened before it is their first word of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<DateTime<Utc>>,
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
            confirmed_at: confirmed.then_some(now),
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

/// What happens to a subscriber: the one way its state changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The owner followed the confirmation link (only a pending subscriber is confirmed).
    Confirm,
    /// The owner unsubscribed.
    Unsubscribe,
    /// The address refused mail for good (why, for operators).
    Bounce(String),
    /// The recipient marked a mail as spam (why, for operators).
    Complain(String),
    /// An operator added the address again: confirmed when its owner already agreed; otherwise
    /// a confirmed subscriber stays so and one that left is pending again (only the owner can
    /// agree again).
    AddAgain { confirmed: bool },
}

impl Subscriber {
    /// Applies `change` at `now`; whether the state changed (`updated_at` and the note follow
    /// it). A subscriber who left is not confirmed by a late link, and one unsubscribed stays
    /// so when a bounce arrives after.
    pub fn change(&mut self, change: Change, now: DateTime<Utc>) -> bool {
        use SubscriberState as S;
        let gone = matches!(self.state, S::Unsubscribed | S::Bounced | S::Complained);
        let (state, note) = match change {
            Change::Confirm if self.state == S::Pending => (S::Confirmed, None),
            Change::Confirm => return false,
            Change::Unsubscribe if gone => return false,
            Change::Unsubscribe => (S::Unsubscribed, None),
            Change::Bounce(_) | Change::Complain(_) if self.state == S::Unsubscribed => {
                return false
            }
            Change::Bounce(why) => (S::Bounced, Some(why)),
            Change::Complain(why) => (S::Complained, Some(why)),
            Change::AddAgain { confirmed: true } => (S::Confirmed, None),
            Change::AddAgain { confirmed: false } if self.state == S::Confirmed => return false,
            Change::AddAgain { confirmed: false } => (S::Pending, None),
        };
        if state == self.state && note.is_none() {
            return false;
        }
        let changed = state != self.state;
        if changed && state == S::Confirmed {
            self.confirmed_at = Some(now);
        }
        self.state = state;
        self.note = note;
        self.updated_at = now;
        changed
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

    #[test]
    fn a_subscriber_changes_state_one_way() {
        let now = Utc::now();
        let later = now + chrono::Duration::minutes(1);
        let mut s = Subscriber::new("acme", "a@b.example", None, Subscription::All, false, now);
        assert!(
            s.change(Change::Unsubscribe, later),
            "a pending subscriber can leave"
        );
        assert_eq!(s.state, SubscriberState::Unsubscribed);
        let mut p = Subscriber::new("acme", "a@b.example", None, Subscription::All, false, now);
        assert!(p.change(Change::Confirm, later));
        assert_eq!((p.state, p.updated_at), (SubscriberState::Confirmed, later));
        assert!(!p.change(Change::Confirm, later), "confirmed once");
        assert!(!p.change(Change::AddAgain { confirmed: false }, later));
        assert!(p.change(Change::Bounce("550 no such user".into()), later));
        assert_eq!(p.note.as_deref(), Some("550 no such user"));
        assert!(
            !p.change(Change::Confirm, later),
            "a late link confirms nobody who left"
        );
        assert!(!p.change(Change::Unsubscribe, later), "already gone");
        assert!(p.change(Change::AddAgain { confirmed: false }, later));
        assert_eq!((p.state, p.note.clone()), (SubscriberState::Pending, None));
        assert!(p.change(Change::AddAgain { confirmed: true }, later));
        assert!(p.change(Change::Complain("spam".into()), later));
        assert_eq!(p.state, SubscriberState::Complained);
        assert!(!s.change(Change::Unsubscribe, later), "unsubscribed once");
    }
}
