//! Transitions over a real SQLite store: committed with their messages, retried when another
//! writer got there first, nothing written when nothing changed or on a dry run.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_app::{transition, Checks, Mode, TransitionError};
use atalaya_core::evaluate::{evaluate, Event, State};
use atalaya_core::{Outcome, Phases, ProbeResult, Reason};
use atalaya_store::{SqliteStore, Store};
use chrono::{DateTime, TimeDelta, Utc};
use std::convert::Infallible;

fn checks() -> Checks {
    Checks::from_text(
        "settings:
  defaults: { interval: 1m, timeout: 5s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME, language: es }
services:
  - { id: shop, customer: acme, name: Tienda online }
checks:
  - { id: home, service: shop, http: { url: 'https://shop.example.com/' } }
",
        "t.yaml",
        std::path::Path::new("."),
        atalaya_core::Target::Local,
    )
    .unwrap()
    .localized()
}

fn down(at: DateTime<Utc>) -> Vec<ProbeResult> {
    vec![ProbeResult {
        check: "home".into(),
        region: "local".into(),
        at,
        outcome: Outcome::Down,
        reason: Reason::HttpStatus,
        detail: "status 503, expected 2xx".into(),
        latency_ms: 3.0,
        phases: Phases::default(),
        http_status: Some(503),
        cert_days_left: None,
    }]
}

#[tokio::test]
async fn a_transition_commits_its_state_and_messages_together() {
    let (s, c) = (SqliteStore::in_memory().unwrap(), checks());
    let t0: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
    let t = transition(
        &s,
        &c,
        |st: &State| {
            Ok::<_, Infallible>(evaluate(
                st,
                &down(t0),
                t0 + TimeDelta::seconds(5),
                &c.config,
            ))
        },
        Mode::Commit,
    )
    .await
    .unwrap();
    assert!(t.committed);
    let kinds: Vec<&str> = t
        .messages
        .iter()
        .map(|m| m.attributes.event.as_str())
        .collect();
    assert_eq!(kinds, ["opened", "opened"], "operators and the customer");
    assert_eq!(s.pending().await.unwrap().len(), 2);
    assert_eq!(s.load_state().await.unwrap().state, t.state);
}

#[tokio::test]
async fn nothing_is_written_when_nothing_changed_or_on_a_dry_run() {
    let (s, c) = (SqliteStore::in_memory().unwrap(), checks());
    let t0: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
    let dry = transition(
        &s,
        &c,
        |st: &State| Ok::<_, Infallible>(evaluate(st, &down(t0), t0, &c.config)),
        Mode::DryRun,
    )
    .await
    .unwrap();
    assert!(!dry.committed && dry.messages.len() == 2);
    assert_eq!(s.load_state().await.unwrap().version, 0);
    assert!(s.pending().await.unwrap().is_empty());
    let same = transition(
        &s,
        &c,
        |st: &State| Ok::<_, Infallible>((st.clone(), Vec::<Event>::new())),
        Mode::Commit,
    )
    .await
    .unwrap();
    assert!(!same.committed);
    assert_eq!(s.load_state().await.unwrap().version, 0);
}

#[tokio::test]
async fn a_writer_that_got_there_first_makes_the_step_run_again_on_its_state() {
    let (s, c) = (SqliteStore::in_memory().unwrap(), checks());
    let mut tries = 0;
    let t = transition(
        &s,
        &c,
        |st: &State| {
            tries += 1;
            if tries == 1 {
                // Another writer commits between this one's read and its commit.
                let base = futures::executor::block_on(s.load_state()).unwrap();
                let mut other = base.state.clone();
                other.next_incident = 41;
                futures::executor::block_on(s.commit(&base, &other, &[])).unwrap();
            }
            let mut next = st.clone();
            next.next_incident += 1;
            Ok::<_, Infallible>((next, Vec::new()))
        },
        Mode::Commit,
    )
    .await
    .unwrap();
    assert_eq!(tries, 2);
    assert_eq!(
        t.state.next_incident, 42,
        "built on the other writer's state"
    );
    assert_eq!(s.load_state().await.unwrap().state.next_incident, 42);
}

#[tokio::test]
async fn a_step_that_refuses_changes_nothing() {
    let (s, c) = (SqliteStore::in_memory().unwrap(), checks());
    let err = transition(
        &s,
        &c,
        |_: &State| Err::<(State, Vec<Event>), _>("no"),
        Mode::Commit,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TransitionError::Step("no")));
    assert!(!err.retryable());
    assert_eq!(s.load_state().await.unwrap().version, 0);
}
