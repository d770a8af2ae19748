//! Subscribers and mail records on DynamoDB (moto): kept, listed per customer through the
//! index, removed; a mail claimed by one sender, never sent twice, and a claim left by a sender
//! that died taken over.

use super::*;
use atalaya_core::email::{Subscriber, SubscriberState, Subscription};
use atalaya_store::Subscribers;
use std::time::Duration;

#[tokio::test]
async fn subscribers_and_mail_claims_on_dynamodb() {
    let s = store().await;
    let now = chrono::Utc::now();
    let b = Subscriber::new("acme", "b@acme.example", None, Subscription::All, true, now);
    let a = Subscriber::new(
        "acme",
        "A@acme.example",
        Some(atalaya_core::Language::Es),
        Subscription::Services(["shop".to_string()].into()),
        false,
        now,
    );
    let g = Subscriber::new(
        "globex",
        "a@globex.example",
        None,
        Subscription::All,
        true,
        now,
    );
    for x in [&b, &a, &g] {
        s.put_subscriber(x).await.unwrap();
    }
    assert_eq!(
        s.subscribers(Some("acme")).await.unwrap(),
        [a.clone(), b.clone()]
    );
    assert_eq!(s.subscribers(None).await.unwrap().len(), 3);
    let mut b2 = b.clone();
    b2.state = SubscriberState::Unsubscribed;
    s.put_subscriber(&b2).await.unwrap();
    assert_eq!(s.subscriber(&b.id).await.unwrap(), Some(b2));
    assert_eq!(
        s.subscriber("mail#x").await.unwrap(),
        None,
        "a mail record is no subscriber"
    );

    let lease = Duration::from_secs(60);
    let key = atalaya_store::mail_key("inc-1/2/opened/shop", &a.id);
    assert!(s.claim_mail(&key, now, lease).await.unwrap());
    assert!(!s.claim_mail(&key, now, lease).await.unwrap(), "held");
    s.release_mail(&key).await.unwrap();
    assert!(s.claim_mail(&key, now, lease).await.unwrap(), "given back");
    let later = now + chrono::TimeDelta::seconds(61);
    assert!(
        s.claim_mail(&key, later, lease).await.unwrap(),
        "a dead sender's claim expires"
    );
    s.mail_sent(&key).await.unwrap();
    s.release_mail(&key).await.unwrap(); // too late: sent stays sent
    let much_later = now + chrono::TimeDelta::days(1);
    assert!(
        !s.claim_mail(&key, much_later, lease).await.unwrap(),
        "sent"
    );
    // Mail records are not listed as subscribers.
    assert_eq!(s.subscribers(None).await.unwrap().len(), 3);
    assert!(s.remove_subscriber(&a.id).await.unwrap());
    assert!(!s.remove_subscriber(&a.id).await.unwrap());
}
