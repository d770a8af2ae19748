//! moto_server with what it lacks, for `atalaya doctor`'s tests: an HTTP proxy on 127.0.0.1 in
//! front of moto that answers, as AWS documents them, the calls moto does not implement or
//! cannot be put in every state (Lambda's `GetAccountSettings`, SES v2's `GetAccount` and
//! `GetEmailIdentity`, and subscriptions still `PendingConfirmation` in SNS's
//! `ListSubscriptionsByTopic`, which moto confirms at once), and passes every other request to
//! moto unchanged. What it answers is planted by the test.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// What the proxy answers in moto's place.
#[derive(Clone, Debug)]
pub struct Planted {
    /// The account's Lambda concurrency quota, per region (default 1,000).
    pub concurrency: BTreeMap<String, i32>,
    pub ses_production: bool,
    /// SES identities verified for sending.
    pub ses_verified: BTreeSet<String>,
    /// Subscription endpoints (emails) shown as `PendingConfirmation`.
    pub pending: BTreeSet<String>,
}

impl Default for Planted {
    fn default() -> Planted {
        Planted {
            concurrency: BTreeMap::new(),
            ses_production: true,
            ses_verified: BTreeSet::new(),
            pending: BTreeSet::new(),
        }
    }
}

pub struct MotoPlus {
    pub addr: SocketAddr,
    /// The moto behind it.
    pub upstream: String,
    pub planted: Arc<Mutex<Planted>>,
}

impl MotoPlus {
    pub async fn start(moto: &str) -> MotoPlus {
        let upstream: SocketAddr = moto
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let planted: Arc<Mutex<Planted>> = Arc::default();
        let p = planted.clone();
        let addr = crate::fake_server::serve(move |req| {
            let p = p.clone();
            async move { handle(req, upstream, &p).await }
        })
        .await;
        MotoPlus {
            addr,
            upstream: moto.to_string(),
            planted,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn plant(&self, f: impl FnOnce(&mut Planted)) {
        f(&mut self.planted.lock().unwrap());
    }
}

/// The region and service a request was signed for (SigV4's credential scope).
fn scope(headers: &hyper::HeaderMap) -> (String, String) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let cred = auth
        .split("Credential=")
        .nth(1)
        .unwrap_or("")
        .split(',')
        .next()
        .unwrap_or("");
    let parts: Vec<&str> = cred.split('/').collect();
    (
        parts.get(2).unwrap_or(&"").to_string(),
        parts.get(3).unwrap_or(&"").to_string(),
    )
}

fn json(body: serde_json::Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
    upstream: SocketAddr,
    planted: &Mutex<Planted>,
) -> hyper::Response<Full<Bytes>> {
    let (region, service) = scope(req.headers());
    let path = req.uri().path().to_string();
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, 16 << 20)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let p = planted.lock().unwrap().clone();
    if service == "lambda" && path.starts_with("/2016-08-19/account-settings") {
        let limit = p.concurrency.get(&region).copied().unwrap_or(1000);
        return json(serde_json::json!({
            "AccountLimit": { "TotalCodeSize": 80530636800_i64, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800, "ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": limit },
            "AccountUsage": { "TotalCodeSize": 0, "FunctionCount": 0 }
        }));
    }
    if service == "ses" && path == "/v2/email/account" {
        return json(serde_json::json!({
            "DedicatedIpAutoWarmupEnabled": false, "EnforcementStatus": "HEALTHY",
            "ProductionAccessEnabled": p.ses_production, "SendingEnabled": true,
            "SendQuota": { "Max24HourSend": if p.ses_production { 50000.0 } else { 200.0 }, "MaxSendRate": if p.ses_production { 14.0 } else { 1.0 }, "SentLast24Hours": 0.0 }
        }));
    }
    if service == "ses"
        && parts.method == hyper::Method::GET
        && path.starts_with("/v2/email/identities/")
    {
        let id = path.trim_start_matches("/v2/email/identities/");
        let verified = p.ses_verified.contains(id);
        return json(serde_json::json!({
            "IdentityType": "DOMAIN", "FeedbackForwardingStatus": true,
            "VerifiedForSendingStatus": verified, "VerificationStatus": if verified { "SUCCESS" } else { "PENDING" },
            "DkimAttributes": { "SigningEnabled": true, "Status": if verified { "SUCCESS" } else { "PENDING" } }
        }));
    }
    let listing = service == "sns" && body.windows(24).any(|w| w == b"ListSubscriptionsByTopic");
    let mut answer = forward(parts, body, upstream).await;
    if listing && !p.pending.is_empty() {
        answer = answer.replace_pending(&p.pending);
    }
    answer.into_response()
}

struct Answer {
    status: hyper::StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Answer {
    /// SNS's members whose endpoint is planted pending: `SubscriptionArn` as AWS gives it then.
    fn replace_pending(mut self, pending: &BTreeSet<String>) -> Answer {
        let text = String::from_utf8_lossy(&self.body).to_string();
        let members: Vec<String> = text
            .split("<member>")
            .map(|m| {
                let endpoint = m
                    .split("<Endpoint>")
                    .nth(1)
                    .and_then(|e| e.split("</Endpoint>").next())
                    .unwrap_or("");
                let arn = m
                    .split("<SubscriptionArn>")
                    .nth(1)
                    .and_then(|e| e.split("</SubscriptionArn>").next());
                match arn {
                    Some(arn) if pending.contains(endpoint) => {
                        m.replace(arn, "PendingConfirmation")
                    }
                    _ => m.to_string(),
                }
            })
            .collect();
        self.body = Bytes::from(members.join("<member>"));
        self.headers.remove("content-length");
        self
    }

    fn into_response(self) -> hyper::Response<Full<Bytes>> {
        let mut r = hyper::Response::builder().status(self.status);
        for (k, v) in &self.headers {
            if k != "content-length" && k != "transfer-encoding" {
                r = r.header(k, v);
            }
        }
        r.body(Full::new(self.body)).unwrap()
    }
}

async fn forward(parts: hyper::http::request::Parts, body: Bytes, upstream: SocketAddr) -> Answer {
    let failed = |why: String| Answer {
        status: hyper::StatusCode::BAD_GATEWAY,
        headers: hyper::HeaderMap::new(),
        body: Bytes::from(why),
    };
    let stream = match tokio::net::TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => return failed(format!("moto: {e}")),
    };
    let Ok((mut send, conn)) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
    else {
        return failed("moto: no handshake".into());
    };
    tokio::spawn(conn);
    let req = hyper::Request::from_parts(parts, Full::new(body));
    match send.send_request(req).await {
        Ok(r) => {
            let (p, b) = r.into_parts();
            let body = b.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Answer {
                status: p.status,
                headers: p.headers,
                body,
            }
        }
        Err(e) => failed(format!("moto: {e}")),
    }
}
