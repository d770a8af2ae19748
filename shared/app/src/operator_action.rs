//! An operator's action on an incident (acknowledge, update, resolve, resolved in a paging
//! tool), from any shell: `atalaya incident …`, an acknowledgement link, a paging tool's
//! webhook, a chat button. Finds the partition the incident lives in (with the state split,
//! `inc-p07-3` names it; one handed over to another partition keeps its id and is looked for)
//! and runs one transition there.

use crate::checks::Checks;
use crate::transition::{transition_in, Mode, Transition, TransitionError};
use atalaya_core::evaluate::{act, Action, ActionError};
use atalaya_store::{Store, StoreError};
use chrono::Utc;

/// Why an action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ActFailed {
    /// The engine refused it (unknown, resolved, already acknowledged, refused texts).
    #[error(transparent)]
    Action(ActionError),
    /// The incident was resolved and archived: it is no longer in the state.
    #[error("incident {id} is {phase} and closed{since}")]
    Closed {
        id: String,
        phase: String,
        since: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Rendering its messages, or a state that kept changing under it.
    #[error("{0}")]
    Other(String),
}

/// Runs `action` on incident `id` (`mode`: commit it, or only show what it would say).
pub async fn act_on<S: Store>(
    store: &S,
    checks: &Checks,
    id: &str,
    action: &Action,
    mode: Mode,
) -> Result<Transition, ActFailed> {
    let plan = (store.partitions() > 1).then(|| checks.plan(store.partitions()));
    let mut found = plan.as_ref().and_then(|p| p.of_incident(id));
    if let Some(plan) = &plan {
        let here = match found {
            Some(p) => store
                .load_part(&p.key)
                .await?
                .state
                .incidents
                .contains_key(id),
            None => false,
        };
        if !here {
            for p in &plan.parts {
                if store
                    .load_part(&p.key)
                    .await?
                    .state
                    .incidents
                    .contains_key(id)
                {
                    found = Some(p);
                    break;
                }
            }
        }
    }
    let (part, config) = match found {
        Some(p) => (p.key.as_str(), &p.config),
        None => (atalaya_store::ENGINE, &checks.config),
    };
    let step =
        |state: &atalaya_core::evaluate::State| act(state, id, action.clone(), Utc::now(), config);
    match transition_in(store, part, &checks.renderer, config, step, mode).await {
        Ok(t) => Ok(t),
        Err(TransitionError::Step(ActionError::Unknown(_))) => match store.incident(id).await? {
            Some(i) => Err(ActFailed::Closed {
                id: id.to_string(),
                phase: i.phase.as_str().to_string(),
                since: i
                    .resolved_at
                    .map(|r| format!(" since {}", r.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default(),
            }),
            None => Err(ActFailed::Action(ActionError::Unknown(id.to_string()))),
        },
        Err(TransitionError::Step(e)) => Err(ActFailed::Action(e)),
        Err(TransitionError::Store(e)) => Err(ActFailed::Store(e)),
        Err(e) => Err(ActFailed::Other(e.to_string())),
    }
}
