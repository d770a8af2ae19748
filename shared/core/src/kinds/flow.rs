//! Multi-step API flows (`steps:`): HTTP requests in order, each with its own expectations,
//! values extracted from one response (a JSON pointer, a header, a regular expression) used by
//! later steps as `${var:NAME}` in URLs, headers and bodies, and cleanup steps (`always: true`)
//! that run even after a failure. The whole flow has the check's one timeout; the check's
//! `expect` keeps what applies to the whole (latency, the certificate).
//!
//! Extracted values are secrets: scrubbed from everything reported, like `${env:…}` values.

use crate::at::{At, Pos};
use crate::fields::Ctx;
use crate::kinds::http::{self, HttpCheck, RawHttp};
use crate::raw::RawExpect;
use crate::template::Source;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "steps";
/// The fields of `expect` a flow owns: none (each step has its own; the check's are shared).
pub const EXPECT: &[&str] = &[];
/// The most steps a flow may have.
pub const MAX_STEPS: usize = 20;

/// One step of a flow.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Step")]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Names the step in results (unique in the flow).
    pub name: At<String>,
    /// The request, as an HTTP check's (`${var:NAME}` may appear in the URL, headers, body).
    pub http: At<RawHttp>,
    /// What the response must be: status, headers, body_contains, body_regex, json.
    pub expect: Option<At<RawExpect>>,
    /// Values to take from the response, by variable name.
    pub extract: Option<BTreeMap<String, At<RawExtract>>>,
    /// Run even when an earlier step failed (cleanup); default false.
    pub always: Option<bool>,
}

/// Where a value comes from: `json` (a JSON pointer into the body), `header` (a response
/// header), and `regex` (its first group, or the whole match, over the header given or else the
/// body).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Extract")]
#[serde(deny_unknown_fields)]
pub struct RawExtract {
    pub json: Option<String>,
    pub header: Option<String>,
    pub regex: Option<String>,
}

#[derive(Clone, Debug)]
pub enum ExtractFrom {
    Json(String),
    Header(String, Option<regex::Regex>),
    Body(regex::Regex),
}

#[derive(Clone, Debug)]
pub struct Extract {
    pub var: String,
    pub from: ExtractFrom,
}

impl Extract {
    pub fn needs_body(&self) -> bool {
        matches!(self.from, ExtractFrom::Json(_) | ExtractFrom::Body(_))
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    /// The request and its expectations; `http.extract` are this step's extractions.
    pub http: HttpCheck,
    pub always: bool,
}

#[derive(Clone, Debug)]
pub struct FlowCheck {
    pub steps: Vec<Step>,
}

impl FlowCheck {
    pub fn targets(&self) -> Vec<(&'static str, String)> {
        self.steps.iter().flat_map(|s| s.http.targets()).collect()
    }

    pub fn has_https(&self) -> bool {
        self.steps.iter().any(|s| s.http.is_https())
    }
}

/// The fields of a step's `expect` that are the check's, not a step's.
const CHECK_WIDE: &[&str] = &["latency", "cert_valid_for", "cert_warn_before"];

fn extract(var: &str, e: &At<RawExtract>, field: &str, cx: &mut Ctx) -> Option<Extract> {
    let ok_name = var
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok_name {
        cx.push(
            e.pos,
            field,
            format!("{var:?} cannot be a variable name: use letters, digits and _"),
        );
        return None;
    }
    let regex = |cx: &mut Ctx, r: &str| match regex::Regex::new(r) {
        Ok(re) if re.captures_len() <= 2 => Some(re),
        Ok(_) => {
            cx.push(
                e.pos,
                field,
                format!("regex {r:?} has more than one group: the value is the first group's, so give it one (or none, for the whole match)"),
            );
            None
        }
        Err(err) => {
            cx.push(e.pos, field, format!("regex {r:?} is not valid: {err}"));
            None
        }
    };
    let from = match (&e.value.json, &e.value.header, &e.value.regex) {
        (Some(p), None, None) => {
            if !p.is_empty() && !p.starts_with('/') {
                cx.push(
                    e.pos,
                    field,
                    format!("{p:?} is not a JSON pointer: start it with / (e.g. /token)"),
                );
                return None;
            }
            ExtractFrom::Json(p.clone())
        }
        (None, Some(h), r) => {
            if !crate::fields::is_token(h) {
                cx.push(e.pos, field, format!("{h:?} is not a header name"));
                return None;
            }
            let re = match r {
                Some(r) => Some(regex(cx, r)?),
                None => None,
            };
            ExtractFrom::Header(h.to_ascii_lowercase(), re)
        }
        (None, None, Some(r)) => ExtractFrom::Body(regex(cx, r)?),
        _ => {
            cx.push(
                e.pos,
                field,
                "take a value from one place: json (a pointer), header (optionally with regex), or regex (over the body)",
            );
            return None;
        }
    };
    Some(Extract {
        var: var.to_string(),
        from,
    })
}

pub(crate) fn validate(steps: &At<Vec<RawStep>>, cx: &mut Ctx) -> Option<FlowCheck> {
    if steps.value.is_empty() || steps.value.len() > MAX_STEPS {
        cx.push(
            steps.pos,
            "steps",
            format!(
                "a flow has 1 to {MAX_STEPS} steps, not {}",
                steps.value.len()
            ),
        );
        return None;
    }
    let mut names: BTreeMap<String, Pos> = BTreeMap::new();
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    let mut ok = true;
    for (i, s) in steps.value.iter().enumerate() {
        let name = s.name.value.trim().to_string();
        let at = format!("steps[{i}]");
        if name.is_empty() {
            cx.push(s.name.pos, &format!("{at}.name"), "give the step a name");
        } else if let Some(first) = names.get(&name) {
            cx.push(
                s.name.pos,
                &format!("{at}.name"),
                format!(
                    "step {name:?} is already the name of the step at line {}",
                    first.line
                ),
            );
        } else {
            names.insert(name.clone(), s.name.pos);
        }
        // A step's problems name it: `check checkout step login: http.url: …`.
        let subject = std::mem::take(&mut cx.subject);
        cx.subject = format!("{subject} step {name}");
        if let Some(e) = &s.expect {
            for (field, pos) in e.value.present() {
                if CHECK_WIDE.contains(&field) {
                    cx.push(
                        pos,
                        &format!("expect.{field}"),
                        "applies to the whole flow: write it in the check's expect",
                    );
                } else if !http::EXPECT.contains(&field) {
                    cx.push(
                        pos,
                        &format!("expect.{field}"),
                        "does not apply to a step (an HTTP request)",
                    );
                }
            }
        }
        let checked = http::validate(&s.http.value, s.expect.as_ref().map(|e| &e.value), cx);
        // Variables used must come from earlier steps.
        if let Some(h) = &checked {
            for (field, t) in h.templates() {
                for r in t.references().filter(|r| r.source == Source::Var) {
                    if !known.contains(&r.name) {
                        cx.push(
                            s.http.pos,
                            &field,
                            format!("{r} is not extracted by an earlier step"),
                        );
                    }
                }
            }
        }
        let mut extracts = Vec::new();
        for (var, e) in s.extract.iter().flatten() {
            match extract(var, e, &format!("extract.{var}"), cx) {
                Some(x) => extracts.push(x),
                None => ok = false,
            }
        }
        cx.subject = subject;
        for x in &extracts {
            known.insert(x.var.clone());
        }
        match checked {
            Some(mut h) => {
                h.extract = extracts;
                out.push(Step {
                    name,
                    http: h,
                    always: s.always.unwrap_or(false),
                });
            }
            None => ok = false,
        }
    }
    ok.then_some(FlowCheck { steps: out })
}
