//! References in checks-file strings, resolved at run time, never at load time:
//! `${env:NAME}` (an environment variable), `${ssm:/path/name}` (an SSM parameter, SecureString
//! decrypted) and `${secret:name}` (a Secrets Manager secret's string); and in a flow's steps,
//! `${var:NAME}` (a value an earlier step extracted).
//!
//! A resolved value remembers which parts came from references, so the probe engine can scrub
//! them from anything it reports.

use std::fmt;

/// Where a reference's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Env,
    Ssm,
    Secret,
    /// A value an earlier step of a flow extracted (`steps[].extract`).
    Var,
}

impl Source {
    /// Read from AWS by the shell (SSM, Secrets Manager), not where the check runs.
    pub fn is_remote(self) -> bool {
        matches!(self, Source::Ssm | Source::Secret)
    }
}

/// One `${source:name}` reference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    pub source: Source,
    pub name: String,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Env => "env",
            Source::Ssm => "ssm",
            Source::Secret => "secret",
            Source::Var => "var",
        };
        write!(f, "${{{source}:{}}}", self.name)
    }
}

impl Reference {
    fn parse(inner: &str) -> Result<Reference, String> {
        let (source, name) = inner.split_once(':').ok_or_else(|| {
            format!("unsupported reference ${{{inner}}}: write ${{env:NAME}}, ${{ssm:/path}} or ${{secret:name}}")
        })?;
        let source = match source {
            "env" => Source::Env,
            "ssm" => Source::Ssm,
            "secret" => Source::Secret,
            "var" => Source::Var,
            _ => {
                return Err(format!(
                    "unsupported reference ${{{inner}}}: only ${{env:NAME}}, ${{ssm:/path}} and ${{secret:name}} are supported"
                ))
            }
        };
        let ok = match source {
            Source::Env | Source::Var => {
                name.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
            // SSM parameter names: a path from the root, letters, digits and _ . - /.
            Source::Ssm => {
                name.starts_with('/')
                    && name.len() > 1
                    && name.len() <= 2048
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
            }
            // Secrets Manager names (or ARNs): letters, digits and / _ + = . @ - (and : in ARNs).
            Source::Secret => {
                !name.is_empty()
                    && name.len() <= 2048
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c))
            }
        };
        if !ok {
            return Err(match source {
                Source::Env => format!(
                    "invalid environment variable name {name:?} in ${{{inner}}}: use letters, digits and _"
                ),
                Source::Var => format!(
                    "invalid variable name {name:?} in ${{{inner}}}: use letters, digits and _"
                ),
                Source::Ssm => format!(
                    "invalid SSM parameter name {name:?} in ${{{inner}}}: a path from the root (/team/token) of letters, digits and _ . - /"
                ),
                Source::Secret => format!(
                    "invalid secret name {name:?} in ${{{inner}}}: letters, digits and / _ + = . @ -"
                ),
            });
        }
        Ok(Reference {
            source,
            name: name.to_string(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Ref(Reference),
}

/// A string that may contain `${env:NAME}` references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvTemplate {
    parts: Vec<Part>,
}

/// A template with its references filled in, and the secret values that were put in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub value: String,
    pub secrets: Vec<String>,
}

/// A reference with no value: an environment variable not set (or empty), an SSM parameter or
/// secret that could not be read (the reason is in the log of the moment it was read).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct UnsetVariable(pub Reference);

impl fmt::Display for UnsetVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        match r.source {
            Source::Env => write!(f, "environment variable {} is not set", r.name),
            Source::Ssm => write!(f, "SSM parameter {} could not be read", r.name),
            Source::Secret => write!(f, "secret {} could not be read", r.name),
            Source::Var => write!(
                f,
                "variable {} was not extracted by an earlier step",
                r.name
            ),
        }
    }
}

impl EnvTemplate {
    /// Parses `Bearer ${env:TOKEN}`, `${ssm:/team/token}`, `${secret:team/token}`. Variable names
    /// are `[A-Za-z_][A-Za-z0-9_]*`; `$${` writes a literal `${`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            if rest[..i].ends_with('$') {
                lit.push_str(&rest[..i - 1]);
                lit.push_str("${");
                rest = &rest[i + 2..];
                continue;
            }
            lit.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed reference in {text:?}: expected ${{env:NAME}}"))?;
            let reference = Reference::parse(&after[..end])?;
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(Part::Ref(reference));
            rest = &after[end + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(EnvTemplate { parts })
    }

    /// A template that is plain text.
    pub fn literal(text: &str) -> Self {
        EnvTemplate {
            parts: vec![Part::Text(text.to_string())],
        }
    }

    pub fn has_references(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Ref(_)))
    }

    /// Every reference, in order.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }

    /// The environment variable names referenced, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.references()
            .filter(|r| r.source == Source::Env)
            .map(|r| r.name.as_str())
    }

    /// Fills the references from `lookup`. A reference without a value (or with an empty one)
    /// is an error: a header must never silently become `Bearer `.
    pub fn resolve(
        &self,
        lookup: impl Fn(&Reference) -> Option<String>,
    ) -> Result<Resolved, UnsetVariable> {
        let mut value = String::new();
        let mut secrets = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => value.push_str(t),
                Part::Ref(r) => {
                    let v = lookup(r)
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| UnsetVariable(r.clone()))?;
                    value.push_str(&v);
                    secrets.push(v);
                }
            }
        }
        Ok(Resolved { value, secrets })
    }

    /// Fills a URL's references, each encoded for where it stands, so that a value can never
    /// change the request beyond its own place: in the user information and in a path segment,
    /// a query or a fragment, every character but RFC 3986's unreserved ones is
    /// percent-encoded (a value `../admin?x=` stays inside its segment; a `\` is not turned
    /// into `/`); in the host, a value with a character a host cannot have is refused, as is a
    /// path value that is a dot segment (`.`, `..`: the URL would climb).
    pub fn resolve_url(
        &self,
        lookup: impl Fn(&Reference) -> Option<String>,
    ) -> Result<Resolved, UrlValueError> {
        // Where each part of the URL is, read on the template with one character per reference.
        let parts = UrlParts::of(&self.with_placeholders());
        let mut at = 0;
        let mut value = String::new();
        let mut secrets = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => {
                    value.push_str(t);
                    at += t.len();
                }
                Part::Ref(r) => {
                    let v = lookup(r)
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| UrlValueError::Unset(UnsetVariable(r.clone())))?;
                    let unplaceable = |why: &str| UrlValueError::Unplaceable {
                        reference: r.clone(),
                        why: why.to_string(),
                    };
                    match parts.part_at(at) {
                        UrlPart::Scheme => return Err(unplaceable("a value cannot be the URL's scheme")),
                        UrlPart::Host => {
                            if let Some(c) = v.chars().find(|c| !host_char(*c)) {
                                return Err(unplaceable(&format!(
                                    "its value stands in the URL's host and has a character a host name cannot have ({c:?})"
                                )));
                            }
                            value.push_str(&v);
                        }
                        UrlPart::Path if v == "." || v == ".." => {
                            return Err(unplaceable(
                                "its value is a dot segment (. or ..) and would move the request to another path",
                            ))
                        }
                        UrlPart::UserInfo | UrlPart::Path | UrlPart::Query => {
                            value.push_str(&percent_encode_unreserved(&v))
                        }
                    }
                    secrets.push(v);
                    at += 1;
                }
            }
        }
        Ok(Resolved { value, secrets })
    }

    /// The template with a stand-in for every reference, for load-time validation (URL syntax).
    pub fn with_placeholders(&self) -> String {
        self.with_stand_in("x")
    }

    /// The template with `stand_in` for every reference.
    pub fn with_stand_in(&self, stand_in: &str) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Ref(_) => stand_in,
            })
            .collect()
    }
}

/// A reference's value that cannot be put in a URL: not set, or not placeable where it stands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlValueError {
    #[error(transparent)]
    Unset(UnsetVariable),
    #[error("{reference}: {why}")]
    Unplaceable { reference: Reference, why: String },
}

impl UrlValueError {
    pub fn reference(&self) -> &Reference {
        match self {
            UrlValueError::Unset(u) => &u.0,
            UrlValueError::Unplaceable { reference, .. } => reference,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UrlPart {
    Scheme,
    UserInfo,
    Host,
    Path,
    /// The query or the fragment.
    Query,
}

/// Where the parts of a URL (as written, references standing in as one character) begin.
struct UrlParts {
    authority: usize,
    userinfo_end: Option<usize>,
    path: usize,
    query: usize,
}

impl UrlParts {
    fn of(shape: &str) -> UrlParts {
        let authority = shape.find("://").map_or(0, |i| i + 3);
        let rest = &shape[authority..];
        let path = authority + rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let userinfo_end = shape[authority..path].rfind('@').map(|i| authority + i);
        let query = path + shape[path..].find(['?', '#']).unwrap_or(shape.len() - path);
        UrlParts {
            authority,
            userinfo_end,
            path,
            query,
        }
    }

    fn part_at(&self, at: usize) -> UrlPart {
        if at < self.authority {
            UrlPart::Scheme
        } else if self.userinfo_end.is_some_and(|end| at < end) {
            UrlPart::UserInfo
        } else if at < self.path {
            UrlPart::Host
        } else if at < self.query {
            UrlPart::Path
        } else {
            UrlPart::Query
        }
    }
}

/// A character a value may bring into a URL's host (and port): letters (any script: the URL is
/// IDNA-encoded), digits, `.`, `-`, `_`, and `:`, `[`, `]` for a port or an IPv6 address.
fn host_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']')
}

/// Everything but unreserved characters (RFC 3986) written as `%XX`.
fn percent_encode_unreserved(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Display for EnvTemplate {
    /// Shows references, never values: `Bearer ${env:TOKEN}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Part::Text(t) => f.write_str(t)?,
                Part::Ref(r) => write!(f, "{r}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
