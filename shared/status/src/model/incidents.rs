//! Incidents and maintenance on a page, in the words their customers were sent.

use super::*;
use crate::words::words;
use crate::Input;
use atalaya_core::config::{Config, Customer, Language, Service};
use atalaya_core::evaluate::{Incident, Phase};
use atalaya_core::message::{duration_words, signature, stamp, window_words};
use atalaya_core::Message;
use chrono::TimeDelta;
use chrono_tz::Tz;

/// The customer messages of an incident about the page's services, oldest first, with the
/// phase each was written in.
fn updates<'a>(input: &'a Input, i: &Incident, ids: &[&str]) -> Vec<(&'a Message, Phase)> {
    let mut out: Vec<(&Message, Phase)> = i
        .timeline
        .iter()
        .filter(|e| e.audience == atalaya_core::evaluate::Audience::Customers)
        .filter(|e| e.service.as_deref().is_some_and(|s| ids.contains(&s)))
        .filter_map(|e| {
            // `build` hands the pages the messages sorted by id.
            input
                .messages
                .binary_search_by(|m| m.id.as_str().cmp(&e.event))
                .ok()
                .map(|k| (&input.messages[k], e.phase))
        })
        .collect();
    out.sort_by_key(|(m, _)| m.at);
    out.dedup_by_key(|(m, _)| m.id.clone());
    out
}

/// An incident's name: the subject of the latest message its customers got (so it follows the
/// incident: a resolved one says it is resolved, not "new problem"), else the service's name.
pub(super) fn incident_name(input: &Input, i: &Incident, s: &Service, l: Language) -> String {
    updates(input, i, &[s.id.as_str()])
        .last()
        .map(|(m, _)| m.in_language(l).0.to_string())
        .unwrap_or_else(|| s.names.get(l).to_string())
}

pub(super) fn incident(
    input: &Input,
    i: &Incident,
    audience: Reader,
    ids: &[&str],
    l: Language,
    tz: Tz,
) -> Option<IncidentView> {
    let config = input.config;
    let w = words(l);
    let service_ids: Vec<String> = ids
        .iter()
        .filter(|s| touches(i, s))
        .map(|s| s.to_string())
        .collect();
    let first = config.service(service_ids.first()?)?;
    let messages = updates(input, i, ids);
    let updates: Vec<UpdateView> = messages
        .iter()
        .map(|(m, phase)| {
            let (subject, body) = m.in_language(l);
            // The language the words are in: a translation, or the message as sent (a message
            // recorded before translations existed has none), whose sign-off is its own.
            let written_in = if m.translations.contains_key(&l) {
                l
            } else {
                m.attributes.language
            };
            let owner = m
                .attributes
                .service
                .as_deref()
                .and_then(|s| config.service(s))
                .and_then(|s| config.customer(&s.customer));
            UpdateView {
                id: m.id.clone(),
                at: m.at,
                at_words: stamp(m.at, l, tz),
                title: subject.to_string(),
                paragraphs: owner.map_or_else(Vec::new, |c| {
                    page_words(body, c, config, written_in, audience)
                }),
                event: m.attributes.event.as_str().to_string(),
                phase: phase.as_str(),
            }
        })
        .collect();
    let end = i.resolved_at.unwrap_or(input.now);
    Some(IncidentView {
        id: i.id.clone(),
        // The latest word the customers got: the title follows the incident to its end.
        name: updates
            .last()
            .map(|u| u.title.clone())
            .unwrap_or_else(|| first.names.get(l).to_string()),
        phase: i.phase.as_str(),
        services: service_ids
            .iter()
            .filter_map(|s| config.service(s))
            .map(|s| s.names.get(l).to_string())
            .collect(),
        service_ids,
        started_at: i.started_at,
        resolved_at: i.resolved_at,
        updated_at: updates.last().map_or(i.opened_at, |u| u.at),
        started_words: stamp(i.started_at, l, tz),
        duration_words: match i.resolved_at {
            Some(_) => format!("{} {}", w.lasted, duration_words(end - i.started_at, l)),
            None => w.ongoing.to_string(),
        },
        updates,
    })
}

/// The words of a customer message as a page shows them: without the greeting (which names the
/// customer) and the sign-off. On the public page, a message that still names the customer is
/// shown by its subject alone.
pub fn page_words(
    body: &str,
    customer: &Customer,
    config: &Config,
    l: Language,
    audience: Reader,
) -> Vec<String> {
    let mut paragraphs: Vec<&str> = body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    // Every way the customer is named or greeted, in every language.
    let names: Vec<&str> = customer
        .names
        .all()
        .chain(customer.greeting.all())
        .collect();
    let names_them = |p: &str| names.iter().any(|n| p.contains(n));
    if paragraphs
        .first()
        .is_some_and(|p| !p.contains('\n') && names_them(p) && p.ends_with([',', ':']))
    {
        paragraphs.remove(0);
    }
    // The sign-off the customer gets now, or the built-in one (messages written before a brand
    // or a signature was set).
    let sign_off = signature(customer, config, l);
    let built_in = atalaya_core::message::built_in_signature(l);
    if paragraphs
        .last()
        .is_some_and(|p| p.trim() == sign_off.trim() || p.trim() == built_in)
    {
        paragraphs.pop();
    }
    let out: Vec<String> = paragraphs.iter().map(|p| p.to_string()).collect();
    if matches!(audience, Reader::Public) && out.iter().any(|p| names_them(p)) {
        return Vec::new();
    }
    out
}

pub(super) fn maintenance(
    input: &Input,
    services: &[&Service],
    l: Language,
    tz: Tz,
) -> Vec<MaintenanceView> {
    let now = input.now;
    let mut out = Vec::new();
    for s in services {
        for m in &s.maintenance {
            let announced = m
                .announce_before
                .is_none_or(|b| now + TimeDelta::from_std(b).unwrap_or(TimeDelta::MAX) >= m.start);
            if m.end > now && announced {
                out.push(MaintenanceView {
                    id: format!("{}-{}", s.id, m.start.timestamp()),
                    service: s.names.get(l).to_string(),
                    service_id: s.id.clone(),
                    start: m.start,
                    end: m.end,
                    in_progress: m.start <= now,
                    words: window_words(m, l, tz),
                    note: m.note.clone(),
                });
            }
        }
    }
    out.sort_by_key(|m| m.start);
    out
}
