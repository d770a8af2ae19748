//! What the engine has to say: events for operators and for one customer each. The renderer
//! (`crate::message`) turns each into a message. Event ids are deterministic: they are the
//! outbox's idempotency key.

use super::state::{Phase, TimelineEntry};
use super::Evaluator;
use crate::result::Reason;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Reminder,
    Escalated,
    Update,
    HumanUpdate,
    Resolved,
    MaintenanceScheduled,
    MaintenanceStarted,
    MaintenanceEnded,
    Flapping,
    RegionSilent,
    /// The monitor cannot see some checks (operators).
    MonitoringBlind,
    /// It can see them again (operators).
    MonitoringRestored,
    /// A check cannot be probed because of the monitor itself: blocked, an unset secret...
    MonitoringFault,
    MonitoringFaultCleared,
    /// An operator acknowledged the incident (operators).
    Acknowledged,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Reminder => "reminder",
            EventKind::Escalated => "escalated",
            EventKind::Update => "update",
            EventKind::HumanUpdate => "human_update",
            EventKind::Resolved => "resolved",
            EventKind::MaintenanceScheduled => "maintenance_scheduled",
            EventKind::MaintenanceStarted => "maintenance_started",
            EventKind::MaintenanceEnded => "maintenance_ended",
            EventKind::Flapping => "flapping",
            EventKind::RegionSilent => "region_silent",
            EventKind::MonitoringBlind => "monitoring_blind",
            EventKind::MonitoringRestored => "monitoring_restored",
            EventKind::MonitoringFault => "monitoring_fault",
            EventKind::MonitoringFaultCleared => "monitoring_fault_cleared",
            EventKind::Acknowledged => "acknowledged",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Operators,
    Customers,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Operators => "operators",
            Audience::Customers => "customers",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Something to tell operators or one customer. The renderer turns it into a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and deterministic: the outbox's idempotency key.
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub audience: Audience,
    pub severity: Severity,
    pub incident: Option<String>,
    pub service: Option<String>,
    /// For customer events: whose.
    pub customer: Option<String>,
    pub check: Option<String>,
    pub region: Option<String>,
    /// For flapping and region_silent: the condition ended (stopped flapping, region back).
    pub ended: bool,
    pub phase: Option<Phase>,
    /// A human update's text (for a customer: in their language), or a maintenance note.
    pub text: Option<String>,
    /// What some kinds carry besides.
    pub detail: Option<Detail>,
}

impl Event {
    /// An event with only what every event has; the rest is filled in by its kind.
    pub fn new(
        id: String,
        at: DateTime<Utc>,
        kind: EventKind,
        audience: Audience,
        severity: Severity,
    ) -> Event {
        Event {
            id,
            at,
            kind,
            audience,
            severity,
            incident: None,
            service: None,
            customer: None,
            check: None,
            region: None,
            ended: false,
            phase: None,
            text: None,
            detail: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Detail {
    /// `monitoring_blind`, `monitoring_restored`: the checks concerned.
    Sight(Vec<CheckSight>),
    /// `monitoring_fault`, `monitoring_fault_cleared`.
    Fault(FaultNote),
    /// A message sent while the monitor does not see the service working (it cannot see it,
    /// or some region sees it failing): it must not say the service works.
    Unseen,
    /// `acknowledged`: who acknowledged before this one.
    Acknowledged { before: Vec<String> },
    /// A resolution by hand while these checks were still failing or unknown.
    ForcedResolution { checks: Vec<String> },
    /// An operator's words per language (the operators' copy of a human update or resolution).
    Texts(BTreeMap<String, String>),
}

/// Why the monitor cannot see a check, and since when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSight {
    pub check: String,
    pub service: String,
    /// When it became unknown (for `monitoring_restored`: how long it lasted).
    pub since: DateTime<Utc>,
    /// Each of the check's regions that cannot see it, and why.
    pub regions: Vec<(String, Blindness)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Blindness {
    /// The region sends no results at all.
    Silent { last: Option<DateTime<Utc>> },
    /// No fresh result of this check from the region (or none since the monitor started).
    NoResult { last: Option<DateTime<Utc>> },
    /// The region's newest result is a monitoring fault.
    Fault(Reason),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultNote {
    pub reason: Reason,
    /// The newest fault's detail (operators only).
    pub detail: String,
    pub regions: Vec<String>,
    pub since: DateTime<Utc>,
    /// A reminder of a fault already told.
    pub reminder: bool,
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
        let mut e = Event::new(event_id, self.now, kind, audience, severity);
        e.incident = Some(id.to_string());
        e.service = service;
        e.phase = Some(inc.phase);
        e.text = text;
        self.events.push(e);
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
        let mut e = Event::new(
            event_id,
            self.now,
            kind,
            Audience::Customers,
            Severity::Info,
        );
        e.incident = Some(id.to_string());
        e.service = Some(service.to_string());
        e.customer = Some(customer);
        e.phase = Some(inc.phase);
        e.text = text;
        self.events.push(e);
        self.events.last_mut()
    }
}
