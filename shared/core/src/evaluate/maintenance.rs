//! Planned maintenance: announced, started and ended, to operators and the service's customers.

use super::events::{About, Audience, Event, EventKind, Severity};
use super::{before, Evaluator};

impl Evaluator<'_> {
    pub(super) fn maintenance(&mut self) {
        let config = self.config;
        for service in &config.services {
            for m in &service.maintenance {
                let key = |kind: &str| format!("{}/{}/{kind}", service.id, m.start.timestamp());
                let mut due = Vec::new();
                if let Some(ahead) = m.announce_before {
                    if self.now >= before(m.start, ahead) && self.now < m.start {
                        due.push(("scheduled", EventKind::MaintenanceScheduled));
                    }
                }
                if self.now >= m.start && self.now < m.end {
                    due.push(("started", EventKind::MaintenanceStarted));
                }
                // Ended is only told to those who were told it started.
                if self.now >= m.end && self.state.maintenance_sent.contains(&key("started")) {
                    due.push(("ended", EventKind::MaintenanceEnded));
                }
                for (name, kind) in due {
                    if !self.state.maintenance_sent.insert(key(name)) {
                        continue;
                    }
                    // "Available again" only when the monitor sees it working.
                    let unseen = kind == EventKind::MaintenanceEnded
                        && !self
                            .service_checks(&service.id)
                            .all(|c| self.working_now(c));
                    for audience in [Audience::Operators, Audience::Customers] {
                        let to_customers = audience == Audience::Customers;
                        self.events.push(Event::new(
                            format!("maintenance/{}/{}", key(name), audience.as_str()),
                            self.now,
                            kind,
                            audience,
                            Severity::Info,
                            About::Maintenance {
                                service: service.id.clone(),
                                customer: to_customers.then(|| service.customer.clone()),
                                window: m.clone(),
                                unseen: unseen && to_customers,
                            },
                        ));
                    }
                }
            }
        }
        // Resolutions that came during a window reach the customers once it is over and the
        // service is seen working (a relapse instead carries the conversation on).
        let held: Vec<(String, String)> = self
            .state
            .deferred_resolutions
            .iter()
            .filter(|(_, service)| {
                config.service(service).is_some_and(|s| {
                    !self.in_maintenance(s) && self.service_checks(service).all(|c| self.clear(c))
                })
            })
            .cloned()
            .collect();
        for (incident, service) in held {
            self.state
                .deferred_resolutions
                .remove(&(incident.clone(), service.clone()));
            if let Some(inc) = self.state.incidents.get_mut(&incident) {
                inc.told.insert(service.clone());
            }
            self.customer_event(&incident, &service, EventKind::Resolved, None);
        }
    }
}
