//! From the raw file to a [`Config`], collecting every problem in one pass.

use crate::at::{At, Pos};
use crate::config::*;
use crate::duration::{format_duration, parse_duration, parse_size};
use crate::error::{ConfigError, ConfigErrors};
use crate::raw::*;
use crate::template::EnvTemplate;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Where the file will run. Lambda schedules fire at most once a minute, so only the local runner
/// accepts second-level intervals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    #[default]
    Local,
    Lambda,
}

/// Reads and validates a checks file.
pub fn load_file(path: &std::path::Path, target: Target) -> Result<Config, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            pos: Pos { line: 0, col: 0 },
            subject: String::new(),
            field: String::new(),
            message: format!("cannot read the checks file: {e}"),
        }])
    })?;
    load_str(&text, &name, target)
}

/// Validates checks-file text; `file` names it in messages.
pub fn load_str(text: &str, file: &str, target: Target) -> Result<Config, ConfigErrors> {
    let mut errs = Errs {
        file: file.to_string(),
        list: Vec::new(),
    };
    if text.trim().is_empty() {
        errs.push(
            Pos { line: 1, col: 1 },
            "",
            "",
            "the file is empty: a checks file lists customers, services and checks (see examples/checks.yaml)",
        );
        return Err(ConfigErrors(errs.list));
    }
    let raw = match with_mode(Mode::Strict, || serde_saphyr::from_str::<RawFile>(text)) {
        Ok(raw) => raw,
        Err(_) => salvage(text, &mut errs),
    };
    let mut config = check_file(&raw, target, &mut errs);
    if config.checks.is_empty() && errs.list.is_empty() {
        config.warnings.push(ConfigError {
            file: file.to_string(),
            pos: Pos { line: 1, col: 1 },
            subject: String::new(),
            field: String::new(),
            message: "the file has no checks: nothing will be probed".into(),
        });
    }
    errs.list
        .sort_by(|a, b| (a.pos, &a.message).cmp(&(b.pos, &b.message)));
    errs.list.dedup();
    if errs.list.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errs.list))
    }
}

struct Errs {
    file: String,
    list: Vec<ConfigError>,
}

impl Errs {
    fn push(&mut self, pos: Pos, subject: &str, field: &str, message: impl Into<String>) {
        self.list.push(ConfigError {
            file: self.file.clone(),
            pos,
            subject: subject.to_string(),
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn serde(&mut self, e: &serde_saphyr::Error, subject: &str) {
        let pos = e.location().map(Pos::from).unwrap_or_default();
        let options = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off, };
        let mut msg = e.render_with_options(options);
        // The position is printed in front; drop the one the parser appends.
        if let Some(i) = msg.rfind(" at line ") {
            msg.truncate(i);
        }
        if let Some(hint) = unknown_field_hint(&msg) {
            msg.push_str(&hint);
        }
        self.push(pos, subject, "", msg);
    }
}

/// `; did you mean `status`?` for serde's "unknown field `stauts`, expected one of ...".
fn unknown_field_hint(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected one of ")?.1;
    let candidates: Vec<&str> = expected
        .split(',')
        .map(|c| c.trim().trim_matches('`'))
        .collect();
    closest(field, candidates.iter().copied()).map(|c| format!("; did you mean `{c}`?"))
}

/// The candidate closest to `word`, if it is close enough to be what was meant.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .filter(|c| *c != word)
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `unknown service "acme-shp"`, with a suggestion from the ids there are.
fn unknown(noun: &str, value: &str, known: &HashSet<String>) -> String {
    let mut msg = format!("unknown {noun} {value:?}");
    if let Some(c) = closest(value, known.iter().map(String::as_str)) {
        msg.push_str(&format!("; did you mean {c:?}?"));
    }
    msg
}

/// After a failed strict parse: one parse for the top level and one per list item, each strict
/// about its part only. Returns the file assembled from every part that parsed.
fn salvage(text: &str, errs: &mut Errs) -> RawFile {
    let mut merged = match with_mode(Mode::Top, || serde_saphyr::from_str::<RawFile>(text)) {
        Ok(top) => top,
        Err(e) => {
            errs.serde(&e, "");
            // The skeleton without settings: item positions and ids, to go on with the items.
            match with_mode(Mode::Item(SectionKind::Checks, usize::MAX), || {
                serde_saphyr::from_str::<RawFile>(text)
            }) {
                Ok(skeleton) => skeleton,
                Err(_) => return RawFile::default(),
            }
        }
    };
    fn items<T>(
        text: &str,
        kind: SectionKind,
        section: &mut Section<T>,
        pick: fn(&mut RawFile) -> &mut Section<T>,
        noun: &str,
        errs: &mut Errs,
    ) where
        T: for<'de> serde::Deserialize<'de>,
    {
        for i in 0..section.len() {
            match with_mode(Mode::Item(kind, i), || {
                serde_saphyr::from_str::<RawFile>(text)
            }) {
                Ok(mut one) => {
                    let s = pick(&mut one);
                    if let Some(item) = s.items.get_mut(i).and_then(Option::take) {
                        section.items[i] = Some(item);
                    }
                }
                Err(e) => {
                    let subject = match &section.ids[i] {
                        Some(id) => format!("{noun} {id}"),
                        None => format!("{noun} #{}", i + 1),
                    };
                    errs.serde(&e, &subject);
                }
            }
        }
    }
    items(
        text,
        SectionKind::Customers,
        &mut merged.customers,
        |f| &mut f.customers,
        "customer",
        errs,
    );
    items(
        text,
        SectionKind::Services,
        &mut merged.services,
        |f| &mut f.services,
        "service",
        errs,
    );
    items(
        text,
        SectionKind::Checks,
        &mut merged.checks,
        |f| &mut f.checks,
        "check",
        errs,
    );
    merged
}

/// Ids of a section's items: from parsed items, or read leniently from ones that failed to parse
/// (so that references to them are not reported as unknown too).
fn known_ids<T>(section: &Section<T>, id: fn(&T) -> &At<String>) -> HashSet<String> {
    section
        .items
        .iter()
        .zip(&section.ids)
        .filter_map(|(item, lenient)| match item {
            Some(item) => Some(id(&item.value).value.clone()),
            None => lenient.clone(),
        })
        .collect()
}

fn check_id(errs: &mut Errs, seen: &mut HashMap<String, Pos>, id: &At<String>, noun: &str) {
    let subject = format!("{noun} {}", id.value);
    let valid = !id.value.is_empty()
        && id.value.len() <= 64
        && id
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        errs.push(
            id.pos,
            &subject,
            "id",
            "ids are 1 to 64 letters, digits, '-', '_' or '.'",
        );
    }
    if let Some(first) = seen.get(&id.value) {
        errs.push(
            id.pos,
            &subject,
            "id",
            format!("duplicate {noun} id; first defined at line {}", first.line),
        );
    } else {
        seen.insert(id.value.clone(), id.pos);
    }
}

fn duration(errs: &mut Errs, v: &At<String>, subject: &str, field: &str) -> Option<Duration> {
    match parse_duration(&v.value) {
        Ok(d) if d.is_zero() => {
            errs.push(v.pos, subject, field, "must be longer than zero");
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            errs.push(v.pos, subject, field, e);
            None
        }
    }
}

fn opt_duration(
    errs: &mut Errs,
    v: &Option<At<String>>,
    subject: &str,
    field: &str,
    default: Duration,
) -> Duration {
    v.as_ref()
        .and_then(|v| duration(errs, v, subject, field))
        .unwrap_or(default)
}

fn is_aws_region(r: &str) -> bool {
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

struct Defaults {
    interval: Duration,
    timeout: Duration,
    retries: u32,
    recover_after: u32,
}

fn check_file(raw: &RawFile, target: Target, errs: &mut Errs) -> Config {
    let (settings, defaults) = check_settings(raw.settings.as_ref(), target, errs);

    let customer_ids = known_ids(&raw.customers, |c| &c.id);
    let service_ids = known_ids(&raw.services, |s| &s.id);

    let mut seen = HashMap::new();
    let customers = raw
        .customers
        .iter()
        .map(|c| check_customer(c, &mut seen, errs))
        .collect();

    let mut seen = HashMap::new();
    let services: Vec<Service> = raw
        .services
        .iter()
        .map(|s| check_service(s, &customer_ids, &service_ids, &mut seen, errs))
        .collect();
    check_cycles(&raw.services, errs);

    let mut seen = HashMap::new();
    let checks = raw
        .checks
        .iter()
        .filter_map(|c| {
            check_check(
                c,
                &settings,
                &defaults,
                &service_ids,
                &mut seen,
                target,
                errs,
            )
        })
        .collect();

    let config = Config {
        source: errs.file.clone(),
        settings,
        customers,
        services,
        checks,
        warnings: Vec::new(),
    };
    screen_maintenance_notes(raw, &config, errs);
    config
}

/// Maintenance notes go to customers as written: the same technical-content check as an
/// operator's update.
fn screen_maintenance_notes(raw: &RawFile, config: &Config, errs: &mut Errs) {
    for s in raw.services.iter() {
        let subject = format!("service {}", s.id.value);
        for (i, m) in s.maintenance.iter().flatten().enumerate() {
            let Some(note) = &m.value.note else {
                continue;
            };
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

/// A sign-off: one text, or one per language.
fn signature(errs: &mut Errs, v: &Option<At<RawSignature>>, subject: &str) -> Option<Signature> {
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
    Some(out)
}

fn check_settings(
    raw: Option<&RawSettings>,
    target: Target,
    errs: &mut Errs,
) -> (Settings, Defaults) {
    let empty = RawSettings::default();
    let raw = raw.unwrap_or(&empty);
    let s = "settings";

    let mut regions = Vec::new();
    for r in raw.regions.iter().flatten() {
        if r.value == LOCAL_REGION {
            if target == Target::Lambda {
                errs.push(r.pos, s, "regions", "`local` is the local runner's region; Lambda needs AWS regions such as eu-west-1");
            }
        } else if !is_aws_region(&r.value) {
            errs.push(
                r.pos,
                s,
                "regions",
                format!(
                    "{:?} is not an AWS region name (like eu-west-1) or `local`",
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

    let quorum = match raw.quorum.as_ref() {
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
            RawQuorum::Count(n) if *n == 0 || *n as usize > regions.len() => {
                errs.push(
                    q.pos,
                    s,
                    "quorum",
                    format!(
                        "quorum {n} must be between 1 and the number of regions ({})",
                        regions.len()
                    ),
                );
                Quorum::Majority
            }
            RawQuorum::Count(n) => Quorum::Count(*n),
        },
    };

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

    let ops = raw.operators.as_ref();
    let operators = Operators {
        renotify_every: opt_duration(
            errs,
            &ops.and_then(|o| o.renotify_every.clone()),
            s,
            "operators.renotify_every",
            DEFAULT_RENOTIFY_EVERY,
        ),
        escalate_after: opt_duration(
            errs,
            &ops.and_then(|o| o.escalate_after.clone()),
            s,
            "operators.escalate_after",
            DEFAULT_ESCALATE_AFTER,
        ),
    };

    let d = raw.defaults.as_ref();
    let interval = d
        .and_then(|d| d.interval.as_ref())
        .and_then(|v| duration(errs, v, s, "defaults.interval").map(|i| (i, v.pos)));
    if let Some((i, pos)) = interval {
        check_interval(errs, i, pos, s, "defaults.interval", target);
    }
    let defaults = Defaults {
        interval: interval.map(|(i, _)| i).unwrap_or(DEFAULT_INTERVAL),
        timeout: opt_duration(
            errs,
            &d.and_then(|d| d.timeout.clone()),
            s,
            "defaults.timeout",
            DEFAULT_TIMEOUT,
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
    };
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
    let reopen_within = opt_duration(
        errs,
        &raw.incidents.as_ref().and_then(|i| i.reopen_within.clone()),
        s,
        "incidents.reopen_within",
        DEFAULT_REOPEN_WITHIN,
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
        },
        defaults,
    )
}

fn count(errs: &mut Errs, v: Option<&At<Count>>, subject: &str, field: &str, default: u32) -> u32 {
    match v {
        Some(v) if v.value.0 == 0 => {
            errs.push(v.pos, subject, field, "must be at least 1");
            default
        }
        Some(v) => v.value.0,
        None => default,
    }
}

fn check_interval(
    errs: &mut Errs,
    interval: Duration,
    pos: Pos,
    subject: &str,
    field: &str,
    target: Target,
) {
    match target {
        Target::Lambda if interval < Duration::from_secs(60) => errs.push(
            pos,
            subject,
            field,
            format!("interval {} is below 1m: Lambda schedules fire at most once a minute (second-level intervals are for the local runner: validate with --target local)", format_duration(interval)),
        ),
        Target::Lambda if !interval.as_millis().is_multiple_of(60_000) => errs.push(
            pos,
            subject,
            field,
            format!("interval {} is not a whole number of minutes: Lambda schedules fire once a minute", format_duration(interval)),
        ),
        Target::Local if interval < Duration::from_secs(1) => {
            errs.push(pos, subject, field, format!("interval {} is below 1s, the local runner's minimum", format_duration(interval)))
        }
        _ => {}
    }
}

fn check_customer(
    c: &At<RawCustomer>,
    seen: &mut HashMap<String, Pos>,
    errs: &mut Errs,
) -> Customer {
    let c = &c.value;
    check_id(errs, seen, &c.id, "customer");
    let subject = format!("customer {}", c.id.value);
    if c.name.value.trim().is_empty() {
        errs.push(c.name.pos, &subject, "name", "must not be empty");
    }
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
        name: c.name.value.clone(),
        language,
        update_every: opt_duration(
            errs,
            &c.update_every,
            &subject,
            "update_every",
            DEFAULT_UPDATE_EVERY,
        ),
        timezone,
        templates: c.templates.as_ref().map(|t| t.value.clone()),
        signature: signature(errs, &c.signature, &subject),
    }
}

fn check_service(
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
    if s.name.value.trim().is_empty() {
        errs.push(s.name.pos, &subject, "name", "must not be empty");
    }
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
                        &subject,
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
        let announce_before = m
            .announce_before
            .as_ref()
            .and_then(|a| duration(errs, a, &subject, &field("announce_before")));
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                errs.push(
                    m.end.pos,
                    &subject,
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
        name: s.name.value.clone(),
        depends_on: s
            .depends_on
            .iter()
            .flatten()
            .map(|d| d.value.clone())
            .collect(),
        maintenance,
    }
}

/// Reports each dependency cycle once, at the `depends_on` entry that closes it.
fn check_cycles(services: &Section<RawService>, errs: &mut Errs) {
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

/// Parses a host the way URLs do, so obfuscated IPv4 forms (`2130706433`, `0x7f.1`) are read as
/// the addresses they are.
fn valid_host(host: &str) -> Result<(), String> {
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

fn check_check(
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

    let interval = match &c.interval {
        Some(v) => match duration(errs, v, subject, "interval") {
            Some(i) => {
                check_interval(errs, i, v.pos, subject, "interval", target);
                i
            }
            None => defaults.interval,
        },
        None => defaults.interval,
    };
    let timeout = opt_duration(errs, &c.timeout, subject, "timeout", defaults.timeout);
    if timeout >= interval {
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

    let regions = match &c.regions {
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
            for r in list {
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
    };

    let kinds: Vec<&str> = [
        c.http.as_ref().map(|_| "http"),
        c.tcp.as_ref().map(|_| "tcp"),
        c.dns.as_ref().map(|_| "dns"),
        c.tls.as_ref().map(|_| "tls"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if kinds.len() > 1 {
        errs.push(
            pos,
            subject,
            "",
            format!(
                "more than one check kind ({}): a check takes exactly one",
                kinds.join(" and ")
            ),
        );
        return None;
    }
    let kind = if let Some(h) = &c.http {
        CheckKind::Http(check_http(&h.value, subject, errs)?)
    } else if let Some(t) = &c.tcp {
        if let Err(e) = valid_host(&t.host.value) {
            errs.push(t.host.pos, subject, "tcp.host", e);
        }
        if t.port.value.0 == 0 {
            errs.push(t.port.pos, subject, "tcp.port", "port 0 is not a port");
        }
        CheckKind::Tcp(TcpCheck {
            host: t.host.value.clone(),
            port: t.port.value.0,
            send: t.send.clone(),
        })
    } else if let Some(d) = &c.dns {
        CheckKind::Dns(check_dns(&d.value, subject, errs)?)
    } else if let Some(t) = &c.tls {
        if let Err(e) = valid_host(&t.host.value) {
            errs.push(t.host.pos, subject, "tls.host", e);
        }
        let port = t.port.as_ref().map(|p| p.value.0).unwrap_or(443);
        if port == 0 {
            errs.push(
                t.port.as_ref().map(|p| p.pos).unwrap_or(pos),
                subject,
                "tls.port",
                "port 0 is not a port",
            );
        }
        let server_name = t
            .server_name
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| t.host.value.clone());
        if let Some(sn) = &t.server_name {
            if let Err(e) = valid_host(&sn.value) {
                errs.push(sn.pos, subject, "tls.server_name", e);
            }
        }
        CheckKind::Tls(TlsCheck {
            host: t.host.value.clone(),
            port,
            server_name,
        })
    } else {
        errs.push(
            pos,
            subject,
            "",
            "no check kind: add one of http, tcp, dns or tls",
        );
        return None;
    };

    let expect = match &c.expect {
        Some(e) => check_expect(e, &kind, timeout, subject, errs),
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
        pos,
    })
}

fn template(errs: &mut Errs, v: &At<String>, subject: &str, field: &str) -> Option<EnvTemplate> {
    EnvTemplate::parse(&v.value)
        .map_err(|e| errs.push(v.pos, subject, field, e))
        .ok()
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_http(h: &RawHttp, subject: &str, errs: &mut Errs) -> Option<HttpCheck> {
    let url = template(errs, &h.url, subject, "http.url");
    match url::Url::parse(
        &url.as_ref()
            .map(|u| u.with_placeholders())
            .unwrap_or_else(|| "http://x/".into()),
    ) {
        Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
            errs.push(
                h.url.pos,
                subject,
                "http.url",
                format!(
                    "scheme {:?} is not supported: use http or https",
                    u.scheme()
                ),
            );
        }
        Ok(u) if u.host().is_none() => {
            errs.push(h.url.pos, subject, "http.url", "the URL has no host")
        }
        Ok(_) => {}
        Err(e) => errs.push(
            h.url.pos,
            subject,
            "http.url",
            format!("malformed URL: {e}"),
        ),
    }
    let method = match &h.method {
        Some(m) if !is_token(&m.value) => {
            errs.push(
                m.pos,
                subject,
                "http.method",
                format!("{:?} is not an HTTP method", m.value),
            );
            "GET".to_string()
        }
        Some(m) => m.value.to_ascii_uppercase(),
        None => "GET".to_string(),
    };
    let mut headers = Vec::new();
    for (name, value) in h.headers.iter().flatten() {
        let field = format!("http.headers.{name}");
        if !is_token(name) {
            errs.push(
                value.pos,
                subject,
                &field,
                format!("{name:?} is not a valid header name"),
            );
        }
        if value.value.contains(['\r', '\n']) {
            errs.push(
                value.pos,
                subject,
                &field,
                "header values cannot contain line breaks",
            );
        }
        if let Some(t) = template(errs, value, subject, &field) {
            headers.push((name.clone(), t));
        }
    }
    let body = h
        .body
        .as_ref()
        .and_then(|b| template(errs, b, subject, "http.body"));
    let max_redirects = match &h.max_redirects {
        Some(m) if m.value.0 > 20 => {
            errs.push(
                m.pos,
                subject,
                "http.max_redirects",
                "at most 20 redirects can be followed",
            );
            DEFAULT_MAX_REDIRECTS
        }
        Some(m) => m.value.0,
        None => DEFAULT_MAX_REDIRECTS,
    };
    let max_body = match &h.max_body {
        Some(m) => match parse_size(&m.value) {
            Ok(0) => {
                errs.push(m.pos, subject, "http.max_body", "must be at least 1 byte");
                DEFAULT_MAX_BODY
            }
            Ok(n) if n > 64 << 20 => {
                errs.push(
                    m.pos,
                    subject,
                    "http.max_body",
                    "at most 64MiB of body can be read",
                );
                DEFAULT_MAX_BODY
            }
            Ok(n) => n,
            Err(e) => {
                errs.push(m.pos, subject, "http.max_body", e);
                DEFAULT_MAX_BODY
            }
        },
        None => DEFAULT_MAX_BODY,
    };
    Some(HttpCheck {
        url: url?,
        method,
        headers,
        body,
        follow_redirects: h.follow_redirects.unwrap_or(true),
        max_redirects,
        tls_verify: h.tls_verify.unwrap_or(true),
        max_body,
    })
}

fn check_dns(d: &RawDns, subject: &str, errs: &mut Errs) -> Option<DnsCheck> {
    let name = d.name.value.trim_end_matches('.');
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        errs.push(
            d.name.pos,
            subject,
            "dns.name",
            format!("{:?} is not a DNS name", d.name.value),
        );
    }
    let record_type = match &d.record_type {
        None => RecordType::A,
        Some(t) => match RecordType::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&t.value))
        {
            Some((_, rt)) => *rt,
            None => {
                errs.push(
                    t.pos,
                    subject,
                    "dns.type",
                    format!(
                        "record type {:?} is not supported: use A, AAAA, CNAME, MX, TXT or NS",
                        t.value
                    ),
                );
                RecordType::A
            }
        },
    };
    let nameserver = match &d.nameserver {
        None => None,
        Some(ns) => {
            let parsed = ns.value.parse::<SocketAddr>().ok().or_else(|| {
                ns.value
                    .parse::<IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, 53))
            });
            if parsed.is_none() {
                errs.push(
                    ns.pos,
                    subject,
                    "dns.nameserver",
                    format!(
                        "{:?} is not an IP address or IP:port (a nameserver is given by address)",
                        ns.value
                    ),
                );
            }
            parsed
        }
    };
    Some(DnsCheck {
        name: d.name.value.clone(),
        record_type,
        nameserver,
    })
}

fn pos_of<T>(v: &Option<At<T>>) -> Option<Pos> {
    v.as_ref().map(|v| v.pos)
}

fn check_expect(
    e: &At<RawExpect>,
    kind: &CheckKind,
    timeout: Duration,
    subject: &str,
    errs: &mut Errs,
) -> Expect {
    let e = &e.value;
    let k = kind.name();
    let https = matches!(kind, CheckKind::Http(h) if h.url.with_placeholders().to_ascii_lowercase().starts_with("https:"));
    let mut applies = |present: Option<Pos>, field: &str, ok: bool, kinds: &str| {
        if let (Some(pos), false) = (present, ok) {
            errs.push(
                pos,
                subject,
                &format!("expect.{field}"),
                format!("does not apply to {k} checks (it applies to {kinds} checks)"),
            );
            false
        } else {
            present.is_some()
        }
    };
    let is_http = k == "http";
    let mut out = Expect::default();
    let status_ok = applies(pos_of(&e.status), "status", is_http, "http");
    let headers_ok = applies(pos_of(&e.headers), "headers", is_http, "http");
    let body_ok = applies(pos_of(&e.body_contains), "body_contains", is_http, "http");
    let regex_ok = applies(pos_of(&e.body_regex), "body_regex", is_http, "http");
    let json_ok = applies(pos_of(&e.json), "json", is_http, "http");
    let cert_ok = applies(
        pos_of(&e.cert_valid_for),
        "cert_valid_for",
        k == "tls" || https,
        "tls and https",
    );
    let reply_ok = applies(
        pos_of(&e.reply_contains),
        "reply_contains",
        k == "tcp",
        "tcp",
    );
    let answers_ok = applies(
        pos_of(&e.answers_include),
        "answers_include",
        k == "dns",
        "dns",
    );
    let rcode_ok = applies(pos_of(&e.rcode), "rcode", k == "dns", "dns");

    if let (true, Some(status)) = (status_ok, &e.status) {
        if status.value.is_empty() {
            errs.push(
                status.pos,
                subject,
                "expect.status",
                "an empty list accepts no status at all; list the acceptable codes, e.g. [200]",
            );
        }
        for s in &status.value {
            if !(100..=599).contains(&s.value) {
                errs.push(
                    s.pos,
                    subject,
                    "expect.status",
                    format!("{} is not an HTTP status code (100-599)", s.value),
                );
            }
        }
        out.status = Some(status.value.iter().map(|s| s.value).collect());
    }
    if let (true, Some(headers)) = (headers_ok, &e.headers) {
        if headers.value.is_empty() {
            errs.push(
                headers.pos,
                subject,
                "expect.headers",
                "an empty map asserts nothing; remove it or name a header",
            );
        }
        for (name, rule) in &headers.value {
            let field = format!("expect.headers.{name}");
            let (equals, contains) = match &rule.value {
                RawHeaderExpect::Equals(v) => (Some(v.clone()), None),
                RawHeaderExpect::Rule(r) => (r.equals.clone(), r.contains.clone()),
            };
            if equals.is_none() && contains.is_none() {
                errs.push(rule.pos, subject, &field, "give `equals` or `contains`");
            }
            if contains.as_deref() == Some("") {
                errs.push(
                    rule.pos,
                    subject,
                    &field,
                    "contains \"\" can never fail; give the text to look for",
                );
            }
            out.headers.push(HeaderExpect {
                name: name.to_ascii_lowercase(),
                equals,
                contains,
            });
        }
    }
    if let (true, Some(b)) = (body_ok, &e.body_contains) {
        if b.value.is_empty() {
            errs.push(
                b.pos,
                subject,
                "expect.body_contains",
                "an empty string is in every body: this can never fail",
            );
        }
        out.body_contains = Some(b.value.clone());
    }
    if let (true, Some(r)) = (regex_ok, &e.body_regex) {
        match regex::RegexBuilder::new(&r.value)
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) if re.is_match("") => errs.push(
                r.pos,
                subject,
                "expect.body_regex",
                "this regex matches an empty body, so it matches every body: it can never fail",
            ),
            Ok(re) => out.body_regex = Some(re),
            Err(err) => errs.push(
                r.pos,
                subject,
                "expect.body_regex",
                format!("invalid regex: {err}"),
            ),
        }
    }
    if let (true, Some(j)) = (json_ok, &e.json) {
        if j.value.is_empty() {
            errs.push(j.pos, subject, "expect.json", "an empty map asserts nothing; map JSON pointers to values, e.g. {\"/status\": \"UP\"}");
        }
        for (ptr, v) in &j.value {
            if !ptr.is_empty() && !ptr.starts_with('/') {
                errs.push(
                    j.pos,
                    subject,
                    &format!("expect.json.{ptr}"),
                    format!("{ptr:?} is not a JSON pointer: it starts with / (e.g. /status)"),
                );
            }
            out.json.push((ptr.clone(), v.clone()));
        }
    }
    if let Some(l) = &e.latency {
        let degraded = l
            .value
            .degraded
            .as_ref()
            .and_then(|d| duration(errs, d, subject, "expect.latency.degraded"));
        let down = l
            .value
            .down
            .as_ref()
            .and_then(|d| duration(errs, d, subject, "expect.latency.down"));
        if l.value.degraded.is_none() && l.value.down.is_none() {
            errs.push(
                l.pos,
                subject,
                "expect.latency",
                "give `degraded`, `down` or both",
            );
        }
        if let (Some(dg), Some(dn)) = (degraded, down) {
            if dg >= dn {
                errs.push(
                    l.pos,
                    subject,
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
                errs.push(l.pos, subject, &format!("expect.latency.{name}"), format!(
                    "{name} {} is not below the timeout {}: the probe times out first, so it could never trigger",
                    format_duration(v), format_duration(timeout)));
            }
        }
        out.latency_degraded = degraded;
        out.latency_down = down;
    }
    if let (true, Some(c)) = (cert_ok, &e.cert_valid_for) {
        out.cert_valid_for = duration(errs, c, subject, "expect.cert_valid_for");
    }
    if let (true, Some(r)) = (reply_ok, &e.reply_contains) {
        if r.value.is_empty() {
            errs.push(
                r.pos,
                subject,
                "expect.reply_contains",
                "an empty string is in every reply: this can never fail",
            );
        }
        out.reply_contains = Some(r.value.clone());
    }
    if let (true, Some(a)) = (answers_ok, &e.answers_include) {
        if a.value.is_empty() {
            errs.push(
                a.pos,
                subject,
                "expect.answers_include",
                "an empty list can never fail; list the answers to expect",
            );
        }
        if let CheckKind::Dns(d) = kind {
            for v in &a.value {
                let bad = match d.record_type {
                    RecordType::A => v.value.parse::<std::net::Ipv4Addr>().is_err(),
                    RecordType::Aaaa => v.value.parse::<std::net::Ipv6Addr>().is_err(),
                    _ => v.value.trim().is_empty(),
                };
                if bad {
                    errs.push(
                        v.pos,
                        subject,
                        "expect.answers_include",
                        format!(
                            "{:?} cannot be an answer to a query of type {}",
                            v.value,
                            d.record_type.as_str()
                        ),
                    );
                }
            }
        }
        out.answers_include = a.value.iter().map(|v| v.value.clone()).collect();
    }
    if let (true, Some(r)) = (rcode_ok, &e.rcode) {
        let upper = r.value.to_ascii_uppercase();
        if !RCODES.contains(&upper.as_str()) {
            errs.push(
                r.pos,
                subject,
                "expect.rcode",
                format!(
                    "{:?} is not a response code: use one of {}",
                    r.value,
                    RCODES.join(", ")
                ),
            );
        } else if upper != "NOERROR" && !out.answers_include.is_empty() {
            errs.push(
                r.pos,
                subject,
                "expect.rcode",
                format!("a {upper} response has no answers, so answers_include could never pass"),
            );
        }
        out.rcode = Some(upper);
    }
    out
}
