//! Pings as they arrive: what a ping URL says, and what is kept of a heartbeat's pings (the
//! latest of each kind, and its rate limit) between them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most of a ping's body kept (for operators only): 10 KB.
pub const MAX_BODY: usize = 10 * 1024;
/// How much of the last failure's body the minute's judgement repeats.
const BODY_EXCERPT: usize = 300;

/// What a ping says about the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PingKind {
    /// `/ping/<token>`: the job ran and succeeded.
    Success,
    /// `/ping/<token>/start`: a run began (its length is measured from here).
    Start,
    /// `/ping/<token>/fail`: the job failed.
    Fail,
    /// `/ping/<token>/<code>`: the job ended with this exit status (0 succeeded).
    Exit(u8),
}

impl PingKind {
    /// Did the run end badly?
    pub fn failed(self) -> bool {
        matches!(self, PingKind::Fail | PingKind::Exit(1..))
    }

    /// Does it end a run?
    pub fn completes(self) -> bool {
        self != PingKind::Start
    }

    pub fn describe(self) -> String {
        match self {
            PingKind::Success => "success".into(),
            PingKind::Start => "start".into(),
            PingKind::Fail => "fail".into(),
            PingKind::Exit(c) => format!("exit status {c}"),
        }
    }
}

/// A ping's path: `/ping/<token>` and its suffix. `None`: not a ping URL (or an exit status
/// outside 0–255).
pub fn parse_path(path: &str) -> Option<(&str, PingKind)> {
    let rest = path.strip_prefix("/ping/")?.trim_end_matches('/');
    let (token, suffix) = match rest.split_once('/') {
        Some((t, s)) => (t, Some(s)),
        None => (rest, None),
    };
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
        return None;
    }
    let kind = match suffix {
        None => PingKind::Success,
        Some("start") => PingKind::Start,
        Some("fail") => PingKind::Fail,
        Some(code)
            if !code.is_empty() && code.len() <= 3 && code.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let code: u16 = code.parse().ok()?;
            PingKind::Exit(u8::try_from(code).ok()?)
        }
        Some(_) => return None,
    };
    Some((token, kind))
}

/// One ping.
#[derive(Clone, Debug, PartialEq)]
pub struct Ping {
    pub kind: PingKind,
    pub at: DateTime<Utc>,
    /// What the job sent (at most [`MAX_BODY`]; cut on a character boundary), for operators.
    pub body: String,
}

impl Ping {
    /// The body is kept as operators will read it: its lines, with every control, bidirectional
    /// and invisible character written out (`crate::text::printable_lines`), at most
    /// [`MAX_BODY`] bytes.
    pub fn new(kind: PingKind, at: DateTime<Utc>, body: &[u8]) -> Ping {
        let mut raw = String::from_utf8_lossy(&body[..body.len().min(MAX_BODY)]).into_owned();
        // A multi-byte character cut at the limit became U+FFFD: drop it.
        if raw.ends_with('\u{fffd}') && raw.len() >= MAX_BODY {
            raw.pop();
        }
        let mut body = crate::text::printable_lines(&raw);
        if body.len() > MAX_BODY {
            let mut end = MAX_BODY;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body.truncate(end);
        }
        Ping { kind, at, body }
    }
}

/// A failed run as kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failed {
    pub at: DateTime<Utc>,
    pub kind: PingKind,
    /// The start of the body the job sent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// What is kept of a heartbeat's pings: small, rewritten at each ping.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PingLog {
    /// The latest success (`/ping/<token>` or exit status 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<DateTime<Utc>>,
    /// The latest failure (`/fail` or a non-zero exit status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failed>,
    /// The latest `/start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// How long the latest completed run took, from its `/start`, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_ms: Option<u64>,
    /// Pings allowed from now: the token's rate limit.
    #[serde(default)]
    pub bucket: Bucket,
}

impl PingLog {
    /// The latest ping that ended a run, and whether it failed.
    pub fn completed(&self) -> Option<(DateTime<Utc>, bool)> {
        match (self.success, &self.failure) {
            (Some(s), Some(f)) if f.at > s => Some((f.at, true)),
            (Some(s), _) => Some((s, false)),
            (None, Some(f)) => Some((f.at, true)),
            (None, None) => None,
        }
    }

    /// A run began and has not ended.
    pub fn running(&self) -> Option<DateTime<Utc>> {
        let start = self.start?;
        match self.completed() {
            Some((at, _)) if at >= start => None,
            _ => Some(start),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.success.is_none() && self.failure.is_none() && self.start.is_none()
    }

    /// Takes a ping in: an older ping than what is kept changes nothing of it.
    pub fn record(&mut self, ping: &Ping) {
        if ping.kind.completes() {
            if let Some(start) = self.running() {
                if ping.at >= start {
                    self.last_run_ms = u64::try_from((ping.at - start).num_milliseconds()).ok();
                }
            }
        }
        match ping.kind {
            PingKind::Start => {
                if self.start.is_none_or(|s| ping.at > s) {
                    self.start = Some(ping.at);
                }
            }
            k if k.failed() => {
                if self.failure.as_ref().is_none_or(|f| ping.at > f.at) {
                    let mut body: String = ping.body.chars().take(BODY_EXCERPT).collect();
                    if body.len() < ping.body.len() {
                        body.push('…');
                    }
                    self.failure = Some(Failed {
                        at: ping.at,
                        kind: k,
                        body,
                    });
                }
            }
            _ => {
                if self.success.is_none_or(|s| ping.at > s) {
                    self.success = Some(ping.at);
                }
            }
        }
    }
}

/// A token's rate limit: a bucket of [`Bucket::SIZE`] pings, one more every
/// [`Bucket::REFILL_S`] seconds. Enough for a job every few seconds, or a burst of a few jobs
/// sharing a token; a loop gone wrong is refused.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Pings allowed at `at`.
    pub tokens: f64,
    pub at: Option<DateTime<Utc>>,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            tokens: Bucket::SIZE,
            at: None,
        }
    }
}

/// A ping refused by the rate limit: try again after this many seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Refused {
    pub retry_after_s: u64,
}

impl Bucket {
    pub const SIZE: f64 = 10.0;
    pub const REFILL_S: f64 = 6.0;

    /// Takes one ping at `now`, if the bucket holds one.
    pub fn take(&mut self, now: DateTime<Utc>) -> Result<(), Refused> {
        let elapsed = self.at.map_or(0.0, |at| {
            (now - at).num_milliseconds().max(0) as f64 / 1000.0
        });
        let tokens = (self.tokens + elapsed / Self::REFILL_S).min(Self::SIZE);
        if tokens < 1.0 {
            return Err(Refused {
                retry_after_s: ((1.0 - tokens) * Self::REFILL_S).ceil() as u64,
            });
        }
        self.tokens = tokens - 1.0;
        self.at = Some(now.max(self.at.unwrap_or(now)));
        Ok(())
    }
}
