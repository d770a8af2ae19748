//! TLS checks: a handshake with the server, its certificate chain verified and the days left of
//! the certificate that expires first measured (`expect.cert_valid_for`, shared with https
//! checks). What the client trusts and presents is `tls_client`'s.

use crate::at::At;
use crate::fields::{valid_host, Ctx};
use crate::kinds::tls_client::{self, TlsClient, Trust};
use crate::raw::Port;
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
    /// CA certificate(s) to trust, PEM: inline, a file beside the checks file, or a
    /// `${ssm:…}`/`${secret:…}`/`${env:…}` reference. Alone it is the only trust (a private CA);
    /// with `trust`, it is added to those roots.
    pub ca: Option<At<String>>,
    /// `public` (the default: the web's public roots) or `system` (the machine's store).
    pub trust: Option<At<Trust>>,
    /// Client certificate chain, PEM (as `ca`), sent when the server asks for one.
    pub client_cert: Option<At<String>>,
    /// The client certificate's private key, PEM: a reference or a file, never written inline.
    pub client_key: Option<At<String>>,
}

#[derive(Clone, Debug)]
pub struct TlsCheck {
    pub host: String,
    pub port: u16,
    pub server_name: String,
    /// Trust and client certificate (its `server_name` is the field above).
    pub client: TlsClient,
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
    let client = tls_client::validate(
        tls_client::Fields {
            prefix: "tls.",
            ca: t.ca.as_ref(),
            trust: t.trust.as_ref(),
            client_cert: t.client_cert.as_ref(),
            client_key: t.client_key.as_ref(),
            server_name: t.server_name.as_ref(),
        },
        cx,
    );
    Some(TlsCheck {
        host: t.host.value.clone(),
        port,
        server_name: t
            .server_name
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| t.host.value.clone()),
        client,
    })
}
