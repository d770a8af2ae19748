//! `atalaya run --listen ADDR`: the one thing the local runner exposes, held so that no client
//! can blind the monitor. It runs on a thread and a runtime of its own, apart from probing and
//! judging; each connection has a deadline for its request head (and, kept alive, for the next
//! one), for a body, and for its whole life; connections are capped in total and per client,
//! leaving the process's file descriptors to the probes; a connection over a cap is answered
//! 503 and closed at once; and a failing `accept` (no descriptors left) backs off instead of
//! spinning.

use crate::pages::Pages;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request head (line and headers) must arrive within this, and so must the next one on a
/// connection kept alive: an idle or half-sent connection is closed.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body (a form, a ping's output) must arrive within this.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// No connection lives longer (a client that never reads its answer is let go).
const LIFETIME: Duration = Duration::from_secs(60);
/// Connections held at once from one client address.
const PER_CLIENT: usize = 16;
/// Connections held at once in all, at most: a quarter of the process's file descriptors.
const MOST: usize = 256;

/// The listener's caps, from the file descriptors the process may open.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    pub total: usize,
    pub per_client: usize,
}

impl Caps {
    /// Raises the soft limit on file descriptors to the hard one (as servers do), then keeps
    /// three quarters of them for probing, the database and the mail.
    pub fn for_this_process() -> Caps {
        let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
        let total = usize::try_from(limit / 4).unwrap_or(MOST).clamp(8, MOST);
        Caps {
            total,
            per_client: PER_CLIENT.min(total),
        }
    }
}

/// Who holds connections now.
#[derive(Default)]
struct Held {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// One held connection; let go when dropped.
struct Slot {
    held: Arc<Mutex<Held>>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut h) = self.held.lock() {
            h.total = h.total.saturating_sub(1);
            if let Some(n) = h.by_client.get_mut(&self.client) {
                *n -= 1;
                if *n == 0 {
                    h.by_client.remove(&self.client);
                }
            }
        }
    }
}

fn take_slot(held: &Arc<Mutex<Held>>, client: IpAddr, caps: Caps) -> Option<Slot> {
    let mut h = held.lock().ok()?;
    let mine = h.by_client.get(&client).copied().unwrap_or(0);
    if h.total >= caps.total || mine >= caps.per_client {
        return None;
    }
    h.total += 1;
    *h.by_client.entry(client).or_default() += 1;
    Some(Slot {
        held: held.clone(),
        client,
    })
}

/// Serves `pages` on `listener` from a thread of its own until the process ends.
pub fn spawn(
    listener: std::net::TcpListener,
    pages: Arc<Pages>,
    caps: Caps,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("atalaya-listen".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return eprintln!("warning: --listen: no runtime for the listener: {e}"),
            };
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => serve(l, pages, caps).await,
                    Err(e) => eprintln!("warning: --listen: {e}"),
                }
            });
        })
}

/// Accepts connections for ever, within the caps.
pub async fn serve(listener: tokio::net::TcpListener, pages: Arc<Pages>, caps: Caps) {
    let held: Arc<Mutex<Held>> = Arc::default();
    let mut backoff = Duration::from_millis(10);
    let mut refused = Refused::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                backoff = Duration::from_millis(10);
                accepted
            }
            // Out of descriptors (or memory): wait for some to be let go rather than spin.
            Err(e) => {
                refused.accept_failed(&e);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Some(slot) = take_slot(&held, peer.ip(), caps) else {
            // Over a cap: a short answer if the socket takes it now, and closed.
            let _ = stream.try_write(BUSY);
            refused.over_cap(peer.ip());
            continue;
        };
        let pages = pages.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let pages = pages.clone();
                async move { Ok::<_, std::convert::Infallible>(crate::pages::answer(&pages, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(LIFETIME, conn).await;
        });
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What the listener turned away, said at most once a minute.
#[derive(Default)]
struct Refused {
    said: Option<Instant>,
    count: usize,
    clients: std::collections::BTreeSet<IpAddr>,
    accept_errors: usize,
    last_error: String,
}

impl Refused {
    fn over_cap(&mut self, client: IpAddr) {
        self.count += 1;
        if self.clients.len() < 5 {
            self.clients.insert(client);
        }
        self.say();
    }

    fn accept_failed(&mut self, e: &std::io::Error) {
        self.accept_errors += 1;
        self.last_error = e.to_string();
        self.say();
    }

    fn say(&mut self) {
        if self
            .said
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
        {
            return;
        }
        let clients: Vec<String> = self.clients.iter().map(ToString::to_string).collect();
        if self.count > 0 {
            eprintln!(
                "warning: --listen: {} connection(s) over the caps turned away (from {}); probing goes on",
                self.count,
                clients.join(", ")
            );
        }
        if self.accept_errors > 0 {
            eprintln!(
                "warning: --listen: {} connection(s) could not be accepted ({}); backing off",
                self.accept_errors, self.last_error
            );
        }
        *self = Refused {
            said: Some(Instant::now()),
            ..Refused::default()
        };
    }
}
