//! Where a checks file's problems go ([`Errs`], [`Ctx`]: file, line, column, the item and its
//! field) and the field rules every part of the file shares (durations, hosts, tokens, words
//! people read, `${env:…}` templates). The validator (`crate::validate`) and each kind of check
//! (`crate::kinds`) both build on it; neither imports the other's internals.

use crate::at::{At, Pos};
use crate::duration::{format_duration, parse_duration};
use crate::error::ConfigError;
use crate::template::EnvTemplate;
use crate::text::shorten;
use std::time::Duration;

/// Where the file will run. Lambda schedules fire at most once a minute, so only the local runner
/// accepts second-level intervals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    #[default]
    Local,
    Lambda,
}

pub(crate) struct Errs {
    pub(crate) file: String,
    pub(crate) list: Vec<ConfigError>,
}

impl Errs {
    pub(crate) fn push(
        &mut self,
        pos: Pos,
        subject: &str,
        field: &str,
        message: impl Into<String>,
    ) {
        // A value of a megabyte is shown by its start and its end.
        self.list.push(ConfigError {
            file: self.file.clone(),
            pos,
            subject: shorten(subject, 80),
            field: shorten(field, 80),
            message: shorten(&message.into(), 400),
        });
    }
}

/// Where one item's problems are reported: the errors, and the item (`check shop-home`).
pub(crate) struct Ctx<'e> {
    pub errs: &'e mut Errs,
    pub subject: String,
    /// Where the file will run (some things cannot be done on Lambda).
    pub target: Target,
}

impl Ctx<'_> {
    pub(crate) fn push(&mut self, pos: Pos, field: &str, message: impl Into<String>) {
        self.errs.push(pos, &self.subject, field, message);
    }
}

/// Words people write for customers and operators to read (names, titles, notes, sign-offs):
/// shown as written, so no control, bidirectional or invisible character may hide in them
/// (`lines`: line breaks and tabs are fine, as in a note of several lines).
pub(crate) fn human_text(errs: &mut Errs, v: &At<String>, subject: &str, field: &str, lines: bool) {
    if let Some(what) = crate::text::hidden_char(&v.value, lines) {
        errs.push(
            v.pos,
            subject,
            field,
            format!("has {what}: it is shown to people as written; remove it"),
        );
    }
}

/// A duration field: longer than zero and at most `max`.
pub(crate) fn duration(
    errs: &mut Errs,
    v: &At<String>,
    subject: &str,
    field: &str,
    max: Duration,
) -> Option<Duration> {
    match parse_duration(&v.value) {
        Ok(d) if d.is_zero() => {
            errs.push(v.pos, subject, field, "must be longer than zero");
            None
        }
        Ok(d) if d > max => {
            errs.push(
                v.pos,
                subject,
                field,
                format!(
                    "{} is too long: at most {}",
                    format_duration(d),
                    format_duration(max)
                ),
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            errs.push(v.pos, subject, field, e);
            None
        }
    }
}

/// Parses a host the way URLs do, so obfuscated IPv4 forms (`2130706433`, `0x7f.1`) are read as
/// the addresses they are.
pub(crate) fn valid_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("must not be empty".into());
    }
    if host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::Ipv6Addr>()
        .is_ok()
    {
        return Ok(());
    }
    url::Host::parse(host)
        .map(|_| ())
        .map_err(|e| format!("{host:?} is not a host name or IP address ({e})"))
}

/// A string that may hold `${env:NAME}` references.
pub(crate) fn template(cx: &mut Ctx, v: &At<String>, field: &str) -> Option<EnvTemplate> {
    EnvTemplate::parse(&v.value)
        .map_err(|e| cx.push(v.pos, field, e))
        .ok()
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
