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
mod tests {
    use super::*;

    #[test]
    fn references_resolve_and_are_remembered_as_secrets() {
        let t = EnvTemplate::parse("Bearer ${env:TOKEN}").unwrap();
        let r = t
            .resolve(|r| (r.name == "TOKEN").then(|| "s3cret".to_string()))
            .unwrap();
        assert_eq!(r.value, "Bearer s3cret");
        assert_eq!(r.secrets, vec!["s3cret".to_string()]);
        assert_eq!(t.to_string(), "Bearer ${env:TOKEN}");
    }

    #[test]
    fn a_value_in_a_url_is_encoded_for_where_it_stands() {
        let t = EnvTemplate::parse(
            "https://${env:U}:${env:P}@${env:H}.example/${env:PATH}?t=${env:P}#${env:F}",
        )
        .unwrap();
        let env = |r: &Reference| {
            let v = match r.name.as_str() {
                "U" => "bob@acme",
                "P" => "a/b:c@d%&x=1",
                "H" => "tenant",
                "F" => "top",
                _ => "v1/x",
            };
            Some(v.to_string())
        };
        let r = t.resolve_url(env).unwrap();
        assert_eq!(
            r.value,
            "https://bob%40acme:a%2Fb%3Ac%40d%25%26x%3D1@tenant.example/v1%2Fx?t=a%2Fb%3Ac%40d%25%26x%3D1#top"
        );
        assert_eq!(r.secrets.len(), 6);
        // Unreserved characters stay as they are.
        let t = EnvTemplate::parse("https://shop.example/orders/${var:order}").unwrap();
        let placed = |v: &str| t.resolve_url(|_| Some(v.to_string()));
        assert_eq!(
            placed("A-1_b.c~2").unwrap().value,
            "https://shop.example/orders/A-1_b.c~2"
        );
    }

    #[test]
    fn a_hostile_value_stays_in_its_place() {
        let t =
            EnvTemplate::parse("https://api.example/orders/${var:order}?confirm=${var:c}").unwrap();
        let with = |order: &str, c: &str| {
            let (order, c) = (order.to_string(), c.to_string());
            t.resolve_url(move |r| {
                Some(if r.name == "order" {
                    order.clone()
                } else {
                    c.clone()
                })
            })
        };
        let r = with("../admin/delete-everything?confirm=yes&x=", "no#frag").unwrap();
        assert_eq!(
            r.value,
            "https://api.example/orders/..%2Fadmin%2Fdelete-everything%3Fconfirm%3Dyes%26x%3D?confirm=no%23frag"
        );
        let url = url::Url::parse(&r.value).unwrap();
        assert_eq!(
            url.path(),
            "/orders/..%2Fadmin%2Fdelete-everything%3Fconfirm%3Dyes%26x%3D"
        );
        assert_eq!(url.query_pairs().count(), 1);
        // A backslash is not a separator to come.
        let r = with("a\\..\\admin", "x").unwrap();
        assert_eq!(
            url::Url::parse(&r.value).unwrap().path(),
            "/orders/a%5C..%5Cadmin"
        );
        // A whole dot segment is refused, not sent.
        for dots in [".", ".."] {
            let e = with(dots, "x").unwrap_err();
            assert!(e.to_string().contains("dot segment"), "{e}");
            assert_eq!(e.reference().name, "order");
        }
        assert_eq!(
            with("...", "x").unwrap().value,
            "https://api.example/orders/...?confirm=x"
        );
        // In the host, only what a host name can have.
        let t = EnvTemplate::parse("https://${env:TENANT}.shop.example/").unwrap();
        for bad in ["evil.example/x", "a@b", "a?b", "a#b", "a b", "a\\b", "a%2f"] {
            let e = t.resolve_url(|_| Some(bad.to_string())).unwrap_err();
            assert!(e.to_string().contains("host"), "{bad}: {e}");
        }
        assert_eq!(
            t.resolve_url(|_| Some("acme-1".into())).unwrap().value,
            "https://acme-1.shop.example/"
        );
    }

    #[test]
    fn unset_or_empty_variable_is_an_error_never_an_empty_value() {
        let t = EnvTemplate::parse("Bearer ${env:TOKEN}").unwrap();
        let token = Reference {
            source: Source::Env,
            name: "TOKEN".into(),
        };
        assert_eq!(t.resolve(|_| None), Err(UnsetVariable(token.clone())));
        assert_eq!(
            t.resolve(|_| Some(String::new())),
            Err(UnsetVariable(token))
        );
    }

    #[test]
    fn parameters_and_secrets_are_references_shown_by_name() {
        let t =
            EnvTemplate::parse("Bearer ${ssm:/atalaya/shop-token} ${secret:atalaya/api}").unwrap();
        let refs: Vec<String> = t.references().map(|r| r.to_string()).collect();
        assert_eq!(
            refs,
            ["${ssm:/atalaya/shop-token}", "${secret:atalaya/api}"]
        );
        assert_eq!(t.variables().count(), 0);
        let r = t
            .resolve(|r| match r.source {
                Source::Ssm => Some("p4ram".into()),
                Source::Secret => Some("s3cret".into()),
                Source::Env | Source::Var => None,
            })
            .unwrap();
        assert_eq!(r.value, "Bearer p4ram s3cret");
        assert_eq!(
            t.to_string(),
            "Bearer ${ssm:/atalaya/shop-token} ${secret:atalaya/api}"
        );
        assert_eq!(
            t.resolve(|_| None).unwrap_err().to_string(),
            "SSM parameter /atalaya/shop-token could not be read"
        );
    }

    #[test]
    fn malformed_references_are_rejected_at_load_time() {
        assert!(EnvTemplate::parse("${env:TOKEN")
            .unwrap_err()
            .contains("unclosed"));
        assert!(EnvTemplate::parse("${file:/etc/passwd}")
            .unwrap_err()
            .contains("only ${env:NAME}, ${ssm:/path} and ${secret:name}"));
        assert!(EnvTemplate::parse("${ssm:team/token}")
            .unwrap_err()
            .contains("a path from the root"));
        assert!(EnvTemplate::parse("${secret:a b}")
            .unwrap_err()
            .contains("invalid secret name"));
        assert!(EnvTemplate::parse("${env:1X}")
            .unwrap_err()
            .contains("invalid environment variable name"));
        assert_eq!(
            EnvTemplate::parse("cost $${env:X}")
                .unwrap()
                .resolve(|_| None)
                .unwrap()
                .value,
            "cost ${env:X}"
        );
    }
}
