//! Customers' words: the templates' context (their own name, the service's customer-facing
//! name, times in their zone, durations, the phase, the operators' own words) and how times,
//! windows and durations read in each language.

use super::speech::{local_day, speech, Moment, Unit};
use super::{RenderError, Renderer};
use crate::config::{Config, Customer, Language, Maintenance};
use crate::evaluate::{after, About, Event, EventKind, Incident, Phase};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

impl Renderer {
    pub(super) fn customer(
        &self,
        event: &Event,
        incident: Option<&Incident>,
        config: &Config,
    ) -> Result<(String, String, Language), RenderError> {
        self.customer_in(event, incident, config, None)
    }

    /// The customer's message in `language` (default theirs). The customer's own templates
    /// are in their language and are used only for it.
    pub(super) fn customer_in(
        &self,
        event: &Event,
        incident: Option<&Incident>,
        config: &Config,
        language: Option<Language>,
    ) -> Result<(String, String, Language), RenderError> {
        let unknown = || RenderError::Unknown(event.id.clone());
        let service = event
            .service()
            .and_then(|s| config.service(s))
            .ok_or_else(unknown)?;
        let customer = config.customer(&service.customer).ok_or_else(unknown)?;
        let (l, tz) = (language.unwrap_or(customer.language), customer.timezone);
        let window = match &event.about {
            About::Maintenance { window, .. } => Some(window),
            _ => None,
        };
        let since = incident.map(|i| i.started_at).unwrap_or(event.at);
        let resolved_at = incident.and_then(|i| i.resolved_at).unwrap_or(event.at);
        let ctx = minijinja::context! {
            customer => customer.greeting.get(l),
            service => service.names.get(l),
            since => when(since, l, tz),
            // Times are shown to the minute: the promise is rounded up, never earlier than kept.
            next_update => when(ceil_minute(after(event.at, customer.update_every)), l, tz),
            resolved_at => when(resolved_at, l, tz),
            duration => duration_words(resolved_at - since, l),
            phase => event.phase().unwrap_or(Phase::Investigating).as_str(),
            reopened => incident.is_some_and(|i| i.reopened > 0),
            // The monitor cannot see the service: no word may say it works.
            blind => event.unseen(),
            message => event.text().filter(|_| matches!(event.kind, EventKind::HumanUpdate | EventKind::Resolved)),
            note => window.and_then(|w| w.note.as_deref()).map(sentence),
            start => window.map(|m| when(m.start, l, tz)),
            start_date => window.map(|m| day(m.start, l, tz)),
            end => window.map(|m| when(m.end, l, tz)),
            window => window.map(|m| window_words(m, l, tz)),
            signature => signature(customer, config, l),
        };
        let kind = event.kind.as_str();
        let pick = |part: &str| {
            let own = format!("{}/{kind}.{part}", customer.id);
            if l == customer.language && self.env.get_template(&own).is_ok() {
                own
            } else {
                format!("{}/{kind}.{part}", l.code())
            }
        };
        let render = |name: String| {
            self.env
                .get_template(&name)
                .and_then(|t| t.render(&ctx))
                .map_err(|source| RenderError::Template { name, source })
        };
        Ok((render(pick("subject"))?, render(pick("body"))?, l))
    }
}

/// The customer's sign-off: theirs, the file's, the brand's team (`The Acme team`), or the
/// built-in one, in their language.
pub fn signature(customer: &Customer, config: &Config, l: Language) -> String {
    customer
        .signature
        .as_ref()
        .and_then(|s| s.for_language(l))
        .or_else(|| {
            config
                .settings
                .signature
                .as_ref()
                .and_then(|s| s.for_language(l))
        })
        .map(str::to_string)
        // A brand set and no sign-off written: in the brand's name, not "the support team".
        .or_else(|| {
            config
                .brand_for(&customer.id)
                .map(|b| speech(l).team_of(&b.name))
        })
        .unwrap_or_else(|| speech(l).signature().to_string())
}

/// The built-in sign-off in `l` (what messages said before a brand or a signature was set).
pub fn built_in_signature(l: Language) -> &'static str {
    speech(l).signature()
}

/// A note as a sentence of its own: its own full stop kept, one added if it has none.
fn sentence(note: &str) -> String {
    let note = note.trim();
    if note.ends_with(['.', '!', '?', '…']) {
        note.to_string()
    } else {
        format!("{note}.")
    }
}

fn ceil_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound;
    let floor = t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t);
    if floor == t {
        t
    } else {
        // The last minute there is cannot be rounded up: it stays as it is.
        floor.checked_add_signed(TimeDelta::minutes(1)).unwrap_or(t)
    }
}

/// The zone as people say it: its city (`Madrid`, `Buenos Aires`; in the language's own name
/// where it has one), or `None` for UTC.
fn zone_city(tz: Tz, l: Language) -> Option<String> {
    let name = tz.name();
    if matches!(
        name,
        "UTC"
            | "Etc/UTC"
            | "Etc/UCT"
            | "UCT"
            | "Etc/GMT"
            | "GMT"
            | "Etc/Universal"
            | "Universal"
            | "Zulu"
            | "Etc/Zulu"
            | "Etc/Greenwich"
            | "Greenwich"
            | "GMT0"
            | "Etc/GMT0"
    ) {
        return None;
    }
    let city = name.rsplit('/').next().unwrap_or(name).replace('_', " ");
    Some(speech(l).city(&city).map_or(city, str::to_string))
}

/// The zone after a time: ` UTC`, ` (Madrid time)`, ` (hora de Madrid)`.
fn zone(tz: Tz, l: Language) -> String {
    speech(l).zone(zone_city(tz, l).as_deref())
}

/// A month: `November 2026`, `noviembre de 2026` (`month0` from 0).
pub fn month_words(year: i32, month0: usize, l: Language) -> String {
    speech(l).month(year, month0)
}

/// A day: `24 November 2026`, `24 de noviembre de 2026`.
pub fn day(t: DateTime<Utc>, l: Language, tz: Tz) -> String {
    local_day(speech(l), t.with_timezone(&tz))
}

/// A time as a customer reads it, in their zone, with the zone named:
/// `10:00 (Madrid time) on 24 November 2026`, `las 10:00 (hora de Madrid) del 24 de noviembre
/// de 2026`.
pub fn when(t: DateTime<Utc>, l: Language, tz: Tz) -> String {
    let s = speech(l);
    let local = t.with_timezone(&tz);
    s.when(&Moment {
        clock: &s.clock(local),
        zone: &zone(tz, l),
        day: &local_day(s, local),
    })
}

/// A time after a verb, day first: `on 24 November 2026 at 10:00 UTC`, `el 24 de noviembre de
/// 2026 a las 10:00 (UTC)`.
pub fn on_day_at(t: DateTime<Utc>, l: Language, tz: Tz) -> String {
    let s = speech(l);
    let local = t.with_timezone(&tz);
    s.on_day_at(&Moment {
        clock: &s.clock(local),
        zone: &zone(tz, l),
        day: &local_day(s, local),
    })
}

/// A time that stands alone (a heading, a list), starting with the day: `24 November 2026,
/// 10:00 UTC`, `24 de noviembre de 2026, 10:00 (UTC)`.
pub fn stamp(t: DateTime<Utc>, l: Language, tz: Tz) -> String {
    let s = speech(l);
    let local = t.with_timezone(&tz);
    s.stamp(
        &Moment {
            clock: &s.clock(local),
            zone: &zone(tz, l),
            day: &local_day(s, local),
        },
        &local.format("%H:%M").to_string(),
    )
}

/// A customer mail for a subscriber who joined during an incident (confirmed after its first
/// notice): `body` with a paragraph after the greeting saying when the problem began, so the
/// first mail they get about it stands on its own.
pub fn for_late_joiner(body: &str, began: DateTime<Utc>, l: Language, tz: Tz) -> String {
    let lead = speech(l).joined(&when(began, l, tz));
    match body.split_once("\n\n") {
        Some((greeting, rest)) => format!("{greeting}\n\n{lead}\n\n{rest}"),
        None => format!("{lead}\n\n{body}"),
    }
}

/// A maintenance window; the date once when it starts and ends on the same day.
pub fn window_words(m: &Maintenance, l: Language, tz: Tz) -> String {
    let s = speech(l);
    let (start, end) = (m.start.with_timezone(&tz), m.end.with_timezone(&tz));
    let z = zone(tz, l);
    let moment = |t: DateTime<Tz>| (s.clock(t), local_day(s, t));
    let ((start_clock, start_day), (end_clock, end_day)) = (moment(start), moment(end));
    s.window(
        &Moment {
            clock: &start_clock,
            zone: &z,
            day: &start_day,
        },
        &Moment {
            clock: &end_clock,
            zone: &z,
            day: &end_day,
        },
        start.date_naive() == end.date_naive(),
    )
}

/// A duration's parts by the one rule every surface shares (customer mail, status pages,
/// reports, the CLI): under a minute, whole seconds (at least one); from a minute on, rounded to
/// the nearest minute, in days, hours and minutes.
pub fn duration_parts(d: TimeDelta) -> Vec<(i64, Unit)> {
    let seconds = (d.num_milliseconds().max(0) + 500) / 1000;
    if seconds < 60 {
        return vec![(seconds.max(1), Unit::Second)];
    }
    let minutes = (seconds + 30) / 60;
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    [(days, Unit::Day), (hours, Unit::Hour), (mins, Unit::Minute)]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .collect()
}

/// A duration in words ([`duration_parts`]): `20 seconds`, `2 minutes`, `1 hour and 5
/// minutes`, `1 hora y 5 minutos`.
pub fn duration_words(d: TimeDelta, l: Language) -> String {
    let s = speech(l);
    let mut parts: Vec<String> = duration_parts(d)
        .into_iter()
        .map(|(n, unit)| s.unit(n, unit))
        .collect();
    match parts.pop() {
        None => s.unit(1, Unit::Minute),
        Some(last) if parts.is_empty() => last,
        Some(last) => format!("{}{}{last}", parts.join(", "), s.and()),
    }
}

/// A duration in symbols, for tables ([`duration_parts`]): `20 s`, `46 min`, `1 h 5 min`.
pub fn duration_short(d: TimeDelta) -> String {
    duration_parts(d)
        .into_iter()
        .map(|(n, unit)| format!("{n} {}", unit.symbol()))
        .collect::<Vec<_>>()
        .join(" ")
}
