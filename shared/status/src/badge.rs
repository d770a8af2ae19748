//! `badges/<service>.svg`: a small badge in the shape people embed in READMEs and intranets,
//! with the status in words (colour is never the only sign) and a title for screen readers.

use crate::model::Status;
use atalaya_core::config::Language;

pub(crate) const SVG: &str = "image/svg+xml";

/// Text in XML: markup escaped, and what XML 1.0 cannot carry at all (control characters) left
/// out; validation refuses such names, this keeps a badge well-formed whatever reaches it.
fn esc(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Roughly how wide Verdana 11 px draws `s` (good enough to size the badge).
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | '\'' | ' ' | 'í' => 4,
            'm' | 'w' | 'M' | 'W' => 10,
            c if c.is_uppercase() => 8,
            _ => 7,
        })
        .sum::<usize>()
        + 12
}

pub(crate) fn svg(name: &str, status: Status, l: Language) -> String {
    let (fill, _) = match status {
        Status::Operational => ("#17603a", ()),
        Status::DegradedPerformance => ("#7a5800", ()),
        Status::PartialOutage => ("#9a3f0b", ()),
        Status::MajorOutage => ("#a51d1d", ()),
        Status::UnderMaintenance => ("#1d4ed8", ()),
        Status::MonitoringUnavailable => ("#4a4f57", ()),
    };
    let value = status.word(l);
    let (lw, vw) = (width(name), width(value));
    let total = lw + vw;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{label}: {value}">
<title>{label}: {value}</title>
<rect width="{lw}" height="20" fill="#3b3f45"/>
<rect x="{lw}" width="{vw}" height="20" fill="{fill}"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="6" y="14">{label}</text>
<text x="{vx}" y="14">{value}</text>
</g>
</svg>
"##,
        label = esc(name),
        value = esc(value),
        vx = lw + 6,
    )
}
