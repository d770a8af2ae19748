//! TCP checks: connect to a port; optionally send bytes and expect a substring of the reply.

use crate::at::At;
use crate::fields::{valid_host, Ctx};
use crate::raw::{Port, RawExpect};
use schemars::JsonSchema;
use serde::Deserialize;

pub const NAME: &str = "tcp";
/// The fields of `expect` a TCP check owns.
pub const EXPECT: &[&str] = &["reply_contains"];

/// A TCP probe.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Tcp")]
#[serde(deny_unknown_fields)]
pub struct RawTcp {
    pub host: At<String>,
    pub port: At<Port>,
    /// Bytes to send once connected (may be empty: read the server's banner).
    pub send: Option<String>,
}

#[derive(Clone, Debug)]
pub struct TcpCheck {
    pub host: String,
    pub port: u16,
    pub send: Option<String>,
    /// `expect.reply_contains`: a substring the reply must contain.
    pub reply_contains: Option<String>,
}

impl TcpCheck {
    pub fn targets(&self) -> Vec<(&'static str, String)> {
        vec![("tcp.host", self.host.clone())]
    }
}

pub(crate) fn validate(t: &RawTcp, expect: Option<&RawExpect>, cx: &mut Ctx) -> Option<TcpCheck> {
    if let Err(e) = valid_host(&t.host.value) {
        cx.push(t.host.pos, "tcp.host", e);
    }
    if t.port.value.0 == 0 {
        cx.push(t.port.pos, "tcp.port", "port 0 is not a port");
    }
    let reply_contains = expect.and_then(|e| e.reply_contains.as_ref()).map(|r| {
        if r.value.is_empty() {
            cx.push(
                r.pos,
                "expect.reply_contains",
                "an empty string is in every reply: this can never fail",
            );
        }
        r.value.clone()
    });
    Some(TcpCheck {
        host: t.host.value.clone(),
        port: t.port.value.0,
        send: t.send.clone(),
        reply_contains,
    })
}
