//! How each language says times, days, months, zones, durations and the default sign-off in
//! customers' messages: one file per language (`en.rs`, `es.rs`), each a [`Speech`]. A new
//! language is one more file and one more arm in [`speech`] (with its templates under
//! `templates/<code>/` and its words on the other surfaces).

use crate::config::Language;
use chrono::{DateTime, Datelike};
use chrono_tz::Tz;

mod en;
mod es;

/// A unit of a duration.
#[derive(Clone, Copy)]
pub enum Unit {
    Day,
    Hour,
    Minute,
    Second,
}

impl Unit {
    /// The unit's symbol, the same in every language: `d`, `h`, `min`, `s`.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Day => "d",
            Unit::Hour => "h",
            Unit::Minute => "min",
            Unit::Second => "s",
        }
    }
}

/// A time's parts as a language puts them together.
pub(crate) struct Moment<'a> {
    pub clock: &'a str,
    pub zone: &'a str,
    pub day: &'a str,
}

pub(crate) trait Speech: Sync {
    /// The sign-off when neither the customer nor the file has one, and no brand is set.
    fn signature(&self) -> &'static str;
    /// The sign-off in the brand's name (`The Acme team`), when no signature is written.
    fn team_of(&self, brand: &str) -> String;
    /// A city's name in this language, when it differs from the zone database's (English).
    fn city(&self, _english: &str) -> Option<&'static str> {
        None
    }
    /// `10:00`; `las 10:00`.
    fn clock(&self, t: DateTime<Tz>) -> String;
    /// The zone after a time (`city`: none for UTC): ` UTC`, ` (Madrid time)`.
    fn zone(&self, city: Option<&str>) -> String;
    /// The month's name (`month0` from 0).
    fn month_name(&self, month0: usize) -> &'static str;
    /// `November 2026`, `noviembre de 2026`.
    fn month(&self, year: i32, month0: usize) -> String;
    /// `24 November 2026`, `24 de noviembre de 2026`.
    fn day(&self, day: u32, month0: usize, year: i32) -> String;
    /// `10:00 (Madrid time) on 24 November 2026`.
    fn when(&self, m: &Moment<'_>) -> String;
    /// After a verb, day first: `on 24 November 2026 at 10:00 UTC`, `el 24 de noviembre de
    /// 2026 a las 10:00 (UTC)` ("Actualizada el … a las …").
    fn on_day_at(&self, m: &Moment<'_>) -> String;
    /// A heading or a list's time, day first, starting with a digit: `24 November 2026, 10:00
    /// UTC`, `24 de noviembre de 2026, 10:00 (UTC)` (`hm`: the bare clock).
    fn stamp(&self, m: &Moment<'_>, hm: &str) -> String {
        format!("{}, {hm}{}", m.day, m.zone)
    }
    /// A maintenance window, on one day or across days.
    fn window(&self, start: &Moment<'_>, end: &Moment<'_>, same_day: bool) -> String;
    /// `1 hour`, `2 minutes`.
    fn unit(&self, n: i64, unit: Unit) -> String;
    /// The first lines of a mail to a subscriber who joined during an incident (`began`: when
    /// it began, as [`Speech::when`] says it).
    fn joined(&self, began: &str) -> String;
    /// Between the last two parts of a list: ` and `, ` y `.
    fn and(&self) -> &'static str;
}

pub(crate) fn speech(l: Language) -> &'static dyn Speech {
    match l {
        Language::En => &en::English,
        Language::Es => &es::Spanish,
    }
}

/// A local time's day in `s`'s words.
pub(crate) fn local_day(s: &dyn Speech, t: DateTime<Tz>) -> String {
    s.day(t.day(), t.month0() as usize, t.year())
}
