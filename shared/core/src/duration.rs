//! Humane durations (`500ms`, `10s`, `1m`, `1h30m`, `14d`) and sizes (`1MiB`, `64KiB`, `512`).

use std::time::Duration;

/// A duration as written in the checks file, kept for display (`1m`, not `60s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

const UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// Parses `500ms`, `10s`, `1m`, `2h`, `14d` and sums like `1h30m`. Whole numbers only; every number
/// needs a unit, so a bare `10` (seconds? minutes?) is rejected rather than guessed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration; write a number and a unit, e.g. 30s, 1m, 14d".into());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "malformed duration {text:?}: expected a number at {rest:?}; use units ms, s, m, h, d (e.g. 30s, 1m, 14d)"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("malformed duration {text:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let Some((_, ms)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(if unit.starts_with(['.', ',']) {
                format!("malformed duration {text:?}: whole numbers only; use a smaller unit (e.g. 90s, not 1.5m)")
            } else if unit.is_empty() {
                format!(
                    "malformed duration {text:?}: missing unit; use ms, s, m, h or d (e.g. {n}s)"
                )
            } else {
                format!("malformed duration {text:?}: unknown unit {unit:?}; use ms, s, m, h or d")
            });
        };
        total = n
            .checked_mul(*ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("malformed duration {text:?}: too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_millis(total))
}

/// Formats a duration with the largest units that divide it: `90s` → `1m30s`.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS.iter().rev() {
        if ms >= *size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

/// Parses a byte size: `1048576`, `512KiB`, `1MiB`, `10MB`, `64KB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return Err(format!(
            "malformed size {text:?}: expected a number of bytes, e.g. 1MiB or 65536"
        ));
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| format!("malformed size {text:?}: too large"))?;
    let mult = match s[digits..].trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        other => {
            return Err(format!(
                "malformed size {text:?}: unknown unit {other:?}; use B, KB, KiB, MB or MiB"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("malformed size {text:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humane_durations_parse_and_print_back() {
        for (text, ms) in [
            ("500ms", 500),
            ("10s", 10_000),
            ("1m", 60_000),
            ("1h30m", 5_400_000),
            ("14d", 1_209_600_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
            assert_eq!(format_duration(Duration::from_millis(ms)), text);
        }
    }

    #[test]
    fn durations_without_units_or_with_unknown_units_are_rejected() {
        assert!(parse_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_duration("10 minutes")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("1.5m")
            .unwrap_err()
            .contains("whole numbers only"));
        assert!(parse_duration("abc")
            .unwrap_err()
            .contains("expected a number"));
        assert!(parse_duration("99999999999999999999s")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn sizes_accept_binary_and_decimal_units() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("64KB"), Ok(64_000));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("1GiB").is_err());
    }
}
