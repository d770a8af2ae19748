//! `${env:NAME}` references in checks-file strings, resolved at run time, never at load time.
//!
//! A resolved value remembers which parts came from the environment, so the probe engine can scrub
//! them from anything it reports.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Env(String),
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

/// An `${env:NAME}` whose variable is not set (or is empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct UnsetVariable(pub String);

impl EnvTemplate {
    /// Parses `Bearer ${env:TOKEN}`. Names are `[A-Za-z_][A-Za-z0-9_]*`; `$${` writes a literal `${`.
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
            let inner = &after[..end];
            let name = inner.strip_prefix("env:").ok_or_else(|| {
                format!("unsupported reference ${{{inner}}}: only ${{env:NAME}} is supported")
            })?;
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "invalid environment variable name {name:?} in ${{{inner}}}: use letters, digits and _"
                ));
            }
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(Part::Env(name.to_string()));
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
        self.parts.iter().any(|p| matches!(p, Part::Env(_)))
    }

    /// The variable names referenced, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Env(n) => Some(n.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Fills the references from `lookup` (usually `std::env::var`). An unset or empty variable is
    /// an error: a header must never silently become `Bearer `.
    pub fn resolve(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Resolved, UnsetVariable> {
        let mut value = String::new();
        let mut secrets = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => value.push_str(t),
                Part::Env(name) => {
                    let v = lookup(name)
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| UnsetVariable(name.clone()))?;
                    value.push_str(&v);
                    secrets.push(v);
                }
            }
        }
        Ok(Resolved { value, secrets })
    }

    /// Fills a URL's references; a value in the user information (`https://user:${env:PASS}@`)
    /// is percent-encoded, so a password with `/`, `@` or `:` stays a password.
    pub fn resolve_url(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Resolved, UnsetVariable> {
        // Where the user information is, read on the template with one character per reference.
        let shape = self.with_placeholders();
        let userinfo_end = shape.split_once("://").and_then(|(scheme, rest)| {
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            authority.rfind('@').map(|at| scheme.len() + 3 + at)
        });
        let mut at = 0;
        let mut value = String::new();
        let mut secrets = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => {
                    value.push_str(t);
                    at += t.len();
                }
                Part::Env(name) => {
                    let v = lookup(name)
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| UnsetVariable(name.clone()))?;
                    if userinfo_end.is_some_and(|end| at < end) {
                        value.push_str(&percent_encode_userinfo(&v));
                    } else {
                        value.push_str(&v);
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
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Env(_) => "x",
            })
            .collect()
    }
}

/// Everything but unreserved characters (RFC 3986) written as `%XX`.
fn percent_encode_userinfo(v: &str) -> String {
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
                Part::Env(n) => write!(f, "${{env:{n}}}")?,
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
            .resolve(|n| (n == "TOKEN").then(|| "s3cret".to_string()))
            .unwrap();
        assert_eq!(r.value, "Bearer s3cret");
        assert_eq!(r.secrets, vec!["s3cret".to_string()]);
        assert_eq!(t.to_string(), "Bearer ${env:TOKEN}");
    }

    #[test]
    fn a_url_password_from_the_environment_is_encoded_and_nothing_else_is() {
        let t =
            EnvTemplate::parse("https://${env:U}:${env:P}@${env:H}.example/${env:PATH}?t=${env:P}")
                .unwrap();
        let env = |n: &str| {
            let v = match n {
                "U" => "bob@acme",
                "P" => "a/b:c@d%",
                "H" => "tenant",
                _ => "v1/x",
            };
            Some(v.to_string())
        };
        let r = t.resolve_url(env).unwrap();
        assert_eq!(
            r.value,
            "https://bob%40acme:a%2Fb%3Ac%40d%25@tenant.example/v1/x?t=a/b:c@d%"
        );
        assert_eq!(r.secrets.len(), 5);
        // Without user information nothing is encoded.
        let t = EnvTemplate::parse("https://${env:H}.example/p?a=b@c").unwrap();
        assert_eq!(
            t.resolve_url(env).unwrap().value,
            "https://tenant.example/p?a=b@c"
        );
    }

    #[test]
    fn unset_or_empty_variable_is_an_error_never_an_empty_value() {
        let t = EnvTemplate::parse("Bearer ${env:TOKEN}").unwrap();
        assert_eq!(t.resolve(|_| None), Err(UnsetVariable("TOKEN".into())));
        assert_eq!(
            t.resolve(|_| Some(String::new())),
            Err(UnsetVariable("TOKEN".into()))
        );
    }

    #[test]
    fn malformed_references_are_rejected_at_load_time() {
        assert!(EnvTemplate::parse("${env:TOKEN")
            .unwrap_err()
            .contains("unclosed"));
        assert!(EnvTemplate::parse("${file:/etc/passwd}")
            .unwrap_err()
            .contains("only ${env:NAME}"));
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
