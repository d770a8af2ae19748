//! One way to change the state: load it with its version, run a pure step, render what the step
//! says, and commit the new state with its messages conditional on the version read. Another
//! writer that committed first (the runner and an incident command; two racing Lambda
//! invocations) makes it start again from what that writer stored.

use crate::Checks;
use atalaya_core::evaluate::{Event, State};
use atalaya_core::message::RenderError;
use atalaya_core::{Config, Message, Renderer};
use atalaya_store::{Store, StoreError};
use std::time::Duration;

/// How many times a transition is tried when another writer commits first.
pub const ATTEMPTS: u32 = 10;
/// The pause before the second try; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// Commit, or only show what would be committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Commit,
    DryRun,
}

/// What a transition did.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The state after the step (as committed, unless a dry run or nothing changed).
    pub state: State,
    pub events: Vec<Event>,
    pub messages: Vec<Message>,
    /// A new state and its messages were stored.
    pub committed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TransitionError<E> {
    /// The step refused (an operator's action that does not apply).
    #[error(transparent)]
    Step(E),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rendering: {0}")]
    Render(#[from] RenderError),
    #[error("the state kept changing under this writer ({0} tries); try again")]
    Contention(u32),
}

impl<E> TransitionError<E> {
    /// Whether trying the whole transition again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            TransitionError::Store(e) => e.retryable(),
            TransitionError::Contention(_) => true,
            _ => false,
        }
    }
}

/// Runs `step` on the stored state and commits what it produces (see the module's docs). The
/// step is called again on every try, on the state as stored then: it decides its own `now`.
pub async fn transition<S, E>(
    store: &S,
    checks: &Checks,
    step: impl FnMut(&State) -> Result<(State, Vec<Event>), E>,
    mode: Mode,
) -> Result<Transition, TransitionError<E>>
where
    S: Store,
{
    transition_in(
        store,
        atalaya_store::ENGINE,
        &checks.renderer,
        &checks.config,
        step,
        mode,
    )
    .await
}

/// [`transition`] on one partition of the state (`atalaya_core::partition`), rendering with
/// that partition's part of the file.
pub async fn transition_in<S, E>(
    store: &S,
    part: &str,
    renderer: &Renderer,
    config: &Config,
    mut step: impl FnMut(&State) -> Result<(State, Vec<Event>), E>,
    mode: Mode,
) -> Result<Transition, TransitionError<E>>
where
    S: Store,
{
    let mut pause = FIRST_PAUSE;
    for _ in 0..ATTEMPTS {
        let base = store.load_part(part).await?;
        let (state, events) = step(&base.state).map_err(TransitionError::Step)?;
        if state == base.state && events.is_empty() {
            return Ok(Transition {
                state,
                events,
                messages: Vec::new(),
                committed: false,
            });
        }
        let t = settle(store, part, renderer, config, &base, state, events, mode).await?;
        match t {
            Some(t) => return Ok(t),
            None => pause = wait(pause).await,
        }
    }
    Err(TransitionError::Contention(ATTEMPTS))
}

/// [`transition_in`] for a step that takes the state it changes instead of copying it (the
/// evaluation of a partition's results: a copy of the partition saved). It always commits: a
/// step given results changes at least their stamps (a batch delivered again rewrites them
/// once).
pub async fn transition_owned<S: Store>(
    store: &S,
    part: &str,
    renderer: &Renderer,
    config: &Config,
    mut step: impl FnMut(State) -> (State, Vec<Event>),
) -> Result<Transition, TransitionError<std::convert::Infallible>> {
    let mut pause = FIRST_PAUSE;
    for _ in 0..ATTEMPTS {
        let mut base = store.load_part(part).await?;
        let (state, events) = step(base.take_state());
        let t = settle(
            store,
            part,
            renderer,
            config,
            &base,
            state,
            events,
            Mode::Commit,
        )
        .await?;
        match t {
            Some(t) => return Ok(t),
            None => pause = wait(pause).await,
        }
    }
    Err(TransitionError::Contention(ATTEMPTS))
}

async fn wait(pause: Duration) -> Duration {
    tokio::time::sleep(pause).await;
    (pause * 2).min(MAX_PAUSE)
}

/// Renders what a step said and commits it over `base`; `None`: another writer committed first.
#[allow(clippy::too_many_arguments)]
async fn settle<S: Store, E>(
    store: &S,
    part: &str,
    renderer: &Renderer,
    config: &Config,
    base: &atalaya_store::Versioned,
    state: State,
    events: Vec<Event>,
    mode: Mode,
) -> Result<Option<Transition>, TransitionError<E>> {
    let messages = events
        .iter()
        .map(|e| renderer.render(e, &state, config))
        .collect::<Result<Vec<_>, _>>()?;
    if mode == Mode::DryRun {
        return Ok(Some(Transition {
            state,
            events,
            messages,
            committed: false,
        }));
    }
    match store.commit_part(part, base, &state, &messages).await {
        Ok(_) => Ok(Some(Transition {
            state,
            events,
            messages,
            committed: true,
        })),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
