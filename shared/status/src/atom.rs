//! `history.atom`: the customers' updates of the page's incidents (the same words they were
//! sent), newest first. Ids are stable URNs made from the page and the message, so a reader never
//! sees one update twice.

use crate::model::Page;
use atalaya_core::config::Config;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

pub(crate) const ATOM: &str = "application/atom+xml; charset=utf-8";

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => o.push(c),
        }
    }
    o
}

fn urn(parts: &[&str]) -> String {
    let h = Sha256::digest(parts.join("\u{1f}").as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-4{}-8{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn feed(page: &Page, url: Option<&str>, config: &Config) -> String {
    let base = url.unwrap_or("");
    let mut entries: Vec<(DateTime<Utc>, String)> = Vec::new();
    for i in page.open.iter().chain(&page.history) {
        for u in &i.updates {
            let text = if u.paragraphs.is_empty() {
                u.title.clone()
            } else {
                u.paragraphs.join("\n\n")
            };
            entries.push((
                u.at,
                format!(
                    "  <entry>\n    <id>{}</id>\n    <title>{}</title>\n    <published>{}</published>\n    <updated>{}</updated>\n    <link rel=\"alternate\" type=\"text/html\" href=\"{}#{}\"/>\n    <content type=\"text\">{}</content>\n  </entry>\n",
                    urn(&["atalaya-status", &page.id, &u.id]),
                    esc(&u.title),
                    ts(u.at),
                    ts(u.at),
                    esc(base),
                    esc(&i.id),
                    esc(&text),
                ),
            ));
        }
    }
    entries.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    // The feed changes when an update arrives, not with the clock.
    let updated = entries
        .first()
        .map_or_else(|| "1970-01-01T00:00:00Z".to_string(), |(at, _)| ts(*at));
    let author = config
        .settings
        .brand
        .as_ref()
        .map_or(page.title.as_str(), |b| b.name.as_str());
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">\n  <id>{}</id>\n  <title>{}</title>\n  <updated>{}</updated>\n  <author><name>{}</name></author>\n  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}history.atom\"/>\n  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        page.lang.code(),
        urn(&["atalaya-status", &page.id]),
        esc(&page.title),
        updated,
        esc(author),
        esc(base),
        if base.is_empty() { "./" } else { base },
    );
    for (_, e) in entries {
        out.push_str(&e);
    }
    out.push_str("</feed>\n");
    out
}
