//! Customers' words: the templates' context (their own name, the service's customer-facing
//! name, times in their zone, durations, the phase, the operators' own words) and how times,
//! windows and durations read in each language.

use super::{RenderError, Renderer};
use crate::config::{Config, Customer, Language, Maintenance};
use crate::evaluate::{after, About, Event, EventKind, Incident, Phase};
use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
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
            customer => customer.name.clone(),
            service => service.name.clone(),
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

/// The customer's sign-off: theirs, the file's, or the built-in one, in their language.
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
        .unwrap_or_else(|| {
            match l {
                Language::En => "The support team",
                Language::Es => "El equipo de soporte",
            }
            .to_string()
        })
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

/// The zone as people say it: its city (`Madrid`, `Buenos Aires`), or `None` for UTC.
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
    if l == Language::Es {
        let spanish = [
            ("New York", "Nueva York"),
            ("London", "Londres"),
            ("Mexico City", "Ciudad de México"),
            ("Sao Paulo", "São Paulo"),
            ("Lisbon", "Lisboa"),
            ("Brussels", "Bruselas"),
            ("Zurich", "Zúrich"),
            ("Athens", "Atenas"),
            ("Moscow", "Moscú"),
            ("Tokyo", "Tokio"),
            ("Bogota", "Bogotá"),
            ("Asuncion", "Asunción"),
            ("Canary", "Canarias"),
            ("Havana", "La Habana"),
            ("Panama", "Panamá"),
        ];
        if let Some((_, es)) = spanish.iter().find(|(en, _)| *en == city) {
            return Some(es.to_string());
        }
    }
    Some(city)
}

/// `10:00`; in Spanish with its article, as in "a las 10:00", "a la 01:00".
fn clock(t: DateTime<Tz>, l: Language) -> String {
    let hm = t.format("%H:%M");
    match l {
        Language::En => hm.to_string(),
        Language::Es if t.hour() == 1 => format!("la {hm}"),
        Language::Es => format!("las {hm}"),
    }
}

/// The zone after a time: ` UTC`, ` (Madrid time)`, ` (hora de Madrid)`.
fn zone(tz: Tz, l: Language) -> String {
    match (zone_city(tz, l), l) {
        (None, Language::En) => " UTC".into(),
        (None, Language::Es) => " (UTC)".into(),
        (Some(city), Language::En) => format!(" ({city} time)"),
        (Some(city), Language::Es) => format!(" (hora de {city})"),
    }
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// A month: `November 2026`, `noviembre de 2026` (`month0` from 0).
pub fn month_words(year: i32, month0: usize, l: Language) -> String {
    match l {
        Language::En => format!("{} {year}", MONTHS_EN[month0 % 12]),
        Language::Es => format!("{} de {year}", MONTHS_ES[month0 % 12]),
    }
}

/// A day: `24 November 2026`, `24 de noviembre de 2026`.
pub fn day(t: DateTime<Utc>, l: Language, tz: Tz) -> String {
    local_day(t.with_timezone(&tz), l)
}

fn local_day(t: DateTime<Tz>, l: Language) -> String {
    let m = t.month0() as usize;
    match l {
        Language::En => format!("{} {} {}", t.day(), MONTHS_EN[m], t.year()),
        Language::Es => format!("{} de {} de {}", t.day(), MONTHS_ES[m], t.year()),
    }
}

/// A time as a customer reads it, in their zone, with the zone named:
/// `10:00 (Madrid time) on 24 November 2026`, `las 10:00 (hora de Madrid) del 24 de noviembre
/// de 2026`.
pub fn when(t: DateTime<Utc>, l: Language, tz: Tz) -> String {
    let local = t.with_timezone(&tz);
    match l {
        Language::En => format!(
            "{}{} on {}",
            clock(local, l),
            zone(tz, l),
            local_day(local, l)
        ),
        Language::Es => format!(
            "{}{} del {}",
            clock(local, l),
            zone(tz, l),
            local_day(local, l)
        ),
    }
}

/// A maintenance window; the date once when it starts and ends on the same day.
pub fn window_words(m: &Maintenance, l: Language, tz: Tz) -> String {
    let (start, end) = (m.start.with_timezone(&tz), m.end.with_timezone(&tz));
    let z = zone(tz, l);
    let same_day = start.date_naive() == end.date_naive();
    match (l, same_day) {
        (Language::En, true) => format!(
            "on {} from {} to {}{z}",
            local_day(start, l),
            clock(start, l),
            clock(end, l)
        ),
        (Language::En, false) => format!(
            "from {} on {} to {} on {}{z}",
            clock(start, l),
            local_day(start, l),
            clock(end, l),
            local_day(end, l)
        ),
        (Language::Es, true) => format!(
            "el {}, de {} a {}{z}",
            local_day(start, l),
            clock(start, l),
            clock(end, l)
        ),
        (Language::Es, false) => format!(
            "desde {} del {} hasta {} del {}{z}",
            clock(start, l),
            local_day(start, l),
            clock(end, l),
            local_day(end, l)
        ),
    }
}

/// A duration in words, rounded to the nearest minute: `less than a minute`, `2 minutes`,
/// `1 hour and 5 minutes`, `1 hora y 5 minutos`.
pub fn duration_words(d: TimeDelta, l: Language) -> String {
    let seconds = d.num_seconds().max(0);
    if seconds < 60 {
        return match l {
            Language::En => "less than a minute",
            Language::Es => "menos de un minuto",
        }
        .to_string();
    }
    let minutes = (seconds + 30) / 60;
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let unit = |n: i64, en: (&str, &str), es: (&str, &str)| {
        let (one, many) = if l == Language::En { en } else { es };
        format!("{n} {}", if n == 1 { one } else { many })
    };
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(unit(days, ("day", "days"), ("día", "días")));
    }
    if hours > 0 {
        parts.push(unit(hours, ("hour", "hours"), ("hora", "horas")));
    }
    if mins > 0 {
        parts.push(unit(mins, ("minute", "minutes"), ("minuto", "minutos")));
    }
    let and = if l == Language::En { " and " } else { " y " };
    match parts.pop() {
        None => unit(1, ("minute", "minutes"), ("minuto", "minutos")),
        Some(last) if parts.is_empty() => last,
        Some(last) => format!("{}{and}{last}", parts.join(", ")),
    }
}
