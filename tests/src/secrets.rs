//! Looking for a secret the way an attacker would: in every form it could take in a text.

use base64::Engine as _;

/// The forms of `secret` that must never appear: itself in any case, percent-encoded (either
/// case of hex, form or path style), JSON- and Debug-escaped, base64, and every run of 8 of its
/// characters (any case), which also covers a secret cut short.
pub fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![
        secret.to_string(),
        secret.to_ascii_lowercase(),
        secret.to_ascii_uppercase(),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        serde_json::to_string(secret)
            .unwrap_or_default()
            .trim_matches('"')
            .to_string(),
        format!("{secret:?}").trim_matches('"').to_string(),
        base64::engine::general_purpose::STANDARD.encode(secret),
    ];
    let pct: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect();
    out.push(pct.clone());
    out.push(pct.to_ascii_uppercase());
    let chars: Vec<char> = secret.chars().collect();
    for w in chars.windows(8.min(chars.len())) {
        out.push(w.iter().collect());
    }
    out
}

/// The first form of `secret` found in `text` (case-insensitively), if any.
pub fn leaked(text: &str, secret: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    forms(secret)
        .into_iter()
        .filter(|f| !f.is_empty())
        .find(|f| lower.contains(&f.to_ascii_lowercase()))
}
