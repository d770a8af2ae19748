//! The site's and the monthly report's own words: one table of each per language, each in its own file (`en.rs`, `es.rs`); a
//! new language is one more file and one more arm in [`words`]. Customers' incident words come
//! from their messages.

mod en;
mod es;

use atalaya_core::config::Language;

#[derive(serde::Serialize)]
pub(crate) struct Words {
    pub status_of: &'static str,
    pub all_operational: &'static str,
    pub operational: &'static str,
    pub degraded_performance: &'static str,
    pub partial_outage: &'static str,
    pub major_outage: &'static str,
    pub under_maintenance: &'static str,
    pub monitoring_unavailable: &'static str,
    pub some_degraded: &'static str,
    pub some_partial: &'static str,
    pub some_major: &'static str,
    pub some_maintenance: &'static str,
    pub some_unavailable: &'static str,
    pub open_incidents: &'static str,
    pub maintenance: &'static str,
    pub services: &'static str,
    pub history: &'static str,
    pub no_history: &'static str,
    pub last_90_days: &'static str,
    pub days_ago_90: &'static str,
    pub today: &'static str,
    pub uptime: &'static str,
    pub no_data: &'static str,
    /// What a day was, first in its bar's tooltip, by the bar's colour: `down`, `degraded`,
    /// `maintenance`, `unseen`, `up`, `none`.
    pub day_kinds: [&'static str; 6],
    /// Before today's figure: `so far`, `hasta ahora`.
    pub so_far: &'static str,
    pub unseen_for: &'static str,
    pub lasted: &'static str,
    pub ongoing: &'static str,
    /// Before the page's update time: `Updated` (`on 6 December…`), `Actualizada` (`el 6 de…`).
    pub checked: &'static str,
    /// Before the monitor's last report: `Last checked`, `Última comprobación`.
    pub seen: &'static str,
    /// The subscribe form: its heading, the field's label, the button, what happens next.
    pub subscribe: [&'static str; 4],
    pub stale: &'static str,
    pub feed: &'static str,
    pub language: &'static str,
    pub incident: &'static str,
    pub incidents: &'static str,
    pub no_incidents: &'static str,
    pub counting: &'static str,
    pub maintenance_left_out: &'static str,
    pub maintenance_counted: &'static str,
    pub degraded_weight: &'static str,
    pub unknown_exclude: &'static str,
    pub unknown_up: &'static str,
    pub unknown_down: &'static str,
    pub target: &'static str,
    pub status: &'static str,
    pub blind_note: &'static str,
    pub skip: &'static str,
    pub public_title: &'static str,
    pub updates: &'static str,
}

pub(crate) fn words(l: Language) -> &'static Words {
    match l {
        Language::En => &en::WORDS,
        Language::Es => &es::WORDS,
    }
}

/// The monthly report's own words.
#[derive(serde::Serialize)]
pub(crate) struct ReportWords {
    pub title: &'static str,
    pub caption: &'static str,
    pub service: &'static str,
    pub uptime: &'static str,
    pub target: &'static str,
    pub budget: &'static str,
    pub downtime: &'static str,
    pub latency: &'static str,
    pub met: &'static str,
    pub missed: &'static str,
    pub no_incidents: &'static str,
    pub counting: &'static str,
    pub months: &'static str,
    pub ongoing: &'static str,
    pub unseen: &'static str,
    pub no_data: &'static str,
    pub all: &'static str,
    /// The budget past 100 %: `exceeded, 458×`.
    pub exceeded: &'static str,
    /// The column of the time counted.
    pub counted: &'static str,
    /// Before the time counted, under a service: `Time counted this month:`.
    pub counted_line: &'static str,
}

pub(crate) fn report_words(l: Language) -> &'static ReportWords {
    match l {
        Language::En => &en::REPORT,
        Language::Es => &es::REPORT,
    }
}

/// A percentage as the language writes it, truncated (99.999… never reads 100).
pub(crate) fn percent(p: f64, l: Language) -> String {
    percent_to(p, 2, l)
}

/// A percentage with `decimals` places, cut (never rounded up: 99.899 % is not 99.9 %), as
/// the reader's language writes it. The report uses three, as `atalaya report`'s table does.
pub(crate) fn percent_to(p: f64, decimals: usize, l: Language) -> String {
    let t = atalaya_core::rollup::cut(p, decimals);
    let text = format!("{t:.decimals$}");
    match l {
        Language::En => format!("{text}%"),
        Language::Es => format!("{} %", text.replace('.', ",")),
    }
}
