//! Subscribers and the mails sent to them: who hears about a customer's services by email, and,
//! per message and subscriber, whether the mail went out (so a redelivered message sends nothing
//! twice).

use crate::StoreError;
use atalaya_core::email::Subscriber;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::time::Duration;

/// The mail of message `message` to subscriber `subscriber`: the key of its sending record.
pub fn mail_key(message: &str, subscriber: &str) -> String {
    format!("{message}#{subscriber}")
}

/// Written against by the subscriber commands, the email channel and the subscription pages.
/// The futures are `Send`: channels deliver from any task.
pub trait Subscribers {
    /// Every subscriber (of `customer` only, if given), by customer then address.
    fn subscribers(
        &self,
        customer: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Subscriber>, StoreError>> + Send;
    fn subscriber(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Subscriber>, StoreError>> + Send;
    /// Adds or replaces the subscriber with this id.
    fn put_subscriber(&self, s: &Subscriber)
        -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Forgets a subscriber; false when there was none.
    fn remove_subscriber(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Claims the sending of one mail ([`mail_key`]) for `lease`: false when it was sent
    /// already, or another sender holds it. A claim left by a sender that died expires.
    fn claim_mail(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The mail went out: it is never sent again.
    fn mail_sent(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The mail did not go out: the next attempt may send it.
    fn release_mail(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
