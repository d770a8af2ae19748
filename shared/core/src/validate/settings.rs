//! `settings`: regions, quorum, allowed networks, defaults, operators, flapping, incidents,
//! signature.

use super::{count, duration, opt_duration, Errs, Target};
use crate::at::{At, Pos};
use crate::config::*;
use crate::duration::format_duration;
use crate::raw::*;
use std::net::IpAddr;
use std::time::Duration;

pub(super) fn is_aws_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

pub(super) struct Defaults {
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub recover_after: u32,
}

/// A sign-off: one text, or one per language.
pub(super) fn signature(
    errs: &mut Errs,
    v: &Option<At<RawSignature>>,
    subject: &str,
) -> Option<Signature> {
    let v = v.as_ref()?;
    let mut out = Signature::default();
    match &v.value {
        RawSignature::One(text) => out.any = Some(text.trim().to_string()),
        RawSignature::PerLanguage(map) => {
            for (code, text) in map {
                match Language::from_code(code) {
                    Some(l) => {
                        out.by_language.insert(l, text.trim().to_string());
                    }
                    None => errs.push(
                        v.pos,
                        subject,
                        "signature",
                        format!("{code:?} is not a supported language: use en or es"),
                    ),
                }
            }
        }
    }
    if out
        .any
        .iter()
        .chain(out.by_language.values())
        .any(|t| t.is_empty())
    {
        errs.push(v.pos, subject, "signature", "must not be empty");
    }
    if let Some(what) = out
        .any
        .iter()
        .chain(out.by_language.values())
        .find_map(|t| crate::text::hidden_char(t, true))
    {
        errs.push(
            v.pos,
            subject,
            "signature",
            format!("has {what}: it is shown to people as written; remove it"),
        );
    }
    Some(out)
}

/// `settings.regions`: AWS region names (or `local`, not for Lambda), each once.
fn regions(
    raw: &RawSettings,
    target: Target,
    private: &std::collections::BTreeMap<String, String>,
    s: &str,
    errs: &mut Errs,
) -> Vec<String> {
    let mut regions = Vec::new();
    for r in raw.regions.iter().flatten() {
        if r.value == LOCAL_REGION {
            if target == Target::Lambda {
                errs.push(r.pos, s, "regions", "`local` is the local runner's region; Lambda needs AWS regions such as eu-west-1");
            }
        } else if !is_aws_region(&r.value) && !private.contains_key(&r.value) {
            errs.push(
                r.pos,
                s,
                "regions",
                format!(
                    "{:?} is not an AWS region name (like eu-west-1), a private location (settings.private_locations) or `local`",
                    r.value
                ),
            );
        }
        if regions.contains(&r.value) {
            errs.push(
                r.pos,
                s,
                "regions",
                format!("region {} is listed twice", r.value),
            );
        } else {
            regions.push(r.value.clone());
        }
    }
    if raw.regions.as_ref().is_some_and(|r| r.is_empty()) {
        errs.push(
            Pos::default(),
            s,
            "regions",
            "no regions: list at least one",
        );
    }
    if regions.is_empty() {
        regions.push(LOCAL_REGION.to_string());
    }
    regions
}

/// `settings.quorum`: `majority`, `all` or a number of regions.
fn quorum(raw: &RawSettings, regions: usize, s: &str, errs: &mut Errs) -> Quorum {
    match raw.quorum.as_ref() {
        None => Quorum::Majority,
        Some(q) => match &q.value {
            RawQuorum::Word(w) if w == "majority" => Quorum::Majority,
            RawQuorum::Word(w) if w == "all" => Quorum::All,
            RawQuorum::Word(w) => {
                errs.push(
                    q.pos,
                    s,
                    "quorum",
                    format!("{w:?} is not a quorum: use `majority`, `all` or a number of regions"),
                );
                Quorum::Majority
            }
            RawQuorum::Count(n) if *n == 0 || *n as usize > regions => {
                errs.push(
                    q.pos,
                    s,
                    "quorum",
                    format!(
                        "quorum {n} must be between 1 and the number of regions ({})",
                        regions
                    ),
                );
                Quorum::Majority
            }
            RawQuorum::Count(n) => Quorum::Count(*n),
        },
    }
}

/// `settings.allow_networks`: CIDRs or addresses.
fn allow_networks(raw: &RawSettings, s: &str, errs: &mut Errs) -> Vec<ipnet::IpNet> {
    let mut allow_networks = Vec::new();
    for n in raw.allow_networks.iter().flatten() {
        let parsed = n
            .value
            .parse::<ipnet::IpNet>()
            .or_else(|_| n.value.parse::<IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(net) => allow_networks.push(net.trunc()),
            Err(_) => errs.push(
                n.pos,
                s,
                "allow_networks",
                format!(
                    "{:?} is not a CIDR (like 10.0.0.0/8 or fd00::/8) or an IP address",
                    n.value
                ),
            ),
        }
    }
    allow_networks
}

/// `settings.operators`: how often they are reminded, when the incident escalates.
fn operators(raw: &RawSettings, s: &str, errs: &mut Errs) -> Operators {
    let ops = raw.operators.as_ref();
    Operators {
        renotify_every: opt_duration(
            errs,
            &ops.and_then(|o| o.renotify_every.clone()),
            s,
            "operators.renotify_every",
            DEFAULT_RENOTIFY_EVERY,
            MAX_RENOTIFY_EVERY,
        ),
        escalate_after: opt_duration(
            errs,
            &ops.and_then(|o| o.escalate_after.clone()),
            s,
            "operators.escalate_after",
            DEFAULT_ESCALATE_AFTER,
            MAX_ESCALATE_AFTER,
        ),
        // Channels and routes name services: read with them (`oncall::on_call`).
        on_call: Default::default(),
    }
}

/// `settings.defaults`: what a check that does not say has.
fn defaults(raw: &RawSettings, target: Target, s: &str, errs: &mut Errs) -> Defaults {
    let d = raw.defaults.as_ref();
    let interval = d
        .and_then(|d| d.interval.as_ref())
        .and_then(|v| duration(errs, v, s, "defaults.interval", MAX_INTERVAL).map(|i| (i, v.pos)));
    if let Some((i, pos)) = interval {
        check_interval(errs, i, pos, s, "defaults.interval", target);
    }
    let max = super::checks::LAMBDA_MAX_TIMEOUT;
    if let Some(t) = d.and_then(|d| d.timeout.as_ref()) {
        if target == Target::Lambda && crate::parse_duration(&t.value).is_ok_and(|v| v > max) {
            errs.push(t.pos, s, "defaults.timeout", format!(
                "timeout {} is too long on Lambda: a probe ends within the minute it starts in (at most {})",
                t.value.trim(), crate::duration::format_duration(max)));
        }
    }
    Defaults {
        interval: interval.map(|(i, _)| i).unwrap_or(DEFAULT_INTERVAL),
        timeout: opt_duration(
            errs,
            &d.and_then(|d| d.timeout.clone()),
            s,
            "defaults.timeout",
            DEFAULT_TIMEOUT,
            MAX_TIMEOUT,
        ),
        retries: count(
            errs,
            d.and_then(|d| d.retries.as_ref()),
            s,
            "defaults.retries",
            DEFAULT_RETRIES,
        ),
        recover_after: count(
            errs,
            d.and_then(|d| d.recover_after.as_ref()),
            s,
            "defaults.recover_after",
            DEFAULT_RECOVER_AFTER,
        ),
    }
}

/// `settings.flapping`: the percent state changes at which a check starts and stops flapping.
fn flapping(raw: &RawSettings, s: &str, errs: &mut Errs) -> (u32, u32) {
    let flap = raw.flapping.as_ref();
    let percent = |errs: &mut Errs, v: Option<&At<Count>>, field: &str, default: u32| match v {
        Some(v) if v.value.0 > 100 => {
            errs.push(
                v.pos,
                s,
                field,
                format!("{} is not a percentage (0-100)", v.value.0),
            );
            default
        }
        Some(v) => v.value.0,
        None => default,
    };
    let flapping_start = percent(
        errs,
        flap.and_then(|f| f.start.as_ref()),
        "flapping.start",
        50,
    );
    let flapping_stop = percent(
        errs,
        flap.and_then(|f| f.stop.as_ref()),
        "flapping.stop",
        25,
    );
    if flapping_stop > flapping_start {
        let pos = flap
            .and_then(|f| f.stop.as_ref())
            .map(|v| v.pos)
            .unwrap_or_default();
        errs.push(
            pos,
            s,
            "flapping.stop",
            format!("stop {flapping_stop} is above start {flapping_start}: a check could never stop flapping"),
        );
    }
    (flapping_start, flapping_stop)
}

pub(super) fn check_settings(
    raw: Option<&RawSettings>,
    target: Target,
    errs: &mut Errs,
) -> (Settings, Defaults) {
    let empty = RawSettings::default();
    let raw = raw.unwrap_or(&empty);
    let s = "settings";

    let private_locations = super::locations::private_locations(raw, s, errs);
    let regions = regions(raw, target, &private_locations, s, errs);

    let quorum = quorum(raw, regions.len(), s, errs);

    let allow_networks = allow_networks(raw, s, errs);

    let operators = operators(raw, s, errs);

    let defaults = defaults(raw, target, s, errs);
    let (flapping_start, flapping_stop) = flapping(raw, s, errs);
    let reopen_within = opt_duration(
        errs,
        &raw.incidents.as_ref().and_then(|i| i.reopen_within.clone()),
        s,
        "incidents.reopen_within",
        DEFAULT_REOPEN_WITHIN,
        MAX_REOPEN_WITHIN,
    );
    (
        Settings {
            regions,
            quorum,
            allow_networks,
            operators,
            flapping_start: flapping_start as f64,
            flapping_stop: flapping_stop as f64,
            reopen_within,
            tick: LAMBDA_TICK,
            signature: signature(errs, &raw.signature, s),
            scope: Default::default(),
            sla: sla(errs, raw.sla.as_ref(), s),
            brand: super::email::brand(errs, raw.brand.as_ref(), s),
            email: super::email::email(errs, raw.email.as_ref(), s),
            status_site: super::addresses::status_site(errs, raw.status_page.as_ref(), s),
            heartbeats: super::addresses::heartbeats(errs, raw.heartbeats.as_ref(), s),
            private_locations,
            retention: retention(errs, raw.retention.as_ref(), s),
        },
        defaults,
    )
}

/// `settings.retention.results`: from [`MIN_RETENTION`] to [`MAX_RETENTION`].
fn retention(errs: &mut Errs, raw: Option<&RawRetention>, s: &str) -> Duration {
    let Some(v) = raw.and_then(|r| r.results.as_ref()) else {
        return DEFAULT_RETENTION;
    };
    match super::duration(errs, v, s, "retention.results", MAX_RETENTION) {
        Some(d) if d < MIN_RETENTION => {
            errs.push(
                v.pos,
                s,
                "retention.results",
                "at least 2d: the hourly rollups and latency drift read the last day of results",
            );
            DEFAULT_RETENTION
        }
        Some(d) => d,
        None => DEFAULT_RETENTION,
    }
}

/// `settings.sla`: each figure in its range.
fn sla(errs: &mut Errs, raw: Option<&RawSla>, s: &str) -> crate::rollup::Policy {
    use crate::rollup::{Policy, UnknownAs};
    let mut p = Policy::default();
    let Some(raw) = raw else { return p };
    if let Some(v) = &raw.target {
        if (50.0..100.0).contains(&v.value) {
            p.target = v.value;
        } else {
            errs.push(v.pos, s, "sla.target", format!("{} is not an uptime target: give a percentage from 50 up to (not including) 100, e.g. 99.9", v.value));
        }
    }
    if let Some(v) = &raw.exclude_maintenance {
        p.exclude_maintenance = v.value;
    }
    if let Some(v) = &raw.partial_weight {
        if (0.0..=1.0).contains(&v.value) {
            p.partial_weight = v.value;
        } else {
            errs.push(v.pos, s, "sla.partial_weight", format!("{} is not a weight: give a number from 0 (degraded is not downtime) to 1 (degraded is downtime)", v.value));
        }
    }
    if let Some(v) = &raw.unknown {
        p.unknown = match v.value.as_str() {
            "exclude" => UnknownAs::Exclude,
            "up" => UnknownAs::Up,
            "down" => UnknownAs::Down,
            other => {
                errs.push(
                    v.pos,
                    s,
                    "sla.unknown",
                    format!("{other:?} is not `exclude`, `up` or `down`"),
                );
                UnknownAs::Exclude
            }
        };
    }
    p
}

pub(super) fn check_interval(
    errs: &mut Errs,
    interval: Duration,
    pos: Pos,
    subject: &str,
    field: &str,
    target: Target,
) {
    match target {
        Target::Lambda
            if interval < Duration::from_secs(60)
                && !(interval.subsec_nanos() == 0
                    && crate::schedule::SUB_MINUTE.contains(&interval.as_secs())) =>
        {
            errs.push(
                pos,
                subject,
                field,
                format!("interval {} is below 1m and not one Lambda runs within its minute: use 10s, 15s, 20s or 30s (any second-level interval is for the local runner: validate with --target local)", format_duration(interval)),
            )
        }
        Target::Lambda
            if interval >= Duration::from_secs(60)
                && !interval.as_millis().is_multiple_of(60_000) =>
        {
            errs.push(
            pos,
            subject,
            field,
            format!("interval {} is not a whole number of minutes: Lambda schedules fire once a minute", format_duration(interval)),
            )
        }
        Target::Local if interval < Duration::from_secs(1) => {
            errs.push(pos, subject, field, format!("interval {} is below 1s, the local runner's minimum", format_duration(interval)))
        }
        _ => {}
    }
}
