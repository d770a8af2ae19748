//! TLS checks: a handshake with the server, its certificate verified and its days left
//! measured (`expect.cert_valid_for`, shared with https checks).

use crate::at::At;
use crate::raw::Port;
use crate::validate::{valid_host, Ctx};
use schemars::JsonSchema;
use serde::Deserialize;

pub const NAME: &str = "tls";
/// The fields of `expect` a TLS check owns (beyond the shared certificate threshold).
pub const EXPECT: &[&str] = &[];

/// A TLS certificate probe.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Tls")]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub host: At<String>,
    /// Default 443.
    pub port: Option<At<Port>>,
    /// Name to send (SNI) and verify, if it differs from host.
    pub server_name: Option<At<String>>,
}

#[derive(Clone, Debug)]
pub struct TlsCheck {
    pub host: String,
    pub port: u16,
    pub server_name: String,
}

impl TlsCheck {
    pub fn targets(&self) -> Vec<(&'static str, String)> {
        vec![("tls.host", self.host.clone())]
    }
}

pub(crate) fn validate(t: &At<RawTls>, cx: &mut Ctx) -> Option<TlsCheck> {
    let (pos, t) = (t.pos, &t.value);
    if let Err(e) = valid_host(&t.host.value) {
        cx.push(t.host.pos, "tls.host", e);
    }
    let port = t.port.as_ref().map(|p| p.value.0).unwrap_or(443);
    if port == 0 {
        cx.push(
            t.port.as_ref().map(|p| p.pos).unwrap_or(pos),
            "tls.port",
            "port 0 is not a port",
        );
    }
    if let Some(sn) = &t.server_name {
        if let Err(e) = valid_host(&sn.value) {
            cx.push(sn.pos, "tls.server_name", e);
        }
    }
    Some(TlsCheck {
        host: t.host.value.clone(),
        port,
        server_name: t
            .server_name
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| t.host.value.clone()),
    })
}
