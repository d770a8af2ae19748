//! What is due by the clock: operators' escalation and reminders, customers' regular updates.

use super::events::{Audience, EventKind, Severity};
use super::{after, elapsed, Evaluator};
use crate::config::DEFAULT_UPDATE_EVERY;

impl Evaluator<'_> {
    pub(super) fn cadence(&mut self) {
        let ops = &self.config.settings.operators;
        let open: Vec<String> = self
            .state
            .incidents
            .values()
            .filter(|i| i.is_open())
            .map(|i| i.id.clone())
            .collect();
        for id in open {
            let unseen_checks = self.incident_unseen_checks(&id);
            let unseen = !unseen_checks.is_empty();
            // An escalation says it is still down after all this time: so it goes while the
            // monitor sees a check of the incident down, whatever else it cannot see (an
            // unrelated check blocked by the guard); not while nothing it sees says so.
            let seen_down = self.incident_seen_down(&id);
            let Some(inc) = self.state.incidents.get(&id) else {
                continue;
            };
            let unacknowledged = inc.acknowledged_at.is_none();
            if unacknowledged
                && !inc.escalated
                && (seen_down || !unseen)
                && elapsed(inc.opened_at, self.now, ops.escalate_after)
            {
                if let Some(inc) = self.state.incidents.get_mut(&id) {
                    inc.escalated = true;
                    inc.last_operator_notice = self.now;
                }
                self.incident_event(
                    &id,
                    EventKind::Escalated,
                    Audience::Operators,
                    None,
                    Severity::Critical,
                    None,
                );
            } else if unacknowledged
                && elapsed(inc.last_operator_notice, self.now, ops.renotify_every)
            {
                let severity = if inc.escalated {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                if let Some(inc) = self.state.incidents.get_mut(&id) {
                    inc.last_operator_notice = self.now;
                }
                if let Some(e) = self.incident_event(
                    &id,
                    EventKind::Reminder,
                    Audience::Operators,
                    None,
                    severity,
                    None,
                ) {
                    e.set_unseen_checks(unseen_checks);
                }
            }
            // A regular update says "working again" only while the monitor sees it working.
            let not_seen_working = unseen || !self.incident_working_now(&id);
            self.customer_updates(&id, not_seen_working);
        }
    }

    /// The promise of the next update is kept: an update goes out at the last evaluation before
    /// `update_every` has passed since the customer last heard from us (the shells evaluate at
    /// least every `settings.tick`), or at once when it is overdue (after a restart).
    fn customer_updates(&mut self, id: &str, unseen: bool) {
        let tick = self.config.settings.tick;
        let Some(inc) = self.state.incidents.get(id) else {
            return;
        };
        let due: Vec<String> = inc
            .services()
            .filter(|s| inc.told.contains(*s))
            .filter(|s| {
                let every = self
                    .config
                    .service(s)
                    .and_then(|svc| self.config.customer(&svc.customer))
                    .map(|c| c.update_every)
                    .unwrap_or(DEFAULT_UPDATE_EVERY);
                inc.last_customer_update
                    .get(*s)
                    .is_some_and(|last| after(self.now, tick) > after(*last, every))
            })
            .cloned()
            .collect();
        for service in due {
            if let Some(e) = self.customer_event(id, &service, EventKind::Update, None) {
                e.set_unseen(unseen);
            }
        }
    }
}
