//! The subscribers' pages' words: one table per language, each in its own file; a new
//! language is one more file and one more arm in [`words`].

use atalaya_core::Language;

mod en;
mod es;

pub(super) struct Words {
    pub title: &'static str,
    pub confirm_ask: &'static str,
    pub confirm_button: &'static str,
    pub confirmed: &'static str,
    pub unsubscribe_ask: &'static str,
    pub unsubscribe_button: &'static str,
    pub unsubscribed: &'static str,
    pub manage_ask: &'static str,
    pub manage_all: &'static str,
    pub manage_button: &'static str,
    pub managed: &'static str,
    pub not_subscribed: &'static str,
    pub invalid: &'static str,
    pub revoked: &'static str,
    pub trouble: &'static str,
    /// The subscribe form's answer, whatever the address was (nothing to learn from it).
    pub check_inbox: &'static str,
    pub not_an_address: &'static str,
    pub busy: &'static str,
}

pub(super) fn words(l: Language) -> &'static Words {
    match l {
        Language::En => &en::WORDS,
        Language::Es => &es::WORDS,
    }
}
