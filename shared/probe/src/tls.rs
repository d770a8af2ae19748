//! TLS probes: handshake, chain and hostname verification, days until the first certificate of
//! the chain expires.

use crate::{Engine, Judgement, Step, Trace};
use atalaya_core::duration::format_duration;
use atalaya_core::{Check, Outcome, Reason, TlsCheck};

impl Engine {
    pub(crate) async fn tls(
        &self,
        check: &Check,
        t: &TlsCheck,
        setup: Option<&crate::tls_client::TlsSetup>,
        trace: &mut Trace,
    ) -> Step<Judgement> {
        let stream = self.connect_host(&t.host, t.port, trace).await?;
        let _tls = self
            .handshake(stream, &t.server_name, true, &[], setup, trace)
            .await?;
        let detail = match (trace.cert_days_left, &trace.cert_first_to_expire) {
            (Some(d), Some(first)) => format!(
                "certificate chain for {} valid for {d} more day(s): {first} expires first",
                t.server_name
            ),
            (Some(d), None) => format!(
                "certificate for {} valid for {d} more day(s)",
                t.server_name
            ),
            (None, _) => format!("certificate for {} verified", t.server_name),
        };
        Ok(cert_threshold(check, trace, Judgement::up(detail)))
    }
}

/// Degrades a passing probe whose certificate expires within `expect.cert_valid_for`.
pub(crate) fn cert_threshold(check: &Check, trace: &Trace, judged: Judgement) -> Judgement {
    let (Some(threshold), Some(days)) = (check.expect.cert_valid_for, trace.cert_days_left) else {
        return judged;
    };
    if judged.outcome == Outcome::Up && (days as f64) * 86_400.0 < threshold.as_secs_f64() {
        return Judgement {
            outcome: Outcome::Degraded,
            reason: Reason::Assertion,
            detail: match &trace.cert_first_to_expire {
                Some(first) => format!(
                    "certificate chain expires in {days} day(s) ({first}), under the {} threshold",
                    format_duration(threshold)
                ),
                None => format!(
                    "certificate expires in {days} day(s), under the {} threshold",
                    format_duration(threshold)
                ),
            },
        };
    }
    judged
}
