//! Fake paging and chat vendors on 127.0.0.1, in one server: PagerDuty (`/pagerduty/v2/enqueue`),
//! Opsgenie (`/opsgenie/v2/alerts…`), Slack's Web API (`/slack/api/chat.postMessage`,
//! `chat.update`) and an incoming webhook (`/slack/hook`), a Teams workflow (`/teams/hook`) and
//! a team's own webhook (`/webhook/hook`). Every payload is checked against the vendor's
//! published rules (`schemas`); what breaks them is answered as the vendor would (400) and
//! kept in [`Vendors::problems`]. Faults are scripted per vendor: 429 with `Retry-After`, 500,
//! a hang, a 400. PagerDuty's incidents and Slack's messages and threads are modelled, so a
//! test can ask how many incidents an event made and what a thread holds.

pub mod schemas;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A scripted fault, taken by the vendor's next request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 with `Retry-After: n`.
    TooMany(u64),
    ServerError,
    /// Never answers.
    Hang,
    BadRequest,
}

/// One request a vendor took (answered 2xx), in order.
#[derive(Clone, Debug)]
pub struct Taken {
    pub vendor: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// A Slack message as the fake keeps it.
#[derive(Clone, Debug)]
pub struct SlackMessage {
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub blocks: Value,
    pub edits: u32,
}

/// A PagerDuty incident as the fake keeps it: its status and every action it took.
#[derive(Clone, Debug, Default)]
pub struct PdIncident {
    pub status: String,
    pub actions: Vec<String>,
}

#[derive(Default)]
struct State {
    faults: HashMap<String, VecDeque<Fault>>,
    taken: Vec<Taken>,
    problems: Vec<String>,
    requests: HashMap<String, usize>,
    pd: BTreeMap<String, PdIncident>,
    pd_created: usize,
    slack: Vec<SlackMessage>,
}

pub struct Vendors {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

/// The webhook secret the fake verifies signatures with.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A PagerDuty routing key (32 characters, as PagerDuty's are).
pub const PD_KEY: &str = "R0UT1NGK3Y0123456789abcdefABCDEF";

impl Vendors {
    pub async fn start() -> Vendors {
        let state: Arc<Mutex<State>> = Arc::default();
        let st = state.clone();
        let addr = crate::fake_server::serve(move |req| {
            let st = st.clone();
            async move { handle(req, &st).await }
        })
        .await;
        Vendors { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests to `vendor` (`pagerduty`, `opsgenie`, `slack`, `teams`, `webhook`)
    /// meet these faults, in order.
    pub fn fault(&self, vendor: &str, faults: &[Fault]) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(vendor.into())
            .or_default()
            .extend(faults.iter().cloned());
    }

    pub fn taken(&self, vendor: &str) -> Vec<Taken> {
        self.state
            .lock()
            .unwrap()
            .taken
            .iter()
            .filter(|t| t.vendor == vendor)
            .cloned()
            .collect()
    }

    /// Requests to `vendor`, answered or not.
    pub fn requests(&self, vendor: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .get(vendor)
            .copied()
            .unwrap_or(0)
    }

    /// Payloads that broke the vendor's rules.
    pub fn problems(&self) -> Vec<String> {
        self.state.lock().unwrap().problems.clone()
    }

    pub fn pagerduty_incidents(&self) -> (usize, BTreeMap<String, PdIncident>) {
        let s = self.state.lock().unwrap();
        (s.pd_created, s.pd.clone())
    }

    pub fn slack_messages(&self) -> Vec<SlackMessage> {
        self.state.lock().unwrap().slack.clone()
    }

    /// Someone resolves the incident in PagerDuty itself (its web app): the fake's incident is
    /// resolved, as PagerDuty's would be; its webhook is the test's to send.
    pub fn resolve_in_pagerduty(&self, key: &str) {
        if let Some(i) = self.state.lock().unwrap().pd.get_mut(key) {
            i.status = "resolved".into();
            i.actions.push("resolved in PagerDuty".into());
        }
    }

    /// Everything every vendor was sent, as text (to look for secrets).
    pub fn everything(&self) -> String {
        let s = self.state.lock().unwrap();
        s.taken
            .iter()
            .map(|t| format!("{} {:?} {}\n", t.path, t.headers, t.body))
            .collect()
    }
}

fn reply(status: u16, headers: &[(&str, String)], body: Value) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (n, v) in headers {
        r.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
    st: &Mutex<State>,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let raw = Limited::new(req.into_body(), 1 << 20)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (vendor, rest) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", ""));
    let (vendor, rest) = (vendor.to_string(), format!("/{rest}"));
    let fault = {
        let mut s = st.lock().unwrap();
        *s.requests.entry(vendor.clone()).or_default() += 1;
        s.faults.get_mut(&vendor).and_then(VecDeque::pop_front)
    };
    match fault {
        Some(Fault::TooMany(n)) => {
            return reply(
                429,
                &[("retry-after", n.to_string())],
                json!({ "ok": false, "error": "ratelimited" }),
            )
        }
        Some(Fault::ServerError) => return reply(500, &[], json!({ "error": "internal" })),
        Some(Fault::Hang) => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
        Some(Fault::BadRequest) => {
            return reply(
                400,
                &[],
                json!({ "status": "invalid event", "message": "scripted" }),
            )
        }
        None => {}
    }
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let problems = match vendor.as_str() {
        "pagerduty" => schemas::pagerduty(&body),
        "opsgenie" => schemas::opsgenie(&rest, &query, &body, header("authorization").as_deref()),
        "slack" if rest.starts_with("/api/") => {
            let mut p = schemas::slack(&body, rest.ends_with("chat.update"));
            if !header("authorization").is_some_and(|a| a.starts_with("Bearer xoxb-")) {
                p.push("Authorization: Bearer xoxb-… required".into());
            }
            p
        }
        "slack" => schemas::blocks(&body["blocks"]),
        "teams" => schemas::teams(&raw, &body),
        "webhook" => schemas::webhook_signature(
            WEBHOOK_SECRET,
            &header("webhook-id").unwrap_or_default(),
            &header("webhook-timestamp").unwrap_or_default(),
            &header("webhook-signature").unwrap_or_default(),
            &raw,
        )
        .err()
        .into_iter()
        .collect(),
        other => vec![format!("no vendor {other:?}")],
    };
    let mut s = st.lock().unwrap();
    if !problems.is_empty() {
        s.problems
            .extend(problems.iter().map(|p| format!("{vendor} {rest}: {p}")));
        return reply(
            400,
            &[],
            json!({ "ok": false, "error": "invalid_payload", "errors": problems }),
        );
    }
    s.taken.push(Taken {
        vendor: vendor.clone(),
        path: rest.clone(),
        headers: headers.clone(),
        body: body.clone(),
    });
    match vendor.as_str() {
        "pagerduty" => pagerduty(&mut s, &body),
        "slack" if rest == "/api/chat.postMessage" => {
            let ts = format!("1700000000.{:06}", s.slack.len() + 1);
            s.slack.push(SlackMessage {
                ts: ts.clone(),
                thread_ts: body["thread_ts"].as_str().map(str::to_string),
                text: body["text"].as_str().unwrap_or("").into(),
                blocks: body["blocks"].clone(),
                edits: 0,
            });
            reply(
                200,
                &[],
                json!({ "ok": true, "channel": body["channel"], "ts": ts }),
            )
        }
        "slack" if rest == "/api/chat.update" => {
            let ts = body["ts"].as_str().unwrap_or("");
            match s.slack.iter_mut().find(|m| m.ts == ts) {
                Some(m) => {
                    m.text = body["text"].as_str().unwrap_or("").into();
                    m.blocks = body["blocks"].clone();
                    m.edits += 1;
                    reply(
                        200,
                        &[],
                        json!({ "ok": true, "channel": body["channel"], "ts": ts }),
                    )
                }
                None => reply(
                    200,
                    &[],
                    json!({ "ok": false, "error": "message_not_found" }),
                ),
            }
        }
        "slack" => reply(200, &[], json!("ok")),
        "opsgenie" => reply(
            202,
            &[],
            json!({ "result": "Request will be processed", "took": 0.01, "requestId": "r" }),
        ),
        _ => reply(202, &[], json!({})),
    }
}

/// PagerDuty's deduplication: a trigger for an open key adds to its incident; a new key (or
/// one resolved) makes an incident.
fn pagerduty(s: &mut State, b: &Value) -> hyper::Response<Full<Bytes>> {
    let key = b["dedup_key"].as_str().unwrap_or("").to_string();
    let action = b["event_action"].as_str().unwrap_or("").to_string();
    let open = s.pd.get(&key).is_some_and(|i| i.status != "resolved");
    if action == "trigger" && !open {
        s.pd_created += 1;
        s.pd.insert(
            key.clone(),
            PdIncident {
                status: "triggered".into(),
                actions: Vec::new(),
            },
        );
    }
    if let Some(i) = s.pd.get_mut(&key) {
        i.actions.push(action.clone());
        match action.as_str() {
            "acknowledge" if i.status == "triggered" => i.status = "acknowledged".into(),
            "resolve" => i.status = "resolved".into(),
            _ => {}
        }
    }
    reply(
        202,
        &[],
        json!({ "status": "success", "message": "Event processed", "dedup_key": key }),
    )
}

/// Hex HMAC-SHA256 of the parts under `key`: how PagerDuty and Slack sign what they send.
pub fn hex_hmac(key: &str, parts: &[&[u8]]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A raw HTTP/1.1 POST to 127.0.0.1:`port` with these headers: (status, body).
pub fn post(port: u16, path: &str, headers: &[(&str, String)], body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let extra: String = headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    write!(s, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string(),
    )
}
