//! TCP probes: connect, optionally send, optionally expect a substring in the reply.

use crate::net::io_reason;
use crate::{Engine, Judgement, Step, Trace};
use atalaya_core::{Reason, TcpCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Most reply bytes read while looking for `reply_contains`.
const MAX_REPLY: usize = 64 * 1024;

impl Engine {
    pub(crate) async fn tcp(&self, t: &TcpCheck, trace: &mut Trace) -> Step<Judgement> {
        let mut stream = self.connect_host(&t.host, t.port, trace).await?;
        let peer = trace.peer.map(|p| p.to_string()).unwrap_or_default();
        if let Some(send) = &t.send {
            if !send.is_empty() {
                trace.phase = "send";
                stream.write_all(send.as_bytes()).await.map_err(|e| {
                    Judgement::down(io_reason(&e), format!("sending to {peer} failed: {e}"))
                })?;
            }
        }
        let Some(want) = &t.reply_contains else {
            return Ok(Judgement::up(format!("connected to {peer}")));
        };
        trace.phase = "reply";
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| {
                Judgement::down(
                    io_reason(&e),
                    format!("reading the reply from {peer} failed: {e}"),
                )
            })?;
            reply.extend_from_slice(&buf[..n]);
            if reply.windows(want.len()).any(|w| w == want.as_bytes()) {
                return Ok(Judgement::up(format!(
                    "reply from {peer} contains {want:?}"
                )));
            }
            if n == 0 || reply.len() >= MAX_REPLY {
                let why = if n == 0 {
                    "the server closed the connection"
                } else {
                    "read 64 KiB"
                };
                let shown = String::from_utf8_lossy(&reply[..reply.len().min(60)]).into_owned();
                return Err(Judgement::down(
                    Reason::Assertion,
                    format!("reply does not contain {want:?} ({why}; reply starts with {shown:?})"),
                ));
            }
        }
    }
}
