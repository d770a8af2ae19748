//! From the raw file to a [`Config`], collecting every problem in one pass: `parse.rs` reads the
//! file (one part at a time after a structural error), `settings.rs` the settings,
//! `references.rs` customers and services and what refers to what, `checks.rs` the checks
//! (each kind validates its own block and fields of `expect`: `crate::kinds`).

mod addresses;
mod checks;
mod email;
mod keys;
mod locations;
mod names;
mod oncall;
mod parse;
mod references;
mod settings;

use checks::check_check;
use parse::salvage;
use references::{
    check_customer, check_cycles, check_service, check_slugs, guessable_pages,
    screen_maintenance_notes,
};
use settings::check_settings;

use crate::at::{At, Pos};
use crate::config::*;
use crate::error::{ConfigError, ConfigErrors};
pub use crate::fields::Target;
pub(crate) use crate::fields::{duration, human_text, Ctx, Errs};
use crate::raw::*;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// A checks file that could not be read as text, as a problem with the file.
pub fn unreadable(file: &str, e: &crate::source::ReadError) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        pos: e.pos().unwrap_or_default(),
        subject: String::new(),
        field: String::new(),
        message: match e {
            crate::source::ReadError::Io(_) => format!("the checks file: {e}"),
            _ => e.to_string(),
        },
    }
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
        Err(_) => {
            let raw = salvage(text, &mut errs);
            // Every unknown key, and the references of what did not parse, in this one pass.
            if let Some(tree) = keys::tree(text) {
                keys::walk_file(&tree, &mut errs);
                keys::dropped_references(&tree, &raw, &mut errs);
            }
            raw
        }
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

impl Errs {
    /// A parse error at `pos` (the file's), about `field` when the value of a known key is wrong.
    fn serde(&mut self, e: &serde_saphyr::Error, pos: Pos, subject: &str, field: &str) {
        let mut msg = match budget_breach(e) {
            Some(breach) => budget_words(breach),
            None => {
                let options =
                    serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off, };
                without_position(e.render_with_options(options))
            }
        };
        if let Some(hint) = unknown_field_hint(&msg) {
            msg.push_str(&hint);
        }
        self.push(pos, subject, field, msg);
    }
}

/// The position is printed in front: drop the ` at line 3, column 7` the parser ends with.
fn without_position(mut msg: String) -> String {
    if let Some(i) = msg.rfind(" at line ") {
        let tail = &msg[i + " at line ".len()..];
        let is_position = tail.split_once(", column ").is_some_and(|(l, c)| {
            !l.is_empty()
                && !c.is_empty()
                && l.bytes().all(|b| b.is_ascii_digit())
                && c.bytes().all(|b| b.is_ascii_digit())
        });
        if is_position {
            msg.truncate(i);
        }
    }
    msg
}

/// The safety limit the reader hit, however the error is wrapped.
fn budget_breach(e: &serde_saphyr::Error) -> Option<&serde_saphyr::budget::BudgetBreach> {
    match e {
        serde_saphyr::Error::Budget { breach, .. } => Some(breach),
        serde_saphyr::Error::AliasError { error, .. }
        | serde_saphyr::Error::WithSnippet { error, .. } => budget_breach(error),
        _ => None,
    }
}

/// What the YAML reader's safety limits mean, for a person.
fn budget_words(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let what = match breach {
        B::Nodes { nodes } => format!("it holds more than {} values", nodes.saturating_sub(1)),
        B::Aliases { aliases } => format!(
            "it uses more than {} aliases (`*name`)",
            aliases.saturating_sub(1)
        ),
        B::Anchors { anchors } => format!(
            "it defines more than {} anchors (`&name`)",
            anchors.saturating_sub(1)
        ),
        B::Depth { depth } => format!(
            "it nests lists and maps more than {} levels deep",
            depth.saturating_sub(1)
        ),
        B::Documents { documents } => {
            format!("it holds {documents} YAML documents; a checks file is one")
        }
        B::MergeKeys { merge_keys } => format!(
            "it uses more than {} merge keys (`<<`)",
            merge_keys.saturating_sub(1)
        ),
        other => format!("it is beyond what the reader takes ({other:?})"),
    };
    format!("too large once its aliases (`*name`) are expanded: {what}; use fewer aliases")
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
    // Ids name files and folders of the status site (`<customer>/`, `badges/<service>.svg`):
    // a safe path segment, never `.`, `..` or a hidden name.
    let valid = id.value.len() <= 64
        && id.value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        errs.push(
            id.pos,
            &subject,
            "id",
            "ids are 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit",
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

fn opt_duration(
    errs: &mut Errs,
    v: &Option<At<String>>,
    subject: &str,
    field: &str,
    default: Duration,
    max: Duration,
) -> Duration {
    v.as_ref()
        .and_then(|v| duration(errs, v, subject, field, max))
        .unwrap_or(default)
}

/// A count from 1 to [`MAX_COUNT`].
fn count(errs: &mut Errs, v: Option<&At<Count>>, subject: &str, field: &str, default: u32) -> u32 {
    match v {
        Some(v) if v.value.0 == 0 => {
            errs.push(v.pos, subject, field, "must be at least 1");
            default
        }
        Some(v) if v.value.0 > MAX_COUNT => {
            errs.push(
                v.pos,
                subject,
                field,
                format!("{} is too large: at most {MAX_COUNT}", v.value.0),
            );
            default
        }
        Some(v) => v.value.0,
        None => default,
    }
}

fn check_file(raw: &RawFile, target: Target, errs: &mut Errs) -> Config {
    let (settings, defaults) = check_settings(raw.settings.as_ref(), target, errs);

    let customer_ids = known_ids(&raw.customers, |c| &c.id);
    let service_ids = known_ids(&raw.services, |s| &s.id);

    let mut seen = HashMap::new();
    let customers: Vec<Customer> = raw
        .customers
        .iter()
        .map(|c| check_customer(c, &mut seen, errs))
        .collect();
    check_slugs(&raw.customers, &customers, errs);

    let mut seen = HashMap::new();
    let services: Vec<Service> = raw
        .services
        .iter()
        .map(|s| check_service(s, &customer_ids, &service_ids, &mut seen, errs))
        .collect();
    check_cycles(&raw.services, errs);

    let mut seen = HashMap::new();
    let checks: Vec<Check> = raw
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

    let mut settings = settings;
    let mut warnings = guessable_pages(&raw.customers, &errs.file);
    warnings.extend(names::missing_languages(
        &raw.services,
        &customers,
        &errs.file,
    ));
    settings.operators.on_call = oncall::on_call(
        raw.settings.as_ref().and_then(|s| s.operators.as_ref()),
        &service_ids,
        errs,
        &mut warnings,
    );
    if checks.iter().any(|c: &Check| c.kind.is_passive())
        && !settings
            .regions
            .iter()
            .any(|r| r == crate::kinds::heartbeat::REGION)
    {
        // Where heartbeats are judged, watched like a region (silent when the judge stops).
        settings
            .regions
            .push(crate::kinds::heartbeat::REGION.to_string());
    }
    let config = Config {
        source: errs.file.clone(),
        settings,
        customers,
        services,
        checks,
        warnings,
        index: Default::default(),
    };
    screen_maintenance_notes(raw, &config, errs);
    config
}
