//! Multi-step flows (`atalaya_core::kinds::flow`): each step an HTTP request through the same
//! prober as an HTTP check (every hop through the guard, every phase timed), in order, within
//! the check's one timeout. Values a step extracts fill `${var:…}` in the later steps and are
//! secrets from then on. After a failure only `always` steps run (cleanup). The verdict is the
//! first step that did not pass; the detail names it and gives every step's status and time.

use crate::http::Prepared;
use crate::net::ms_since;
use crate::tls_client::TlsSetup;
use crate::{CheckError, Engine, Judgement, Step, Trace};
use atalaya_core::kinds::flow::FlowCheck;
use atalaya_core::{Check, Outcome, Reason, Reference, Source};
use std::collections::HashMap;
use std::time::Instant;

impl Engine {
    /// What a flow needs before it runs: every reference but its variables filled in (one that
    /// cannot be is the check's fault, like an HTTP check's) and each step's TLS client.
    pub(crate) fn flow_ready(&self, f: &FlowCheck) -> Result<Vec<Option<TlsSetup>>, CheckError> {
        let stand_in = |r: &Reference| match r.source {
            Source::Var => Some("x".to_string()),
            _ => self.references.value(r),
        };
        let mut setups = Vec::with_capacity(f.steps.len());
        for step in &f.steps {
            Prepared::for_http(&step.http, &stand_in).map_err(|e| match e {
                CheckError::Unset { field, source } => CheckError::Unset {
                    field: format!("steps.{}.{field}", step.name),
                    source,
                },
                CheckError::Invalid { field, message } => CheckError::Invalid {
                    field: format!("steps.{}.{field}", step.name),
                    message,
                },
            })?;
            setups.push(
                self.tls_setup_for(&format!("steps.{}.http.tls.", step.name), &step.http.tls)?,
            );
        }
        Ok(setups)
    }

    pub(crate) async fn flow(
        &self,
        check: &Check,
        f: &FlowCheck,
        tls: &[Option<TlsSetup>],
        trace: &mut Trace,
    ) -> Step<Judgement> {
        let mut vars: HashMap<String, String> = HashMap::new();
        let mut first: Option<(String, Judgement, Option<u16>)> = None;
        let mut lines: Vec<String> = Vec::new();
        for (i, step) in f.steps.iter().enumerate() {
            let failed = first
                .as_ref()
                .is_some_and(|(_, j, _)| j.outcome != Outcome::Degraded);
            if failed && !step.always {
                lines.push(format!("{} not run", step.name));
                continue;
            }
            let lookup = |r: &Reference| match r.source {
                Source::Var => vars.get(&r.name).cloned(),
                _ => self.references.value(r),
            };
            // A cleanup step whose variable an earlier failure never gave has nothing to
            // clean up. Otherwise a value the step cannot use (one that would change its
            // request beyond its place) fails the step: it is what the service answered.
            let prepared = match Prepared::for_http(&step.http, &lookup) {
                Ok(p) => p,
                Err(e @ CheckError::Unset { .. }) if failed => {
                    lines.push(format!("{} not run ({e})", step.name));
                    continue;
                }
                Err(e) => {
                    lines.push(format!("{} not run", step.name));
                    if first
                        .as_ref()
                        .is_none_or(|(_, j, _)| j.outcome == Outcome::Degraded)
                    {
                        first = Some((
                            step.name.clone(),
                            Judgement::down(
                                Reason::Assertion,
                                format!("a value extracted earlier cannot be used: {e}"),
                            ),
                            None,
                        ));
                    }
                    continue;
                }
            };
            trace.secrets.extend(prepared.secrets.iter().cloned());
            trace.step = Some(step.name.clone());
            trace.http_status = None;
            let taken = trace.extracted.len();
            let t = Instant::now();
            let judged = match self
                .http(
                    check,
                    &step.http,
                    Some(&prepared),
                    tls.get(i).and_then(Option::as_ref),
                    trace,
                )
                .await
            {
                Ok(j) | Err(j) => j,
            };
            let ms = ms_since(t);
            for (var, value) in &trace.extracted[taken..] {
                vars.insert(var.clone(), value.clone());
            }
            let status = trace
                .http_status
                .map_or_else(|| "no response".to_string(), |s| s.to_string());
            lines.push(format!(
                "{}{} {status} in {ms:.0} ms",
                if step.always && failed {
                    "cleanup "
                } else {
                    ""
                },
                step.name
            ));
            if judged.outcome != Outcome::Up
                && first
                    .as_ref()
                    .is_none_or(|(_, j, _)| j.outcome == Outcome::Degraded)
            {
                first = Some((step.name.clone(), judged, trace.http_status));
            }
        }
        trace.step = None;
        let timings = lines.join(", ");
        Ok(match first {
            None => Judgement::up(format!("{} steps: {timings}", f.steps.len())),
            Some((name, j, status)) => {
                // The status reported is the failing step's, not the cleanup's.
                trace.http_status = status;
                Judgement {
                    outcome: j.outcome,
                    reason: j.reason,
                    detail: format!("step {name}: {} · {timings}", j.detail),
                }
            }
        })
    }
}
