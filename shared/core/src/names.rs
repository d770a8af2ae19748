//! Names people read: a service's or a customer's name, one for every language or one per
//! language (`{ en: Online shop, es: Tienda online }`).

use crate::config::Language;
use std::collections::BTreeMap;

/// A name in each language a reader may have. `any` is the name written once (or the operators'
/// pick of the per-language ones: English, else the first); a language without its own name
/// reads `any`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub any: String,
    pub by_language: BTreeMap<Language, String>,
}

impl Names {
    /// One name for every language.
    pub fn one(name: impl Into<String>) -> Self {
        Names {
            any: name.into(),
            by_language: BTreeMap::new(),
        }
    }

    /// The name a reader of `l` sees.
    pub fn get(&self, l: Language) -> &str {
        self.by_language.get(&l).unwrap_or(&self.any)
    }

    /// Every spelling, each once: for screening messages against the recipients' own words.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.any.as_str()).chain(
            self.by_language
                .values()
                .map(String::as_str)
                .filter(|n| *n != self.any),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_without_its_own_name_reads_the_common_one() {
        let mut n = Names::one("Online shop");
        n.by_language.insert(Language::Es, "Tienda online".into());
        assert_eq!(n.get(Language::Es), "Tienda online");
        assert_eq!(n.get(Language::En), "Online shop");
        assert_eq!(
            n.all().collect::<Vec<_>>(),
            ["Online shop", "Tienda online"]
        );
    }
}
