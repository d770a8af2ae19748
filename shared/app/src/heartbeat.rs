//! Heartbeats where their pings arrive (the local runner's `--listen`, the ping function): a
//! ping is matched to its check by token, rate-limited per token, kept in the check's ping log
//! and judged at once; every heartbeat is judged again on a schedule (each second to minute
//! locally, each minute on AWS) so that a ping that never comes is noticed. What either gives
//! is an ordinary result, stored and evaluated like a probe's.

use atalaya_core::email::Key;
use atalaya_core::kinds::heartbeat::{
    derived_token, judge, parse_path, Endpoint, HeartbeatCheck, Ping, PingLog,
};
use atalaya_core::kinds::CheckKind;
use atalaya_core::{Check, Config, EnvTemplate, Outcome, ProbeResult, Reason};
use atalaya_store::{PingLogs, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The shortest token accepted from a reference.
pub const MIN_TOKEN: usize = 16;

/// How often a ping's write is tried again when another ping of the same check got there
/// first.
const ATTEMPTS: usize = 8;

/// The heartbeats of a file and their tokens.
pub struct Tokens {
    by_token: HashMap<String, String>,
    /// Checks whose token could not be had, with why (a monitoring fault: never "late").
    problems: HashMap<String, String>,
}

/// A heartbeat's token: its reference's value (`resolved`: what reading it gave), else derived
/// from `key`.
pub fn token_of(
    check: &Check,
    h: &HeartbeatCheck,
    key: Option<&Key>,
    resolved: Option<&Result<String, String>>,
) -> Result<String, String> {
    match (&h.token, resolved) {
        (Some(_), Some(Ok(value))) => {
            if value.len() < MIN_TOKEN {
                return Err(format!(
                    "heartbeat.token: the token has {} characters; it needs at least {MIN_TOKEN} to be unguessable",
                    value.len()
                ));
            }
            if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
                return Err("heartbeat.token: the token must be printable ASCII without '/' (it goes in a URL path)".into());
            }
            Ok(value.clone())
        }
        (Some(_), Some(Err(e))) => Err(format!("heartbeat.token: {e}")),
        (Some(_), None) => Err("heartbeat.token: its reference was not read".into()),
        (None, _) => key
            .map(|k| derived_token(k, &check.id))
            .ok_or_else(|| "no token: settings.heartbeats.key could not be read".to_string()),
    }
}

/// The token references to read: each heartbeat's with one, by check id.
pub fn token_references(config: &Config) -> Vec<(String, EnvTemplate)> {
    heartbeats(config)
        .filter_map(|(c, h)| h.token.clone().map(|t| (c.id.clone(), t)))
        .collect()
}

/// Every heartbeat's token, the `${ssm:…}`/`${secret:…}` references of the tokens (and of
/// `settings.heartbeats.key` when `key` is not given) read in one go, `${env:…}` from the
/// environment. A reference that cannot be read is its checks' monitoring fault (the judge says
/// it each time), never a failure of the shell. `key`: the key to derive with when the shell
/// has it already (the local runner's, from the file's reference or its key file).
pub async fn read_tokens(config: &Config, sdk: &aws_config::SdkConfig, key: Option<Key>) -> Tokens {
    use atalaya_core::Source;
    let mut templates = token_references(config);
    let read_key = key.is_none() && heartbeats(config).any(|(_, h)| h.token.is_none());
    if let Some(k) = config.settings.heartbeats.key.as_ref().filter(|_| read_key) {
        templates.push((String::new(), k.clone()));
    }
    let remote = templates
        .iter()
        .flat_map(|(_, t)| t.references().filter(|r| r.source.is_remote()).cloned())
        .collect();
    let read = atalaya_aws::references::read(&remote, sdk).await;
    let lookup = |r: &atalaya_core::Reference| match r.source {
        Source::Env => std::env::var(&r.name).ok(),
        _ => read.values.get(r).cloned(),
    };
    let mut resolved = HashMap::new();
    let mut key = key;
    for (check, t) in &templates {
        let failed = read
            .failed
            .iter()
            .find(|(r, _)| t.references().any(|x| x == r));
        let value = match failed {
            Some((r, why)) => Err(format!("{r} could not be read ({why})")),
            None => t
                .resolve(lookup)
                .map(|v| v.value)
                .map_err(|e| e.to_string()),
        };
        if check.is_empty() {
            match value.and_then(|v| Key::from_text(&v)) {
                Ok(k) => key = Some(k),
                Err(e) => {
                    tracing::error!(error = %e, "settings.heartbeats.key could not be read: derived tokens are unknown")
                }
            }
        } else {
            resolved.insert(check.clone(), value);
        }
    }
    Tokens::new(config, key.as_ref(), &resolved)
}

/// [`read_tokens`] within `deadline`: when AWS does not answer in time, every token to read is
/// a monitoring fault of its check (said as such) until the next read.
pub async fn read_tokens_within(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    deadline: std::time::Duration,
) -> Tokens {
    match tokio::time::timeout(deadline, read_tokens(config, sdk, None)).await {
        Ok(tokens) => tokens,
        Err(_) => {
            let why = format!(
                "the token could not be read within {} s",
                deadline.as_secs()
            );
            tracing::error!(%why, "heartbeat tokens: the heartbeats are unknown until they can be read");
            let resolved = token_references(config)
                .into_iter()
                .map(|(check, _)| (check, Err(why.clone())))
                .collect();
            Tokens::new(config, None, &resolved)
        }
    }
}

/// The heartbeat checks of `config`.
pub fn heartbeats(config: &Config) -> impl Iterator<Item = (&Check, &HeartbeatCheck)> {
    config.checks.iter().filter_map(|c| match &c.kind {
        CheckKind::Heartbeat(h) => Some((c, h)),
        _ => None,
    })
}

impl Tokens {
    /// Whether every heartbeat has its token (else a read is worth trying again soon).
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }

    /// `resolved`: the value of each heartbeat's `token` reference (by check id), or why it
    /// could not be read.
    pub fn new(
        config: &Config,
        key: Option<&Key>,
        resolved: &HashMap<String, Result<String, String>>,
    ) -> Tokens {
        let mut t = Tokens {
            by_token: HashMap::new(),
            problems: HashMap::new(),
        };
        for (c, h) in heartbeats(config) {
            match token_of(c, h, key, resolved.get(&c.id)) {
                Ok(token) => {
                    if let Some(other) = t.by_token.insert(token, c.id.clone()) {
                        t.problems.insert(
                            c.id.clone(),
                            format!("heartbeat.token: the same token as check {other}"),
                        );
                        t.problems.insert(
                            other.clone(),
                            format!("heartbeat.token: the same token as check {}", c.id),
                        );
                    }
                }
                Err(e) => {
                    t.problems.insert(c.id.clone(), e);
                }
            }
        }
        let problems = &t.problems;
        t.by_token.retain(|_, c| !problems.contains_key(c));
        t
    }

    /// The check a token pings.
    pub fn check(&self, token: &str) -> Option<&str> {
        self.by_token.get(token).map(String::as_str)
    }

    /// Why a check's token could not be had.
    pub fn problem(&self, check: &str) -> Option<&str> {
        self.problems.get(check).map(String::as_str)
    }
}

/// What the endpoint answers a ping.
#[derive(Debug)]
pub struct Received {
    pub status: u16,
    /// A line for the job's log: `OK`, or what was wrong.
    pub message: String,
    /// For a 429: seconds to wait.
    pub retry_after: Option<u64>,
    /// The heartbeat judged at the ping, with its body (for operators): to store and evaluate.
    pub result: Option<ProbeResult>,
}

impl Received {
    fn answer(status: u16, message: &str) -> Received {
        Received {
            status,
            message: message.to_string(),
            retry_after: None,
            result: None,
        }
    }
}

/// Takes the ping at `path` (`/ping/<token>[/start|/fail|/<code>]`) with `body` at `now`.
pub async fn receive<S: PingLogs>(
    store: &S,
    config: &Config,
    tokens: &Tokens,
    path: &str,
    body: &[u8],
    now: DateTime<Utc>,
    endpoint: Endpoint,
) -> Result<Received, StoreError> {
    let Some((token, kind)) = parse_path(path) else {
        return Ok(Received::answer(
            404,
            "not a ping URL: /ping/<token>, /ping/<token>/start, /ping/<token>/fail or /ping/<token>/<exit status 0-255>",
        ));
    };
    // An unknown token and a check without one answer alike: a token is never confirmed.
    let Some((check, h)) = tokens
        .check(token)
        .and_then(|id| config.check(id))
        .and_then(|c| match &c.kind {
            CheckKind::Heartbeat(h) => Some((c, h)),
            _ => None,
        })
    else {
        return Ok(Received::answer(404, "no heartbeat has this token"));
    };
    let ping = Ping::new(kind, now, body);
    let mut attempt = 0;
    let log = loop {
        attempt += 1;
        let (mut log, version) = store.ping_log(&check.id).await?;
        if let Err(refused) = log.bucket.take(now) {
            return Ok(Received {
                status: 429,
                message: format!(
                    "too many pings for this heartbeat: try again in {} s",
                    refused.retry_after_s
                ),
                retry_after: Some(refused.retry_after_s),
                result: None,
            });
        }
        log.record(&ping);
        match store.put_ping_log(&check.id, &log, version).await {
            Ok(()) => break log,
            Err(StoreError::Conflict { .. }) if attempt < ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    };
    let mut result = judge(check, h, &log, now, endpoint, region_of(check));
    let body = ping.body.replace(token, "***");
    if !body.trim().is_empty() {
        let head = result
            .detail
            .split(" · it said: ")
            .next()
            .unwrap_or_default()
            .to_string();
        result.detail = format!(
            "{head} · the {} ping said: {}",
            kind.describe(),
            body.trim()
        );
    }
    Ok(Received {
        status: 200,
        message: "OK".into(),
        retry_after: None,
        result: Some(result),
    })
}

/// Where a heartbeat's results are from: its one region.
fn region_of(check: &Check) -> &str {
    check
        .regions
        .first()
        .map_or(atalaya_core::kinds::heartbeat::REGION, String::as_str)
}

/// Each of `checks` (heartbeats; others are left out) judged at `now`.
pub async fn judge_all<'c, S: PingLogs>(
    store: &S,
    checks: impl IntoIterator<Item = &'c Check>,
    tokens: &Tokens,
    now: DateTime<Utc>,
    endpoint: Endpoint,
) -> Result<Vec<ProbeResult>, StoreError> {
    let checks: Vec<(&Check, &HeartbeatCheck)> = checks
        .into_iter()
        .filter_map(|c| match &c.kind {
            CheckKind::Heartbeat(h) => Some((c, h)),
            _ => None,
        })
        .collect();
    if checks.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = checks.iter().map(|(c, _)| c.id.clone()).collect();
    let logs = store.ping_logs(&ids).await?;
    let empty = PingLog::default();
    Ok(checks
        .into_iter()
        .map(|(c, h)| match tokens.problem(&c.id) {
            Some(problem) => ProbeResult {
                check: c.id.clone(),
                region: region_of(c).to_string(),
                at: now,
                outcome: Outcome::Unknown,
                reason: Reason::CheckError,
                detail: format!("{problem}: no ping can reach this heartbeat"),
                latency_ms: 0.0,
                phases: Default::default(),
                http_status: None,
                cert_days_left: None,
            },
            None => judge(
                c,
                h,
                logs.get(&c.id).unwrap_or(&empty),
                now,
                endpoint,
                region_of(c),
            ),
        })
        .collect())
}

/// A heartbeat's ping URL under `base` (`https://…`, without a trailing `/`).
pub fn url(base: &str, token: &str) -> String {
    format!("{}/ping/{token}", base.trim_end_matches('/'))
}
