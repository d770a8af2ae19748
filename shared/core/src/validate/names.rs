//! Names people read: one text or one per language, none empty, none with hidden characters.

use super::{human_text, Errs};
use crate::at::At;
use crate::config::Language;
use crate::names::Names;
use crate::raw::RawName;

/// A name as written: `Online shop` or `{ en: Online shop, es: Tienda online }`.
pub(super) fn names(errs: &mut Errs, v: &At<RawName>, subject: &str, field: &str) -> Names {
    let mut out = Names::default();
    let mut texts = Vec::new();
    match &v.value {
        RawName::One(text) => {
            out.any = text.trim().to_string();
            texts.push(text);
        }
        RawName::PerLanguage(map) if map.is_empty() => errs.push(
            v.pos,
            subject,
            field,
            "give a name: one text, or one per language ({ en: …, es: … })",
        ),
        RawName::PerLanguage(map) => {
            for (code, text) in map {
                match Language::from_code(code) {
                    Some(l) => {
                        out.by_language.insert(l, text.trim().to_string());
                        texts.push(text);
                    }
                    None => errs.push(
                        v.pos,
                        subject,
                        field,
                        format!("{code:?} is not a supported language: use en or es"),
                    ),
                }
            }
            // Operators read one name: the English one, else the first given.
            out.any = out
                .by_language
                .get(&Language::En)
                .or_else(|| out.by_language.values().next())
                .cloned()
                .unwrap_or_default();
        }
    }
    if texts.iter().any(|t| t.trim().is_empty()) {
        errs.push(v.pos, subject, field, "must not be empty");
    }
    for t in texts {
        human_text(errs, &At::new(t.clone(), v.pos), subject, field, false);
    }
    out
}

/// Names given per language that leave out the language their customer reads: that customer's
/// mail and page would show another language's name.
pub(super) fn missing_languages(
    raw: &crate::raw::Section<crate::raw::RawService>,
    customers: &[crate::config::Customer],
    file: &str,
) -> Vec<crate::ConfigError> {
    raw.iter()
        .filter_map(|s| {
            let RawName::PerLanguage(map) = &s.value.name.value else {
                return None;
            };
            let customer = customers.iter().find(|c| c.id == s.value.customer.value)?;
            let l = customer.language;
            (!map.is_empty() && !map.contains_key(l.code())).then(|| crate::ConfigError {
                file: file.to_string(),
                pos: s.value.name.pos,
                subject: format!("service {}", s.value.id.value),
                field: "name".into(),
                message: format!(
                    "has no {} name ({}:), and its customer {} reads {}: their mail and page show {:?}",
                    l.name(),
                    l.code(),
                    customer.id,
                    l.name(),
                    map.values().next().map_or("", |n| n.trim())
                ),
            })
        })
        .collect()
}
