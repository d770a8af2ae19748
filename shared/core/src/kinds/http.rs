//! HTTP(S) checks: a request, its response judged by status, headers and body. `${env:NAME}`
//! may appear in the URL, header values and the body.

use crate::at::At;
use crate::config::{DEFAULT_MAX_BODY, DEFAULT_MAX_REDIRECTS};
use crate::duration::parse_size;
use crate::fields::{is_token, template, Ctx};
use crate::kinds::tls_client::{self, RawTlsClient, TlsClient};
use crate::raw::{Count, RawExpect};
use crate::template::EnvTemplate;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const NAME: &str = "http";
/// The fields of `expect` an HTTP check owns.
pub const EXPECT: &[&str] = &["status", "headers", "body_contains", "body_regex", "json"];

/// An HTTP(S) probe. References — `${env:NAME}`, `${ssm:/atalaya/probe/name}` (an SSM parameter),
/// `${secret:atalaya/probe/name}` (a Secrets Manager secret) — may appear in `url`, header values and
/// `body`; they are resolved when the probe runs and never shown in results or logs.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Http")]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// `http://` or `https://` URL.
    pub url: At<String>,
    /// Request method (default GET).
    pub method: Option<At<String>>,
    /// Request headers.
    pub headers: Option<BTreeMap<String, At<String>>>,
    /// Request body.
    pub body: Option<At<String>>,
    /// Follow redirects (default true); every hop passes the network guard again.
    pub follow_redirects: Option<bool>,
    /// Most redirects to follow (default 5).
    pub max_redirects: Option<At<Count>>,
    /// Verify the server's certificate chain and name (default true).
    pub tls_verify: Option<bool>,
    /// Most body bytes read, after decompression (default `1MiB`).
    pub max_body: Option<At<String>>,
    /// What the TLS client trusts and presents: a private CA, the system's roots, a client
    /// certificate, the name to verify.
    pub tls: Option<At<RawTlsClient>>,
}

/// A header expectation: a value to equal, or a rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "HeaderExpect")]
#[serde(untagged)]
pub enum RawHeaderExpect {
    Equals(String),
    Rule(RawHeaderRule),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "HeaderRule")]
#[serde(deny_unknown_fields)]
pub struct RawHeaderRule {
    pub equals: Option<String>,
    pub contains: Option<String>,
}

#[derive(Clone, Debug)]
pub struct HttpCheck {
    pub url: EnvTemplate,
    pub method: String,
    pub headers: Vec<(String, EnvTemplate)>,
    pub body: Option<EnvTemplate>,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub tls_verify: bool,
    pub max_body: u64,
    pub tls: TlsClient,
    /// Values taken from the response (a flow's steps only).
    pub extract: Vec<crate::kinds::flow::Extract>,
    /// Its own fields of `expect`.
    pub expect: HttpExpect,
}

impl HttpCheck {
    /// The hosts it dials, by field (a host name from `${env:…}` is not known before it runs).
    pub fn targets(&self) -> Vec<(&'static str, String)> {
        url::Url::parse(&self.url.with_placeholders())
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .map(|host| vec![("http.url", host)])
            .unwrap_or_default()
    }

    /// The values that may carry `${env:…}` references, by field.
    pub fn templates(&self) -> Vec<(String, &EnvTemplate)> {
        let mut out = vec![("http.url".to_string(), &self.url)];
        out.extend(
            self.headers
                .iter()
                .map(|(name, v)| (format!("http.headers.{name}"), v)),
        );
        out.extend(self.body.iter().map(|b| ("http.body".to_string(), b)));
        out.extend(self.tls.templates("http.tls."));
        out
    }

    /// An https URL: the certificate can be judged (`expect.cert_valid_for`).
    pub fn is_https(&self) -> bool {
        self.url
            .with_placeholders()
            .to_ascii_lowercase()
            .starts_with("https:")
    }
}

/// What an HTTP response must look like; a 2xx status when nothing is said.
#[derive(Clone, Debug, Default)]
pub struct HttpExpect {
    pub status: Option<Vec<u16>>,
    pub headers: Vec<HeaderExpect>,
    pub body_contains: Option<String>,
    pub body_regex: Option<regex::Regex>,
    pub json: Vec<(String, serde_json::Value)>,
}

impl HttpExpect {
    /// True when the body must be read to judge the response.
    pub fn needs_body(&self) -> bool {
        self.body_contains.is_some() || self.body_regex.is_some() || !self.json.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct HeaderExpect {
    /// Lower-case header name.
    pub name: String,
    pub equals: Option<String>,
    pub contains: Option<String>,
}

/// The password of `scheme://user:password@host/...` as written, if there is one.
fn written_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then_some(password)
}

/// `http.url`: a template of an http(s) URL with a host, and no password written in it.
fn url(h: &RawHttp, cx: &mut Ctx) -> Option<EnvTemplate> {
    let url = template(cx, &h.url, "http.url");
    match url::Url::parse(
        &url.as_ref()
            .map(|u| u.with_placeholders())
            .unwrap_or_else(|| "http://x/".into()),
    ) {
        Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
            cx.push(
                h.url.pos,
                "http.url",
                format!(
                    "scheme {:?} is not supported: use http or https",
                    u.scheme()
                ),
            );
        }
        Ok(u) if u.host().is_none() => cx.push(h.url.pos, "http.url", "the URL has no host"),
        Ok(_) => {
            // Read on the template with one stand-in character per reference (a reference may
            // hold `/` or `:`, as `${ssm:/team/password}` does).
            const STAND_IN: &str = "\u{1}";
            let shape = url.as_ref().map(|u| u.with_stand_in(STAND_IN));
            if let Some(password) = shape.as_deref().and_then(written_password) {
                if password != STAND_IN {
                    cx.push(
                        h.url.pos,
                        "http.url",
                        "a password written in the URL would be kept wherever the checks file is: take it from the environment or a secret, as in https://user:${env:SHOP_PASSWORD}@shop.example/ or ${secret:shop/password} (it is sent as Basic authentication)",
                    );
                }
            }
        }
        Err(e) => cx.push(h.url.pos, "http.url", format!("malformed URL: {e}")),
    }
    url
}

/// `http.headers`: valid names, values without line breaks, each a template.
fn headers(h: &RawHttp, cx: &mut Ctx) -> Vec<(String, EnvTemplate)> {
    let mut headers = Vec::new();
    for (name, value) in h.headers.iter().flatten() {
        let field = format!("http.headers.{name}");
        if !is_token(name) {
            cx.push(
                value.pos,
                &field,
                format!("{name:?} is not a valid header name"),
            );
        }
        if value.value.contains(['\r', '\n']) {
            cx.push(
                value.pos,
                &field,
                "header values cannot contain line breaks",
            );
        }
        if let Some(t) = template(cx, value, &field) {
            headers.push((name.clone(), t));
        }
    }
    headers
}

/// `http.max_redirects` (at most 20) and `http.max_body` (1 byte to 64 MiB).
fn limits(h: &RawHttp, cx: &mut Ctx) -> (u32, u64) {
    let max_redirects = match &h.max_redirects {
        Some(m) if m.value.0 > 20 => {
            cx.push(
                m.pos,
                "http.max_redirects",
                "at most 20 redirects can be followed",
            );
            DEFAULT_MAX_REDIRECTS
        }
        Some(m) => m.value.0,
        None => DEFAULT_MAX_REDIRECTS,
    };
    let max_body = match &h.max_body {
        Some(m) => match parse_size(&m.value) {
            Ok(0) => {
                cx.push(m.pos, "http.max_body", "must be at least 1 byte");
                DEFAULT_MAX_BODY
            }
            Ok(n) if n > 64 << 20 => {
                cx.push(m.pos, "http.max_body", "at most 64MiB of body can be read");
                DEFAULT_MAX_BODY
            }
            Ok(n) => n,
            Err(e) => {
                cx.push(m.pos, "http.max_body", e);
                DEFAULT_MAX_BODY
            }
        },
        None => DEFAULT_MAX_BODY,
    };
    (max_redirects, max_body)
}

/// `http.tls`: the check's own TLS client, and whether it can be used as written.
fn tls(h: &RawHttp, url: Option<&EnvTemplate>, cx: &mut Ctx) -> TlsClient {
    let tls = match &h.tls {
        Some(t) => {
            let raw = &t.value;
            tls_client::validate(
                tls_client::Fields {
                    prefix: "http.tls.",
                    ca: raw.ca.as_ref(),
                    trust: raw.trust.as_ref(),
                    client_cert: raw.client_cert.as_ref(),
                    client_key: raw.client_key.as_ref(),
                    server_name: raw.server_name.as_ref(),
                },
                cx,
            )
        }
        None => TlsClient::default(),
    };
    if !tls.is_default() && url.is_some_and(|u| !u.with_placeholders().starts_with("https:")) {
        if let Some(t) = &h.tls {
            cx.push(
                t.pos,
                "http.tls",
                "TLS options on an http:// URL are never used: the URL should be https://",
            );
        }
    }
    if !tls.is_default() && h.tls_verify == Some(false) && (tls.ca.is_some() || tls.trust.is_some())
    {
        if let Some(t) = &h.tls {
            cx.push(t.pos, "http.tls", "tls_verify: false verifies nothing, so a ca or trust here would be ignored: remove one of them");
        }
    }
    tls
}

pub(crate) fn validate(h: &RawHttp, expect: Option<&RawExpect>, cx: &mut Ctx) -> Option<HttpCheck> {
    let url = url(h, cx);
    let method = match &h.method {
        Some(m) if !is_token(&m.value) => {
            cx.push(
                m.pos,
                "http.method",
                format!("{:?} is not an HTTP method", m.value),
            );
            "GET".to_string()
        }
        Some(m) => m.value.to_ascii_uppercase(),
        None => "GET".to_string(),
    };
    let headers = headers(h, cx);
    let body = h.body.as_ref().and_then(|b| template(cx, b, "http.body"));
    let (max_redirects, max_body) = limits(h, cx);
    let expect = expect.map(|e| expectations(e, cx)).unwrap_or_default();
    let tls = tls(h, url.as_ref(), cx);
    Some(HttpCheck {
        url: url?,
        method,
        headers,
        body,
        follow_redirects: h.follow_redirects.unwrap_or(true),
        max_redirects,
        tls_verify: h.tls_verify.unwrap_or(true),
        max_body,
        tls,
        extract: Vec::new(),
        expect,
    })
}

fn expectations(e: &RawExpect, cx: &mut Ctx) -> HttpExpect {
    let mut out = HttpExpect::default();
    if let Some(status) = &e.status {
        if status.value.is_empty() {
            cx.push(
                status.pos,
                "expect.status",
                "an empty list accepts no status at all; list the acceptable codes, e.g. [200]",
            );
        }
        for s in &status.value {
            if !(100..=599).contains(&s.value.0) {
                cx.push(
                    s.pos,
                    "expect.status",
                    format!("{} is not an HTTP status code (100-599)", s.value.0),
                );
            }
        }
        out.status = Some(status.value.iter().map(|s| s.value.0).collect());
    }
    if let Some(headers) = &e.headers {
        if headers.value.is_empty() {
            cx.push(
                headers.pos,
                "expect.headers",
                "an empty map asserts nothing; remove it or name a header",
            );
        }
        for (name, rule) in &headers.value {
            let field = format!("expect.headers.{name}");
            let (equals, contains) = match &rule.value {
                RawHeaderExpect::Equals(v) => (Some(v.clone()), None),
                RawHeaderExpect::Rule(r) => (r.equals.clone(), r.contains.clone()),
            };
            if equals.is_none() && contains.is_none() {
                cx.push(rule.pos, &field, "give `equals` or `contains`");
            }
            if contains.as_deref() == Some("") {
                cx.push(
                    rule.pos,
                    &field,
                    "contains \"\" can never fail; give the text to look for",
                );
            }
            out.headers.push(HeaderExpect {
                name: name.to_ascii_lowercase(),
                equals,
                contains,
            });
        }
    }
    if let Some(b) = &e.body_contains {
        if b.value.is_empty() {
            cx.push(
                b.pos,
                "expect.body_contains",
                "an empty string is in every body: this can never fail",
            );
        }
        out.body_contains = Some(b.value.clone());
    }
    if let Some(r) = &e.body_regex {
        match regex::RegexBuilder::new(&r.value)
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) if re.is_match("") => cx.push(
                r.pos,
                "expect.body_regex",
                "this regex matches an empty body, so it matches every body: it can never fail",
            ),
            Ok(re) => out.body_regex = Some(re),
            Err(err) => cx.push(r.pos, "expect.body_regex", format!("invalid regex: {err}")),
        }
    }
    if let Some(j) = &e.json {
        if j.value.is_empty() {
            cx.push(j.pos, "expect.json", "an empty map asserts nothing; map JSON pointers to values, e.g. {\"/status\": \"UP\"}");
        }
        for (ptr, v) in &j.value {
            if !ptr.is_empty() && !ptr.starts_with('/') {
                cx.push(
                    j.pos,
                    &format!("expect.json.{ptr}"),
                    format!("{ptr:?} is not a JSON pointer: it starts with / (e.g. /status)"),
                );
            }
            out.json.push((ptr.clone(), v.clone()));
        }
    }
    out
}
