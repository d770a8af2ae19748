//! The words of customer mail around the message (why the mail came, the links) and of the
//! confirmation mail: one table per language, each in its own file; a new language is one more
//! file and one more arm in [`words`].

use atalaya_core::Language;

mod en;
mod es;

pub struct Words {
    /// Why the mail came (`{brand}`: the sender's name).
    pub why: &'static str,
    /// Why the confirmation mail came (nobody has subscribed yet).
    pub why_confirm: &'static str,
    pub manage: &'static str,
    pub unsubscribe: &'static str,
    /// The link to the customer's status page.
    pub status_page: &'static str,
    pub confirm: &'static str,
    /// The confirmation mail's subject and body (`{brand}`, `{list}`: the services).
    pub confirm_subject: &'static str,
    pub confirm_body: &'static str,
}

pub fn words(language: Language) -> &'static Words {
    match language {
        Language::En => &en::WORDS,
        Language::Es => &es::WORDS,
    }
}

/// `text` with each placeholder replaced in one pass (a value is never read for placeholders).
pub(super) fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        for (name, value) in values {
            if rest[at..].starts_with(name) {
                out.push_str(value);
                rest = &rest[at + name.len()..];
                continue 'outer;
            }
        }
        out.push('{');
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once_and_values_are_not_read_for_more() {
        let out = fill(
            "{brand} about: {list} {other}",
            &[("{brand}", "A {list} B"), ("{list}", "Shop, {brand}")],
        );
        assert_eq!(out, "A {list} B about: Shop, {brand} {other}");
    }

    #[test]
    fn every_language_has_every_mail_word() {
        for l in Language::ALL {
            let w = words(l);
            for (name, text) in [
                ("why", w.why),
                ("why_confirm", w.why_confirm),
                ("manage", w.manage),
                ("status_page", w.status_page),
                ("unsubscribe", w.unsubscribe),
                ("confirm", w.confirm),
                ("confirm_subject", w.confirm_subject),
                ("confirm_body", w.confirm_body),
            ] {
                assert!(!text.trim().is_empty(), "{}: {name} is empty", l.code());
            }
            assert!(w.why.contains("{brand}") && w.confirm_body.contains("{list}"));
            assert!(w.why_confirm.contains("{brand}"));
        }
    }
}
