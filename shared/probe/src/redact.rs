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
/// A check that uses no secret pays nothing: its text is handed back as it is, with no copy
/// made and no scrubber built.
pub fn scrub<'t, S: AsRef<str>>(text: &'t str, secrets: &[S]) -> std::borrow::Cow<'t, str> {
    if secrets.iter().all(|s| s.as_ref().is_empty()) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(Scrubber::new(secrets).scrub(text))
}

/// Libraries whose debug logs would carry resolved values (names looked up, the TLS server
/// name, request heads): capped at `warn` whatever `RUST_LOG` asks, by every shell.
pub const QUIET_LIBRARIES: [&str; 12] = [
    "hickory_proto=warn",
    "hickory_resolver=warn",
    "hyper=warn",
    "hyper_util=warn",
    "rustls=warn",
    "tokio_rustls=warn",
    // The AWS SDK reading ${ssm:…} and ${secret:…} (their debug logs hold responses).
    "aws_smithy_runtime=warn",
    "aws_smithy_runtime_api=warn",
    "aws_smithy_http_client=warn",
    "aws_sdk_ssm=warn",
    "aws_sdk_secretsmanager=warn",
    "aws_config=warn",
];

/// Finds secrets in text in every form they take on the way: exact, in either case,
/// percent-encoded (either case of hex, any mix of encoded and plain characters), JSON- or
/// Debug-escaped, and cut short: any run of 8 or more characters of a secret (the whole of a
/// shorter one) is replaced by `***`.
///
/// What it keeps of a secret is one 64-bit fingerprint per window of 8 characters (8 bytes per
/// character of the secret, whatever its length), sorted: a window of the text is looked up by
/// its fingerprint. Two different windows with one fingerprint would hide a harmless run of the
/// text, never show a secret.
pub struct Scrubber {
    /// Per window length: the fingerprints of the secrets' windows of that length (ASCII
    /// lower-cased), sorted and without repeats.
    windows: Vec<(usize, Vec<u64>)>,
    /// What a secret is replaced by: `***`, or another mark when a secret has `*` in it, so
    /// that the mark and the text beside it can never spell part of a secret again.
    mark: &'static str,
}

/// Marks to replace secrets with, in order of preference.
const MARKS: [&str; 4] = ["***", "###", "~~~", "[hidden]"];

/// The shortest run of a secret's characters that is taken for the secret.
const MIN_RUN: usize = 8;

/// The fingerprint of a window of (lower-cased) characters.
fn fingerprint(window: impl Iterator<Item = char>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in window {
        h = (h ^ u64::from(u32::from(c))).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    h
}

impl Scrubber {
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Self {
        let mut windows: Vec<(usize, Vec<u64>)> = Vec::new();
        for secret in secrets.iter().map(AsRef::as_ref).filter(|s| !s.is_empty()) {
            let len = secret.chars().count();
            let w = len.min(MIN_RUN);
            let list = match windows.iter_mut().position(|(l, _)| *l == w) {
                Some(i) => &mut windows[i].1,
                None => {
                    windows.push((w, Vec::new()));
                    &mut windows.last_mut().expect("just pushed").1
                }
            };
            list.reserve(len + 1 - w);
            // The last `w` characters, in a ring: no copy of the secret is made.
            let mut ring = ['\0'; MIN_RUN];
            for (i, c) in secret.chars().map(|c| c.to_ascii_lowercase()).enumerate() {
                ring[i % w] = c;
                if i + 1 >= w {
                    let start = i + 1 - w;
                    list.push(fingerprint((start..=i).map(|j| ring[j % w])));
                }
            }
        }
        for (_, list) in &mut windows {
            list.sort_unstable();
            list.dedup();
            list.shrink_to_fit();
        }
        let mark = MARKS
            .iter()
            .find(|m| {
                !secrets.iter().map(AsRef::as_ref).any(|secret: &str| {
                    m.chars()
                        .any(|c| secret.chars().any(|s| s.to_ascii_lowercase() == c))
                })
            })
            .copied()
            .unwrap_or(MARKS[0]);
        Scrubber { windows, mark }
    }

    /// The bytes it holds for its secrets.
    pub fn footprint(&self) -> usize {
        self.windows
            .iter()
            .map(|(_, l)| l.capacity() * std::mem::size_of::<u64>())
            .sum()
    }

    pub fn scrub(&self, text: &str) -> String {
        // One pass is enough when the mark shares no character with any secret. Otherwise the
        // mark and the text beside it could spell part of a secret again: scrub until nothing
        // changes (a pass that changes something shortens the text, but for secrets of one or
        // two characters; the bound is for those).
        let mut out = self.pass(text);
        for _ in 0..text.chars().count() + 8 {
            let next = self.pass(&out);
            if next == out {
                break;
            }
            out = next;
        }
        out
    }

    fn pass(&self, text: &str) -> String {
        if self.windows.is_empty() || text.is_empty() {
            return text.to_string();
        }
        let mut secret = vec![false; text.len()];
        // The text as written, and as it reads once percent-encoding and escapes are undone.
        for units in [raw_units(text), decoded_units(text)] {
            let chars: Vec<char> = units.iter().map(|u| u.0.to_ascii_lowercase()).collect();
            for (w, list) in &self.windows {
                if chars.len() < *w {
                    continue;
                }
                for (i, win) in chars.windows(*w).enumerate() {
                    if list
                        .binary_search(&fingerprint(win.iter().copied()))
                        .is_ok()
                    {
                        for u in &units[i..i + w] {
                            secret[u.1..u.2].iter_mut().for_each(|b| *b = true);
                        }
                    }
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut in_secret = false;
        for (i, c) in text.char_indices() {
            if secret[i] {
                if !in_secret {
                    out.push_str(self.mark);
                    in_secret = true;
                }
            } else {
                in_secret = false;
                out.push(c);
            }
        }
        out
    }
}

/// A character of the text read one way, and the bytes of the text it came from.
type Unit = (char, usize, usize);

fn raw_units(text: &str) -> Vec<Unit> {
    text.char_indices()
        .map(|(i, c)| (c, i, i + c.len_utf8()))
        .collect()
}

/// The text with `%XX`, `\"`, `\\`, `\/`, `\n`, `\uXXXX`, `\u{...}` and `\xXX` read as the
/// characters they stand for.
fn decoded_units(text: &str) -> Vec<Unit> {
    let b = text.as_bytes();
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        let (c, len) = if b[i] == b'%' && rest.len() >= 3 && rest.is_char_boundary(3) {
            match hex(&rest[1..3]) {
                Some(v) => (char::from(v as u8), 3),
                None => ('%', 1),
            }
        } else if b[i] == b'\\' && rest.len() >= 2 {
            let next = rest[1..].chars().next().unwrap_or('\\');
            match next {
                '"' | '\\' | '/' | '\'' => (next, 2),
                'n' => ('\n', 2),
                't' => ('\t', 2),
                'r' => ('\r', 2),
                'u' if rest[2..].starts_with('{') => match rest[3..].find('}') {
                    Some(end) => match hex(&rest[3..3 + end]).and_then(char::from_u32) {
                        Some(c) => (c, 4 + end),
                        None => ('\\', 1),
                    },
                    None => ('\\', 1),
                },
                'u' if rest.len() >= 6 && rest.is_char_boundary(6) => {
                    match hex(&rest[2..6]).and_then(char::from_u32) {
                        Some(c) => (c, 6),
                        None => ('\\', 1),
                    }
                }
                'x' if rest.len() >= 4 && rest.is_char_boundary(4) => match hex(&rest[2..4]) {
                    Some(v) => (char::from(v as u8), 4),
                    None => ('\\', 1),
                },
                _ => ('\\', 1),
            }
        } else {
            let c = rest.chars().next().unwrap_or_default();
            (c, c.len_utf8())
        };
        out.push((c, i, i + len));
        i += len;
    }
    out
}

pub use atalaya_core::text::printable;

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

    /// Does any run of 8 characters of `secret` (or all of it) remain in `text`, in any case,
    /// written plainly or encoded?
    fn leaks(text: &str, secret: &str) -> bool {
        let w = secret.chars().count().min(MIN_RUN);
        let secret: Vec<char> = secret.chars().map(|c| c.to_ascii_lowercase()).collect();
        [raw_units(text), decoded_units(text)].iter().any(|units| {
            let chars: Vec<char> = units.iter().map(|u| u.0.to_ascii_lowercase()).collect();
            secret
                .windows(w)
                .any(|win| chars.windows(w).any(|c| c == win))
        })
    }

    #[test]
    fn secrets_are_found_in_every_form_they_take() {
        let token = "aB3/xY+9zQ==Kp7/mN2=eyJhbGciOiJIUzI1NiJ9";
        let quoted = format!("{:?}", format!("p\"a\\ss{token}"));
        let json = serde_json::to_string(&format!("{token}<tail>")).unwrap();
        let cases = [
            // Percent-encoded by a redirect, upper- and lower-case hex.
            format!(
                "after 1 redirect(s) to https://shop.example/cb?t={}",
                url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
            ),
            format!("t={}", token.replace('/', "%2f").replace('=', "%3d")),
            // Cut short in a quote of the body.
            format!(
                "body is not JSON (expected value); it starts with \"Bearer {}…\"",
                &token[..14]
            ),
            // Escaped in a mismatch detail, Debug- and JSON-style.
            format!("header x-echo is {quoted}, expected \"ok\""),
            format!("json /auth is {json}, expected \"none\""),
            json.replace('/', "\\/"),
            // Lower-cased, as a host name is.
            format!(
                "dns: no such host {}.example",
                token[20..].to_ascii_lowercase()
            ),
            token.to_ascii_uppercase(),
        ];
        let s = Scrubber::new(&[token.to_string(), format!("p\"a\\ss{token}")]);
        for case in &cases {
            let out = s.scrub(case);
            assert!(!leaks(&out, token), "{case:?} became {out:?}");
            assert!(out.contains("***"), "{out}");
        }
        // Text that carries no secret is left as it is.
        let plain = "status 500, expected 2xx; body starts with \"<html>\"";
        assert_eq!(s.scrub(plain), plain);
    }

    #[test]
    fn a_long_secret_costs_eight_bytes_a_character_and_is_still_found() {
        // A 4 MB token (a hostile flow target's): one fingerprint per character, no more.
        let token: String = (0..4 * 1024 * 1024u32)
            .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
            .collect();
        let s = Scrubber::new(std::slice::from_ref(&token));
        assert!(
            s.footprint() <= 8 * token.len(),
            "{} bytes for a secret of {}",
            s.footprint(),
            token.len()
        );
        let cut = &token[1_000_000..1_000_040];
        let out = s.scrub(&format!("json /token is \"{cut}\", expected \"x\""));
        assert!(!leaks(&out, cut), "{out}");
        assert!(out.contains("***"), "{out}");
    }

    #[test]
    fn a_short_secret_is_hidden_whole_and_only_whole() {
        let s = Scrubber::new(&["hunter2"]);
        assert_eq!(s.scrub("pass=HUNTER2&x=hunter"), "pass=***&x=hunter");
    }

    #[test]
    fn a_text_without_secrets_to_hide_is_not_copied() {
        let detail = "status 503, expected 2xx";
        let none: [&str; 0] = [];
        assert!(
            matches!(scrub(detail, &none), std::borrow::Cow::Borrowed(d) if std::ptr::eq(d, detail))
        );
        assert!(matches!(
            scrub(detail, &[""]),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(
            scrub(detail, &["abc123"]),
            std::borrow::Cow::Owned(_)
        ));
    }

    #[test]
    fn scrub_removes_secret_values_anywhere() {
        assert_eq!(
            scrub("got 401 for Bearer abc123", &["abc123"]),
            "got 401 for Bearer ***"
        );
    }
}
