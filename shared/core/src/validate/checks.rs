//! Checks: the fields every check has (id, service, interval, timeout, retries, regions), its
//! one kind block (validated by its module in `crate::kinds`, with its own fields of `expect`),
//! and the expectations every kind shares (latency; the certificate where there is one).

use super::settings::{check_interval, Defaults};
use super::{check_id, count, duration, opt_duration, unknown, Ctx, Errs};
use crate::at::{At, Pos};
use crate::config::*;
use crate::duration::format_duration;
use crate::kinds::{self, join_or, CheckKind};
use crate::raw::*;
use crate::validate::Target;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// `expect` fields every kind may use.
const SHARED: [&str; 3] = ["latency", "cert_valid_for", "cert_warn_before"];

/// What a heartbeat has not: an interval, a timeout, regions.
fn not_probed(c: &RawCheck, subject: &str, errs: &mut Errs) {
    for (v, field) in [(&c.interval, "interval"), (&c.timeout, "timeout")] {
        if let Some(v) = v {
            errs.push(v.pos, subject, field, format!("a heartbeat is not probed: it has no {field} (its schedule is heartbeat.every or heartbeat.cron)"));
        }
    }
    if let Some(r) = c.regions.as_ref().and_then(|r| r.first()) {
        errs.push(r.pos, subject, "regions", "a heartbeat is judged where its pings arrive (the local runner, or the ping function in the home region): it has no regions");
    }
}

/// The check's regions: the file's, or its own (each one of the file's).
fn regions(
    c: &RawCheck,
    pos: Pos,
    settings: &Settings,
    passive: bool,
    subject: &str,
    errs: &mut Errs,
) -> Vec<String> {
    match &c.regions {
        None => settings.regions.clone(),
        Some(list) => {
            if list.is_empty() {
                errs.push(
                    pos,
                    subject,
                    "regions",
                    "an empty region list would never run the check; remove it to run everywhere",
                );
            }
            for r in list.iter().filter(|_| !passive) {
                if !settings.regions.contains(&r.value) {
                    errs.push(
                        r.pos,
                        subject,
                        "regions",
                        format!(
                            "region {} is not in settings.regions ({})",
                            r.value,
                            settings.regions.join(", ")
                        ),
                    );
                }
            }
            list.iter().map(|r| r.value.clone()).collect()
        }
    }
}

/// `${var:…}` outside a flow: variables are a flow's.
fn no_variables(kind: &CheckKind, pos: Pos, cx: &mut Ctx) {
    for (field, t) in kind.templates() {
        if let Some(r) = t
            .references()
            .find(|r| r.source == crate::template::Source::Var)
        {
            cx.push(
                pos,
                &field,
                format!("{r}: variables are a flow's (values extracted by its steps); this check has no steps"),
            );
        }
    }
}

/// The longest timeout on Lambda: a minute's run of a shard starts its minute checks at second
/// 0, so they end by second 55 and the run before the next minute's begins (with its margin to
/// write).
pub(crate) const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(55);

/// The check's interval and timeout (its own, or the defaults); the timeout shorter than the
/// interval for a check that is probed.
fn timing(
    c: &RawCheck,
    pos: Pos,
    defaults: &Defaults,
    passive: bool,
    subject: &str,
    target: Target,
    errs: &mut Errs,
) -> (Duration, Duration) {
    let interval = match &c.interval {
        Some(v) => match duration(errs, v, subject, "interval", MAX_INTERVAL) {
            Some(i) => {
                check_interval(errs, i, v.pos, subject, "interval", target);
                i
            }
            None => defaults.interval,
        },
        None => defaults.interval,
    };
    let timeout = opt_duration(
        errs,
        &c.timeout,
        subject,
        "timeout",
        defaults.timeout,
        MAX_TIMEOUT,
    );
    // A default too long is said once, at settings.defaults.timeout.
    if target == Target::Lambda && !passive && timeout > LAMBDA_MAX_TIMEOUT && c.timeout.is_some() {
        let at = c.timeout.as_ref().map_or(pos, |v| v.pos);
        errs.push(at, subject, "timeout", format!(
            "timeout {} is too long on Lambda: a probe ends within the minute it starts in (at most {}), so that the minute's run of its shard ends before the next begins",
            format_duration(timeout), format_duration(LAMBDA_MAX_TIMEOUT)));
    } else if timeout >= interval && !passive {
        let at = c
            .timeout
            .as_ref()
            .or(c.interval.as_ref())
            .map(|v| v.pos)
            .unwrap_or(pos);
        errs.push(at, subject, "timeout", format!(
            "timeout {} must be shorter than the interval {}: a probe would still be running when the next one starts",
            format_duration(timeout), format_duration(interval)));
    }
    (interval, timeout)
}

pub(super) fn check_check(
    c: &At<RawCheck>,
    settings: &Settings,
    defaults: &Defaults,
    services: &HashSet<String>,
    seen: &mut HashMap<String, Pos>,
    target: Target,
    errs: &mut Errs,
) -> Option<Check> {
    let pos = c.pos;
    let c = &c.value;
    check_id(errs, seen, &c.id, "check");
    let subject = format!("check {}", c.id.value);
    let subject = subject.as_str();
    if !services.contains(&c.service.value) {
        errs.push(
            c.service.pos,
            subject,
            "service",
            unknown("service", &c.service.value, services),
        );
    }

    // A heartbeat is judged from its pings, where they arrive: no interval, timeout or regions
    // of its own.
    let passive = c.heartbeat.is_some();
    if passive {
        not_probed(c, subject, errs);
    }
    let (interval, timeout) = timing(c, pos, defaults, passive, subject, target, errs);
    let retries = count(
        errs,
        c.retries.as_ref(),
        subject,
        "retries",
        defaults.retries,
    );
    let recover_after = count(
        errs,
        c.recover_after.as_ref(),
        subject,
        "recover_after",
        defaults.recover_after,
    );

    let regions = regions(c, pos, settings, passive, subject, errs);

    let mut cx = Ctx {
        errs,
        subject: subject.to_string(),
        target,
    };
    if let Some(e) = &c.expect {
        applies(&e.value, c, &mut cx);
    }
    let kind = kinds::validate(c, pos, &mut cx)?;
    let (interval, timeout, retries, recover_after, regions) = match &kind {
        CheckKind::Heartbeat(h) => {
            if h.token.is_none() && settings.heartbeats.key.is_none() && target == Target::Lambda {
                cx.push(pos, "heartbeat.token", "no token: give it as a reference (token: \"${ssm:/atalaya/heartbeat/<check>}\"), or set settings.heartbeats.key (${ssm:/atalaya/heartbeat/key}) to derive every heartbeat's token");
            }
            let every = h.judge_every(target);
            (
                every,
                every / 2,
                c.retries.as_ref().map_or(1, |_| retries),
                c.recover_after.as_ref().map_or(1, |_| recover_after),
                vec![kinds::heartbeat::REGION.to_string()],
            )
        }
        _ => (interval, timeout, retries, recover_after, regions),
    };
    // A flow's variables exist only between its steps.
    if !matches!(kind, CheckKind::Flow(_)) {
        no_variables(&kind, pos, &mut cx);
    }
    let expect = match &c.expect {
        Some(e) => shared_expect(&e.value, &kind, timeout, &mut cx),
        None => Expect::default(),
    };
    Some(Check {
        id: c.id.value.clone(),
        service: c.service.value.clone(),
        kind,
        expect,
        interval,
        timeout,
        retries,
        recover_after,
        regions,
        stale_after: match target {
            Target::Lambda => (interval * 3).max(crate::schedule::LAMBDA_STALE_FLOOR),
            Target::Local => interval * 3,
        },
        pos,
    })
}

/// Each `expect` field given must belong to the check's kind (or be shared): the kinds say
/// which they own.
fn applies(e: &RawExpect, c: &RawCheck, cx: &mut Ctx) {
    let kind = [
        c.http.as_ref().map(|_| kinds::http::NAME),
        c.tcp.as_ref().map(|_| kinds::tcp::NAME),
        c.dns.as_ref().map(|_| kinds::dns::NAME),
        c.tls.as_ref().map(|_| kinds::tls::NAME),
        c.steps.as_ref().map(|_| kinds::flow::NAME),
        c.heartbeat.as_ref().map(|_| kinds::heartbeat::NAME),
    ]
    .into_iter()
    .flatten()
    .next();
    let Some(kind) = kind else { return };
    for (field, pos) in e.present() {
        if SHARED.contains(&field) {
            continue;
        }
        let owners = kinds::owners(field);
        if !owners.contains(&kind) {
            cx.push(
                pos,
                &format!("expect.{field}"),
                format!(
                    "does not apply to {kind} checks (it applies to {} checks)",
                    join_or(&owners)
                ),
            );
        }
    }
}

/// The expectations every kind shares: latency thresholds, and the certificate's days left for
/// kinds that meet a certificate.
fn shared_expect(e: &RawExpect, kind: &CheckKind, timeout: Duration, cx: &mut Ctx) -> Expect {
    let mut out = Expect::default();
    if let Some(l) = &e.latency {
        let degraded = l.value.degraded.as_ref().and_then(|d| {
            duration(
                cx.errs,
                d,
                &cx.subject,
                "expect.latency.degraded",
                MAX_TIMEOUT,
            )
        });
        let down =
            l.value.down.as_ref().and_then(|d| {
                duration(cx.errs, d, &cx.subject, "expect.latency.down", MAX_TIMEOUT)
            });
        if l.value.degraded.is_none() && l.value.down.is_none() && l.value.drift.is_none() {
            cx.push(
                l.pos,
                "expect.latency",
                "give `degraded`, `down`, `drift` or some of them",
            );
        }
        if let Some(d) = &l.value.drift {
            let factor = d
                .value
                .trim()
                .strip_suffix('x')
                .and_then(|f| f.trim().parse::<f64>().ok());
            match factor {
                Some(f) if (1.2..=100.0).contains(&f) => out.latency_drift = Some(f),
                _ => cx.push(
                    d.pos,
                    "expect.latency.drift",
                    format!(
                        "{:?} is not a factor from 1.2x to 100x (e.g. 2x: warn when an hour's median is twice the usual)",
                        d.value
                    ),
                ),
            }
        }
        if let (Some(dg), Some(dn)) = (degraded, down) {
            if dg >= dn {
                cx.push(
                    l.pos,
                    "expect.latency.degraded",
                    format!(
                        "degraded {} is not below down {}: it could never trigger",
                        format_duration(dg),
                        format_duration(dn)
                    ),
                );
            }
        }
        for (v, name) in [(degraded, "degraded"), (down, "down")] {
            if let Some(v) = v.filter(|v| *v >= timeout) {
                cx.push(l.pos, &format!("expect.latency.{name}"), format!(
                    "{name} {} is not below the timeout {}: the probe times out first, so it could never trigger",
                    format_duration(v), format_duration(timeout)));
            }
        }
        out.latency_degraded = degraded;
        out.latency_down = down;
    }
    // The certificate's thresholds apply to kinds that meet one.
    let certificate = |cx: &mut Ctx, c: &At<String>, field: &str| {
        if kind.has_certificate() {
            duration(cx.errs, c, &cx.subject, field, MAX_CERT_VALID_FOR)
        } else {
            cx.push(
                c.pos,
                field,
                format!(
                    "does not apply to {} checks (it applies to tls and https checks)",
                    kind.name()
                ),
            );
            None
        }
    };
    if let Some(c) = &e.cert_valid_for {
        out.cert_valid_for = certificate(cx, c, "expect.cert_valid_for");
    }
    if let Some(c) = &e.cert_warn_before {
        out.cert_warn_before = certificate(cx, c, "expect.cert_warn_before");
        if let (Some(w), Some(v)) = (out.cert_warn_before, out.cert_valid_for) {
            if w <= v {
                cx.push(
                    c.pos,
                    "expect.cert_warn_before",
                    format!(
                        "{} is not more than cert_valid_for {}: the check would be degraded before the early warning; warn earlier (e.g. {})",
                        format_duration(w),
                        format_duration(v),
                        format_duration(v + Duration::from_secs(7 * 86_400))
                    ),
                );
            }
        }
    }
    out
}
