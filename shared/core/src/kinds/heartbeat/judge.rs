//! The heartbeat's verdict at a moment, from what is kept of its pings. Pure: the same pings,
//! time and endpoint give the same result.

use super::{HeartbeatCheck, PingLog};
use crate::config::Check;
use crate::duration::format_duration;
use crate::result::{Outcome, Phases, ProbeResult, Reason};
use chrono::{DateTime, SecondsFormat, Utc};
use std::time::Duration;

/// The ping endpoint as the judge knows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Endpoint {
    /// It has taken pings without a break since this time (the runner's listener started; the
    /// public endpoint answered each of the judge's calls).
    AvailableSince(DateTime<Utc>),
    /// It is not taking pings now: nothing can be said about any heartbeat.
    Unavailable,
}

/// Where the ping endpoint stood at the judge's last look (on AWS the judge calls the
/// public endpoint each minute; kept between its runs).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EndpointMark {
    /// Taking pings without a break since (`None`: not at the last look).
    pub since: Option<DateTime<Utc>>,
    /// The last look that found it taking pings.
    pub last_ok: Option<DateTime<Utc>>,
}

impl EndpointMark {
    /// Looks more than this far apart leave a gap nobody watched: availability starts again.
    pub const MAX_GAP: Duration = Duration::from_secs(180);

    /// The mark after a look at `now` that found the endpoint taking pings (`ok`) or not, and
    /// what the judge may take for it.
    pub fn look(self, ok: bool, now: DateTime<Utc>) -> (EndpointMark, Endpoint) {
        if !ok {
            return (
                EndpointMark {
                    since: None,
                    last_ok: self.last_ok,
                },
                Endpoint::Unavailable,
            );
        }
        let unbroken = self
            .last_ok
            .is_some_and(|l| l <= now && span(l, now) <= Self::MAX_GAP);
        let since = match self.since {
            Some(s) if unbroken => s,
            _ => now,
        };
        (
            EndpointMark {
                since: Some(since),
                last_ok: Some(now),
            },
            Endpoint::AvailableSince(since),
        )
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}

/// What the heartbeat `check` is at `now`, from its pings `log`, as a result of its region
/// (`region`): down when no success came by the schedule plus grace, or the last run failed;
/// degraded while a run (or after the last one) lasts longer than `max_run`; unknown (a
/// monitoring fault: operators hear, customers do not) when the endpoint is not taking pings,
/// when it was not at some time a ping may have been missed, and before the first ping.
pub fn judge(
    check: &Check,
    h: &HeartbeatCheck,
    log: &PingLog,
    now: DateTime<Utc>,
    endpoint: Endpoint,
    region: &str,
) -> ProbeResult {
    let last_run = log.last_run_ms.map(Duration::from_millis);
    let result = |outcome: Outcome, reason: Reason, detail: String| ProbeResult {
        check: check.id.clone(),
        region: region.to_string(),
        at: now,
        outcome,
        reason,
        detail,
        latency_ms: last_run.map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        phases: Phases::default(),
        http_status: None,
        cert_days_left: None,
    };
    let since = match endpoint {
        Endpoint::Unavailable => {
            return result(
                Outcome::Unknown,
                Reason::CheckError,
                "the ping endpoint is not taking pings: nothing is known of the job".into(),
            )
        }
        Endpoint::AvailableSince(t) => t,
    };
    if let Some((o, r, d)) = failed(log) {
        return result(o, r, d);
    }
    // What the schedule is counted from: the last success, or the start of a run under way
    // when later (a start proves the job was set off; `max_run` judges how long it takes).
    let Some(base) = log.success.max(log.running()) else {
        return result(
            Outcome::Unknown,
            Reason::CheckError,
            format!(
                "no ping yet ({}): the job has not called its ping URL since the check was added",
                h.schedule.describe()
            ),
        );
    };
    let deadline = h.deadline_after(base);
    if let Some((o, r, d)) = late(h, log, base, since, now).or_else(|| too_long(h, log, now)) {
        return result(o, r, d);
    }
    let mut detail = match log.success {
        Some(s) => format!("last success {}", time(s)),
        None => "running, no success yet".to_string(),
    };
    if let Some(took) = last_run {
        detail.push_str(&format!(" (took {})", format_duration(round_s(took))));
    }
    if let Some(start) = log.running() {
        detail.push_str(&format!("; running since {}", time(start)));
    }
    detail.push_str(&format!("; next expected by {}", time(deadline)));
    result(Outcome::Up, Reason::Ok, detail)
}

/// A judgement: the outcome, its reason and what operators read.
type Judged = (Outcome, Reason, String);

/// The last run reported a failure (`/fail`, a non-zero exit status).
fn failed(log: &PingLog) -> Option<Judged> {
    let (at, true) = log.completed()? else {
        return None;
    };
    let f = log.failure.as_ref();
    let body = f
        .filter(|f| !f.body.trim().is_empty())
        .map(|f| {
            // A log kept before bodies were written out on arrival is written out here.
            format!(
                " · it said: {}",
                crate::text::printable_lines(f.body.trim())
            )
        })
        .unwrap_or_default();
    Some((
        Outcome::Down,
        Reason::JobFailed,
        format!(
            "the job reported a failure ({}) at {}{body}",
            f.map_or("fail".into(), |f| f.kind.describe()),
            time(at)
        ),
    ))
}

/// No success by the deadline counted from `base`: late, unless the endpoint was not taking
/// pings (from `since`) when one may have come.
fn late(
    h: &HeartbeatCheck,
    log: &PingLog,
    base: DateTime<Utc>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Judged> {
    let deadline = h.deadline_after(base);
    if now <= deadline {
        return None;
    }
    // Pings may have been lost while the endpoint was not taking them: only a deadline that
    // passed entirely while it was can make the job late.
    if since > base {
        let judged = h.deadline_after(since);
        if now <= judged {
            return Some((
                Outcome::Unknown,
                Reason::CheckError,
                format!(
                    "no ping since {}, expected by {}, but the ping endpoint was not taking pings before {}: one may have been missed; the job is judged again by {}",
                    time(base),
                    time(deadline),
                    time(since),
                    time(judged)
                ),
            ));
        }
    }
    Some((
        Outcome::Down,
        Reason::Late,
        format!(
            "no {} since {}: expected by {} ({}, grace {}); {} late",
            if log.success.is_some() {
                "success"
            } else {
                "success after the start"
            },
            time(base),
            time(h.schedule.next_after(base)),
            h.schedule.describe(),
            format_duration(h.grace),
            format_duration(round_s(span(deadline, now)))
        ),
    ))
}

/// A run under way, or the last one, longer than `max_run`.
fn too_long(h: &HeartbeatCheck, log: &PingLog, now: DateTime<Utc>) -> Option<Judged> {
    let max = h.max_run?;
    if let Some(start) = log.running() {
        let running = span(start, now);
        if running > max {
            return Some((
                Outcome::Degraded,
                Reason::LongRun,
                format!(
                    "running for {} since {}, longer than max_run {}",
                    format_duration(round_s(running)),
                    time(start),
                    format_duration(max)
                ),
            ));
        }
        return None;
    }
    let took = log.last_run_ms.map(Duration::from_millis)?;
    (took > max).then(|| {
        (
            Outcome::Degraded,
            Reason::LongRun,
            format!(
                "the last run took {}, longer than max_run {}",
                format_duration(round_s(took)),
                format_duration(max)
            ),
        )
    })
}

/// Whole seconds (at least one): what operators read.
fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().max(1))
}
