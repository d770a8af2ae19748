//! What the engine remembers between evaluations. Serializable: the shells store it. Fields
//! added after the first release carry `#[serde(default)]`, so a state written by an older
//! version still loads. Only fields an older version also reads as absent (an `Option`, or one
//! it has a default for) are left out when empty: a state written by this version loads there
//! too, should a deployment go back.

pub use super::terms::Phase;
use super::terms::{Audience, EventKind};
use crate::result::{Outcome, Reason};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// When the engine first evaluated (silence is only judged after a region had time to report).
    pub started_at: Option<DateTime<Utc>>,
    /// When the monitor itself last started watching again after being stopped (the local
    /// runner's restart): its own gap is not silence of the regions, so silence and blindness
    /// are judged from then. See [`super::resume`].
    #[serde(default)]
    pub resumed_at: Option<DateTime<Utc>>,
    pub regions: BTreeMap<String, RegionState>,
    pub checks: BTreeMap<String, CheckState>,
    pub incidents: BTreeMap<String, Incident>,
    /// Maintenance notices already sent, by key (service, window start, kind).
    pub maintenance_sent: BTreeSet<String>,
    /// Resolutions held back while the service was in maintenance: (incident, service), sent
    /// when the window ends and the service is seen working.
    pub deferred_resolutions: BTreeSet<(String, String)>,
    pub next_incident: u64,
    /// Where the rollups stand, for shells that keep them apart from the state
    /// (`crate::rollup::Marks`).
    #[serde(default, skip_serializing_if = "crate::rollup::Marks::is_empty")]
    pub rollup: crate::rollup::Marks,
}

impl State {
    /// Incidents that are new or different in `self` compared with `before`: what a store
    /// writes to its incidents table along with the state.
    pub fn changed_incidents<'a>(
        &'a self,
        before: &'a State,
    ) -> impl Iterator<Item = &'a Incident> {
        self.incidents
            .iter()
            .filter(move |(id, i)| before.incidents.get(*id) != Some(*i))
            .map(|(_, i)| i)
    }

    /// Whether `self` and `other` are equal in everything but their checks (a store that keeps
    /// changed checks apart compares the rest with this).
    pub fn same_apart_from_checks(&self, other: &State) -> bool {
        let State {
            started_at,
            resumed_at,
            regions,
            checks: _,
            incidents,
            maintenance_sent,
            deferred_resolutions,
            next_incident,
            rollup,
        } = self;
        *started_at == other.started_at
            && *resumed_at == other.resumed_at
            && *regions == other.regions
            && *incidents == other.incidents
            && *maintenance_sent == other.maintenance_sent
            && *deferred_resolutions == other.deferred_resolutions
            && *next_incident == other.next_incident
            && *rollup == other.rollup
    }

    /// Everything but the checks.
    pub fn without_checks(&self) -> State {
        let State {
            started_at,
            resumed_at,
            regions,
            checks: _,
            incidents,
            maintenance_sent,
            deferred_resolutions,
            next_incident,
            rollup,
        } = self;
        State {
            started_at: *started_at,
            resumed_at: *resumed_at,
            regions: regions.clone(),
            checks: BTreeMap::new(),
            incidents: incidents.clone(),
            maintenance_sent: maintenance_sent.clone(),
            deferred_resolutions: deferred_resolutions.clone(),
            next_incident: *next_incident,
            rollup: rollup.clone(),
        }
    }

    /// Since when the monitor has been watching without a break.
    pub fn watching_since(&self) -> Option<DateTime<Utc>> {
        self.resumed_at.or(self.started_at)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionState {
    /// The newest result of any kind from this region (a region reporting faults is alive).
    pub last_seen: Option<DateTime<Utc>>,
    pub silent: bool,
}

/// What the monitor can say about a check (or a service) now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    #[default]
    Up,
    Degraded,
    Down,
    /// Fewer regions than the quorum can see it (silent, not probed yet, restarted, or only
    /// monitoring faults): nothing is concluded, nothing changes because of it.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Up => "up",
            Verdict::Degraded => "degraded",
            Verdict::Down => "down",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckState {
    pub regions: BTreeMap<String, CheckRegion>,
    pub verdict: Verdict,
    pub flapping: bool,
    /// Since when the check has been unknown (`None` while the monitor sees it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_since: Option<DateTime<Utc>>,
    /// Operators were told the monitor cannot see this check, and not yet that it can again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub blind_told: bool,
    /// Monitoring faults in force, by reason (`blocked`, `check_error`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub faults: BTreeMap<crate::result::Reason, FaultState>,
    /// How often the check runs, in seconds, as of its newest result: with its schedule
    /// (`crate::schedule::last_due`) a store can tell when it was last heard from when its
    /// region last ran, instead of keeping a time per check.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub every_s: u64,
    /// Since when the check is degraded (kept while it is unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_since: Option<DateTime<Utc>>,
    /// The operators' notice of it, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<EarlyState>,
    /// Early warnings in force, by cause (kept as `certificate`, `latency@<region>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub early: BTreeMap<super::early::Cause, EarlyState>,
    /// The newest hour's latency against its usual, by region (`expect.latency.drift`): set
    /// once an hour by the evaluator's shell from the rollups (`crate::rollup::drift`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drift: BTreeMap<String, DriftSeen>,
}

/// One region's newest hour against its usual: the phases that drifted (none: it did not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftSeen {
    pub hour: DateTime<Utc>,
    pub phases: Vec<crate::rollup::PhaseDrift>,
}

/// An early warning as operators heard it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyState {
    pub since: DateTime<Utc>,
    pub last_notice: DateTime<Utc>,
    pub notices: u32,
}

impl CheckState {
    /// Whether `self` and `other` are equal in everything but their regions.
    pub fn same_apart_from_regions(&self, other: &CheckState) -> bool {
        let CheckState {
            regions: _,
            verdict,
            flapping,
            unknown_since,
            blind_told,
            faults,
            every_s,
            degraded_since,
            degraded,
            early,
            drift,
        } = self;
        *verdict == other.verdict
            && *flapping == other.flapping
            && *unknown_since == other.unknown_since
            && *blind_told == other.blind_told
            && *faults == other.faults
            && *every_s == other.every_s
            && *degraded_since == other.degraded_since
            && *degraded == other.degraded
            && *early == other.early
            && *drift == other.drift
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One check in one region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckRegion {
    /// The newest real result applied (a monitoring fault is not one).
    pub last_at: DateTime<Utc>,
    pub fails: u32,
    pub oks: u32,
    pub hard_down: bool,
    pub outcome: Outcome,
    pub reason: Reason,
    pub detail: String,
    pub latency_ms: f64,
    /// When the current run of failures began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// The last results, oldest first, `true` = not down (for flap detection), at most
    /// [`super::flapping::WINDOW`]; a leading run of equal results is kept as one (flap detection pads
    /// a short history with its first result), so a steady check's history stops changing.
    pub history: Vec<bool>,
    /// A monitoring fault newer than `last_at`: the region cannot see the check until a real
    /// result comes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<RegionFault>,
    /// Days the certificate has left, as the newest real result saw it (kept only for checks
    /// with `expect.cert_warn_before`: it changes once a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_days: Option<i64>,
}

impl CheckRegion {
    pub(crate) fn new() -> Self {
        CheckRegion {
            last_at: DateTime::<Utc>::MIN_UTC,
            fails: 0,
            oks: 0,
            hard_down: false,
            outcome: Outcome::Up,
            reason: Reason::Ok,
            detail: String::new(),
            latency_ms: 0.0,
            failing_since: None,
            history: Vec::new(),
            fault: None,
            cert_days: None,
        }
    }

    /// The newest result of any kind applied here.
    pub fn newest(&self) -> DateTime<Utc> {
        self.fault
            .as_ref()
            .map_or(self.last_at, |f| f.at.max(self.last_at))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionFault {
    pub at: DateTime<Utc>,
    pub reason: Reason,
    pub detail: String,
}

/// A monitoring fault of one check, as operators hear of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultState {
    pub reason: Reason,
    pub since: DateTime<Utc>,
    pub last_notice: DateTime<Utc>,
    /// Notices sent (the first, then reminders), for the events' ids.
    pub notices: u32,
}

/// A failing check in a region, as operators see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub check: String,
    pub region: String,
    pub reason: Reason,
    pub detail: String,
    pub latency_ms: f64,
    pub since: DateTime<Utc>,
}

/// One operator's acknowledgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    /// The service whose outage opened it.
    pub service: String,
    /// Services that depend on it and are down with it: no incident of their own.
    pub affected: Vec<String>,
    pub phase: Phase,
    /// When the first failure that led to it began.
    pub started_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The first acknowledgement (reminders and escalation stop with it).
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    /// Every acknowledgement, in order (a second operator's is kept, not replaced).
    #[serde(default)]
    pub acknowledgements: Vec<Acknowledgement>,
    pub escalated: bool,
    pub last_operator_notice: DateTime<Utc>,
    /// Per affected service: when its customer last heard from us.
    pub last_customer_update: BTreeMap<String, DateTime<Utc>>,
    /// Services whose customers were told it opened and not yet that it is resolved: only they
    /// get updates and the resolution.
    pub told: BTreeSet<String>,
    pub reopened: u32,
    /// Resolved by hand (`--force`) while the monitor still saw it failing or could not see
    /// it: no new incident opens for the service until its checks are seen passing, or
    /// `reopen_within` has passed.
    #[serde(default)]
    pub forced: bool,
    /// The failing checks and regions, refreshed while the incident is open.
    pub failures: Vec<Failure>,
    /// Every message sent about this incident.
    pub timeline: Vec<TimelineEntry>,
    /// Numbers the incident's events, for their ids.
    pub seq: u64,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.phase != Phase::Resolved
    }
    /// Every service whose customers hear about this incident.
    pub fn services(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.service).chain(self.affected.iter())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub kind: EventKind,
    pub audience: Audience,
    pub service: Option<String>,
    pub phase: Phase,
    pub text: Option<String>,
}

#[cfg(test)]
mod stored_shape {
    use super::*;

    fn failing() -> CheckState {
        let mut cr = CheckRegion::new();
        cr.failing_since = Some(DateTime::<Utc>::UNIX_EPOCH);
        cr.fault = Some(RegionFault {
            at: DateTime::<Utc>::UNIX_EPOCH,
            reason: Reason::Blocked,
            detail: "blocked".into(),
        });
        CheckState {
            regions: BTreeMap::from([("eu-west-1".to_string(), cr)]),
            unknown_since: Some(DateTime::<Utc>::UNIX_EPOCH),
            blind_told: true,
            ..CheckState::default()
        }
    }

    #[test]
    fn what_is_empty_is_left_out_and_the_shape_of_earlier_versions_still_loads() {
        let quiet = CheckState {
            regions: BTreeMap::from([("eu-west-1".to_string(), CheckRegion::new())]),
            ..CheckState::default()
        };
        let json = serde_json::to_value(&quiet).unwrap();
        for absent in ["unknown_since", "blind_told", "faults"] {
            assert!(json.get(absent).is_none(), "{absent} in {json}");
        }
        let region = &json["regions"]["eu-west-1"];
        for absent in ["failing_since", "fault"] {
            assert!(region.get(absent).is_none(), "{absent} in {region}");
        }
        // What earlier versions wrote: every field, the empty ones as null, false and {}.
        let mut earlier = json.clone();
        earlier["unknown_since"] = serde_json::Value::Null;
        earlier["blind_told"] = false.into();
        earlier["faults"] = serde_json::json!({});
        earlier["regions"]["eu-west-1"]["failing_since"] = serde_json::Value::Null;
        earlier["regions"]["eu-west-1"]["fault"] = serde_json::Value::Null;
        assert_eq!(
            serde_json::from_value::<CheckState>(earlier).unwrap(),
            quiet
        );
        // And what is not empty is written and read back.
        let busy = failing();
        let back: CheckState = serde_json::from_slice(&serde_json::to_vec(&busy).unwrap()).unwrap();
        assert_eq!(back, busy);
    }
}
