//! The mail's two parts from templates: `mail.html` (inline CSS, readable without images, one
//! column that fits a phone, dark-mode colours) and `mail.txt` around the message's words, with
//! the subscriber's links and the brand. A customer's template folder (`customers[].templates`)
//! may hold its own `mail.html` and `mail.txt`; the words around the message come in each
//! language.

use super::compose::{Content, Links};
use super::words::words;
use atalaya_core::email::Brand;
use atalaya_core::Config;
use minijinja::{context, AutoEscape, Environment};
use std::path::Path;

pub struct Templates {
    env: Environment<'static>,
}

const HTML: &str = include_str!("templates/mail.html");
const TEXT: &str = include_str!("templates/mail.txt");

impl Templates {
    /// The built-in templates and each customer's own (`<folder>/mail.html`, `mail.txt`,
    /// relative to `base`, the checks file's folder).
    pub fn new(config: &Config, base: &Path) -> Result<Templates, String> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.add_template("mail.html", HTML)
            .map_err(|e| format!("mail.html: {e}"))?;
        env.add_template("mail.txt", TEXT)
            .map_err(|e| format!("mail.txt: {e}"))?;
        for c in &config.customers {
            let Some(folder) = &c.templates else { continue };
            for part in ["mail.html", "mail.txt"] {
                let path = base.join(folder).join(part);
                match std::fs::read_to_string(&path) {
                    Ok(text) => env
                        .add_template_owned(format!("{}/{part}", c.id), text)
                        .map_err(|e| format!("{}: {e}", path.display()))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("{}: {e}", path.display())),
                }
            }
        }
        Ok(Templates { env })
    }

    /// The plain text and HTML of one mail.
    pub(super) fn render(
        &self,
        brand: &Brand,
        content: &Content<'_>,
        links: &Links,
    ) -> Result<(String, String), String> {
        let w = words(content.language);
        // A confirmation mail is sent before anyone subscribed: it says why it came instead.
        let why = if links.confirm.is_some() {
            w.why_confirm
        } else {
            w.why
        };
        let why = super::words::fill(why, &[("{brand}", &brand.name)]);
        let paragraphs: Vec<Vec<String>> = content
            .body
            .trim()
            .split("\n\n")
            .map(|p| p.lines().map(str::to_string).collect())
            .collect();
        let ctx = context! {
            language => content.language.code(),
            subject => content.subject,
            body => content.body.trim_end(),
            paragraphs => paragraphs,
            preheader => preheader(content.body),
            brand => &brand.name,
            colour => &brand.colour,
            logo_url => &brand.logo_url,
            footer => &brand.footer,
            manage => &links.manage,
            unsubscribe => &links.unsubscribe,
            confirm => &links.confirm,
            status_page => &links.status_page,
            words => context! {
                status_page => w.status_page,
                why => why,
                manage => w.manage,
                unsubscribe => w.unsubscribe,
                confirm => w.confirm,
            },
        };
        let pick = |part: &str| {
            let own = format!("{}/{part}", content.customer);
            if self.env.get_template(&own).is_ok() {
                own
            } else {
                part.to_string()
            }
        };
        let render = |name: String| {
            self.env
                .get_template(&name)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| format!("template {name}: {e}"))
        };
        Ok((render(pick("mail.txt"))?, render(pick("mail.html"))?))
    }
}

/// What a mail program shows after the subject: the message's first sentence, not its greeting
/// (a first paragraph of one line ending in `,` or `:`), at most 140 characters.
pub(super) fn preheader(body: &str) -> String {
    let mut paragraphs = body.split("\n\n").map(str::trim).filter(|p| !p.is_empty());
    let first = paragraphs.next().unwrap_or_default();
    let greeting = !first.contains('\n') && first.ends_with([',', ':']);
    let text = if greeting {
        paragraphs.next().unwrap_or_default()
    } else {
        first
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let sentence = match text.find(". ") {
        Some(i) => &text[..=i],
        None => text.as_str(),
    };
    crate::vendor::cut(sentence, 140)
}

#[cfg(test)]
mod preheader_tests {
    use super::preheader;

    #[test]
    fn the_preheader_is_the_first_sentence_not_the_greeting() {
        let body = "Hola, Acme Iberia:\n\nDesde las 10:02 (hora de Madrid), Tienda online no funciona con normalidad. Nuestro equipo está al tanto.\n\nEl equipo de Acme";
        assert_eq!(
            preheader(body),
            "Desde las 10:02 (hora de Madrid), Tienda online no funciona con normalidad."
        );
        assert_eq!(preheader("Shop is back.\n\nThe Acme team"), "Shop is back.");
        assert!(preheader(&"word ".repeat(100)).chars().count() <= 140);
    }
}
