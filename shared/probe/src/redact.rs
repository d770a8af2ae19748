//! Keeping secrets out of results and logs.

/// Query parameters whose values are treated as secrets when a URL is shown.
const SECRET_PARAMS: [&str; 16] = [
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "key",
    "apikey",
    "api_key",
    "api-key",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "signature",
    "sig",
];

fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&n.as_str())
        || n.starts_with("x-amz-")
        || n.ends_with("token")
        || n.ends_with("secret")
}

/// A URL fit to show: user info and token-like query values replaced by `***`.
pub fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() {
        let _ = u.set_username("***");
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// Replaces every secret value that found its way into `text`, whatever path it took.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_token_parameters_are_hidden() {
        let u = url::Url::parse(
            "https://bob:hunter2@shop.example/a?token=abc&page=2&X-Amz-Signature=zzz",
        )
        .unwrap();
        let shown = redact_url(&u);
        assert_eq!(
            shown,
            "https://***:***@shop.example/a?token=***&page=2&X-Amz-Signature=***"
        );
    }

    #[test]
    fn scrub_removes_secret_values_anywhere() {
        assert_eq!(
            scrub("got 401 for Bearer abc123", &["abc123".into()]),
            "got 401 for Bearer ***"
        );
    }
}
