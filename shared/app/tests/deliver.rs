//! Delivery over a real SQLite store and channels in memory: every channel gets every message
//! once, in order; a failing channel is tried again alone; a permanent error gives up.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_app::deliver;
use atalaya_core::evaluate::{Audience, State};
use atalaya_core::Message;
use atalaya_notify::{Channel, ChannelError, MemoryChannel};
use atalaya_store::{SqliteStore, Store, Versioned};
use futures::future::BoxFuture;

fn message(id: &str) -> Message {
    Message {
        id: id.into(),
        at: "2026-11-24T10:00:00Z".parse().unwrap(),
        topic: Audience::Operators,
        subject: format!("subject {id}"),
        body: "body".into(),
        attributes: atalaya_core::message::Tags::new(
            atalaya_core::evaluate::Audience::Operators,
            atalaya_core::evaluate::EventKind::Opened,
            atalaya_core::evaluate::Severity::Critical,
            atalaya_core::Language::En,
        ),
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: None,
    }
}

async fn store_with(ids: &[&str]) -> SqliteStore {
    let s = SqliteStore::in_memory().unwrap();
    let messages: Vec<Message> = ids.iter().map(|id| message(id)).collect();
    s.commit(&Versioned::default(), &State::default(), &messages)
        .await
        .unwrap();
    s
}

fn ids(c: &MemoryChannel) -> Vec<String> {
    c.sent().into_iter().map(|m| m.id).collect()
}

#[tokio::test]
async fn every_channel_gets_every_message_once_in_order() {
    let s = store_with(&["a", "b", "c"]).await;
    let (one, two) = (MemoryChannel::new("one"), MemoryChannel::new("two"));
    let out = deliver(&s, &[&one, &two]).await.unwrap();
    assert_eq!((out.messages, out.sent, out.failures), (3, 6, 0));
    assert_eq!(ids(&one), ["a", "b", "c"]);
    assert_eq!(ids(&two), ["a", "b", "c"]);
    let again = deliver(&s, &[&one, &two]).await.unwrap();
    assert_eq!((again.messages, again.sent), (0, 0), "nothing left");
    assert!(s.pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failing_channel_is_tried_again_alone() {
    let s = store_with(&["a", "b"]).await;
    let (sns, email) = (MemoryChannel::new("sns"), MemoryChannel::new("email"));
    email.fail_next(1);
    let out = deliver(&s, &[&sns, &email]).await.unwrap();
    assert_eq!((out.messages, out.sent, out.failures), (1, 3, 1));
    assert!(out.first_error.unwrap().contains("told to fail"));
    assert_eq!(ids(&sns), ["a", "b"]);
    assert_eq!(ids(&email), ["b"]);
    // Next round: only the channel that failed gets "a".
    let out = deliver(&s, &[&sns, &email]).await.unwrap();
    assert_eq!((out.messages, out.sent), (1, 1));
    assert_eq!(
        ids(&sns),
        ["a", "b"],
        "never twice through the channel that worked"
    );
    assert_eq!(ids(&email), ["b", "a"]);
}

/// A channel that can never deliver anything (a permanent error).
struct Refusing;

impl Channel for Refusing {
    fn name(&self) -> &str {
        "refusing"
    }
    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            Err(ChannelError {
                channel: "refusing".into(),
                id: m.id.clone(),
                retryable: false,
                detail: "invalid parameter".into(),
            })
        })
    }
}

#[tokio::test]
async fn a_message_a_channel_can_never_deliver_is_given_up_not_retried_forever() {
    let s = store_with(&["a"]).await;
    let memory = MemoryChannel::new("memory");
    let out = deliver(&s, &[&memory, &Refusing]).await.unwrap();
    assert_eq!((out.messages, out.gave_up), (1, 1));
    assert!(s.pending().await.unwrap().is_empty());
    assert_eq!(ids(&memory), ["a"]);
}

#[tokio::test]
async fn a_message_claimed_by_another_publisher_is_left_to_it() {
    let s = store_with(&["a", "b"]).await;
    assert!(s
        .claim(
            "a",
            "memory",
            chrono::Utc::now(),
            std::time::Duration::from_secs(60)
        )
        .await
        .unwrap());
    let memory = MemoryChannel::new("memory");
    let out = deliver(&s, &[&memory]).await.unwrap();
    assert_eq!(ids(&memory), ["b"]);
    assert_eq!(out.messages, 1);
    assert_eq!(
        s.pending().await.unwrap().len(),
        1,
        "a is still its claimant's"
    );
}
