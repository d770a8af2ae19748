//! One renderer, two audiences: events become messages in design.md's shape (topic role,
//! subject, body, attributes).
//!
//! Operators get the technical truth in English. Customers get plain words in their language
//! from templates (minijinja; built in for English and Spanish): their service's customer-facing
//! name, since when, that the team knows and is on it, when the next update comes; never URLs,
//! hosts, addresses, ports, status or reason codes, error text, or anyone else's names, because
//! the templates are only ever given the customer's own name, the service's customer-facing name,
//! times, durations and the operators' own words.

use crate::config::{Config, Language};
use crate::duration::format_duration;
use crate::evaluate::{Audience, Event, EventKind, Incident, Phase, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// SNS subjects: at most 100 characters; we keep one spare.
pub const MAX_SUBJECT: usize = 99;
/// SNS messages: at most 256 KB.
pub const MAX_BODY: usize = 256 * 1024;

/// What SNS receives (and the local outbox records, one per line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The event's id: the outbox's idempotency key.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The topic role: `operators` or `customers`.
    pub topic: Audience,
    pub subject: String,
    pub body: String,
    /// audience, customer, service, severity, event, language, incident.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("event {0} names something the checks file does not have")]
    Unknown(String),
}

const KINDS: [&str; 7] = [
    "opened",
    "update",
    "human_update",
    "resolved",
    "maintenance_scheduled",
    "maintenance_started",
    "maintenance_ended",
];

/// Built-in customer templates: `(language, kind, subject, body)`.
const BUILT_IN: [(&str, &str, &str, &str); 14] = [
    ("en", "opened",
     "{% if reopened %}{{ service }}: the problem is back{% else %}{{ service }}: we are working on a problem{% endif %}",
     "Hello {{ customer }},\n\n{% if reopened %}The problem with {{ service }} we told you about earlier has come back. {% endif %}Since {{ since }}, {{ service }} has not been working as it should. Our team knows and is working on it right now.\n\nWe will write again by {{ next_update }}, sooner if anything changes.\n\nWe are sorry for the trouble."),
    ("en", "update",
     "{{ service }}: update on the problem",
     "Hello {{ customer }},\n\n{% if phase == 'monitoring' %}{{ service }} is working again. We are keeping a close eye on it to make sure it stays that way.{% elif phase == 'identified' %}We have found the cause of the problem with {{ service }} and are working on a fix.{% else %}We are still working on the problem with {{ service }}, which began at {{ since }}.{% endif %}\n\nWe will write again by {{ next_update }}."),
    ("en", "human_update",
     "{{ service }}: an update from our team",
     "Hello {{ customer }},\n\nAn update from our team about {{ service }}:\n\n{{ message }}\n\nWe will write again by {{ next_update }}."),
    ("en", "resolved",
     "{{ service }}: resolved",
     "Hello {{ customer }},\n\n{{ service }} has been working normally again since {{ resolved_at }}. The problem lasted {{ duration }}.{% if message %}\n\n{{ message }}{% endif %}\n\nThank you for your patience, and sorry for the disruption."),
    ("en", "maintenance_scheduled",
     "{{ service }}: planned maintenance on {{ start_date }}",
     "Hello {{ customer }},\n\nWe will carry out planned maintenance on {{ service }} from {{ start }} to {{ end }}.{% if note %} {{ note }}.{% endif %} The service may be unavailable during that time.\n\nWe will let you know when it starts and when it is over."),
    ("en", "maintenance_started",
     "{{ service }}: planned maintenance has started",
     "Hello {{ customer }},\n\nThe planned maintenance on {{ service }} has started.{% if note %} {{ note }}.{% endif %} We expect it to be over by {{ end }}, and we will tell you when it is."),
    ("en", "maintenance_ended",
     "{{ service }}: planned maintenance is over",
     "Hello {{ customer }},\n\nThe planned maintenance on {{ service }} is over and the service is available again. Thank you for your patience."),
    ("es", "opened",
     "{% if reopened %}{{ service }}: el problema ha vuelto{% else %}{{ service }}: estamos resolviendo un problema{% endif %}",
     "Hola, {{ customer }}:\n\n{% if reopened %}El problema con {{ service }} del que le informamos ha vuelto a aparecer. {% endif %}Desde {{ since }}, {{ service }} no funciona con normalidad. Nuestro equipo ya lo sabe y está trabajando para solucionarlo.\n\nLe escribiremos de nuevo antes de {{ next_update }}, o antes si hay novedades.\n\nDisculpe las molestias."),
    ("es", "update",
     "{{ service }}: novedades sobre el problema",
     "Hola, {{ customer }}:\n\n{% if phase == 'monitoring' %}{{ service }} vuelve a funcionar. Lo estamos vigilando de cerca para asegurarnos de que sigue así.{% elif phase == 'identified' %}Hemos encontrado la causa del problema con {{ service }} y estamos aplicando una solución.{% else %}Seguimos trabajando en el problema con {{ service }}, que empezó {{ since }}.{% endif %}\n\nLe escribiremos de nuevo antes de {{ next_update }}."),
    ("es", "human_update",
     "{{ service }}: novedades de nuestro equipo",
     "Hola, {{ customer }}:\n\nNuestro equipo le informa sobre {{ service }}:\n\n{{ message }}\n\nLe escribiremos de nuevo antes de {{ next_update }}."),
    ("es", "resolved",
     "{{ service }}: problema resuelto",
     "Hola, {{ customer }}:\n\n{{ service }} vuelve a funcionar con normalidad desde {{ resolved_at }}. El problema duró {{ duration }}.{% if message %}\n\n{{ message }}{% endif %}\n\nGracias por su paciencia y disculpe las molestias."),
    ("es", "maintenance_scheduled",
     "{{ service }}: mantenimiento programado el {{ start_date }}",
     "Hola, {{ customer }}:\n\nRealizaremos un mantenimiento programado de {{ service }} desde {{ start }} hasta {{ end }}.{% if note %} {{ note }}.{% endif %} Durante ese tiempo el servicio podría no estar disponible.\n\nLe avisaremos cuando empiece y cuando termine."),
    ("es", "maintenance_started",
     "{{ service }}: ha empezado el mantenimiento programado",
     "Hola, {{ customer }}:\n\nHa empezado el mantenimiento programado de {{ service }}.{% if note %} {{ note }}.{% endif %} Esperamos terminar antes de {{ end }} y le avisaremos cuando acabe."),
    ("es", "maintenance_ended",
     "{{ service }}: ha terminado el mantenimiento programado",
     "Hola, {{ customer }}:\n\nHa terminado el mantenimiento programado de {{ service }} y el servicio vuelve a estar disponible. Gracias por su paciencia."),
];

fn lang(l: Language) -> &'static str {
    match l {
        Language::En => "en",
        Language::Es => "es",
    }
}

/// A time as a customer reads it, in the customer's time zone, with the zone named.
fn when(t: DateTime<Utc>, l: Language, tz: chrono_tz::Tz) -> String {
    let t = t.with_timezone(&tz);
    match l {
        Language::En => t.format("%H:%M %Z on %-d %b %Y").to_string(),
        Language::Es => t.format("las %H:%M (%Z) del %d/%m/%Y").to_string(),
    }
}

fn ceil_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    let floor = t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::minutes(1)
    }
}

fn date(t: DateTime<Utc>, l: Language, tz: chrono_tz::Tz) -> String {
    let t = t.with_timezone(&tz);
    match l {
        Language::En => t.format("%-d %b %Y").to_string(),
        Language::Es => t.format("%d/%m/%Y").to_string(),
    }
}

/// A duration in words: `1 hour and 5 minutes`, `1 hora y 5 minutos`.
pub fn duration_words(d: chrono::TimeDelta, l: Language) -> String {
    let minutes = d.num_minutes().max(1);
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
    match parts.len() {
        0 => unit(1, ("minute", "minutes"), ("minuto", "minutos")),
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{}{and}{last}", parts.join(", "))
        }
    }
}

/// One line, no control characters, at most [`MAX_SUBJECT`] characters.
pub fn clean_subject(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = one_line.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= MAX_SUBJECT {
        return joined;
    }
    let mut cut: String = joined.chars().take(MAX_SUBJECT - 1).collect();
    cut.push('…');
    cut
}

fn cap_body(mut s: String) -> String {
    if s.len() > MAX_BODY {
        let mut end = MAX_BODY - 4;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

pub struct Renderer {
    env: minijinja::Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// The built-in English and Spanish customer templates.
    pub fn new() -> Self {
        let mut env = minijinja::Environment::new();
        // Customer-supplied templates must not be able to loop forever.
        env.set_fuel(Some(50_000));
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (l, kind, subject, body) in BUILT_IN {
            env.add_template_owned(format!("{l}/{kind}.subject"), subject.to_string())
                .expect("built-in template");
            env.add_template_owned(format!("{l}/{kind}.body"), body.to_string())
                .expect("built-in template");
        }
        Renderer { env }
    }

    /// Overrides customer templates: `name` is `<customer>/<kind>.subject` or `.body`.
    pub fn add_override(&mut self, name: &str, source: &str) -> Result<(), RenderError> {
        self.env
            .add_template_owned(name.to_string(), source.to_string())
            .map_err(|source| RenderError::Template {
                name: name.to_string(),
                source,
            })
    }

    /// Template kinds a customer may override.
    pub fn kinds() -> &'static [&'static str] {
        &KINDS
    }

    pub fn render(
        &self,
        event: &Event,
        state: &State,
        config: &Config,
    ) -> Result<Message, RenderError> {
        let incident = event
            .incident
            .as_ref()
            .and_then(|id| state.incidents.get(id));
        let (subject, body, language) = match event.audience {
            Audience::Customers => self.customer(event, incident, config)?,
            Audience::Operators => {
                let (s, b) = operator(event, incident, state, config);
                (s, b, "en")
            }
        };
        let mut attributes = BTreeMap::new();
        attributes.insert("audience".into(), audience(event.audience).to_string());
        attributes.insert("event".into(), event.kind.as_str().to_string());
        attributes.insert(
            "severity".into(),
            format!("{:?}", event.severity).to_lowercase(),
        );
        attributes.insert("language".into(), language.to_string());
        if let Some(s) = &event.service {
            attributes.insert("service".into(), s.clone());
            if let Some(svc) = config.service(s) {
                attributes.insert("customer".into(), svc.customer.clone());
            }
        }
        if let Some(c) = &event.customer {
            attributes.insert("customer".into(), c.clone());
        }
        if let Some(i) = &event.incident {
            attributes.insert("incident".into(), i.clone());
        }
        Ok(Message {
            id: event.id.clone(),
            at: event.at,
            topic: event.audience,
            subject: clean_subject(&subject),
            body: cap_body(body),
            attributes,
        })
    }

    fn customer(
        &self,
        event: &Event,
        incident: Option<&Incident>,
        config: &Config,
    ) -> Result<(String, String, &'static str), RenderError> {
        let unknown = || RenderError::Unknown(event.id.clone());
        let service = event
            .service
            .as_deref()
            .and_then(|s| config.service(s))
            .ok_or_else(unknown)?;
        let customer = config.customer(&service.customer).ok_or_else(unknown)?;
        let (l, tz) = (customer.language, customer.timezone);
        // Maintenance events are keyed `maintenance/<service>/<window start>/...`.
        let window_start = event
            .id
            .strip_prefix("maintenance/")
            .and_then(|rest| rest.split('/').nth(1));
        let window = service
            .maintenance
            .iter()
            .find(|m| window_start == Some(m.start.timestamp().to_string().as_str()));
        let since = incident.map(|i| i.started_at).unwrap_or(event.at);
        let ctx = minijinja::context! {
            customer => customer.name.clone(),
            service => service.name.clone(),
            since => when(since, l, tz),
            // Times are shown to the minute: the promise is rounded up, never earlier than kept.
            next_update => when(ceil_minute(event.at + chrono::TimeDelta::from_std(customer.update_every).unwrap_or_default()), l, tz),
            resolved_at => when(incident.and_then(|i| i.resolved_at).unwrap_or(event.at), l, tz),
            duration => duration_words(incident.and_then(|i| i.resolved_at).unwrap_or(event.at) - since, l),
            phase => event.phase.unwrap_or(Phase::Investigating).as_str(),
            reopened => incident.is_some_and(|i| i.reopened > 0),
            message => event.text.clone().filter(|_| matches!(event.kind, EventKind::HumanUpdate | EventKind::Resolved)),
            note => event.text.clone().filter(|_| window.is_some()),
            start => window.map(|m| when(m.start, l, tz)),
            start_date => window.map(|m| date(m.start, l, tz)),
            end => window.map(|m| when(m.end, l, tz)),
        };
        let kind = event.kind.as_str();
        let pick = |part: &str| {
            let own = format!("{}/{kind}.{part}", customer.id);
            if self.env.get_template(&own).is_ok() {
                own
            } else {
                format!("{}/{kind}.{part}", lang(l))
            }
        };
        let render = |name: String| {
            self.env
                .get_template(&name)
                .and_then(|t| t.render(&ctx))
                .map_err(|source| RenderError::Template { name, source })
        };
        Ok((render(pick("subject"))?, render(pick("body"))?, lang(l)))
    }
}

fn audience(a: Audience) -> &'static str {
    match a {
        Audience::Operators => "operators",
        Audience::Customers => "customers",
    }
}

/// A span for operators, to the second: `22s`, `1h5m3s`.
fn span(d: chrono::TimeDelta) -> String {
    format_duration(std::time::Duration::from_secs(d.num_seconds().max(0) as u64))
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The operators' message: everything they need to act, in one place.
fn operator(
    event: &Event,
    incident: Option<&Incident>,
    state: &State,
    config: &Config,
) -> (String, String) {
    let service_label = |id: &str| match config.service(id) {
        Some(s) => format!("{id} ({})", s.name),
        None => id.to_string(),
    };
    let mut body = String::new();
    let subject = match (event.kind, incident) {
        (EventKind::RegionSilent, _) => {
            let region = event.region.clone().unwrap_or_default();
            let last = state
                .regions
                .get(&region)
                .and_then(|r| r.last_seen)
                .map(utc)
                .unwrap_or_else(|| "never".into());
            if event.ended {
                body.push_str(&format!(
                    "Region {region} is reporting again. It is back in the quorum.\n"
                ));
                format!("[REGION BACK] {region} is reporting again")
            } else {
                body.push_str(&format!(
                    "Region {region} has sent no results for 3 intervals (last result: {last}).\nIt is left out of the quorum until it reports again. Check the probe function and its schedule in that region.\n"
                ));
                format!("[REGION SILENT] {region}: no results since {last}")
            }
        }
        (EventKind::Flapping, _) => {
            let check = event.check.clone().unwrap_or_default();
            let change = state
                .checks
                .get(&check)
                .map(|c| {
                    c.regions
                        .values()
                        .map(|r| crate::evaluate::percent_state_change(&r.history))
                        .fold(0.0, f64::max)
                })
                .unwrap_or(0.0);
            if event.ended {
                body.push_str(&format!("Check {check} has stopped flapping ({change:.0}% state change). Incidents are judged normally again.\n"));
                format!("[FLAPPING STOPPED] {check}")
            } else {
                body.push_str(&format!(
                    "Check {check} is flapping: {change:.0}% state change over its last 21 results (threshold {:.0}%).\nNo incident will be opened or resolved for its service while it flaps; this is the one notice.\n",
                    config.settings.flapping_start
                ));
                format!("[FLAPPING] {check} keeps changing state")
            }
        }
        (
            EventKind::MaintenanceScheduled
            | EventKind::MaintenanceStarted
            | EventKind::MaintenanceEnded,
            _,
        ) => {
            let service = event.service.clone().unwrap_or_default();
            let what = match event.kind {
                EventKind::MaintenanceScheduled => "scheduled",
                EventKind::MaintenanceStarted => "started",
                _ => "ended",
            };
            body.push_str(&format!(
                "Maintenance of {} {what}. No incident is opened for it during the window.\n",
                service_label(&service)
            ));
            if let Some(note) = &event.text {
                body.push_str(&format!("Note: {note}\n"));
            }
            format!(
                "[MAINTENANCE {}] {}",
                what.to_uppercase(),
                service_label(&service)
            )
        }
        (kind, Some(inc)) => {
            let tag = match kind {
                EventKind::Opened if inc.reopened > 0 => "REOPENED".to_string(),
                EventKind::Escalated => "ESCALATED".to_string(),
                EventKind::HumanUpdate => "UPDATE".to_string(),
                other => other.as_str().to_uppercase(),
            };
            let checks: Vec<String> = {
                let mut c: Vec<String> = inc.failures.iter().map(|f| f.check.clone()).collect();
                c.dedup();
                c
            };
            let regions: std::collections::BTreeSet<&str> =
                inc.failures.iter().map(|f| f.region.as_str()).collect();
            let summary = match kind {
                EventKind::Resolved => format!(
                    "resolved after {}",
                    // Whole seconds: "22s", not "22s3ms".
                    format_duration(std::time::Duration::from_secs(
                        (inc.resolved_at.unwrap_or(event.at) - inc.started_at)
                            .num_seconds()
                            .max(0) as u64
                    ))
                ),
                _ if checks.is_empty() => inc.phase.as_str().to_string(),
                _ => format!(
                    "{} down in {}",
                    checks.join(", "),
                    regions.into_iter().collect::<Vec<_>>().join(", ")
                ),
            };
            body.push_str(&format!(
                "Incident {} ({}), phase {}\n",
                inc.id,
                tag.to_lowercase(),
                inc.phase.as_str()
            ));
            body.push_str(&format!("Service: {}", service_label(&inc.service)));
            if let Some(svc) = config.service(&inc.service) {
                if let Some(c) = config.customer(&svc.customer) {
                    body.push_str(&format!(", customer {} ({})", c.id, c.name));
                }
            }
            body.push('\n');
            if !inc.affected.is_empty() {
                body.push_str(&format!(
                    "Also affected (depend on it): {}\n",
                    inc.affected
                        .iter()
                        .map(|s| service_label(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if kind == EventKind::Update {
                if let Some(s) = event.service.as_deref().filter(|s| *s != inc.service) {
                    body.push_str(&format!(
                        "{} is down too; it is listed on this incident, not paged separately.\n",
                        service_label(s)
                    ));
                }
            }
            body.push_str(&format!(
                "First failure: {}\nOpened: {}\n",
                utc(inc.started_at),
                utc(inc.opened_at)
            ));
            if let Some(r) = inc.resolved_at {
                body.push_str(&format!(
                    "Resolved: {} (lasted {})\n",
                    utc(r),
                    span(r - inc.started_at)
                ));
            }
            if let Some(text) = &event.text {
                body.push_str(&format!("\nUpdate: {text}\n"));
            }
            if !inc.failures.is_empty() && kind != EventKind::Resolved {
                body.push_str("\nFailing (check, region, reason, latency, since, detail):\n");
                for f in &inc.failures {
                    body.push_str(&format!(
                        "  {}  {}  {}  {:.1}ms  {}  {}\n",
                        f.check,
                        f.region,
                        f.reason.as_str(),
                        f.latency_ms,
                        f.since.format("%H:%M:%S"),
                        f.detail
                    ));
                }
            }
            if let Some(runbook) = config
                .service(&inc.service)
                .and_then(|s| s.runbook.as_ref())
            {
                body.push_str(&format!("\nRunbook: {runbook}\n"));
            }
            match (&inc.acknowledged_by, inc.phase) {
                (_, Phase::Resolved) => {}
                (Some(by), _) => body.push_str(&format!("\nAcknowledged by {by}.\n")),
                (None, _) => body.push_str(&format!(
                    "\nAcknowledge (stops reminders): atalaya incident ack {}\n",
                    inc.id
                )),
            }
            format!(
                "[{tag}] {}: {summary} ({})",
                service_label(&inc.service),
                inc.id
            )
        }
        (kind, None) => format!("[{}] {}", kind.as_str().to_uppercase(), event.id),
    };
    (subject, body)
}
