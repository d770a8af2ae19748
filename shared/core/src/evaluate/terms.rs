//! The engine's words for what happens (an event's kind, its audience and severity) and for
//! where an incident stands (its phase): shared by the events (`events`) and the state
//! (`state`), which otherwise do not import each other's internals.

use serde::{Deserialize, Serialize};

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
    /// Something operators should act on before customers feel it: a certificate in its
    /// warning tier (operators only; customers hear nothing).
    EarlyWarning,
    /// Its cause is over (the certificate renewed).
    EarlyWarningCleared,
    /// A check degraded for an interval or more: one region failing while the rest work, slow
    /// past its latency threshold, a heartbeat running past its max_run (operators only).
    Degraded,
    /// It works normally again (or is down: an incident tells the rest).
    DegradedCleared,
    /// A paging tool resolved an incident the monitor still sees failing: it stays open
    /// (operators).
    NotResolved,
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
            EventKind::EarlyWarning => "early_warning",
            EventKind::EarlyWarningCleared => "early_warning_cleared",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Degraded => "degraded",
            EventKind::DegradedCleared => "degraded_cleared",
            EventKind::NotResolved => "not_resolved",
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

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Investigating => "investigating",
            Phase::Identified => "identified",
            Phase::Monitoring => "monitoring",
            Phase::Resolved => "resolved",
        }
    }
}
