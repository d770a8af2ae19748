//! What a TLS client trusts and presents, for the kinds that make TLS connections (HTTP's `tls:`
//! block, the TLS kind's own fields): a private CA (`ca`), the system's trust store
//! (`trust: system`), a client certificate and its key (`client_cert`, `client_key`), and the
//! name to send and verify (`server_name`).
//!
//! Each PEM value is inline PEM, a `${ssm:…}`, `${secret:…}` or `${env:…}` reference (read like
//! a header's, never shown), or a file beside the checks file (read when the file is loaded, on
//! the local runner only: a Lambda package carries the checks file alone).

use crate::at::{At, Pos};
use crate::fields::{template, valid_host, Ctx};
use crate::template::EnvTemplate;
use crate::Target;
use schemars::JsonSchema;
use serde::Deserialize;

/// Which roots verify the server's chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// The public web's roots, built in (Mozilla's, via webpki-roots): the default.
    #[default]
    Public,
    /// The machine's trust store (`/etc/ssl`, `SSL_CERT_FILE`, …).
    System,
}

/// TLS options of an HTTP check (`http.tls`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "TlsClient")]
#[serde(deny_unknown_fields)]
pub struct RawTlsClient {
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
    /// Name to send (SNI) and verify, if it differs from the URL's host.
    pub server_name: Option<At<String>>,
}

/// Where a PEM value comes from.
#[derive(Clone, Debug)]
pub enum Pem {
    /// Inline PEM, or references whose values are PEM.
    Value(EnvTemplate),
    /// A file, relative to the checks file's folder; `text` once the loader has read it.
    File {
        path: String,
        pos: Pos,
        text: Option<String>,
    },
}

/// Boxed parts: most checks have none, and every check carries one (a few bytes, not a few
/// hundred, for each of 20,000 checks held by each probe invocation).
#[derive(Clone, Debug, Default)]
pub struct TlsClient {
    pub ca: Option<Box<Pem>>,
    /// Whether the built-in public roots (`Public`) or the machine's (`System`) are trusted;
    /// `None` with a `ca`: that CA alone.
    pub trust: Option<Trust>,
    /// Certificate chain and key.
    pub client: Option<Box<(Pem, Pem)>>,
    pub server_name: Option<String>,
}

impl TlsClient {
    /// Nothing beyond the defaults (public roots, no client certificate).
    pub fn is_default(&self) -> bool {
        self.ca.is_none()
            && self.trust.is_none_or(|t| t == Trust::Public)
            && self.client.is_none()
            && self.server_name.is_none()
    }

    /// The PEM values, by field (`<prefix>ca`, …), for the loader and the shells.
    pub fn pems(&self, prefix: &str) -> Vec<(String, &Pem)> {
        let mut out = Vec::new();
        if let Some(ca) = &self.ca {
            out.push((format!("{prefix}ca"), &**ca));
        }
        if let Some(pair) = &self.client {
            let (cert, key) = &**pair;
            out.push((format!("{prefix}client_cert"), cert));
            out.push((format!("{prefix}client_key"), key));
        }
        out
    }

    pub fn pems_mut(&mut self) -> Vec<(&'static str, &mut Pem)> {
        let mut out: Vec<(&'static str, &mut Pem)> = Vec::new();
        if let Some(ca) = &mut self.ca {
            out.push(("ca", &mut **ca));
        }
        if let Some(pair) = &mut self.client {
            let (cert, key) = &mut **pair;
            out.push(("client_cert", cert));
            out.push(("client_key", key));
        }
        out
    }

    /// The references in its PEM values, by field.
    pub fn templates(&self, prefix: &str) -> Vec<(String, &EnvTemplate)> {
        self.pems(prefix)
            .into_iter()
            .filter_map(|(f, p)| match p {
                Pem::Value(t) => Some((f, t)),
                Pem::File { .. } => None,
            })
            .collect()
    }
}

/// The fields as written, wherever they sit (`http.tls.ca`, `tls.ca`).
pub(crate) struct Fields<'a> {
    pub prefix: &'a str,
    pub ca: Option<&'a At<String>>,
    pub trust: Option<&'a At<Trust>>,
    pub client_cert: Option<&'a At<String>>,
    pub client_key: Option<&'a At<String>>,
    pub server_name: Option<&'a At<String>>,
}

fn pem(v: &At<String>, field: &str, key: bool, target: Target, cx: &mut Ctx) -> Option<Pem> {
    let text = v.value.trim();
    if text.is_empty() {
        cx.push(
            v.pos,
            field,
            "empty: give PEM, a file or a ${ssm:…}/${secret:…}/${env:…} reference",
        );
        return None;
    }
    if text.contains("${") {
        return template(cx, v, field).map(Pem::Value);
    }
    if text.starts_with("-----BEGIN") {
        if key {
            cx.push(
                v.pos,
                field,
                "a private key written in the checks file would be kept wherever the file is: take it from a secret (${secret:team/client-key}), SSM (${ssm:/team/client-key}), the environment or a file",
            );
            return None;
        }
        return Some(Pem::Value(EnvTemplate::literal(text)));
    }
    if target == Target::Lambda {
        let how = if key {
            "give the key as ${secret:…} or ${ssm:…}"
        } else {
            "give the PEM as ${ssm:…} or ${secret:…}, or inline"
        };
        cx.push(
            v.pos,
            field,
            format!("{text:?}: a file cannot be read on Lambda (the package carries the checks file alone); {how}"),
        );
        return None;
    }
    // A file beside the checks file, or in a folder under it: never elsewhere on the machine
    // (a checks file from someone else must not read /etc/shadow into a TLS error).
    let path = std::path::Path::new(text);
    if path.is_absolute()
        || text.starts_with('~')
        || path.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    {
        cx.push(
            v.pos,
            field,
            format!("{text:?}: a PEM file must be in the checks file's folder or under it (a relative path without ..); copy it there, or give the PEM inline or by a reference"),
        );
        return None;
    }
    Some(Pem::File {
        path: text.to_string(),
        pos: v.pos,
        text: None,
    })
}

pub(crate) fn validate(f: Fields<'_>, cx: &mut Ctx) -> TlsClient {
    let (p, target) = (f.prefix, cx.target);
    let ca =
        f.ca.and_then(|v| pem(v, &format!("{p}ca"), false, target, cx));
    let client = match (f.client_cert, f.client_key) {
        (Some(c), Some(k)) => {
            let cert = pem(c, &format!("{p}client_cert"), false, target, cx);
            let key = pem(k, &format!("{p}client_key"), true, target, cx);
            cert.zip(key)
        }
        (Some(c), None) => {
            cx.push(
                c.pos,
                &format!("{p}client_key"),
                "a client certificate needs its key: add client_key",
            );
            None
        }
        (None, Some(k)) => {
            cx.push(
                k.pos,
                &format!("{p}client_cert"),
                "a client key needs its certificate: add client_cert",
            );
            None
        }
        (None, None) => None,
    };
    if let Some(sn) = f.server_name {
        if let Err(e) = valid_host(&sn.value) {
            cx.push(sn.pos, &format!("{p}server_name"), e);
        }
    }
    TlsClient {
        ca: ca.map(Box::new),
        trust: f.trust.map(|t| t.value),
        client: client.map(Box::new),
        server_name: f.server_name.map(|s| s.value.clone()),
    }
}
