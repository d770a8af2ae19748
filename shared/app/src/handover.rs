//! An incident follows its service to the partition that now evaluates it (a new dependency
//! joined its group to another's).

use crate::transition::{transition_in, Mode, TransitionError};
use crate::Checks;
use atalaya_core::evaluate::{Incident, State};
use std::convert::Infallible;

/// Moves an incident to the partition that now evaluates its service: first it is added there
/// (if it is not already), then taken out of where it was, so that a failure between the two
/// leaves it in both, never in neither; the next evaluation finishes the move. Its id stays (the
/// incidents table and every message already sent name it). An incident whose service left the
/// file stays where it is.
pub(crate) async fn hand_over<S: atalaya_store::Store>(
    store: &S,
    checks: &Checks,
    plan: &atalaya_core::partition::Plan,
    from: &str,
    incident: Incident,
) -> Result<(), TransitionError<Infallible>> {
    let Some(to) = plan.of_service(&incident.service) else {
        return Ok(());
    };
    if to.key == from {
        return Ok(());
    }
    tracing::info!(incident = %incident.id, from, to = %to.key, "an incident moves with its service to another partition");
    let id = incident.id.clone();
    transition_in(
        store,
        &to.key,
        &checks.renderer,
        &to.config,
        |s: &State| {
            let mut s = s.clone();
            s.incidents
                .entry(id.clone())
                .or_insert_with(|| incident.clone());
            Ok((s, Vec::new()))
        },
        Mode::Commit,
    )
    .await?;
    let source = plan
        .parts
        .iter()
        .find(|p| p.key == from)
        .map_or(&plan.regions.config, |p| &p.config);
    transition_in(
        store,
        from,
        &checks.renderer,
        source,
        |s: &State| {
            let mut s = s.clone();
            s.incidents.remove(&id);
            s.deferred_resolutions.retain(|(i, _)| i != &id);
            Ok((s, Vec::new()))
        },
        Mode::Commit,
    )
    .await?;
    Ok(())
}
