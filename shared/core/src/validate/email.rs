//! `settings.brand`, `customers[].brand` and `settings.email`.

use super::Errs;
use crate::at::At;
use crate::email::{Brand, BrandOverride, EmailSettings, Mailbox, DEFAULT_COLOUR};
use crate::raw::{RawBrand, RawEmail};
use crate::template::EnvTemplate;

/// One line of text for a mail header or the mail itself: no control characters (a line break
/// in a header would let the file write headers of its own).
fn line(errs: &mut Errs, v: &At<String>, subject: &str, field: &str) -> Option<String> {
    let text = v.value.trim();
    if text.is_empty() {
        errs.push(v.pos, subject, field, "must not be empty");
        return None;
    }
    if let Some(what) = crate::text::hidden_char(text, false) {
        errs.push(
            v.pos,
            subject,
            field,
            format!("must be one line of plain text: it has {what}"),
        );
        return None;
    }
    Some(text.to_string())
}

fn mailbox(errs: &mut Errs, v: &At<String>, subject: &str, field: &str) -> Option<Mailbox> {
    Mailbox::parse(&v.value)
        .map_err(|e| errs.push(v.pos, subject, field, e))
        .ok()
}

/// The relative luminance of `#rrggbb` (WCAG 2).
fn luminance(hex: &str) -> Option<f64> {
    let channel = |i: usize| {
        u8::from_str_radix(hex.get(i..i + 2)?, 16).ok().map(|c| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
    };
    Some(0.2126 * channel(1)? + 0.7152 * channel(3)? + 0.0722 * channel(5)?)
}

/// The contrast of white text on `#rrggbb`.
pub(crate) fn contrast_with_white(hex: &str) -> Option<f64> {
    luminance(hex).map(|l| 1.05 / (l + 0.05))
}

fn colour(errs: &mut Errs, v: &At<String>, subject: &str) -> Option<String> {
    let text = v.value.trim().to_lowercase();
    let full = match text.len() {
        4 if text.starts_with('#') => {
            let mut s = String::from("#");
            for c in text[1..].chars() {
                s.push(c);
                s.push(c);
            }
            s
        }
        _ => text,
    };
    if full.len() != 7
        || !full.starts_with('#')
        || !full[1..].chars().all(|c| c.is_ascii_hexdigit())
    {
        errs.push(
            v.pos,
            subject,
            "brand.colour",
            format!("{:?} is not a colour: write it as #rrggbb", v.value),
        );
        return None;
    }
    match contrast_with_white(&full) {
        Some(c) if c < 4.5 => {
            errs.push(
                v.pos,
                subject,
                "brand.colour",
                format!("white text on {full} has a contrast of {c:.1}:1, below the 4.5:1 readable text needs (WCAG AA): choose a darker colour"),
            );
            None
        }
        _ => Some(full),
    }
}

fn https_url(errs: &mut Errs, v: &At<String>, subject: &str, field: &str) -> Option<String> {
    match url::Url::parse(v.value.trim()) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => Some(u.to_string()),
        Ok(_) => {
            errs.push(
                v.pos,
                subject,
                field,
                "must be an https:// address (mail clients block others)",
            );
            None
        }
        Err(e) => {
            errs.push(
                v.pos,
                subject,
                field,
                format!("{:?} is not a URL ({e})", v.value),
            );
            None
        }
    }
}

/// A brand's fields as given (`settings.brand` or a customer's).
pub(super) fn brand_override(
    errs: &mut Errs,
    raw: Option<&RawBrand>,
    subject: &str,
) -> BrandOverride {
    let Some(raw) = raw else {
        return BrandOverride::default();
    };
    BrandOverride {
        name: raw
            .name
            .as_ref()
            .and_then(|v| line(errs, v, subject, "brand.name")),
        from: raw
            .from
            .as_ref()
            .and_then(|v| mailbox(errs, v, subject, "brand.from")),
        reply_to: raw
            .reply_to
            .as_ref()
            .and_then(|v| mailbox(errs, v, subject, "brand.reply_to")),
        logo_url: raw
            .logo_url
            .as_ref()
            .and_then(|v| https_url(errs, v, subject, "brand.logo_url")),
        colour: raw.colour.as_ref().and_then(|v| colour(errs, v, subject)),
        footer: raw
            .footer
            .as_ref()
            .and_then(|v| line(errs, v, subject, "brand.footer")),
    }
}

/// `settings.brand`: a name and a sender are needed, the rest has defaults.
pub(super) fn brand(errs: &mut Errs, raw: Option<&RawBrand>, subject: &str) -> Option<Brand> {
    let given = raw?;
    // Where the block is: its first field.
    let pos = [
        &given.name,
        &given.from,
        &given.reply_to,
        &given.logo_url,
        &given.colour,
        &given.footer,
    ]
    .into_iter()
    .flatten()
    .map(|v| v.pos)
    .min()
    .unwrap_or_default();
    let o = brand_override(errs, Some(given), subject);
    if given.name.is_none() {
        errs.push(
            pos,
            subject,
            "brand.name",
            "is required: the name customers know you by, e.g. `Acme`",
        );
    }
    if given.from.is_none() {
        errs.push(
            pos,
            subject,
            "brand.from",
            "is required: the sender, e.g. `Estado de Acme <estado@acme.example>`",
        );
    }
    Some(Brand {
        name: o.name?,
        from: o.from?,
        reply_to: o.reply_to,
        logo_url: o.logo_url,
        colour: o.colour.unwrap_or_else(|| DEFAULT_COLOUR.to_string()),
        footer: o.footer,
    })
}

pub(super) fn email(errs: &mut Errs, raw: Option<&RawEmail>, subject: &str) -> EmailSettings {
    let Some(raw) = raw else {
        return EmailSettings::default();
    };
    let template = |errs: &mut Errs, v: &At<String>, field: &str| {
        EnvTemplate::parse(&v.value)
            .map_err(|e| errs.push(v.pos, subject, field, e))
            .ok()
    };
    let smtp = raw.smtp.as_ref().and_then(|v| {
        let t = template(errs, v, "email.smtp")?;
        // The address itself (references stand in for credentials) must be an SMTP URL.
        match url::Url::parse(&t.with_stand_in("x")) {
            Ok(u) if matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some_and(|h| !h.is_empty()) => Some(t),
            Ok(u) => {
                errs.push(v.pos, subject, "email.smtp", format!("{:?} is not an SMTP server address: write smtp://host:port (STARTTLS) or smtps://host:port (TLS)", u.scheme()));
                None
            }
            Err(e) => {
                errs.push(v.pos, subject, "email.smtp", format!("not an SMTP URL ({e}): write smtp://host:port"));
                None
            }
        }
    });
    let pages_url = raw
        .pages_url
        .as_ref()
        .and_then(|v| match url::Url::parse(v.value.trim()) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {
                Some(u.as_str().trim_end_matches('/').to_string()) // as the URL library writes it: nothing breaks out of an HTML attribute
            }
            _ => {
                errs.push(
                    v.pos,
                    subject,
                    "email.pages_url",
                    format!("{:?} is not an http(s) address", v.value),
                );
                None
            }
        });
    let key = raw.key.as_ref().and_then(|v| {
        let t = template(errs, v, "email.key")?;
        if !t.has_references() {
            errs.push(v.pos, subject, "email.key", "must be a reference such as ${ssm:/atalaya/mail/email-key} or ${env:ATALAYA_EMAIL_KEY}: the key itself never goes in the checks file");
            return None;
        }
        Some(t)
    });
    EmailSettings {
        smtp,
        smtp_ca: raw
            .smtp_ca
            .as_ref()
            .and_then(|v| line(errs, v, subject, "email.smtp_ca")),
        folder: raw
            .folder
            .as_ref()
            .and_then(|v| line(errs, v, subject, "email.folder")),
        pages_url,
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_on_the_default_colour_is_readable_and_on_yellow_it_is_not() {
        assert!(contrast_with_white(DEFAULT_COLOUR).unwrap_or(0.0) >= 4.5);
        assert!(contrast_with_white("#ffcc00").unwrap_or(9.0) < 4.5);
    }
}
