//! What every paging and chat channel shares: its secrets (resolved by the shell, scrubbed
//! from everything it reports), and one call to the vendor's API through the probe engine's
//! guarded client: a deadline per attempt, retries with backoff on 429, 408 and 5xx that
//! honour `Retry-After` (a wait longer than the channel may spend holds the channel off until
//! then, across rounds), and an answer that will never succeed (another 4xx, an address the
//! guard refuses) given up at once.

use crate::ChannelError;
use atalaya_probe::{Answer, Engine, Outbound, OutboundError, Scrubber};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a channel calls its vendor.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Attempts per send (the first and its retries).
    pub attempts: u32,
    /// The deadline of one attempt.
    pub timeout: Duration,
    /// The first wait between attempts (doubled each time) when the vendor does not say.
    pub backoff: Duration,
    /// The longest a send waits between attempts; a longer `Retry-After` holds the channel.
    pub max_wait: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 3,
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(20),
        }
    }
}

/// A vendor's API as one channel calls it.
pub struct Vendor {
    engine: Arc<Engine>,
    policy: Policy,
    scrubber: Scrubber,
    /// Not before this instant (a `Retry-After` longer than a send may wait).
    hold: Mutex<Option<Instant>>,
    /// The last answer: status and the start of its body.
    last: Mutex<Option<String>>,
}

/// A request: the method, where, extra headers, a JSON body.
pub struct Call {
    pub method: Method,
    pub url: url::Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub json: serde_json::Value,
}

impl Vendor {
    /// `secrets`: the values the channel was configured with (keys, tokens, webhook URLs).
    pub fn new(engine: Arc<Engine>, policy: Policy, secrets: &[String]) -> Self {
        let mut all = secrets.to_vec();
        // A URL's path or token may show up encoded in an answer or an error.
        all.extend(
            secrets
                .iter()
                .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()),
        );
        Vendor {
            engine,
            policy,
            scrubber: Scrubber::new(&all),
            hold: Mutex::new(None),
            last: Mutex::new(None),
        }
    }

    /// The last answer (status and the start of its body), secrets removed.
    pub fn answered(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Text with the channel's secrets removed.
    pub fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(text)
    }

    /// Calls the API: the 2xx answer, or why not (`retryable` says whether a later round may
    /// succeed). `channel`/`id` name the send in errors.
    pub async fn call(&self, channel: &str, id: &str, call: &Call) -> Result<Answer, ChannelError> {
        let fail = |retryable: bool, detail: String| ChannelError {
            channel: channel.to_string(),
            id: id.to_string(),
            retryable,
            detail: self.scrub(&detail),
        };
        if let Some(until) = *self.hold.lock().unwrap_or_else(|p| p.into_inner()) {
            let now = Instant::now();
            if until > now {
                return Err(fail(
                    true,
                    format!(
                        "the vendor asked to wait: holding off for {} s more",
                        (until - now).as_secs() + 1
                    ),
                ));
            }
        }
        let body = Bytes::from(serde_json::to_vec(&call.json).unwrap_or_default());
        let mut headers = vec![(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )];
        headers.extend(call.headers.iter().cloned());
        let request = Outbound {
            method: call.method.clone(),
            url: call.url.clone(),
            headers,
            body,
        };
        let mut wait = self.policy.backoff;
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts.max(1) {
            let got = self.engine.send(request.clone(), self.policy.timeout).await;
            if let Ok(a) = &got {
                *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(self.scrub(&format!("{} {}", a.status, excerpt(&a.body))));
            }
            let asked = match got {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a),
                Ok(a) if a.status == 429 || a.status == 408 || a.status >= 500 => {
                    last = format!("status {}: {}", a.status, excerpt(&a.body));
                    retry_after(&a)
                }
                Ok(a) => return Err(fail(false, format!("status {}: {}", a.status, excerpt(&a.body)))),
                Err(OutboundError::Refused(why)) => return Err(fail(false, format!("refused by the network guard ({why}); allow the address in settings.allow_networks if it is meant"))),
                Err(OutboundError::Failed(why)) => {
                    last = why;
                    None
                }
            };
            if attempt == self.policy.attempts {
                break;
            }
            let pause = asked.unwrap_or(wait);
            if pause > self.policy.max_wait {
                *self.hold.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + pause);
                return Err(fail(
                    true,
                    format!("{last}; the vendor asked to wait {} s", pause.as_secs()),
                ));
            }
            tokio::time::sleep(pause).await;
            wait = (wait * 2).min(self.policy.max_wait);
        }
        Err(fail(
            true,
            format!("{last} (after {} attempts)", self.policy.attempts),
        ))
    }
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(a: &Answer) -> Option<Duration> {
    let v = a
        .headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .num_seconds()
        .max(0);
    Some(Duration::from_secs(secs as u64))
}

/// The start of an answer, for an error: one line, at most 300 characters.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    atalaya_core::text::shorten(&line, 300)
}

/// A header value from a secret: marked sensitive (never printed by the HTTP library).
pub fn secret_header(value: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| "the value has characters a header cannot carry".to_string())?;
    v.set_sensitive(true);
    Ok(v)
}

/// `text` cut to at most `max` characters (an ellipsis at the end when cut).
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
