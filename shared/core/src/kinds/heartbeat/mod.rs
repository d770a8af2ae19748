//! Heartbeat checks: the job calls us. A nightly backup or a queue worker pings its URL
//! (`/ping/<token>`, `/start`, `/fail`, `/<exit code>`); the check is down when no success came
//! within its schedule and grace, or the job said it failed, and degraded when a run takes longer
//! than `max_run`. Nothing is probed: the judge ([`judge`]) turns the pings kept so far into a
//! result, where the pings are received (the local runner with `--listen`, the ping function on
//! AWS), once a minute and at each ping, and those results feed the engine like any other.

mod judge;
mod ping;

pub use judge::{judge, Endpoint, EndpointMark};
pub use ping::{parse_path, Bucket, Ping, PingKind, PingLog, Refused, MAX_BODY};

use crate::at::At;
use crate::duration::format_duration;
use crate::fields::{Ctx, Target};
use crate::template::EnvTemplate;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use std::time::Duration;

pub const NAME: &str = "heartbeat";
/// A heartbeat owns no field of `expect`: its schedule is its expectation.
pub const EXPECT: &[&str] = &[];
/// On AWS, where heartbeat results come from: the ping function in the home region, which the
/// engine watches like a region (silent when its judge stops).
pub const REGION: &str = "heartbeats";
/// How late a ping may be, unless `grace` says: an hour, or the period when that is shorter.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3_600);
pub const MAX_EVERY: Duration = Duration::from_secs(35 * 86_400);
pub const MAX_GRACE: Duration = Duration::from_secs(7 * 86_400);
pub const MAX_RUN: Duration = Duration::from_secs(7 * 86_400);
/// The shortest period: on Lambda the judge runs once a minute; the local runner judges every
/// second.
pub const MIN_EVERY_LAMBDA: Duration = Duration::from_secs(60);
pub const MIN_EVERY_LOCAL: Duration = Duration::from_secs(2);

/// A heartbeat: when the job runs and how much slack it gets.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Heartbeat")]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeat {
    /// How often the job runs: a success is expected at most this long after the last one
    /// (`1d`, `6h`, `15m`). Give `every` or `cron`.
    pub every: Option<At<String>>,
    /// When the job runs: five cron fields (`0 3 * * *`: at 03:00), in `timezone`. A success is
    /// expected by the first time after the last one.
    pub cron: Option<At<String>>,
    /// The cron schedule's time zone, an IANA name (`Europe/Madrid`; default UTC).
    pub timezone: Option<At<String>>,
    /// How late a success may come before the job counts as down (default 1h, or `every` if
    /// shorter).
    pub grace: Option<At<String>>,
    /// A run longer than this, from its `/start` ping, is degraded (`2h`).
    pub max_run: Option<At<String>>,
    /// The ping URL's token, as a reference (`${ssm:/atalaya/heartbeat/backup}`,
    /// `${secret:…}`, `${env:…}`): at least 16 characters. Without it the token is derived from
    /// `settings.heartbeats.key` and the check id (`atalaya heartbeat url CHECK` prints it).
    pub token: Option<At<String>>,
}

/// When a job is expected to ping.
#[derive(Clone, Debug)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<CronSchedule>),
}

#[derive(Clone, Debug)]
pub struct CronSchedule {
    /// As written.
    pub text: String,
    cron: croner::Cron,
    pub timezone: chrono_tz::Tz,
}

impl Schedule {
    /// The time the job should next ping by (before grace), after a ping at `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Every(d) => crate::evaluate::after(t, *d),
            Schedule::Cron(c) => c
                .cron
                .find_next_occurrence(&t.with_timezone(&c.timezone), false)
                .map(|n| n.with_timezone(&Utc))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// How the schedule reads to operators: `every 1d`, `cron "0 3 * * *" (Europe/Madrid)`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", format_duration(*d)),
            Schedule::Cron(c) => format!("cron \"{}\" ({})", c.text, c.timezone.name()),
        }
    }

    /// The shortest time between two runs, near `from` (for a cron schedule: over its next
    /// few runs).
    fn shortest_gap(&self, from: DateTime<Utc>) -> Duration {
        match self {
            Schedule::Every(d) => *d,
            Schedule::Cron(_) => {
                let mut t = self.next_after(from);
                let mut gap = Duration::MAX;
                for _ in 0..8 {
                    let n = self.next_after(t);
                    gap = gap.min((n - t).to_std().unwrap_or(Duration::MAX));
                    t = n;
                }
                gap
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct HeartbeatCheck {
    pub schedule: Schedule,
    pub grace: Duration,
    pub max_run: Option<Duration>,
    /// The token as a reference; `None`: derived from `settings.heartbeats.key`.
    pub token: Option<EnvTemplate>,
}

impl HeartbeatCheck {
    /// When a job that pinged at `t` is late: its next run plus grace.
    pub fn deadline_after(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        crate::evaluate::after(self.schedule.next_after(t), self.grace)
    }

    /// How often its result is judged (the check's interval): once a minute on Lambda (the
    /// judge's schedule); locally a tenth of the period, from a second to a minute.
    pub fn judge_every(&self, target: Target) -> Duration {
        match target {
            Target::Lambda => Duration::from_secs(60),
            Target::Local => {
                let gap = self
                    .schedule
                    .shortest_gap(DateTime::<Utc>::UNIX_EPOCH)
                    .min(self.grace * 10);
                Duration::from_secs((gap.as_secs() / 10).clamp(1, 60))
            }
        }
    }

    pub fn templates(&self) -> Vec<(String, &EnvTemplate)> {
        self.token
            .iter()
            .map(|t| ("heartbeat.token".to_string(), t))
            .collect()
    }
}

/// The token of heartbeat `check` when it has none of its own: derived from
/// `settings.heartbeats.key` (or the local runner's key file).
pub fn derived_token(key: &crate::email::Key, check: &str) -> String {
    key.derive(&format!("heartbeat.{check}"))
}

/// The schedule: `every`, or `cron` in `timezone` (each mistake said).
fn schedule(h: &RawHeartbeat, pos: crate::at::Pos, cx: &mut Ctx) -> Option<Schedule> {
    let dur = |cx: &mut Ctx, v: &At<String>, field: &str, max: Duration| {
        crate::fields::duration(cx.errs, v, &cx.subject, field, max)
    };
    let timezone = match &h.timezone {
        None => chrono_tz::UTC,
        Some(t) => match t.value.parse::<chrono_tz::Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                cx.push(
                    t.pos,
                    "heartbeat.timezone",
                    format!(
                        "{:?} is not an IANA time zone (such as Europe/Madrid or UTC)",
                        t.value
                    ),
                );
                return None;
            }
        },
    };
    let schedule = match (&h.every, &h.cron) {
        (Some(_), Some(c)) => {
            cx.push(
                c.pos,
                "heartbeat.cron",
                "give every or cron, not both: one schedule per job",
            );
            return None;
        }
        (None, None) => {
            cx.push(
                pos,
                "heartbeat",
                "no schedule: add every (`every: 1d`) or cron (`cron: \"0 3 * * *\"`)",
            );
            return None;
        }
        (Some(e), None) => {
            if let Some(t) = &h.timezone {
                cx.push(
                    t.pos,
                    "heartbeat.timezone",
                    "a time zone applies to a cron schedule only",
                );
            }
            Schedule::Every(dur(cx, e, "heartbeat.every", MAX_EVERY)?)
        }
        (None, Some(c)) => {
            let parser = croner::parser::CronParser::builder()
                .seconds(croner::parser::Seconds::Disallowed)
                .year(croner::parser::Year::Disallowed)
                .build();
            match parser.parse(c.value.trim()) {
                Ok(cron) => Schedule::Cron(Box::new(CronSchedule {
                    text: c.value.trim().to_string(),
                    cron,
                    timezone,
                })),
                Err(e) => {
                    cx.push(
                        c.pos,
                        "heartbeat.cron",
                        format!(
                            "{:?} is not a cron schedule of five fields (minute hour day month weekday, such as \"0 3 * * *\"): {e}",
                            c.value
                        ),
                    );
                    return None;
                }
            }
        }
    };
    Some(schedule)
}

pub(crate) fn validate(h: &At<RawHeartbeat>, cx: &mut Ctx) -> Option<HeartbeatCheck> {
    let (pos, h) = (h.pos, &h.value);
    let dur = |cx: &mut Ctx, v: &At<String>, field: &str, max: Duration| {
        crate::fields::duration(cx.errs, v, &cx.subject, field, max)
    };
    let schedule = schedule(h, pos, cx)?;
    let start = "2026-01-01T00:00:00Z".parse().unwrap_or_default();
    if schedule.next_after(start) == DateTime::<Utc>::MAX_UTC {
        cx.push(
            h.cron.as_ref().map_or(pos, |c| c.pos),
            "heartbeat.cron",
            "this schedule never fires",
        );
        return None;
    }
    let gap = schedule.shortest_gap(start);
    let least = match cx.target {
        Target::Lambda => MIN_EVERY_LAMBDA,
        Target::Local => MIN_EVERY_LOCAL,
    };
    if gap < least {
        cx.push(
            h.every.as_ref().or(h.cron.as_ref()).map_or(pos, |v| v.pos),
            "heartbeat",
            format!(
                "runs {} apart: at least {} on {} (the judge looks once {})",
                format_duration(gap),
                format_duration(least),
                match cx.target {
                    Target::Lambda => "Lambda",
                    Target::Local => "the local runner",
                },
                match cx.target {
                    Target::Lambda => "a minute",
                    Target::Local => "a second",
                }
            ),
        );
    }
    // Each field's problem is said; a field in error takes its default meanwhile.
    let grace = h
        .grace
        .as_ref()
        .and_then(|g| dur(cx, g, "heartbeat.grace", MAX_GRACE))
        .unwrap_or(DEFAULT_GRACE.min(gap));
    let max_run = h
        .max_run
        .as_ref()
        .and_then(|m| dur(cx, m, "heartbeat.max_run", MAX_RUN));
    let token = match &h.token {
        None => None,
        Some(t) => {
            let template = crate::fields::template(cx, t, "heartbeat.token")?;
            if !template.has_references() {
                cx.push(
                    t.pos,
                    "heartbeat.token",
                    "must be a reference such as ${ssm:/atalaya/heartbeat/backup}: a token written in the checks file is no secret",
                );
                return None;
            }
            Some(template)
        }
    };
    Some(HeartbeatCheck {
        schedule,
        grace,
        max_run,
        token,
    })
}

#[cfg(test)]
mod tests;
