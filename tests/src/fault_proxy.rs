//! A fault-injecting HTTP proxy between the AWS SDK and moto: throttling errors, 500s, dropped
//! responses, requests never answered, and BatchWriteItem calls that only write part of their items and report the rest
//! as UnprocessedItems (which moto never does on its own).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 400 ThrottlingException, as DynamoDB answers when throttled.
    Throttle,
    /// 500 InternalServerError.
    ServerError,
    /// The request reaches moto, the response never reaches the client.
    DropResponse,
    /// BatchWriteItem: only the first half of the items is written; the rest come back unprocessed.
    PartialBatch,
    /// The request is taken and never answered, the connection left open: a service that does
    /// not answer (a black-holed route, a store that hangs).
    Hang,
}

/// Decides the fault for request `n` (0-based) whose X-Amz-Target is `target`.
pub type Plan = Arc<dyn Fn(usize, &str) -> Option<Fault> + Send + Sync>;

#[derive(Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub faults: AtomicUsize,
}

struct Http {
    head: String,
    body: Vec<u8>,
}

async fn read_http<R: AsyncRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> Option<Http> {
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = r.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let len = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < end + len {
        let n = r.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[end..end + len].to_vec();
    buf.drain(..end + len);
    Some(Http { head, body })
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// The head with `Content-Length` set to `len`, and the named headers removed.
fn rewrite(head: &str, len: usize, drop: &[&str]) -> String {
    let mut out = String::new();
    for (i, line) in head.trim_end().lines().enumerate() {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if i > 0 && (name == "content-length" || drop.contains(&name.as_str())) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    out
}

fn error(status: &str, kind: &str, message: &str) -> Vec<u8> {
    let body =
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"{message}"}}"#);
    format!("HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// Forwards one request to moto (a fresh connection each time) and returns its response.
async fn forward(upstream: SocketAddr, req: &Http) -> Option<Http> {
    let mut up = TcpStream::connect(upstream).await.ok()?;
    let head = rewrite(&req.head, req.body.len(), &["connection"]);
    let head = head.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
    up.write_all(head.as_bytes()).await.ok()?;
    up.write_all(&req.body).await.ok()?;
    let mut buf = Vec::new();
    read_http(&mut up, &mut buf).await
}

pub async fn start(upstream: SocketAddr, plan: Plan) -> (SocketAddr, Arc<Stats>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let st = stats.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (plan, stats) = (plan.clone(), st.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(mut req) = read_http(&mut client, &mut buf).await {
                    let n = stats.requests.fetch_add(1, Ordering::SeqCst);
                    let target = header(&req.head, "x-amz-target").unwrap_or_default();
                    let fault = plan(n, &target);
                    if fault.is_some() {
                        stats.faults.fetch_add(1, Ordering::SeqCst);
                    }
                    let reply = match fault {
                        Some(Fault::Throttle) => error(
                            "400 Bad Request",
                            "ThrottlingException",
                            "Rate of requests exceeds the allowed throughput.",
                        ),
                        Some(Fault::ServerError) => error(
                            "500 Internal Server Error",
                            "InternalServerError",
                            "Internal server error",
                        ),
                        Some(Fault::Hang) => {
                            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
                            return;
                        }
                        Some(Fault::DropResponse) => {
                            let _ = forward(upstream, &req).await;
                            return; // the client sees the connection close with no response
                        }
                        Some(Fault::PartialBatch) if target.ends_with("BatchWriteItem") => {
                            let mut doc: serde_json::Value =
                                serde_json::from_slice(&req.body).unwrap();
                            let mut unprocessed = serde_json::Map::new();
                            for (table, items) in doc["RequestItems"].as_object_mut().unwrap() {
                                let items = items.as_array_mut().unwrap();
                                let rest = items.split_off(items.len().div_ceil(2));
                                if !rest.is_empty() {
                                    unprocessed.insert(table.clone(), rest.into());
                                }
                            }
                            req.body = serde_json::to_vec(&doc).unwrap();
                            let Some(resp) = forward(upstream, &req).await else {
                                return;
                            };
                            let mut out: serde_json::Value =
                                serde_json::from_slice(&resp.body).unwrap_or_default();
                            out["UnprocessedItems"] = unprocessed.into();
                            let body = serde_json::to_vec(&out).unwrap();
                            // The body changed: its CRC header would no longer match.
                            let mut bytes =
                                rewrite(&resp.head, body.len(), &["x-amz-crc32", "connection"])
                                    .into_bytes();
                            bytes.extend_from_slice(&body);
                            bytes
                        }
                        _ => {
                            let Some(resp) = forward(upstream, &req).await else {
                                return;
                            };
                            let mut bytes =
                                rewrite(&resp.head, resp.body.len(), &["connection"]).into_bytes();
                            bytes.extend_from_slice(&resp.body);
                            bytes
                        }
                    };
                    if client.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, stats)
}
