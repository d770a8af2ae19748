//! A stand-in for the Lambda runtime API (the 2018-06-01 interface a bootstrap polls), so a
//! bootstrap binary can serve real invocations in tests, and its cold start can be measured
//! (the moment it first asks for an event).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
struct Inner {
    events: VecDeque<(String, String)>,
    responses: Vec<(String, String)>,
    errors: Vec<(String, String)>,
    first_next: Option<Instant>,
}

#[derive(Clone)]
pub struct RuntimeApi {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl RuntimeApi {
    /// Serves `events` (request id, JSON payload) in order, then holds further polls open.
    pub async fn start(events: Vec<(String, String)>) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = RuntimeApi {
            addr: listener.local_addr().unwrap(),
            inner: Arc::new(Mutex::new(Inner {
                events: events.into(),
                ..Inner::default()
            })),
        };
        let inner = api.inner.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let inner = inner.clone();
                tokio::spawn(async move {
                    // Keep-alive: the runtime client sends its requests on one connection.
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // Read the head, then as much body as Content-Length says.
                        let head_end = loop {
                            let Ok(n) = s.read(&mut chunk).await else {
                                return;
                            };
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        while buf.len() < head_end + len {
                            let Ok(n) = s.read(&mut chunk).await else {
                                return;
                            };
                            if n == 0 {
                                break;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        let body = String::from_utf8_lossy(
                            &buf[head_end..head_end + len.min(buf.len() - head_end)],
                        )
                        .to_string();
                        buf.drain(..(head_end + len).min(buf.len()));
                        let mut words = head.split_whitespace();
                        let (method, path) = (
                            words.next().unwrap_or(""),
                            words.next().unwrap_or("").to_string(),
                        );
                        let reply = |status: &str, headers: String, body: &str| {
                            format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n{body}", body.len())
                        };
                        let out = if method == "GET" && path.ends_with("/runtime/invocation/next") {
                            let next = {
                                let mut g = inner.lock().unwrap();
                                g.first_next.get_or_insert_with(Instant::now);
                                g.events.pop_front()
                            };
                            let Some((id, payload)) = next else {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                return;
                            };
                            let deadline = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap()
                                .as_millis()
                                + 30_000;
                            let headers = format!(
                            "Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:atalaya\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n"
                        );
                            reply("200 OK", headers, &payload)
                        } else if method == "POST" && path.contains("/runtime/invocation/") {
                            let id = path.split('/').nth(4).unwrap_or("").to_string();
                            let mut g = inner.lock().unwrap();
                            if path.ends_with("/response") {
                                g.responses.push((id, body));
                            } else {
                                g.errors.push((id, body));
                            }
                            reply("202 Accepted", String::new(), "{}")
                        } else if method == "POST" && path.ends_with("/runtime/init/error") {
                            inner.lock().unwrap().errors.push(("init".into(), body));
                            reply("202 Accepted", String::new(), "{}")
                        } else {
                            reply("404 Not Found", String::new(), "{}")
                        };
                        if s.write_all(out.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        api
    }

    /// The response to request `id`, or its error, once the bootstrap has posted one.
    pub async fn outcome(&self, id: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let g = self.inner.lock().unwrap();
                if let Some((_, r)) = g.responses.iter().find(|(i, _)| i == id) {
                    return Ok(r.clone());
                }
                if let Some((_, e)) = g.errors.iter().find(|(i, _)| i == id || i == "init") {
                    return Err(e.clone());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("no response to {id} within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// When the bootstrap first asked for an event (the end of its initialisation).
    pub fn first_poll(&self) -> Option<Instant> {
        self.inner.lock().unwrap().first_next
    }
}

/// The environment Lambda gives a bootstrap.
pub fn lambda_env(api: &RuntimeApi) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "atalaya".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "test".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/atalaya".into()),
        ("AWS_REGION", "eu-west-1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
