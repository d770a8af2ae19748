//! A fake SNS on 127.0.0.1 for what moto cannot show: subscriptions still waiting for their
//! confirmation (moto confirms every one). It speaks SNS's Query protocol (API version
//! 2010-03-31) for `ListSubscriptionsByTopic` only, as AWS documents it: a form POST with
//! `Action`, `Version` and `TopicArn` (and `NextToken` for the next page), an XML answer whose
//! unconfirmed members have `SubscriptionArn` `PendingConfirmation`, pages of at most `page`
//! members, `NotFound` (404) for a topic it does not have and `InvalidParameter` (400) for a
//! request AWS would refuse. Every request is kept, so a test can see what was asked.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    /// Topic ARN → (endpoint, confirmed).
    topics: BTreeMap<String, Vec<(String, bool)>>,
    requests: Vec<BTreeMap<String, String>>,
    page: usize,
}

pub struct FakeSns {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeSns {
    pub async fn start(page: usize) -> FakeSns {
        let state = Arc::new(Mutex::new(State {
            page: page.clamp(1, 100),
            ..Default::default()
        }));
        let st = state.clone();
        let addr = crate::fake_server::serve(move |req| {
            let st = st.clone();
            async move { handle(req, &st).await }
        })
        .await;
        FakeSns { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A topic and its subscriptions: (email, confirmed).
    pub fn topic(&self, arn: &str, subscriptions: &[(&str, bool)]) {
        self.state.lock().unwrap().topics.insert(
            arn.into(),
            subscriptions
                .iter()
                .map(|(e, c)| ((*e).into(), *c))
                .collect(),
        );
    }

    /// The requests taken, as their form fields.
    pub fn requests(&self) -> Vec<BTreeMap<String, String>> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn xml(status: u16, body: String) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn error(status: u16, code: &str, message: &str) -> hyper::Response<Full<Bytes>> {
    let kind = if status < 500 { "Sender" } else { "Receiver" };
    xml(status, format!("<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fake-1</RequestId></ErrorResponse>"))
}

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
    state: &Mutex<State>,
) -> hyper::Response<Full<Bytes>> {
    if req.method() != hyper::Method::POST {
        return error(400, "InvalidAction", "SNS's Query API takes POST");
    }
    let Ok(body) = Limited::new(req.into_body(), 64 * 1024).collect().await else {
        return error(
            400,
            "InvalidParameter",
            "the request body could not be read",
        );
    };
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body.to_bytes())
        .into_owned()
        .collect();
    let mut st = state.lock().unwrap();
    st.requests.push(form.clone());
    if form.get("Version").map(String::as_str) != Some("2010-03-31") {
        return error(400, "InvalidParameter", "Version must be 2010-03-31");
    }
    if form.get("Action").map(String::as_str) != Some("ListSubscriptionsByTopic") {
        return error(
            400,
            "InvalidAction",
            "this fake answers ListSubscriptionsByTopic only",
        );
    }
    let Some(topic) = form.get("TopicArn") else {
        return error(400, "InvalidParameter", "TopicArn is required");
    };
    let Some(subs) = st.topics.get(topic) else {
        return error(404, "NotFound", "Topic does not exist");
    };
    let from: usize = match form.get("NextToken").map(|t| t.parse()) {
        None => 0,
        Some(Ok(n)) if n < subs.len() => n,
        Some(_) => {
            return error(
                400,
                "InvalidParameter",
                "NextToken is not one this topic gave",
            )
        }
    };
    let to = (from + st.page).min(subs.len());
    let members: String = subs[from..to]
        .iter()
        .enumerate()
        .map(|(i, (endpoint, confirmed))| {
            let arn = if *confirmed { format!("{topic}:0000-{}", from + i) } else { "PendingConfirmation".into() };
            format!("<member><TopicArn>{topic}</TopicArn><Protocol>email</Protocol><SubscriptionArn>{arn}</SubscriptionArn><Owner>123456789012</Owner><Endpoint>{endpoint}</Endpoint></member>")
        })
        .collect();
    let next = if to < subs.len() {
        format!("<NextToken>{to}</NextToken>")
    } else {
        String::new()
    };
    xml(200, format!("<ListSubscriptionsByTopicResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><ListSubscriptionsByTopicResult><Subscriptions>{members}</Subscriptions>{next}</ListSubscriptionsByTopicResult><ResponseMetadata><RequestId>fake-2</RequestId></ResponseMetadata></ListSubscriptionsByTopicResponse>"))
}
