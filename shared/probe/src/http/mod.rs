//! HTTP(S) probes on hyper's HTTP/1.1 client, over sockets the engine dials itself so that every
//! phase is timed and every hop passes the guard.

use crate::guard::HostKind;
use crate::net::{io_reason, ms_since};
use crate::redact::redact_url;
use crate::References;
use crate::{CheckError, Engine, Judgement, Step, Trace};
use atalaya_core::{Check, HttpCheck, Reason, Reference};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT_ENCODING, HOST, LOCATION, USER_AGENT};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};

mod body;
mod judge;

use judge::judge;

const UA: &str = concat!(
    "atalaya/",
    env!("CARGO_PKG_VERSION"),
    " (synthetic monitoring)"
);

/// An HTTP check with its `${env:…}` references filled in for this run.
pub(crate) struct Prepared {
    url: url::Url,
    headers: Vec<(HeaderName, HeaderValue, bool)>,
    body: Option<Bytes>,
    /// The body carries a reference's value: it never goes to another origin.
    body_secret: bool,
    /// Values that came from the environment; scrubbed from anything reported.
    pub secrets: Vec<String>,
}

impl Prepared {
    pub fn new(check: &Check, values: &References) -> Result<Option<Prepared>, CheckError> {
        let atalaya_core::CheckKind::Http(h) = &check.kind else {
            return Ok(None);
        };
        Prepared::for_http(h, &|r: &Reference| values.value(r)).map(Some)
    }

    /// One request with its references filled in from `env` (a flow's step: the shell's
    /// values and the flow's variables).
    pub fn for_http(
        h: &HttpCheck,
        env: &(dyn Fn(&Reference) -> Option<String> + Sync),
    ) -> Result<Prepared, CheckError> {
        let mut secrets = Vec::new();
        let url = h.url.resolve_url(env).map_err(|e| match e {
            atalaya_core::UrlValueError::Unset(source) => CheckError::Unset {
                field: "http.url".into(),
                source,
            },
            e @ atalaya_core::UrlValueError::Unplaceable { .. } => CheckError::Invalid {
                field: "http.url".into(),
                message: e.to_string(),
            },
        })?;
        secrets.extend(url.secrets);
        let mut url = url::Url::parse(&url.value).map_err(|e| CheckError::Invalid {
            field: "http.url".into(),
            message: format!("after filling in environment variables the URL is malformed: {e}"),
        })?;
        let mut headers = Vec::new();
        // `https://user:${env:PASS}@host/`: sent as Basic authentication (RFC 7617), to this
        // origin only, and never part of the request line; a header written in the check wins.
        if !url.username().is_empty() || url.password().is_some() {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let credentials = format!(
                "{}:{}",
                decode(url.username()),
                decode(url.password().unwrap_or_default())
            );
            let _ = url.set_username("");
            let _ = url.set_password(None);
            let written = h
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
            if !written {
                use base64::Engine as _;
                let token = base64::engine::general_purpose::STANDARD.encode(&credentials);
                let mut hv = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
                    CheckError::Invalid {
                        field: "http.url".into(),
                        message: "the user name or password cannot be sent in a header".into(),
                    }
                })?;
                hv.set_sensitive(true);
                headers.push((http::header::AUTHORIZATION, hv, true));
                secrets.push(token);
            }
            secrets.push(credentials);
        }
        for (name, template) in &h.headers {
            let field = format!("http.headers.{name}");
            let v = template.resolve(env).map_err(|source| CheckError::Unset {
                field: field.clone(),
                source,
            })?;
            let secret = !v.secrets.is_empty();
            secrets.extend(v.secrets);
            let hn = HeaderName::from_bytes(name.as_bytes()).map_err(|e| CheckError::Invalid {
                field: field.clone(),
                message: e.to_string(),
            })?;
            let mut hv = HeaderValue::from_str(&v.value).map_err(|_| CheckError::Invalid {
                field: field.clone(),
                message: "the value has characters a header cannot carry (line breaks or control characters)".into(),
            })?;
            hv.set_sensitive(secret);
            headers.push((hn, hv, secret));
        }
        let mut body_secret = false;
        let body = match &h.body {
            Some(t) => {
                let v = t.resolve(env).map_err(|source| CheckError::Unset {
                    field: "http.body".into(),
                    source,
                })?;
                body_secret = !v.secrets.is_empty();
                secrets.extend(v.secrets);
                Some(Bytes::from(v.value))
            }
            None => None,
        };
        Ok(Prepared {
            url,
            headers,
            body,
            body_secret,
            secrets,
        })
    }
}

/// An HTTP/1.1 connection driven by the probe's own task: whatever the probe awaits on it is
/// polled together with the connection, so a response wakes the probe directly (no task hop),
/// and dropping the probe (done, failed or timed out) closes the connection.
struct Conn<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    conn: hyper::client::conn::http1::Connection<TokioIo<S>, Full<Bytes>>,
    closed: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Conn<S> {
    async fn drive<T>(&mut self, work: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                out = &mut work => return out,
                // Once the connection ends, `work` finishes with the error it causes.
                _ = &mut self.conn, if !self.closed => self.closed = true,
            }
        }
    }
}

fn hyper_failure(e: &hyper::Error, what: &str) -> Judgement {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Judgement::down(io_reason(io), format!("{what}: {io}"));
        }
        source = s.source();
    }
    if e.is_incomplete_message() {
        Judgement::down(
            Reason::Reset,
            format!("{what}: the server closed the connection before a complete response"),
        )
    } else {
        Judgement::down(
            Reason::Protocol,
            format!("{what}: invalid HTTP response: {e}"),
        )
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

impl Engine {
    pub(crate) async fn http(
        &self,
        check: &Check,
        h: &HttpCheck,
        p: Option<&Prepared>,
        tls: Option<&crate::tls_client::TlsSetup>,
        trace: &mut Trace,
    ) -> Step<Judgement> {
        let Some(p) = p else {
            return Err(Judgement::down(
                Reason::Protocol,
                "HTTP check was not prepared".into(),
            ));
        };
        let mut url = p.url.clone();
        let mut method = Method::from_bytes(h.method.as_bytes()).map_err(|_| {
            Judgement::down(Reason::Protocol, format!("invalid method {}", h.method))
        })?;
        let mut body = p.body.clone();
        let mut headers: Vec<&(HeaderName, HeaderValue, bool)> = p.headers.iter().collect();
        let mut chain = vec![redact_url(&url)];
        let mut hops = 0;
        loop {
            let (https, host, host_text, port) = target(&url)?;
            let ips = self.resolve(&host, trace).await?;
            let stream = self.dial(&ips, port, trace).await?;

            let req = request(
                &method,
                &url,
                &host_text,
                &headers,
                body.as_ref(),
                h.expect.needs_body(),
            )?;

            let exchanged = if https {
                let tls = self
                    .handshake(
                        stream,
                        host_text.trim_start_matches('[').trim_end_matches(']'),
                        h.tls_verify,
                        &[b"http/1.1"],
                        tls,
                        trace,
                    )
                    .await?;
                // Boxed: a TLS stream makes the exchange far larger, and plain HTTP probes
                // should not carry that size.
                Box::pin(exchange(tls, req, check, h, trace)).await
            } else {
                exchange(stream, req, check, h, trace).await
            }
            .map_err(|j| after_redirects(j, hops, &chain))?;
            let judged = match exchanged {
                Exchanged::Judged(j) => j,
                Exchanged::Redirect(status, location) => {
                    let next = url.join(&location).map_err(|e| {
                        Judgement::down(
                            Reason::Protocol,
                            format!(
                                "status {} with an invalid Location {location:?}: {e}",
                                status.as_u16()
                            ),
                        )
                    })?;
                    if hops >= h.max_redirects {
                        chain.push(redact_url(&next));
                        return Err(Judgement::down(
                            Reason::Redirects,
                            format!(
                                "more than {} redirects: {}",
                                h.max_redirects,
                                shorten_chain(&chain)
                            ),
                        ));
                    }
                    if status == StatusCode::SEE_OTHER
                        || (method == Method::POST && matches!(status.as_u16(), 301 | 302))
                    {
                        method = Method::GET;
                        body = None;
                    }
                    if next.origin() != url.origin() && body.is_some() && p.body_secret {
                        return Err(secret_body_elsewhere(status, &next));
                    }
                    if next.origin() != url.origin() {
                        // Credentials from the checks file go to the origin they were written for only.
                        headers.retain(|(name, _, secret)| {
                            !secret
                                && *name != http::header::AUTHORIZATION
                                && *name != http::header::COOKIE
                        });
                    }
                    chain.push(redact_url(&next));
                    url = next;
                    hops += 1;
                    continue;
                }
            };
            return Ok(after_redirects(judged, hops, &chain));
        }
    }
}

/// A redirect that would carry the request body, which holds a secret, to another origin is
/// not followed: the monitor cannot judge the service without sending it there (a fault of
/// the check as written, never an outage).
fn secret_body_elsewhere(status: StatusCode, next: &url::Url) -> Judgement {
    Judgement::down(
        Reason::CheckError,
        format!(
            "status {} to another origin ({}) not followed: it would send the request body, which carries a secret, there; point http.url at the address that answers, or have the server answer 303",
            status.as_u16(),
            redact_url(next)
        ),
    )
}

/// Where a URL points: https or not, its host (to resolve) and as written, its port.
fn target(url: &url::Url) -> Step<(bool, HostKind, String, u16)> {
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => {
            return Err(Judgement::down(
                Reason::Protocol,
                format!("unsupported scheme {other:?} in {}", redact_url(url)),
            ))
        }
    };
    let (host, host_text) = match url.host() {
        Some(url::Host::Domain(d)) => (HostKind::Name(d.to_string()), d.to_string()),
        Some(url::Host::Ipv4(ip)) => (HostKind::Ip(ip.into()), ip.to_string()),
        Some(url::Host::Ipv6(ip)) => (HostKind::Ip(ip.into()), format!("[{ip}]")),
        None => {
            return Err(Judgement::down(
                Reason::Protocol,
                format!("no host in {}", redact_url(url)),
            ))
        }
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });
    Ok((https, host, host_text, port))
}

/// One request to `url`: its method, `Host`, our user agent, the check's headers and body.
fn request(
    method: &Method,
    url: &url::Url,
    host_text: &str,
    headers: &[&(HeaderName, HeaderValue, bool)],
    body: Option<&Bytes>,
    needs_body: bool,
) -> Step<Request<Full<Bytes>>> {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(&url[url::Position::BeforePath..url::Position::AfterQuery]);
    let host_header = match url.port() {
        Some(p) => format!("{host_text}:{p}"),
        None => host_text.to_string(),
    };
    if let Some(map) = req.headers_mut() {
        map.insert(
            HOST,
            HeaderValue::from_str(&host_header)
                .map_err(|_| Judgement::down(Reason::Protocol, "invalid host".into()))?,
        );
        map.insert(USER_AGENT, HeaderValue::from_static(UA));
        if needs_body {
            map.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate"));
        }
        for (name, value, _) in headers {
            map.insert(name.clone(), value.clone());
        }
    }
    req.body(Full::new(body.cloned().unwrap_or_default()))
        .map_err(|e| Judgement::down(Reason::Protocol, format!("cannot build the request: {e}")))
}

/// The verdict on the last hop, saying where the redirects led.
fn after_redirects(judged: Judgement, hops: u32, chain: &[String]) -> Judgement {
    if hops == 0 {
        return judged;
    }
    Judgement {
        detail: format!(
            "{} after {hops} redirect(s) to {}",
            judged.detail,
            chain.last().map(String::as_str).unwrap_or("")
        ),
        ..judged
    }
}

fn shorten_chain(chain: &[String]) -> String {
    if chain.len() <= 6 {
        chain.join(" -> ")
    } else {
        format!(
            "{} -> ... -> {}",
            chain[..3].join(" -> "),
            chain[chain.len() - 2..].join(" -> ")
        )
    }
}

/// What one request/response exchange produced: a redirect to follow, or the final verdict.
enum Exchanged {
    Redirect(StatusCode, String),
    Judged(Judgement),
}

/// Sends one request on a fresh connection, waits for the response head, and either hands back
/// a redirect to follow or judges the response (reading the body only if an assertion needs it).
async fn exchange<S>(
    io: S,
    req: Request<Full<Bytes>>,
    check: &Check,
    h: &HttpCheck,
    trace: &mut Trace,
) -> Step<Exchanged>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    trace.phase = "ttfb";
    let t = Instant::now();
    // 2 KiB reads: a probe reads a head and at most a capped body, and hundreds of probes may be
    // in flight; hyper's default adaptive buffer starts at 8 KiB per connection (a longer head
    // takes more reads; the buffer still grows to hyper's limit).
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .read_buf_exact_size(Some(2048))
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| hyper_failure(&e, "HTTP handshake failed"))?;
    let mut conn = Conn {
        conn,
        closed: false,
    };
    let result = conn.drive(sender.send_request(req)).await;
    trace.add_ttfb(ms_since(t));
    let response = result.map_err(|e| hyper_failure(&e, "no response"))?;
    let status = response.status();
    trace.http_status = Some(status.as_u16());
    if h.follow_redirects && is_redirect(status) {
        if let Some(location) = response.headers().get(LOCATION) {
            let location = location.to_str().map_err(|_| {
                Judgement::down(
                    Reason::Protocol,
                    format!(
                        "status {} with an unreadable Location header",
                        status.as_u16()
                    ),
                )
            })?;
            return Ok(Exchanged::Redirect(status, location.to_string()));
        }
    }
    conn.drive(judge(check, h, response, trace))
        .await
        .map(Exchanged::Judged)
}
