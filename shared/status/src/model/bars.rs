//! A service's 90 days as bars: one per day in the page's time zone.

use super::*;
use crate::words::{percent, words};
use crate::Input;
use atalaya_core::config::{Language, Service};
use atalaya_core::message::{day, duration_words};
use atalaya_core::rollup::Millis;
use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// The last 90 days in `tz`, oldest first: (date, start, end) with the bounds in UTC.
pub(super) fn days(now: DateTime<Utc>, tz: Tz) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let today = now.with_timezone(&tz).date_naive();
    let start_of = |d: chrono::NaiveDate| {
        d.and_time(NaiveTime::MIN)
            .and_local_timezone(tz)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| d.and_time(NaiveTime::MIN).and_utc())
    };
    (0..DAYS)
        .rev()
        .map(|back| {
            let d = today - TimeDelta::days(back);
            (
                d.format("%Y-%m-%d").to_string(),
                start_of(d),
                start_of(d + TimeDelta::days(1)),
            )
        })
        .collect()
}

pub(super) fn bar(
    input: &Input,
    s: &Service,
    date: &str,
    (from, to_day): (DateTime<Utc>, DateTime<Utc>),
    m: &Millis,
    l: Language,
    tz: Tz,
) -> Bar {
    let w = words(l);
    let total = m.total();
    // An incident (downtime the quorum confirmed) on the day colours it even before its hour
    // is complete: the bars never look better than the incident list.
    let incident_that_day = input.incidents.iter().any(|i| {
        touches(i, &s.id) && i.started_at < to_day && i.resolved_at.is_none_or(|r| r >= from)
    });
    let kind = if m.down > 0 || incident_that_day {
        "down"
    } else if total == 0 {
        "none"
    } else if m.down > 0 {
        "down"
    } else if m.degraded > 0 {
        "degraded"
    } else if m.maintenance > 0 {
        "maintenance"
    } else if m.unknown * 2 > total {
        "unseen"
    } else {
        "up"
    };
    // What the day was, in words, before any figure: the bar's colour said plainly.
    let what = ["down", "degraded", "maintenance", "unseen", "up", "none"]
        .iter()
        .position(|k| *k == kind)
        .map_or(w.no_data, |i| w.day_kinds[i]);
    let mut parts = vec![day(from, l, tz), what.to_string()];
    let today = input.now < to_day;
    if let Some(p) = input
        .config
        .settings
        .sla
        .uptime(m)
        .percent
        .filter(|_| total > 0)
    {
        if today {
            parts.push(format!("{} {} {}", percent(p, l), w.uptime, w.so_far));
        } else {
            parts.push(format!("{} {}", percent(p, l), w.uptime));
        }
    }
    if m.unknown > 0 && total > 0 {
        parts.push(format!(
            "{} {}",
            w.unseen_for,
            duration_words(TimeDelta::milliseconds(m.unknown as i64), l)
        ));
    }
    let names: Vec<String> = input
        .incidents
        .iter()
        .filter(|i| touches(i, &s.id))
        .filter(|i| i.started_at < to_day && i.resolved_at.is_none_or(|r| r >= from))
        .map(|i| {
            let name = incident_name(input, i, s, l);
            match i.resolved_at {
                Some(r) => format!(
                    "{name} ({} {})",
                    w.lasted,
                    duration_words(r - i.started_at, l)
                ),
                None => format!("{name} ({})", w.ongoing),
            }
        })
        .collect();
    match names.len() {
        0 => parts.push(w.no_incidents.to_string()),
        1 => parts.push(format!("1 {}: {}", w.incident, names[0])),
        n => parts.push(format!("{n} {}: {}", w.incidents, names.join("; "))),
    }
    Bar {
        date: date.to_string(),
        kind,
        words: parts.join(" · "),
    }
}
