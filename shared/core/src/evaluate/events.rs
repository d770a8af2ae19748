//! What the engine has to say: events for operators and for one customer each. The renderer
//! (`crate::message`) turns each into a message. Event ids are deterministic: they are the
//! outbox's idempotency key.

use super::notes::{CheckSight, EarlyNote, FaultNote};
use super::state::TimelineEntry;
pub use super::terms::{Audience, EventKind, Phase, Severity};
use super::Evaluator;
use crate::config::Maintenance;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Something to tell operators or one customer. The renderer turns it into a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and deterministic: the outbox's idempotency key.
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub audience: Audience,
    pub severity: Severity,
    /// What it is about, with exactly the data its kind needs.
    pub about: About,
}

/// What an event is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum About {
    /// An incident, told to operators (`service` is the one concerned: the incident's, or a
    /// dependent that joined it).
    Incident {
        incident: String,
        service: String,
        phase: Phase,
        /// An operator's words (the default text, or every language's).
        text: Option<String>,
        note: Option<Note>,
        /// The monitor cannot see the incident's services right now.
        unseen: bool,
        /// The incident's checks it cannot see, and why (a reminder names them).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unseen_checks: Vec<CheckSight>,
    },
    /// An incident, told to one service's customers.
    Conversation {
        incident: String,
        service: String,
        customer: String,
        phase: Phase,
        /// An operator's words, in this customer's language.
        text: Option<String>,
        /// The monitor does not see the service working now: no word may say it works.
        unseen: bool,
    },
    /// A planned maintenance window (to operators, or to the service's customer).
    Maintenance {
        service: String,
        customer: Option<String>,
        window: Maintenance,
        /// Over, but the monitor does not see the service working.
        unseen: bool,
    },
    /// A probe region silent, or back (`back`).
    Region { region: String, back: bool },
    /// A check flapping, or settled (`stopped`).
    Flapping {
        check: String,
        service: String,
        stopped: bool,
    },
    /// `monitoring_blind`, `monitoring_restored`: the checks concerned.
    Sight(Vec<CheckSight>),
    /// `monitoring_fault`, `monitoring_fault_cleared`.
    Fault {
        check: String,
        service: String,
        fault: FaultNote,
    },
    /// `early_warning`, `early_warning_cleared`.
    Early {
        check: String,
        service: String,
        note: EarlyNote,
    },
    /// `degraded`, `degraded_cleared`.
    Degraded {
        check: String,
        service: String,
        note: super::notes::DegradedNote,
    },
}

/// What some of the operators' incident events carry besides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Note {
    /// `acknowledged`: who acknowledged before this one.
    Acknowledged { before: Vec<String> },
    /// A resolution by hand while these checks were still failing or unknown.
    ForcedResolution { checks: Vec<String> },
    /// An operator's words per language (`default`, `en`, `es`).
    Texts(BTreeMap<String, String>),
}

impl Event {
    pub(crate) fn new(
        id: String,
        at: DateTime<Utc>,
        kind: EventKind,
        audience: Audience,
        severity: Severity,
        about: About,
    ) -> Event {
        Event {
            id,
            at,
            kind,
            audience,
            severity,
            about,
        }
    }

    pub fn incident(&self) -> Option<&str> {
        match &self.about {
            About::Incident { incident, .. } | About::Conversation { incident, .. } => {
                Some(incident)
            }
            _ => None,
        }
    }

    pub fn service(&self) -> Option<&str> {
        match &self.about {
            About::Incident { service, .. }
            | About::Conversation { service, .. }
            | About::Maintenance { service, .. }
            | About::Flapping { service, .. }
            | About::Fault { service, .. }
            | About::Early { service, .. }
            | About::Degraded { service, .. } => Some(service),
            About::Region { .. } | About::Sight(_) => None,
        }
    }

    /// Whose, for an event to customers.
    pub fn customer(&self) -> Option<&str> {
        match &self.about {
            About::Conversation { customer, .. } => Some(customer),
            About::Maintenance { customer, .. } => customer.as_deref(),
            _ => None,
        }
    }

    pub fn phase(&self) -> Option<Phase> {
        match &self.about {
            About::Incident { phase, .. } | About::Conversation { phase, .. } => Some(*phase),
            _ => None,
        }
    }

    /// An operator's words, or a maintenance note.
    pub fn text(&self) -> Option<&str> {
        match &self.about {
            About::Incident { text, .. } | About::Conversation { text, .. } => text.as_deref(),
            About::Maintenance { window, .. } => window.note.as_deref(),
            _ => None,
        }
    }

    /// Said while the monitor does not see the service working.
    pub fn unseen(&self) -> bool {
        match &self.about {
            About::Incident { unseen, .. }
            | About::Conversation { unseen, .. }
            | About::Maintenance { unseen, .. } => *unseen,
            _ => false,
        }
    }

    pub fn check(&self) -> Option<&str> {
        match &self.about {
            About::Flapping { check, .. }
            | About::Fault { check, .. }
            | About::Early { check, .. }
            | About::Degraded { check, .. } => Some(check),
            _ => None,
        }
    }

    pub fn region(&self) -> Option<&str> {
        match &self.about {
            About::Region { region, .. } => Some(region),
            _ => None,
        }
    }

    /// A region back, a check that stopped flapping.
    pub fn ended(&self) -> bool {
        matches!(
            self.about,
            About::Region { back: true, .. } | About::Flapping { stopped: true, .. }
        )
    }

    pub fn note(&self) -> Option<&Note> {
        match &self.about {
            About::Incident { note, .. } => note.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn set_note(&mut self, n: Note) {
        if let About::Incident { note, .. } = &mut self.about {
            *note = Some(n);
        }
    }

    /// The incident's checks the monitor cannot see, when an operators' event names them.
    pub fn unseen_checks(&self) -> &[CheckSight] {
        match &self.about {
            About::Incident { unseen_checks, .. } => unseen_checks,
            _ => &[],
        }
    }

    /// Said while the monitor cannot see these checks of the incident.
    pub(crate) fn set_unseen_checks(&mut self, checks: Vec<CheckSight>) {
        self.set_unseen(!checks.is_empty());
        if let About::Incident { unseen_checks, .. } = &mut self.about {
            *unseen_checks = checks;
        }
    }

    pub(crate) fn set_unseen(&mut self, value: bool) {
        match &mut self.about {
            About::Incident { unseen, .. }
            | About::Conversation { unseen, .. }
            | About::Maintenance { unseen, .. } => *unseen = value,
            _ => {}
        }
    }
}

impl Evaluator<'_> {
    /// An event about an incident, recorded on its timeline. Returns it for the caller to add
    /// what its kind carries.
    pub(super) fn incident_event(
        &mut self,
        id: &str,
        kind: EventKind,
        audience: Audience,
        service: Option<String>,
        severity: Severity,
        text: Option<String>,
    ) -> Option<&mut Event> {
        let inc = self.state.incidents.get_mut(id)?;
        inc.seq += 1;
        let event_id = format!("{id}/{}/{}", inc.seq, kind.as_str());
        let service = service.or_else(|| Some(inc.service.clone()));
        inc.timeline.push(TimelineEntry {
            at: self.now,
            event: event_id.clone(),
            kind,
            audience,
            service: service.clone(),
            phase: inc.phase,
            text: text.clone(),
        });
        self.events.push(Event::new(
            event_id,
            self.now,
            kind,
            audience,
            severity,
            About::Incident {
                incident: id.to_string(),
                service: service.unwrap_or_default(),
                phase: inc.phase,
                text,
                note: None,
                unseen: false,
                unseen_checks: Vec::new(),
            },
        ));
        self.events.last_mut()
    }

    /// One customer event per affected service.
    pub(super) fn customer_events(
        &mut self,
        id: &str,
        kind: EventKind,
        text: impl Fn(&str) -> Option<String>,
    ) {
        let services: Vec<String> = self
            .state
            .incidents
            .get(id)
            .map(|i| i.services().cloned().collect())
            .unwrap_or_default();
        for s in services {
            let t = text(&s);
            self.customer_event(id, &s, kind, t);
        }
    }

    /// One message to one service's customers, under the rules that keep the conversation whole:
    /// updates and the resolution go only to customers who were told it opened; nothing goes to a
    /// service's customers during its maintenance, and a resolution within the window is sent when
    /// the window ends.
    pub(super) fn customer_event(
        &mut self,
        id: &str,
        service: &str,
        kind: EventKind,
        text: Option<String>,
    ) -> Option<&mut Event> {
        let svc = self.config.service(service)?;
        let customer = svc.customer.clone();
        let in_maintenance = self.in_maintenance(svc);
        let told = self
            .state
            .incidents
            .get(id)
            .is_some_and(|i| i.told.contains(service));
        let key = (id.to_string(), service.to_string());
        if kind == EventKind::Opened && self.state.deferred_resolutions.remove(&key) {
            // A relapse before a held-back resolution was sent: for these customers the
            // incident never ended, so the conversation simply goes on.
            if let Some(inc) = self.state.incidents.get_mut(id) {
                inc.told.insert(service.to_string());
            }
            return None;
        }
        match kind {
            EventKind::Opened if in_maintenance || told => return None,
            EventKind::Opened => {}
            _ if !told => return None,
            EventKind::Resolved if in_maintenance => {
                self.state.deferred_resolutions.insert(key);
                if let Some(inc) = self.state.incidents.get_mut(id) {
                    inc.told.remove(service);
                }
                return None;
            }
            _ if in_maintenance => return None,
            _ => {}
        }
        let inc = self.state.incidents.get_mut(id)?;
        inc.seq += 1;
        let event_id = format!("{id}/{}/{}/{service}", inc.seq, kind.as_str());
        inc.last_customer_update
            .insert(service.to_string(), self.now);
        match kind {
            EventKind::Opened => {
                inc.told.insert(service.to_string());
            }
            EventKind::Resolved => {
                inc.told.remove(service);
            }
            _ => {}
        }
        inc.timeline.push(TimelineEntry {
            at: self.now,
            event: event_id.clone(),
            kind,
            audience: Audience::Customers,
            service: Some(service.to_string()),
            phase: inc.phase,
            text: text.clone(),
        });
        self.events.push(Event::new(
            event_id,
            self.now,
            kind,
            Audience::Customers,
            Severity::Info,
            About::Conversation {
                incident: id.to_string(),
                service: service.to_string(),
                customer,
                phase: inc.phase,
                text,
                unseen: false,
            },
        ));
        self.events.last_mut()
    }
}
