//! Judging the final response against a check's expectations: status, headers, body, JSON.

use super::body::{contains, read_body};
use crate::{Judgement, Step, Trace};
use atalaya_core::kinds::flow::ExtractFrom;
use atalaya_core::{Check, HttpCheck, HttpExpect, Reason};
use http::header::CONTENT_ENCODING;
use hyper::body::Incoming;

fn quote(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    let mut q = format!("{:?}", text.as_ref());
    if bytes.len() > max {
        q.push('…');
    }
    q
}

/// The first group of `re`'s first match in `text`, or the whole match when it has none.
fn first_group(re: &regex::Regex, text: &str) -> Option<String> {
    let c = re.captures(text)?;
    c.get(1)
        .or_else(|| c.get(0))
        .map(|m| m.as_str().to_string())
}

/// The most a flow takes of one extracted value: a token or an id, not a document (a server's
/// header limit is smaller still, so a larger value could not be sent back anyway).
pub const MAX_EXTRACTED: usize = 16 * 1024;

/// Takes `value` into `var`, or refuses it when it is larger than [`MAX_EXTRACTED`] (still a
/// secret: it is scrubbed from the result all the same).
fn take(trace: &mut Trace, failures: &mut Vec<String>, var: &str, value: String) {
    if value.len() > MAX_EXTRACTED {
        failures.push(format!(
            "cannot extract {var}: the value is {} bytes, more than the {MAX_EXTRACTED} a value may have",
            value.len()
        ));
        trace.secrets.push(value);
    } else {
        trace.extracted.push((var.to_string(), value));
    }
}

fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

/// Judges the final response against the check's expectations, reading the body only when an
/// assertion needs it.
pub(super) async fn judge(
    check: &Check,
    h: &HttpCheck,
    response: hyper::Response<Incoming>,
    trace: &mut Trace,
) -> Step<Judgement> {
    let e: &HttpExpect = &h.expect;
    let status = response.status();
    let code = status.as_u16();
    let status_ok = match &e.status {
        Some(list) => list.contains(&code),
        None => status.is_success(),
    };
    if !status_ok {
        let expected = match &e.status {
            Some(list) => format!("one of {list:?}"),
            None => "2xx".to_string(),
        };
        return Err(Judgement::down(
            Reason::HttpStatus,
            format!("status {code}, expected {expected}"),
        ));
    }
    let mut failures: Vec<String> = Vec::new();
    // A flow's step takes values from headers here, from the body below.
    extract_headers(h, response.headers(), trace, &mut failures);
    expect_headers(e, response.headers(), &mut failures);
    if e.needs_body() || h.extract.iter().any(|x| x.needs_body()) {
        let encoding = response
            .headers()
            .get(CONTENT_ENCODING)
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        // Stop reading as soon as the only body assertion is satisfied.
        let stop_at = match (&e.body_contains, &e.body_regex, e.json.is_empty()) {
            (Some(needle), None, true) if h.extract.is_empty() => Some(needle.as_bytes()),
            _ => None,
        };
        let body = read_body(response.into_body(), &encoding, h.max_body, stop_at, trace).await?;
        trace.phase = "assert";
        expect_body(e, &body, &mut failures);
        extract_body(h, &body, trace, &mut failures);
    }
    if !failures.is_empty() {
        return Err(Judgement::down(Reason::Assertion, failures.join("; ")));
    }
    let reason = status
        .canonical_reason()
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    Ok(crate::tls::cert_threshold(
        check,
        trace,
        Judgement::up(format!("status {code}{reason}")),
    ))
}

/// Values a flow's step takes from response headers.
fn extract_headers(
    h: &HttpCheck,
    headers: &http::HeaderMap,
    trace: &mut Trace,
    failures: &mut Vec<String>,
) {
    for x in &h.extract {
        if let ExtractFrom::Header(name, re) = &x.from {
            let seen = headers
                .get(name.as_str())
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            match seen {
                None => failures.push(format!(
                    "cannot extract {}: header {name} is missing",
                    x.var
                )),
                Some(v) => match re {
                    None => take(trace, failures, &x.var, v),
                    Some(re) => match first_group(re, &v) {
                        Some(found) => take(trace, failures, &x.var, found),
                        None => failures.push(format!(
                            "cannot extract {}: header {name} does not match /{}/",
                            x.var,
                            re.as_str()
                        )),
                    },
                },
            }
        }
    }
}

/// `expect.headers`: each present, equal to or containing what is expected.
fn expect_headers(e: &HttpExpect, headers: &http::HeaderMap, failures: &mut Vec<String>) {
    for he in &e.headers {
        let seen = headers
            .get(&he.name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        match (&seen, &he.equals, &he.contains) {
            (None, _, _) => failures.push(format!("header {} is missing", he.name)),
            (Some(v), Some(want), _) if v != want => {
                failures.push(format!("header {} is {v:?}, expected {want:?}", he.name))
            }
            (Some(v), _, Some(want)) if !v.contains(want.as_str()) => failures.push(format!(
                "header {} is {v:?}, expected it to contain {want:?}",
                he.name
            )),
            _ => {}
        }
    }
}

/// `expect.body_contains`, `body_regex` and `json` on the body read.
fn expect_body(e: &HttpExpect, body: &[u8], failures: &mut Vec<String>) {
    if let Some(needle) = &e.body_contains {
        if !contains(body, needle.as_bytes()) {
            failures.push(format!(
                "body does not contain {needle:?} (read {} bytes)",
                body.len()
            ));
        }
    }
    if let Some(re) = &e.body_regex {
        if !re.is_match(&String::from_utf8_lossy(body)) {
            failures.push(format!(
                "body does not match /{}/ (read {} bytes)",
                re.as_str(),
                body.len()
            ));
        }
    }
    if !e.json.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Err(err) => failures.push(format!(
                "body is not JSON ({err}); it starts with {}",
                quote(body, 40)
            )),
            Ok(doc) => {
                for (pointer, want) in &e.json {
                    match doc.pointer(pointer) {
                        None => {
                            failures.push(format!("json {pointer} is missing, expected {want}"))
                        }
                        Some(seen) if !json_equal(seen, want) => {
                            failures.push(format!("json {pointer} is {seen}, expected {want}"))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
}

/// Values a flow's step takes from the body (a regular expression's group, a JSON pointer).
fn extract_body(h: &HttpCheck, body: &[u8], trace: &mut Trace, failures: &mut Vec<String>) {
    let mut doc: Option<serde_json::Value> = None;
    for x in &h.extract {
        match &x.from {
            ExtractFrom::Header(..) => {}
            ExtractFrom::Body(re) => match first_group(re, &String::from_utf8_lossy(body)) {
                Some(v) => take(trace, failures, &x.var, v),
                None => failures.push(format!(
                    "cannot extract {}: body does not match /{}/",
                    x.var,
                    re.as_str()
                )),
            },
            ExtractFrom::Json(pointer) => {
                if doc.is_none() {
                    doc = serde_json::from_slice(body).ok();
                }
                match doc.as_ref().map(|d| d.pointer(pointer)) {
                    None => failures.push(format!(
                        "cannot extract {}: body is not JSON; it starts with {}",
                        x.var,
                        quote(body, 40)
                    )),
                    Some(None) => failures.push(format!(
                        "cannot extract {}: json {pointer} is missing",
                        x.var
                    )),
                    // A string is taken as it is; anything else as its JSON text.
                    Some(Some(v)) => take(
                        trace,
                        failures,
                        &x.var,
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    ),
                }
            }
        }
    }
}
