//! An HTTP server on a loopback address of the test's choosing (127.0.0.1, 127.0.0.2…) that
//! answers with what the test scripts and records every request it receives (method, target,
//! headers, body): redirecting origin pairs, flows fed hostile values, what a probe sent where.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer: status, headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn ok(body: &str) -> Answer {
        Answer {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn json(value: &serde_json::Value) -> Answer {
        Answer {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn redirect(status: u16, location: &str) -> Answer {
        Answer {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

type Script = dyn Fn(&Seen) -> Answer + Send + Sync;

pub struct Recorder {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    /// Serves on `ip` (a loopback address), a free port, until the runtime ends.
    pub async fn start(
        ip: &str,
        script: impl Fn(&Seen) -> Answer + Send + Sync + 'static,
    ) -> Recorder {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback(), "{addr} is not a loopback address");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let (s, log) = (script.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (s, log) = (s.clone(), log.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (s, log) = (s.clone(), log.clone());
                        async move { Ok::<_, std::convert::Infallible>(answer(req, &*s, &log).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Recorder { addr, seen }
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    script: &Script,
    log: &Mutex<Vec<Seen>>,
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = Limited::new(req.into_body(), 1 << 20)
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let seen = Seen {
        method,
        target,
        headers,
        body,
    };
    let a = script(&seen);
    log.lock().unwrap().push(seen);
    let mut r = hyper::Response::new(Full::new(Bytes::from(a.body)));
    *r.status_mut() = hyper::StatusCode::from_u16(a.status).unwrap();
    for (n, v) in a.headers {
        r.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            hyper::header::HeaderValue::from_str(&v).unwrap(),
        );
    }
    r
}
