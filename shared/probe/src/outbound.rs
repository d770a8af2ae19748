//! Requests the monitor sends on its own behalf (a paging or chat API, a team's webhook):
//! through the same guard, dialler and TLS as probes (a webhook to a metadata or private
//! address is refused unless `settings.allow_networks` allows it), within one deadline, no
//! redirect followed, the answer read up to [`MAX_ANSWER`].

use crate::guard::HostKind;
use crate::{Engine, Judgement, Trace};
use atalaya_core::Reason;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST, USER_AGENT};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// The most of an answer that is read (vendors answer with a few hundred bytes).
pub const MAX_ANSWER: usize = 64 * 1024;

/// One request.
#[derive(Clone, Debug)]
pub struct Outbound {
    pub method: Method,
    pub url: url::Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

/// The answer: its status, headers and (bounded) body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why no answer came. `Refused`: the guard refused the address (trying again cannot help);
/// `Failed`: the network or the server (trying again may).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("refused by the network guard: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

impl Engine {
    /// Sends `req` and reads the answer, all within `deadline`.
    pub async fn send(&self, req: Outbound, deadline: Duration) -> Result<Answer, OutboundError> {
        let mut trace = Trace::default();
        match tokio::time::timeout(deadline, self.send_traced(req, &mut trace)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(j)) if j.reason == Reason::Blocked => Err(OutboundError::Refused(j.detail)),
            Ok(Err(j)) => Err(OutboundError::Failed(j.detail)),
            Err(_) => Err(OutboundError::Failed(format!(
                "no answer within {} ms (phase: {})",
                deadline.as_millis(),
                trace.phase
            ))),
        }
    }

    async fn send_traced(&self, req: Outbound, trace: &mut Trace) -> Result<Answer, Judgement> {
        let url = &req.url;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(Judgement::down(
                    Reason::Protocol,
                    format!("unsupported scheme {other:?}"),
                ))
            }
        };
        let (host, host_text) = match url.host() {
            Some(url::Host::Domain(d)) => (HostKind::Name(d.to_string()), d.to_string()),
            Some(url::Host::Ipv4(ip)) => (HostKind::Ip(ip.into()), ip.to_string()),
            Some(url::Host::Ipv6(ip)) => (HostKind::Ip(ip.into()), format!("[{ip}]")),
            None => return Err(Judgement::down(Reason::Protocol, "no host".into())),
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let ips = self.resolve(&host, trace).await?;
        let stream = self.dial(&ips, port, trace).await?;
        let host_header = match url.port() {
            Some(p) => format!("{host_text}:{p}"),
            None => host_text.clone(),
        };
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(&url[url::Position::BeforePath..url::Position::AfterQuery])
            .header(USER_AGENT, concat!("atalaya/", env!("CARGO_PKG_VERSION")));
        if let Ok(v) = HeaderValue::from_str(&host_header) {
            builder = builder.header(HOST, v);
        }
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(req.body.clone())).map_err(|e| {
            Judgement::down(Reason::Protocol, format!("cannot build the request: {e}"))
        })?;
        if https {
            let name = host_text.trim_start_matches('[').trim_end_matches(']');
            let tls = self
                .handshake(stream, name, true, &[b"http/1.1"], None, trace)
                .await?;
            Box::pin(exchange(tls, request, trace)).await
        } else {
            exchange(stream, request, trace).await
        }
    }
}

async fn exchange<S>(
    io: S,
    req: Request<Full<Bytes>>,
    trace: &mut Trace,
) -> Result<Answer, Judgement>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    trace.phase = "answer";
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| Judgement::down(Reason::Protocol, format!("HTTP handshake failed: {e}")))?;
    let driver = tokio::spawn(conn);
    let result = async {
        let response = sender
            .send_request(req)
            .await
            .map_err(|e| Judgement::down(Reason::Reset, format!("no answer: {e}")))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(|b| b.to_bytes())
            // A longer answer is cut; what was said in it does not change what happened.
            .unwrap_or_default();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
    .await;
    driver.abort();
    result
}
