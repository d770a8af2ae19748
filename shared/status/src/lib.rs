//! The status site, built whole from what the monitor knows: a page per customer at `<slug>/`
//! (their services, their language and time zone, with the other languages beside it), a public
//! page at the root for the services marked `public`, each with Statuspage's public API
//! (`api/v2/summary.json`, `api/v2/status.json`), an Atom feed of the customers' updates
//! (`history.atom`) and a badge per service (`badges/<service>.svg`).
//!
//! Pure: the shells hand in the state, the incidents, their customer messages and the hourly
//! rollups, and write the objects out (a folder, S3) — only those whose bytes changed. Nothing
//! in a page depends on the minute it was built: it changes when the status does, and the bars
//! with each hour.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod api;
mod atom;
mod badge;
mod html;
pub mod model;
pub mod report;
mod words;

use atalaya_core::config::{Config, Language};
use atalaya_core::evaluate::{Incident, State};
use atalaya_core::rollup::Hours;
use atalaya_core::Message;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

pub use model::{Reader, Status};

/// What a site is built from.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub config: &'a Config,
    pub state: &'a State,
    /// The open incidents and those resolved in the last 90 days.
    pub incidents: &'a [Incident],
    /// The customer messages of those incidents (their timelines name them).
    pub messages: &'a [Message],
    /// Each service's hours (`atalaya_core::rollup`), the last 90 days at least.
    pub hours: &'a BTreeMap<String, Hours>,
    pub now: DateTime<Utc>,
    /// Only these customers' pages (and the public page if one of them has a public service);
    /// `None`: the whole site.
    pub only: Option<&'a std::collections::BTreeSet<String>>,
}

/// Whether the public page is part of a build limited to `only`.
pub fn public_rebuilt(config: &Config, only: Option<&std::collections::BTreeSet<String>>) -> bool {
    config
        .services
        .iter()
        .any(|s| s.public && only.is_none_or(|o| o.contains(&s.customer)))
}

/// Whether `path` is part of what a build limited to `only` writes: a rebuilt customer's
/// folder, the public page's files if it was rebuilt, the assets. What a publish may delete.
pub fn in_scope(
    config: &Config,
    only: Option<&std::collections::BTreeSet<String>>,
    path: &str,
) -> bool {
    let Some(only) = only else { return true };
    if path == LIVE {
        return true;
    }
    if let Some((first, _)) = path.split_once('/') {
        if first == "assets" {
            return false;
        }
        if let Some(c) = config.customers.iter().find(|c| c.slug == first) {
            return only.contains(&c.id);
        }
    }
    public_rebuilt(config, Some(only))
}

/// How long a browser or CDN may keep an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// Pages, API, feed, badges: a minute.
    Status,
    /// Stylesheet and script, named by their content: a year.
    Asset,
    /// `live.json`: read fresh every time.
    Live,
}

impl Cache {
    pub fn header(self) -> &'static str {
        match self {
            Cache::Status => "public, max-age=60",
            Cache::Asset => "public, max-age=31536000, immutable",
            Cache::Live => "no-cache, max-age=0",
        }
    }
}

/// One file of the site.
#[derive(Clone, PartialEq, Eq)]
pub struct Object {
    /// Relative to the site's root, `/`-separated (`acme-7f3k/index.html`).
    pub path: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub cache: Cache,
}

/// The whole site. An error is a fault of the built-in template (its words are in the binary).
/// The monitor's own freshness, apart from the pages: when a region last reported (to the
/// minute, so it is rewritten at most once a minute) and how old that may be before the pages
/// say the status may not be current. Published with every build and whenever it changes.
pub const LIVE: &str = "live.json";

/// [`LIVE`]'s object for `seen_at` (a region's last report).
pub fn live(config: &Config, seen_at: Option<DateTime<Utc>>) -> Object {
    use chrono::DurationRound;
    let seen = seen_at.map(|t| t.duration_trunc(chrono::TimeDelta::minutes(1)).unwrap_or(t));
    let within = model::fresh_window_of(config);
    Object {
        path: LIVE.to_string(),
        body: json(&serde_json::json!({
            "seen_at": seen,
            "fresh_within_s": within.num_seconds(),
        })),
        content_type: api::JSON,
        cache: Cache::Live,
    }
}

pub fn build(input: &Input) -> Result<Vec<Object>, String> {
    // Messages by id: every incident of every page looks its updates up.
    let mut messages = input.messages.to_vec();
    messages.sort_by(|a, b| a.id.cmp(&b.id));
    let input = &Input {
        messages: &messages,
        ..*input
    };
    let assets = html::Assets::new()?;
    let mut out = assets.objects();
    out.push(live(input.config, model::last_seen(input)));
    for c in &input.config.customers {
        if input.only.is_some_and(|o| !o.contains(&c.id)) {
            continue;
        }
        page_objects(
            input,
            Reader::Customer(c),
            &format!("{}/", c.slug),
            c.language,
            &assets,
            &mut out,
        )?;
    }
    if public_rebuilt(input.config, input.only) {
        page_objects(input, Reader::Public, "", Language::En, &assets, &mut out)?;
    }
    Ok(out)
}

fn page_objects(
    input: &Input,
    audience: Reader,
    prefix: &str,
    language: Language,
    assets: &html::Assets,
    out: &mut Vec<Object>,
) -> Result<(), String> {
    let root = if prefix.is_empty() { "" } else { "../" };
    let object = |path: String, body: Vec<u8>, content_type| Object {
        path: format!("{prefix}{path}"),
        body,
        content_type,
        cache: Cache::Status,
    };
    let mut own = None;
    for l in Language::ALL {
        let page = model::page(input, audience, l);
        let body = assets.page(&page, root)?.into_bytes();
        if l == language {
            out.push(object("index.html".into(), body.clone(), html::HTML));
            own = Some(page);
        }
        out.push(object(format!("index.{}.html", l.code()), body, html::HTML));
    }
    // The API, feed and badges speak the page's own language.
    let page = own.unwrap_or_else(|| model::page(input, audience, language));
    let url = input
        .config
        .settings
        .status_site
        .url
        .as_ref()
        .map(|u| format!("{u}/{prefix}"));
    let summary = api::summary(&page, url.as_deref(), language);
    out.push(object(
        "api/v2/summary.json".into(),
        json(&summary),
        api::JSON,
    ));
    out.push(object(
        "api/v2/status.json".into(),
        json(&api::status(&summary)),
        api::JSON,
    ));
    out.push(object(
        "history.atom".into(),
        atom::feed(&page, url.as_deref(), input.config).into_bytes(),
        atom::ATOM,
    ));
    for s in &page.services {
        out.push(object(
            format!("badges/{}.svg", s.id),
            badge::svg(&s.name, s.status, language).into_bytes(),
            badge::SVG,
        ));
    }
    Ok(())
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("path", &self.path)
            .field("bytes", &self.body.len())
            .field("content_type", &self.content_type)
            .field("cache", &self.cache)
            .finish()
    }
}

fn json(v: &serde_json::Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    b
}

/// The objects of `new` that differ from what `old` holds (path → body), and the paths of
/// `old` that `new` no longer has: what a publisher writes and deletes.
pub fn changes<'a>(
    new: &'a [Object],
    old: &BTreeMap<String, Vec<u8>>,
) -> (Vec<&'a Object>, Vec<String>) {
    let changed = new
        .iter()
        .filter(|o| old.get(&o.path) != Some(&o.body))
        .collect();
    let paths: std::collections::BTreeSet<&str> = new.iter().map(|o| o.path.as_str()).collect();
    let gone = old
        .keys()
        .filter(|p| !paths.contains(p.as_str()))
        .cloned()
        .collect();
    (changed, gone)
}

#[cfg(test)]
mod day_tests;
#[cfg(test)]
mod tests;
