//! An HTTP/1.1 server on 127.0.0.1 (optionally behind TLS) whose paths behave well or badly on
//! purpose. Written on raw sockets so that it can misbehave in ways a real server library would
//! not allow: dribbling headers, never-ending bodies, resets.

use crate::tls::{server_config, Leaf};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// While true, the `/switch` path answers 503 (tests flip it to make a target fail and recover).
pub static SWITCH_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Named switches: while `name` is down, `/switch/<name>` answers 503, so tests running in one
/// process each flip their own target.
static SWITCHES: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Makes `/switch/<name>` fail (503) or work again.
pub fn set_switch(name: &str, down: bool) {
    let mut s = SWITCHES.lock().unwrap_or_else(|e| e.into_inner());
    if down {
        s.insert(name.to_string());
    } else {
        s.remove(name);
    }
}

fn switch_down(name: &str) -> bool {
    SWITCHES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(name)
}

/// The API the flow tests log in to: the password it takes and the session token it hands out
/// (which must never appear in a result).
pub const FLOW_PASSWORD: &str = "pr0be-passw0rd";
pub const FLOW_TOKEN: &str = "tok-7f3k9q2w8e5r1t6yu0ip";

/// Orders the flow API deleted (cleanup steps), by id.
pub static FLOW_DELETED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The `/demo` path's outage: from `start + after` for `length` it answers 503.
static DEMO_OUTAGE: OnceLock<(std::time::Instant, Duration, Duration)> = OnceLock::new();

/// Schedules the `/demo` path's outage (once per process).
pub fn schedule_demo_outage(after: Duration, length: Duration) {
    let _ = DEMO_OUTAGE.set((std::time::Instant::now(), after, length));
}

fn demo_down() -> bool {
    DEMO_OUTAGE.get().is_some_and(|(start, after, length)| {
        let e = start.elapsed();
        e >= *after && e < *after + *length
    })
}

/// 32 MiB of zeros, gzipped (about 32 KiB on the wire).
fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..32 {
            gz.write_all(&zeros).unwrap();
        }
        gz.finish().unwrap()
    })
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// Starts the server on 127.0.0.1; with `tls`, it speaks HTTPS with that kind of certificate.
pub async fn server(tls: Option<Leaf>) -> SocketAddr {
    server_on("127.0.0.1:0", tls).await.unwrap()
}

/// The same server over TLS with this configuration (a private PKI, client certificates).
pub async fn server_with_tls(config: std::sync::Arc<rustls::ServerConfig>) -> SocketAddr {
    serve("127.0.0.1:0", Some(tokio_rustls::TlsAcceptor::from(config)))
        .await
        .unwrap()
}

/// Starts the server on `bind` (e.g. 127.0.0.1:8080).
pub async fn server_on(bind: &str, tls: Option<Leaf>) -> std::io::Result<SocketAddr> {
    serve(
        bind,
        tls.map(|leaf| tokio_rustls::TlsAcceptor::from(server_config(leaf))),
    )
    .await
}

async fn serve(
    bind: &str,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<SocketAddr> {
    // A deep accept queue: the benchmark opens hundreds of connections at once.
    let bind: SocketAddr = bind.parse().map_err(std::io::Error::other)?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(bind)?;
    let listener = socket.listen(4096)?;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let accepted = std::time::Instant::now();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(stream).await {
                            let _ = handle(tls, addr, accepted).await;
                        }
                    }
                    None => {
                        let _ = stream.set_nodelay(true);
                        let mut stream = stream;
                        if let Ok(Action::Reset) = handle(&mut stream, addr, accepted).await {
                            // SO_LINGER 0: close with a RST instead of a FIN.
                            let _ = socket_reset(stream);
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Sleeps until `deadline` to within tens of microseconds. tokio's timer wheel fires on 1 ms
/// ticks, which would make a "50 ms" hold 50-51 ms; the benchmark's target holds exactly.
/// One thread keeps the pending deadlines and nanosleeps to the earliest.
async fn precise_sleep_until(deadline: std::time::Instant) {
    use std::collections::BinaryHeap;
    use std::sync::{mpsc, OnceLock};
    type Waiter = (
        std::cmp::Reverse<std::time::Instant>,
        u64,
        tokio::sync::oneshot::Sender<()>,
    );
    struct Entry(Waiter);
    impl PartialEq for Entry {
        fn eq(&self, o: &Self) -> bool {
            (self.0 .0, self.0 .1) == (o.0 .0, o.0 .1)
        }
    }
    impl Eq for Entry {}
    impl PartialOrd for Entry {
        fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Entry {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            (self.0 .0, self.0 .1).cmp(&(o.0 .0, o.0 .1))
        }
    }
    static TIMER: OnceLock<std::sync::Mutex<mpsc::Sender<Waiter>>> = OnceLock::new();
    let sender = TIMER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Waiter>();
        std::thread::spawn(move || {
            let mut heap: BinaryHeap<Entry> = BinaryHeap::new();
            loop {
                let now = std::time::Instant::now();
                while heap.peek().is_some_and(|e| e.0 .0 .0 <= now) {
                    if let Some(Entry((_, _, done))) = heap.pop() {
                        let _ = done.send(());
                    }
                }
                // A new deadline wakes the thread at once; otherwise it sleeps to the earliest.
                let next = match heap.peek() {
                    Some(e) => rx.recv_timeout(e.0 .0 .0 - now),
                    None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                };
                match next {
                    Ok(w) => heap.push(Entry(w)),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        std::sync::Mutex::new(tx)
    });
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let (done, wait) = tokio::sync::oneshot::channel();
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _ = sender
        .lock()
        .map(|tx| tx.send((std::cmp::Reverse(deadline), seq, done)));
    let _ = wait.await;
}

#[allow(deprecated)]
fn socket_reset(stream: tokio::net::TcpStream) -> std::io::Result<()> {
    stream.set_linger(Some(Duration::ZERO))?;
    drop(stream);
    Ok(())
}

enum Action {
    Done,
    Reset,
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// The request's body: what came with the head, then the rest up to its Content-Length.
async fn request_body<S: AsyncRead + Unpin>(
    req: &[u8],
    content_length: Option<String>,
    s: &mut S,
) -> std::io::Result<Vec<u8>> {
    let len: usize = content_length.and_then(|v| v.parse().ok()).unwrap_or(0);
    let head_end = req
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(req.len());
    let mut body = req[head_end..].to_vec();
    let mut buf = [0u8; 2048];
    while body.len() < len {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Ok(body)
}

async fn respond<S: AsyncWrite + Unpin>(
    s: &mut S,
    code: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(code),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    s.flush().await
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    addr: SocketAddr,
    accepted: std::time::Instant,
) -> std::io::Result<Action> {
    let mut req = Vec::new();
    let mut buf = [0u8; 2048];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await?;
        if n == 0 || req.len() > 64 * 1024 {
            return Ok(Action::Done);
        }
        req.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&req).into_owned();
    let target = text.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_string();
    let header = |name: &str| {
        text.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .map(|l| l[name.len() + 1..].trim().to_string())
    };
    match path.as_str() {
        "/switch" if SWITCH_DOWN.load(std::sync::atomic::Ordering::SeqCst) => {
            respond(&mut s, 503, &[], b"service unavailable").await?
        }
        "/switch" => respond(&mut s, 200, &[], b"shop is up: Add to cart").await?,
        p if p.starts_with("/switch/") => {
            if switch_down(&p["/switch/".len()..]) {
                respond(&mut s, 503, &[], b"service unavailable").await?
            } else {
                respond(&mut s, 200, &[], b"shop is up: Add to cart").await?
            }
        }
        "/demo" if demo_down() => respond(&mut s, 503, &[], b"service unavailable").await?,
        "/demo" => {
            respond(
                &mut s,
                200,
                &[("Content-Type", "text/plain")],
                b"shop is up: Add to cart",
            )
            .await?
        }
        "/ok" => {
            respond(
                &mut s,
                200,
                &[("Content-Type", "text/plain")],
                b"hello from the shop. Add to cart",
            )
            .await?
        }
        "/json-up" => {
            respond(
                &mut s,
                200,
                &[("Content-Type", "application/json"), ("X-Version", "2")],
                br#"{"status":"UP","db":{"ok":true,"latency":3}}"#,
            )
            .await?
        }
        "/json-down" => {
            respond(
                &mut s,
                200,
                &[("Content-Type", "application/json")],
                br#"{"status":"DOWN"}"#,
            )
            .await?
        }
        "/html" => {
            respond(
                &mut s,
                200,
                &[("Content-Type", "text/html")],
                b"<!DOCTYPE html><html><body>Maintenance</body></html>",
            )
            .await?
        }
        "/500" => respond(&mut s, 500, &[], b"internal error").await?,
        "/gzip" => {
            respond(
                &mut s,
                200,
                &[("Content-Encoding", "gzip")],
                &gzip(b"compressed: Add to cart"),
            )
            .await?
        }
        "/gzip-bomb" => {
            respond(
                &mut s,
                200,
                &[("Content-Encoding", "gzip"), ("Content-Type", "text/plain")],
                gzip_bomb(),
            )
            .await?
        }
        "/loop" => respond(&mut s, 302, &[("Location", "/loop")], b"").await?,
        "/redirect-ok" => respond(&mut s, 302, &[("Location", "/ok")], b"").await?,
        "/redirect-metadata" => {
            respond(
                &mut s,
                302,
                &[("Location", "http://169.254.169.254/latest/meta-data/")],
                b"",
            )
            .await?
        }
        "/redirect-obfuscated" => {
            respond(
                &mut s,
                302,
                &[("Location", "http://0xa9fea9fe/latest/meta-data/")],
                b"",
            )
            .await?
        }
        // A small API for multi-step flows: log in (a JSON token and a session header), create an
        // order with the token (failing while the `flow-orders` switch is down, quoting the token
        // back as a careless API would), delete it (recorded in FLOW_DELETED).
        p if p.starts_with("/flow/") => {
            let method = text.split_whitespace().next().unwrap_or("?").to_string();
            let body = request_body(&req, header("content-length"), &mut s).await?;
            let body = String::from_utf8_lossy(&body).into_owned();
            let authorized =
                header("authorization").as_deref() == Some(&format!("Bearer {FLOW_TOKEN}"));
            match (method.as_str(), &p["/flow/".len()..]) {
                ("POST", "login")
                    if body.contains(&format!("\"password\":\"{FLOW_PASSWORD}\"")) =>
                {
                    let json = format!("{{\"token\":\"{FLOW_TOKEN}\",\"user\":\"probe\"}}");
                    respond(
                        &mut s,
                        200,
                        &[
                            ("Content-Type", "application/json"),
                            ("X-Session", "sid=s3ss10n-42; Path=/"),
                        ],
                        json.as_bytes(),
                    )
                    .await?
                }
                ("POST", "login") => respond(&mut s, 401, &[], b"wrong password").await?,
                ("POST", "orders") if !authorized => respond(&mut s, 401, &[], b"no token").await?,
                ("POST", "orders") if switch_down("flow-orders") => {
                    let out = format!("orders are down; token {FLOW_TOKEN} was fine");
                    respond(&mut s, 500, &[], out.as_bytes()).await?
                }
                ("POST", "orders") => {
                    respond(
                        &mut s,
                        201,
                        &[("Content-Type", "application/json")],
                        b"{\"id\":\"ord-42\",\"status\":\"open\"}",
                    )
                    .await?
                }
                ("DELETE", id) if authorized && id.starts_with("orders/") => {
                    FLOW_DELETED
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(id["orders/".len()..].to_string());
                    respond(&mut s, 204, &[], b"").await?
                }
                _ => respond(&mut s, 404, &[], b"not found").await?,
            }
        }
        "/echo-body" => {
            // Echoes the method, the content type and the request body.
            let body = request_body(&req, header("content-length"), &mut s).await?;
            let method = text.split_whitespace().next().unwrap_or("?").to_string();
            let ctype = header("content-type").unwrap_or_default();
            let out = format!("{method} {ctype} {}", String::from_utf8_lossy(&body));
            respond(&mut s, 200, &[], out.as_bytes()).await?
        }
        // A target that hands the request's credentials back in every shape a detail can quote:
        // re-encoded in a redirect, as the start of a body that is not JSON, inside a header
        // and a JSON value that fail their expectations.
        "/leak/redirect" => {
            let auth = header("authorization").unwrap_or_default();
            let enc: String = url::form_urlencoded::byte_serialize(auth.as_bytes()).collect();
            respond(
                &mut s,
                302,
                &[("Location", &format!("/leak/landing?cb={enc}"))],
                b"",
            )
            .await?
        }
        "/leak/landing" => respond(&mut s, 500, &[], b"no").await?,
        "/leak/quote" => {
            let auth = header("authorization").unwrap_or_default();
            respond(&mut s, 200, &[], auth.as_bytes()).await?
        }
        "/leak/header" => {
            let auth = header("authorization").unwrap_or_default();
            respond(&mut s, 200, &[("X-Echo", &auth)], b"").await?
        }
        "/leak/json" => {
            let auth = header("authorization").unwrap_or_default();
            let body = serde_json::json!({ "auth": auth }).to_string();
            respond(&mut s, 200, &[], body.as_bytes()).await?
        }
        // Basic authentication for bob:s3cr3t/pw=, as a real protected endpoint answers.
        "/basic" => match header("authorization").as_deref() {
            Some("Basic Ym9iOnMzY3IzdC9wdz0=") => respond(&mut s, 200, &[], b"welcome").await?,
            _ => {
                respond(
                    &mut s,
                    401,
                    &[("WWW-Authenticate", "Basic realm=\"shop\"")],
                    b"",
                )
                .await?
            }
        },
        "/echo-auth" => {
            let auth = header("authorization").unwrap_or_default();
            respond(&mut s, 200, &[], format!("auth=[{auth}]").as_bytes()).await?
        }
        "/redirect-same-origin-echo" => {
            respond(
                &mut s,
                302,
                &[("Location", &format!("http://{addr}/echo-auth"))],
                b"",
            )
            .await?
        }
        // Same address, another origin (a name that resolves to 127.0.0.1 on the test DNS server).
        "/redirect-other-origin-echo" => {
            respond(
                &mut s,
                302,
                &[(
                    "Location",
                    &format!("http://shop.test:{}/echo-auth", addr.port()),
                )],
                b"",
            )
            .await?
        }
        "/hang" => tokio::time::sleep(Duration::from_secs(3600)).await,
        "/reset" => return Ok(Action::Reset),
        "/dribble" => {
            // Headers one byte a second: never complete within any sane timeout.
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
                s.write_all(&[*b]).await?;
                s.flush().await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        "/endless" => {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n").await?;
            let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "x".repeat(16 * 1024));
            loop {
                s.write_all(chunk.as_bytes()).await?;
            }
        }
        "/endless-trickle" => {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n").await?;
            loop {
                s.write_all(b"1\r\nx\r\n").await?;
                s.flush().await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // Holds the response and reports how long it really held it (for the benchmark, which
        // subtracts each true hold from the latency the engine reported).
        p if p.starts_with("/hold/") => {
            // The response goes out `ms` after the connection was accepted, whatever the
            // server's own scheduling did in between; the hold reported is accept → written.
            let ms: u64 = p[6..].parse().unwrap_or(50);
            let start = accepted;
            precise_sleep_until(start + Duration::from_millis(ms)).await;
            respond(&mut s, 200, &[], b"held").await?;
            if std::env::var_os("ATALAYA_TARGET_LOG_HOLDS").is_some() {
                let id = target.split("i=").nth(1).unwrap_or("-");
                println!("hold {id} {}", start.elapsed().as_micros());
            }
        }
        p if p.starts_with("/slow/") => {
            let ms: u64 = p[6..].parse().unwrap_or(100);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            respond(&mut s, 200, &[], b"slow but fine").await?
        }
        p if p.starts_with("/status/") => {
            let code: u16 = p[8..].parse().unwrap_or(500);
            respond(&mut s, code, &[], b"status").await?
        }
        _ => respond(&mut s, 404, &[], b"not found").await?,
    }
    Ok(Action::Done)
}
