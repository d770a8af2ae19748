//! Customers and services, and what refers to what: unknown references (with the closest known
//! id), dependency cycles, maintenance windows and their notes (which customers read).

use super::{check_id, duration, human_text, opt_duration, settings::signature, unknown, Errs};
use crate::at::{At, Pos};
use crate::config::*;
use crate::raw::*;
use std::collections::{BTreeMap, HashMap, HashSet};

pub(super) fn check_customer(
    c: &At<RawCustomer>,
    seen: &mut HashMap<String, Pos>,
    errs: &mut Errs,
) -> Customer {
    let c = &c.value;
    check_id(errs, seen, &c.id, "customer");
    let subject = format!("customer {}", c.id.value);
    let names = super::names::names(errs, &c.name, &subject, "name");
    let greeting = c.greeting.as_ref().map_or_else(
        || names.clone(),
        |g| super::names::names(errs, g, &subject, "greeting"),
    );
    let language = match c.language.as_ref().map(|l| (l.value.as_str(), l.pos)) {
        None | Some(("en", _)) => Language::En,
        Some(("es", _)) => Language::Es,
        Some((other, pos)) => {
            errs.push(
                pos,
                &subject,
                "language",
                format!("language {other:?} is not supported: use en or es"),
            );
            Language::En
        }
    };
    let timezone = match &c.timezone {
        None => chrono_tz::Tz::UTC,
        Some(tz) => tz.value.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
            errs.push(
                tz.pos,
                &subject,
                "timezone",
                format!(
                    "{:?} is not an IANA time zone (like Europe/Madrid or America/New_York)",
                    tz.value
                ),
            );
            chrono_tz::Tz::UTC
        }),
    };
    if let Some(t) = &c.templates {
        if t.value.trim().is_empty() {
            errs.push(
                t.pos,
                &subject,
                "templates",
                "give the folder of this customer's templates",
            );
        }
    }
    Customer {
        id: c.id.value.clone(),
        name: names.any.clone(),
        names,
        greeting,
        language,
        update_every: opt_duration(
            errs,
            &c.update_every,
            &subject,
            "update_every",
            DEFAULT_UPDATE_EVERY,
            MAX_UPDATE_EVERY,
        ),
        timezone,
        templates: c.templates.as_ref().map(|t| t.value.clone()),
        signature: signature(errs, &c.signature, &subject),
        brand: super::email::brand_override(errs, c.brand.as_ref(), &subject),
        slug: slug(errs, c, &subject),
    }
}

pub(super) fn check_service(
    s: &At<RawService>,
    customers: &HashSet<String>,
    services: &HashSet<String>,
    seen: &mut HashMap<String, Pos>,
    errs: &mut Errs,
) -> Service {
    let s = &s.value;
    check_id(errs, seen, &s.id, "service");
    let subject = format!("service {}", s.id.value);
    if !customers.contains(&s.customer.value) {
        errs.push(
            s.customer.pos,
            &subject,
            "customer",
            unknown("customer", &s.customer.value, customers),
        );
    }
    let names = super::names::names(errs, &s.name, &subject, "name");
    for d in s.depends_on.iter().flatten() {
        if d.value == s.id.value {
            errs.push(
                d.pos,
                &subject,
                "depends_on",
                "a service cannot depend on itself",
            );
        } else if !services.contains(&d.value) {
            errs.push(
                d.pos,
                &subject,
                "depends_on",
                unknown("service", &d.value, services),
            );
        }
    }
    let maintenance = maintenance_windows(s, &subject, errs);
    if let Some(r) = &s.runbook {
        match url::Url::parse(&r.value) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => errs.push(
                r.pos,
                &subject,
                "runbook",
                format!("{:?} is not an http(s) link", r.value),
            ),
        }
    }
    Service {
        runbook: s.runbook.as_ref().map(|r| r.value.clone()),
        id: s.id.value.clone(),
        customer: s.customer.value.clone(),
        name: names.any.clone(),
        names,
        depends_on: s
            .depends_on
            .iter()
            .flatten()
            .map(|d| d.value.clone())
            .collect(),
        maintenance,
        public: s.public.unwrap_or(false),
    }
}

/// A service's planned maintenance windows: RFC 3339 times, an end after the start.
fn maintenance_windows(s: &RawService, subject: &str, errs: &mut Errs) -> Vec<Maintenance> {
    let mut maintenance = Vec::new();
    for (i, m) in s.maintenance.iter().flatten().enumerate() {
        let field = |f: &str| format!("maintenance[{i}].{f}");
        let time =
            |errs: &mut Errs, v: &At<String>, f: &str| match chrono::DateTime::parse_from_rfc3339(
                &v.value,
            ) {
                Ok(t) => Some(t.with_timezone(&chrono::Utc)),
                Err(e) => {
                    errs.push(
                        v.pos,
                        subject,
                        &field(f),
                        format!(
                            "{:?} is not an RFC 3339 time like 2026-12-01T02:00:00Z ({e})",
                            v.value
                        ),
                    );
                    None
                }
            };
        let start = time(errs, &m.start, "start");
        let end = time(errs, &m.end, "end");
        let announce_before = m.announce_before.as_ref().and_then(|a| {
            duration(
                errs,
                a,
                subject,
                &field("announce_before"),
                MAX_ANNOUNCE_BEFORE,
            )
        });
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                errs.push(
                    m.end.pos,
                    subject,
                    &field("end"),
                    "the window ends before it starts",
                );
            } else {
                maintenance.push(Maintenance {
                    start,
                    end,
                    announce_before,
                    note: m.note.as_ref().map(|n| n.value.clone()),
                });
            }
        }
    }
    maintenance
}

/// Names the status site keeps for itself at its root.
const RESERVED_SLUGS: [&str; 8] = [
    "api",
    "badges",
    "assets",
    "en",
    "es",
    "confirm",
    "unsubscribe",
    "manage",
];

/// The folder of a customer's status page: safe in a URL and a file name as written.
fn slug(errs: &mut Errs, c: &RawCustomer, subject: &str) -> String {
    let Some(s) = c.status_page.as_ref().and_then(|p| p.slug.as_ref()) else {
        return c.id.value.to_ascii_lowercase();
    };
    let v = &s.value;
    let ok = (3..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !v.starts_with('-');
    if !ok {
        errs.push(s.pos, subject, "status_page.slug", format!("{v:?} is not a page slug: use 3 to 64 lower-case letters, digits and `-` (not first), e.g. acme-7f3k9q"));
    }
    v.clone()
}

/// No customer's page takes a name the site keeps for itself, and two cannot share a folder.
pub(super) fn check_slugs(raw: &Section<RawCustomer>, customers: &[Customer], errs: &mut Errs) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (rc, c) in raw.iter().zip(customers) {
        let pos = rc
            .value
            .status_page
            .as_ref()
            .and_then(|p| p.slug.as_ref())
            .map_or(rc.value.id.pos, |s| s.pos);
        let subject = format!("customer {}", c.id);
        if RESERVED_SLUGS.contains(&c.slug.as_str()) {
            errs.push(pos, &subject, "status_page.slug", format!("{:?} is kept for the status site itself: give this customer another `status_page.slug`", c.slug));
        } else if let Some(other) = seen.insert(&c.slug, &c.id).filter(|o| *o != c.id) {
            errs.push(
                pos,
                &subject,
                "status_page.slug",
                format!("{:?} is already customer {other}'s page", c.slug),
            );
        }
    }
}

/// A customer page at `/<id>/` can be found by anyone who knows or guesses the id: said, so that
/// a team that wants it private gives it an unguessable `status_page.slug`.
pub(super) fn guessable_pages(raw: &Section<RawCustomer>, file: &str) -> Vec<crate::ConfigError> {
    raw.iter()
        .filter(|c| c.value.status_page.as_ref().and_then(|p| p.slug.as_ref()).is_none())
        .map(|c| {
            let id = &c.value.id.value;
            crate::ConfigError {
                file: file.to_string(),
                pos: c.value.id.pos,
                subject: format!("customer {id}"),
                field: "status_page.slug".into(),
                message: format!(
                    "not set: the customer's status page is at /{}/, which anyone who knows the id can guess; give it an unguessable slug (such as {}-7f3k9q, with letters of your own) unless it is meant for everyone",
                    id.to_ascii_lowercase(),
                    id.to_ascii_lowercase()
                ),
            }
        })
        .collect()
}

/// Reports each dependency cycle once, at the `depends_on` entry that closes it.
pub(super) fn check_cycles(services: &Section<RawService>, errs: &mut Errs) {
    let edges: BTreeMap<&str, Vec<&At<String>>> = services
        .iter()
        .map(|s| (s.id.value.as_str(), s.depends_on.iter().flatten().collect()))
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a At<String>>>,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
        errs: &mut Errs,
    ) {
        marks.insert(node, Mark::Active);
        path.push(node);
        for dep in edges.get(node).into_iter().flatten() {
            let next = dep.value.as_str();
            if next == node || !edges.contains_key(next) {
                continue; // self-dependency and unknown services are reported elsewhere
            }
            match marks.get(next) {
                Some(Mark::Active) => {
                    let from = path.iter().position(|n| *n == next).unwrap_or(0);
                    let mut cycle: Vec<&str> = path[from..].to_vec();
                    cycle.push(next);
                    errs.push(
                        dep.pos,
                        &format!("service {node}"),
                        "depends_on",
                        format!("dependency cycle: {}", cycle.join(" -> ")),
                    );
                }
                Some(Mark::Done) => {}
                None => visit(next, edges, marks, path, errs),
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
    }
    let mut marks = HashMap::new();
    for node in edges.keys() {
        if !marks.contains_key(node) {
            visit(node, &edges, &mut marks, &mut Vec::new(), errs);
        }
    }
}

/// Maintenance notes go to customers as written: the same technical-content check as an
/// operator's update.
pub(super) fn screen_maintenance_notes(raw: &RawFile, config: &Config, errs: &mut Errs) {
    for s in raw.services.iter() {
        let subject = format!("service {}", s.id.value);
        for (i, m) in s.maintenance.iter().flatten().enumerate() {
            let Some(note) = &m.value.note else {
                continue;
            };
            human_text(
                errs,
                note,
                &subject,
                &format!("maintenance[{i}].note"),
                true,
            );
            for f in crate::screen::screen(&note.value, config, &[s.customer.value.as_str()]) {
                errs.push(
                    note.pos,
                    &subject,
                    &format!("maintenance[{i}].note"),
                    format!(
                        "customers would read {:?} ({}) at column {} of the note: maintenance notes are for customers; say it in plain words",
                        f.found, f.what, f.col
                    ),
                );
            }
        }
    }
}
