//! The technical-content check on operators' words bound for customers (incident updates,
//! resolution messages, maintenance notes): URLs, addresses, host names, ports, HTTP status
//! codes in context, error tokens, stack traces, internal identifiers, region names and other
//! customers' names. Each finding says what it is and where, so the command that refuses the
//! text can say exactly what to change.

use crate::config::Config;
use regex_automata::meta::Regex;
use std::fmt;
use std::net::Ipv6Addr;
use std::sync::LazyLock;

/// Something technical in a text, and where: `line` and `col` count characters from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What kind of thing it is, in a few words: `a URL`, `an IP address`.
    pub what: &'static str,
    pub found: String,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {:?} ({})",
            self.line, self.col, self.found, self.what
        )
    }
}

/// Digits are ASCII digits (`[0-9]`, not Unicode's `\d`); the words of code paths and stack
/// traces are Latin letters (ASCII and Latin-1: `módulo::pagos` is one), digits and `_`, not
/// Unicode's `\w`; the letters of schemes, hosts and addresses `[a-zA-Z]` (not `(?i)[a-z]`,
/// which brings in the Kelvin sign and the long s). The patterns are compiled as every function
/// starts (the checks file's texts are screened at load), so they are built for a quick start:
/// no full DFA, one-pass DFA or literal prefilter (the lazy DFA and the PikeVM search the short
/// texts a customer reads). With Unicode classes and the regex crate's defaults they took
/// 52 million instructions, about 7 ms, of every cold start.
fn re(pattern: &str) -> Regex {
    Regex::builder()
        .configure(
            Regex::config()
                .dfa(false)
                .onepass(false)
                .auto_prefilter(false),
        )
        .build(pattern)
        .unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}"))
}

/// Top-level domains a host name in prose ends with: the common generic ones, every country
/// code, and the suffixes of internal networks.
const TLDS: &str = "com net org edu gov mil int info biz name pro app dev io ai cloud online site \
    shop store tech xyz top club live page blog cloud digital systems services solutions network \
    host hosting server email example test invalid localhost local internal lan corp home \
    intranet private arpa priv svc cluster \
    ac ad ae af ag al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt \
    bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg \
    er es et eu fi fj fk fm fo fr ga gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn \
    hr ht hu id ie il im in iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li \
    lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc \
    ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw \
    sa sb sc sd se sg sh si sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn to \
    tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw";

static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        (
            "a URL",
            re(r"\b(?:[a-zA-Z][a-zA-Z0-9+.\-]*://|(?i:www)\.)[^\s<>()]+"),
        ),
        (
            "an IP address",
            re(r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?::[0-9]{1,5})?\b"),
        ),
        ("a port", re(r"(?i)\b(?:port|puerto)\s*:?\s*[0-9]{1,5}\b")),
        (
            "a host and port",
            re(r"\b[a-zA-Z][a-zA-Z0-9\-]*:[0-9]{2,5}\b"),
        ),
        (
            "an HTTP status code",
            re(
                r"(?i)\b(?:HTTP(?:/[0-9](?:\.[0-9])?)?|status(?:\s+code)?|c[oó]digo(?:\s+de\s+estado)?|error|code)\s*[:#]?\s*[1-5][0-9][0-9]\b",
            ),
        ),
        (
            "an HTTP status code",
            re(
                r"(?i)\b[1-5][0-9][0-9]\s+(?:from|desde|errors?|errores|responses?|respuestas?|bad\s+gateway|internal\s+server|service\s+unavailable|gateway\s+time-?out|not\s+found|forbidden|unauthorized|bad\s+request|too\s+many)\b",
            ),
        ),
        ("an HTTP status class", re(r"\b[1-5][xX][xX]\b")),
        (
            "an error code",
            re(
                r"\bE(?:CONN[A-Z]+|HOSTUNREACH|HOSTDOWN|NETUNREACH|NETDOWN|NETRESET|TIMEDOUT|NOTFOUND|PIPE|AGAIN|ACCES|PERM|NOENT|MFILE|NFILE|NOBUFS|ADDRINUSE|ADDRNOTAVAIL|AI_[A-Z]+|PROTO|NOTCONN|SHUTDOWN|BADF|INVAL|NOMEM|NOSPC|ROFS|EXIST|BUSY|OVERFLOW)\b",
            ),
        ),
        (
            "a DNS response code",
            re(r"\b(?:NXDOMAIN|SERVFAIL|NOERROR|FORMERR|NOTIMP)\b"),
        ),
        (
            "an exception name",
            re(r"\b[A-Z][A-Za-z0-9]*(?:Exception|Error|Panic|Fault)\b"),
        ),
        (
            "an error message",
            re(
                r"(?i)\b(?:panicked at|traceback|segmentation fault|core dumped|stack ?trace|oomkilled|sigsegv|sigkill|sigterm|sigabrt|errno|null pointer|nullpointer)\b",
            ),
        ),
        (
            "a stack trace",
            re(
                r#"\bat\s+[A-Za-zÀ-ÖØ-öø-ÿ0-9_$.<>]+\s*\(\S+:[0-9]+(?::[0-9]+)?\)|File\s+"[^"]+",\s+line\s+[0-9]+|\b[A-Za-zÀ-ÖØ-öø-ÿ0-9_\-/]+\.(?:rs|py|js|ts|go|java|rb|php|cs|cpp|c|h|kt|scala|swift):[0-9]+(?::[0-9]+)?\b"#,
            ),
        ),
        ("a memory address", re(r"\b0x[0-9a-fA-F]{4,}\b")),
        (
            "a code path",
            re(r"\b[A-Za-zÀ-ÖØ-öø-ÿ0-9_]+(?:::[A-Za-zÀ-ÖØ-öø-ÿ0-9_]+)+\b"),
        ),
        (
            "an internal identifier",
            re(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),
        ),
        ("a region name", re(r"\b[a-z]{2}(?:-gov)?-[a-z]+-[0-9]\b")),
    ]
});

static HOST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?\.)+([a-zA-Z][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])\b(?::[0-9]{1,5})?",
    )
});
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\[?[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?:%[A-Za-z0-9_]+)?\]?(?::[0-9]{1,5})?")
});
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[a-zA-Z0-9._%+\-]+@[a-zA-Z0-9.\-]+\.[a-zA-Z]{2,}\b"));

/// Where `text` names something that means something only inside the monitoring: check and
/// service ids, regions, and other customers. A word the recipients' own service names use is
/// not one of them.
fn internal_names(
    text: &str,
    config: &Config,
    recipients: &[&str],
) -> Vec<(usize, usize, &'static str)> {
    let mut spans = Vec::new();
    let recipients_words: Vec<String> = config
        .services
        .iter()
        .filter(|s| recipients.contains(&s.customer.as_str()))
        .flat_map(|s| {
            s.names
                .all()
                .flat_map(str::split_whitespace)
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .chain(
            config
                .customers
                .iter()
                .filter(|c| recipients.contains(&c.id.as_str()))
                .flat_map(|c| {
                    c.names
                        .all()
                        .chain(c.greeting.all())
                        .flat_map(str::split_whitespace)
                        .map(str::to_lowercase)
                        .collect::<Vec<_>>()
                }),
        )
        .collect();
    let mut names: Vec<(&str, &'static str)> = Vec::new();
    // An id that is a plain word (`web`, `shop`) reads as prose; ids like `shop-home` do not.
    let id_like = |id: &str| !id.chars().all(char::is_alphabetic);
    for c in config.checks.iter().filter(|c| id_like(&c.id)) {
        names.push((&c.id, "a check id"));
    }
    for s in config.services.iter().filter(|s| id_like(&s.id)) {
        names.push((&s.id, "a service id"));
    }
    for r in &config.settings.regions {
        if r != crate::config::LOCAL_REGION {
            names.push((r, "a region name"));
        }
    }
    for c in config
        .customers
        .iter()
        .filter(|c| !recipients.contains(&c.id.as_str()))
    {
        names.push((&c.name, "another customer's name"));
        names.push((&c.id, "another customer's id"));
    }
    let lower = text.to_lowercase();
    for (name, what) in names {
        let needle = name.to_lowercase();
        if needle.chars().count() < 2 || recipients_words.contains(&needle) {
            continue;
        }
        // Lower-casing can change byte lengths; only search when it did not.
        if lower.len() != text.len() {
            continue;
        }
        let mut from = 0;
        while let Some(i) = lower[from..].find(&needle) {
            let (start, end) = (from + i, from + i + needle.len());
            let token = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_');
            let before_ok = !lower[..start].chars().next_back().is_some_and(token);
            let after_ok = !lower[end..].chars().next().is_some_and(token);
            if before_ok && after_ok {
                spans.push((start, end, what));
            }
            from = end;
        }
    }
    spans
}

/// Finds what a customer must not read in `text`. `recipients` are the customers the text goes
/// to: every other customer's name is a finding.
pub fn screen(text: &str, config: &Config, recipients: &[&str]) -> Vec<Finding> {
    // Byte spans with what they are.
    let mut spans: Vec<(usize, usize, &'static str)> = Vec::new();
    // A support address is fine for customers: its domain is not a host name to flag.
    let emails: Vec<(usize, usize)> = EMAIL
        .find_iter(text)
        .map(|m| (m.start(), m.end()))
        .collect();
    for (what, pattern) in PATTERNS.iter() {
        for m in pattern.find_iter(text) {
            spans.push((m.start(), m.end(), what));
        }
    }
    for c in HOST.captures_iter(text) {
        let (Some(all), Some(tld)) = (c.get_match(), c.get_group(1)) else {
            continue;
        };
        if TLDS
            .split_whitespace()
            .any(|t| t.eq_ignore_ascii_case(&text[tld.range()]))
        {
            spans.push((all.start(), all.end(), "a host name"));
        }
    }
    for m in IPV6.find_iter(text) {
        let candidate = text[m.range()]
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or_default()
            .split('%')
            .next()
            .unwrap_or_default();
        if candidate.parse::<Ipv6Addr>().is_ok() {
            spans.push((m.start(), m.end(), "an IP address"));
        }
    }
    spans.extend(internal_names(text, config, recipients));
    spans.retain(|(s, e, _)| !emails.iter().any(|(es, ee)| s >= es && e <= ee));
    // Where spans overlap, the earliest and longest one speaks for the others.
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut out: Vec<Finding> = Vec::new();
    let mut covered = 0;
    for (start, end, what) in spans {
        if start < covered {
            continue;
        }
        covered = end;
        let (line, col) = position(text, start);
        out.push(Finding {
            what,
            found: text[start..end].to_string(),
            line,
            col,
        });
    }
    out
}

fn position(text: &str, byte: usize) -> (usize, usize) {
    let head = &text[..byte];
    let line = head.matches('\n').count() + 1;
    let col = head.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load_str, Target};

    fn config() -> Config {
        load_str(
            "settings:
  regions: [eu-west-1, us-east-1]
customers:
  - { id: acme, name: ACME Corp, language: es }
  - { id: globex, name: Globex }
services:
  - { id: acme-shop, customer: acme, name: Tienda online }
  - { id: web, customer: globex, name: Web }
checks:
  - { id: shop-home, service: acme-shop, http: { url: 'https://shop.acme.example/' } }
  - { id: web-home, service: web, http: { url: 'https://web.globex.example/' } }
",
            "s.yaml",
            Target::Lambda,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn found(text: &str) -> Vec<(String, &'static str)> {
        screen(text, &config(), &["acme"])
            .into_iter()
            .map(|f| (f.found, f.what))
            .collect()
    }

    #[test]
    fn the_operator_slip_from_the_issue_is_caught_whole() {
        let f = found(
            "Root cause: 500 from https://10.0.0.5:8443/api (db-prod-1.internal, ECONNREFUSED)",
        );
        let what: Vec<&str> = f.iter().map(|(_, w)| *w).collect();
        assert_eq!(
            what,
            [
                "an HTTP status code",
                "a URL",
                "a host name",
                "an error code"
            ],
            "{f:?}"
        );
        assert_eq!(f[1].0, "https://10.0.0.5:8443/api");
        assert_eq!(f[2].0, "db-prod-1.internal");
    }

    #[test]
    fn each_category_is_named() {
        for (text, what) in [
            ("see http://status.acme.example/x", "a URL"),
            ("the server 192.0.2.7 is back", "an IP address"),
            ("reach [2001:db8::1]:443 again", "an IP address"),
            ("shop.acme.example is back", "a host name"),
            ("the database on port 5432", "a port"),
            ("db:5432 refused", "a host and port"),
            ("we saw HTTP 503 for a while", "an HTTP status code"),
            ("a 502 Bad Gateway answer", "an HTTP status code"),
            ("many 5xx answers", "an HTTP status class"),
            ("ETIMEDOUT on the gateway", "an error code"),
            ("the resolver said NXDOMAIN", "a DNS response code"),
            ("a NullPointerException in checkout", "an exception name"),
            ("thread 'main' panicked at the parser", "an error message"),
            ("at com.acme.Pay.charge(Pay.java:42)", "a stack trace"),
            ("at address 0xdeadbeef", "a memory address"),
            ("in payments::gateway::charge", "a code path"),
            ("falla en módulo::pagos", "a code path"),
            ("the tls_handshake failed", "an internal identifier"),
            ("the shop-home check fails", "a check id"),
            ("Frankfurt (eu-west-1) is fine", "a region name"),
            ("like Globex yesterday", "another customer's name"),
        ] {
            let f = found(text);
            assert!(f.iter().any(|(_, w)| *w == what), "{text:?}: {f:?}");
        }
    }

    #[test]
    fn plain_words_pass() {
        for text in [
            "Hemos encontrado el fallo en la pasarela de pago y lo estamos corrigiendo.",
            "Todos los pagos realizados durante la incidencia se han procesado correctamente.",
            "We expect to be back by 10:30. Sorry, e.g. for the delay of 20 minutes.",
            "Write to support@acme.example if you were charged twice.",
            "Tienda online vuelve a funcionar para los 200 clientes afectados.",
            "ACME Corp: la Web de la tienda vuelve a estar disponible.",
        ] {
            assert_eq!(found(text), Vec::new(), "{text:?}");
        }
    }

    #[test]
    fn positions_are_line_and_column_in_characters() {
        let f = screen("Línea uno.\nel año 10.0.0.5", &config(), &["acme"]);
        assert_eq!((f[0].line, f[0].col), (2, 8), "{f:?}");
        assert_eq!(f[0].to_string(), "2:8: \"10.0.0.5\" (an IP address)");
    }
}
