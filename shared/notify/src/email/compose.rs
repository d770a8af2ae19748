//! One mail to one subscriber, composed (pure): multipart/alternative (plain text and HTML from
//! the templates), the sender and reply address of the brand, UTF-8 headers encoded as RFC 2047
//! wants them, a Message-ID of the brand's domain, the thread of the incident (In-Reply-To and
//! References, the same for every message of one incident to one subscriber), and RFC 8058
//! one-click unsubscribe (`List-Unsubscribe` with an HTTPS and a mailto address,
//! `List-Unsubscribe-Post`). No tracking: no pixel, no rewritten link.

use super::templates::Templates;
use atalaya_core::email::{Brand, Mailbox};
use atalaya_core::schedule::stable_hash;
use atalaya_core::Language;
use chrono::{DateTime, Utc};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox as LettreMailbox, MultiPart};

/// What a subscriber's links do, as addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Links {
    pub unsubscribe: String,
    pub manage: String,
    /// `mailto:` with the one-click token in its subject.
    pub unsubscribe_mailto: String,
    /// The confirmation page (confirmation mails only).
    pub confirm: Option<String>,
    /// The customer's status page, when the status site has an address.
    pub status_page: Option<String>,
}

/// A mail ready to send: its envelope and its bytes.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: String,
    pub message_id: String,
    pub bytes: Vec<u8>,
    /// The subscriber it goes to (SES tags the mail with it).
    pub subscriber: Option<String>,
}

/// What the mail says.
pub struct Content<'a> {
    pub id: &'a str,
    pub at: DateTime<Utc>,
    pub subject: &'a str,
    pub body: &'a str,
    pub language: Language,
    /// The incident it belongs to: the mails of one incident thread together.
    pub incident: Option<&'a str>,
    /// The customer whose templates apply.
    pub customer: &'a str,
}

macro_rules! raw_header {
    ($name:ident, $text:literal) => {
        #[derive(Clone)]
        struct $name(String);
        impl Header for $name {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($text)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($name(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

raw_header!(ListUnsubscribe, "List-Unsubscribe");
raw_header!(ListUnsubscribePost, "List-Unsubscribe-Post");
raw_header!(AutoSubmitted, "Auto-Submitted");
raw_header!(ListId, "List-Id");

fn mailbox(m: &Mailbox) -> Result<LettreMailbox, String> {
    let address = m
        .address
        .parse()
        .map_err(|e| format!("{}: {e}", m.address))?;
    Ok(LettreMailbox::new(m.name.clone(), address))
}

/// An opaque Message-ID part for an internal id (event, incident, customer): the reader sees no
/// id of ours, and the same id always gives the same part.
fn id_part(text: &str) -> String {
    format!("{:016x}", stable_hash(text.as_bytes()))
}

/// The thread of an incident for one subscriber: what every message of it refers to.
pub fn thread_id(incident: &str, subscriber: &str, brand: &Brand) -> String {
    format!(
        "<{}.{}@{}>",
        id_part(incident),
        subscriber,
        brand.from.domain()
    )
}

/// Composes the mail of `content` to `to` (a subscriber's address, `subscriber` its id).
pub fn compose(
    templates: &Templates,
    brand: &Brand,
    content: &Content<'_>,
    to: &str,
    subscriber: &str,
    links: &Links,
) -> Result<Mail, String> {
    let domain = brand.from.domain();
    let message_id = format!("<{}.{}@{domain}>", id_part(content.id), subscriber);
    let (text, html) = templates.render(brand, content, links)?;
    let recipient: LettreMailbox = to.parse().map_err(|e| format!("{to}: {e}"))?;
    let mut builder = lettre::Message::builder()
        .from(mailbox(&brand.from)?)
        .to(recipient)
        .subject(content.subject)
        .date(content.at.into())
        .message_id(Some(message_id.clone()))
        .header(ListUnsubscribe(format!(
            "<{}>, <{}>",
            links.unsubscribe, links.unsubscribe_mailto
        )))
        .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()))
        .header(AutoSubmitted("auto-generated".into()))
        .header(ListId(format!(
            "{} <{}.status.{domain}>",
            brand.name.replace(['<', '>', '"'], ""),
            id_part(content.customer)
        )));
    if let Some(reply_to) = &brand.reply_to {
        builder = builder.reply_to(mailbox(reply_to)?);
    }
    if let Some(incident) = content.incident {
        let thread = thread_id(incident, subscriber, brand);
        builder = builder.in_reply_to(thread.clone()).references(thread);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("composing the mail: {e}"))?;
    Ok(Mail {
        from: brand.from.address.clone(),
        to: to.to_string(),
        message_id,
        bytes: message.formatted(),
        subscriber: Some(subscriber.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{HeaderValue as Parsed, MessageParser};

    const FILE: &str = r##"
settings:
  regions: [eu-west-1]
  brand: { name: Acme, from: "Estado de Acme <estado@acme.example>", reply_to: soporte@acme.example, colour: "#0a5c3f", footer: "Acme S.L. · Calle Mayor 1, Madrid" }
customers:
  - { id: acme, name: ACME, language: es }
services:
  - { id: shop, customer: acme, name: Tienda online }
checks:
  - { id: shop-home, service: shop, http: { url: "https://shop.acme.example/" } }
"##;

    #[test]
    fn a_mail_has_both_parts_its_threading_and_one_click_unsubscribe() {
        let config = atalaya_core::load_str(FILE, "checks.yaml", atalaya_core::Target::Local)
            .unwrap_or_else(|e| panic!("{e}"));
        let templates =
            Templates::new(&config, std::path::Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
        let brand = config.brand_for("acme").unwrap_or_else(|| panic!("brand"));
        let links = Links {
            unsubscribe: "https://status.acme.example/email/unsubscribe?t=abc.def".into(),
            manage: "https://status.acme.example/email/manage?t=ghi.jkl".into(),
            unsubscribe_mailto: "mailto:estado@acme.example?subject=unsubscribe%20abc.def".into(),
            confirm: None,
            status_page: Some("https://status.acme.example/acme/".into()),
        };
        let content = |id: &'static str| {
            Content {
            id,
            at: "2026-11-30T10:00:00Z".parse().unwrap_or_default(),
            subject: "Tienda online: seguimos trabajando en el problema del año",
            body: "Hola:\n\nSeguimos trabajando <b>en ello</b>.\nPróxima actualización a las 10:30.\n\nEl equipo de Acme",
            language: Language::Es,
            incident: Some("inc-p07-3"),
            customer: "acme",
        }
        };
        let first = compose(
            &templates,
            &brand,
            &content("evt/1"),
            "ana@example.com",
            "sub-1",
            &links,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let second = compose(
            &templates,
            &brand,
            &content("evt/2"),
            "ana@example.com",
            "sub-1",
            &links,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let raw = String::from_utf8_lossy(&first.bytes).to_string();
        assert!(raw.is_ascii(), "headers and parts are encoded: {raw}");
        let m = MessageParser::default()
            .parse(&first.bytes)
            .unwrap_or_else(|| panic!("not a MIME message: {raw}"));
        assert_eq!(
            m.subject(),
            Some("Tienda online: seguimos trabajando en el problema del año")
        );
        let from = m
            .from()
            .and_then(|a| a.first())
            .unwrap_or_else(|| panic!("from"));
        assert_eq!(from.name(), Some("Estado de Acme"));
        assert_eq!(from.address(), Some("estado@acme.example"));
        assert_eq!(
            m.reply_to()
                .and_then(|a| a.first())
                .and_then(|a| a.address()),
            Some("soporte@acme.example")
        );
        assert!(m.date().is_some());
        let second_m = MessageParser::default()
            .parse(&second.bytes)
            .unwrap_or_else(|| panic!("second"));
        assert_ne!(
            m.message_id(),
            second_m.message_id(),
            "each message its own id"
        );
        let evt = format!("{}.sub-1@acme.example", id_part("evt/1"));
        assert_eq!(m.message_id(), Some(evt.as_str()));
        assert!(
            !raw.contains("inc-p07-3") && !raw.contains("evt/1"),
            "no id of ours: {raw}"
        );
        let thread = format!("{}.sub-1@acme.example", id_part("inc-p07-3"));
        // Both messages of the incident refer to the same thread.
        for x in [&m, &second_m] {
            assert_eq!(x.in_reply_to().as_text(), Some(thread.as_str()));
            assert_eq!(x.references().as_text(), Some(thread.as_str()));
        }
        let header = |name: &str| match m.header(name) {
            Some(Parsed::Text(t)) => t.to_string(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        // RFC 2369: a list of addresses in angle brackets, HTTPS first.
        let unsubscribe: Vec<&str> = match m.header("List-Unsubscribe") {
            Some(Parsed::Address(a)) => a.iter().filter_map(|a| a.address()).collect(),
            other => panic!("List-Unsubscribe: {other:?}"),
        };
        assert_eq!(
            unsubscribe,
            [
                "https://status.acme.example/email/unsubscribe?t=abc.def",
                "mailto:estado@acme.example?subject=unsubscribe%20abc.def"
            ]
        );
        assert_eq!(
            header("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        assert_eq!(header("Auto-Submitted"), "auto-generated");
        let text = m.body_text(0).unwrap_or_default();
        let html = m.body_html(0).unwrap_or_default();
        assert!(
            text.contains("Próxima actualización a las 10:30."),
            "{text}"
        );
        assert!(
            text.contains("Darse de baja: https://status.acme.example/email/unsubscribe?t=abc.def"),
            "{text}"
        );
        assert!(
            html.contains("Seguimos trabajando &lt;b&gt;en ello&lt;&#x2f;b&gt;.<br>Próxima"),
            "escaped: {html}"
        );
        assert!(html.contains("Acme S.L. · Calle Mayor 1, Madrid"));
        assert!(html.contains("background:#0a5c3f"));
        // The customer's status page, in both parts.
        assert!(
            text.contains("Página de estado: https://status.acme.example/acme/"),
            "{text}"
        );
        // No tracking: every link is one of the subscriber's own, or their status page.
        for href in html.split("href=\"").skip(1) {
            let href = href.split('"').next().unwrap_or_default();
            assert!(
                href.starts_with("https://status.acme.example/email/")
                    || href == "https://status.acme.example/acme/",
                "{href}"
            );
        }
        assert!(!html.contains("<img"), "no image without a logo");
    }

    #[test]
    fn a_customer_may_replace_the_mail_templates() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(dir.path().join("acme-templates")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("acme-templates/mail.txt"),
            "{{ body }}\n\nACME · {{ words.unsubscribe }}: {{ unsubscribe }}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let file = FILE.replace(
            "  - { id: acme, name: ACME, language: es }",
            "  - { id: acme, name: ACME, language: es, templates: acme-templates }",
        );
        let config = atalaya_core::load_str(&file, "checks.yaml", atalaya_core::Target::Local)
            .unwrap_or_else(|e| panic!("{e}"));
        let templates = Templates::new(&config, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let brand = config.brand_for("acme").unwrap_or_else(|| panic!("brand"));
        let links = Links {
            unsubscribe: "https://s.example/unsubscribe?t=a.b".into(),
            manage: "https://s.example/manage?t=c.d".into(),
            unsubscribe_mailto: "mailto:estado@acme.example?subject=unsubscribe%20a.b".into(),
            confirm: None,
            status_page: Some("https://status.acme.example/acme/".into()),
        };
        let content = Content {
            id: "evt/1",
            at: "2026-11-30T10:00:00Z".parse().unwrap_or_default(),
            subject: "Tienda online: nuevo problema",
            body: "Hola.",
            language: Language::Es,
            incident: None,
            customer: "acme",
        };
        let mail = compose(
            &templates,
            &brand,
            &content,
            "a@example.com",
            "sub-1",
            &links,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let m = MessageParser::default()
            .parse(&mail.bytes)
            .unwrap_or_else(|| panic!("mime"));
        let text = m.body_text(0).unwrap_or_default();
        assert!(
            text.contains("ACME · Darse de baja: https://s.example/unsubscribe?t=a.b"),
            "{text}"
        );
        // The HTML part is still the built-in one.
        assert!(m
            .body_html(0)
            .unwrap_or_default()
            .contains("Recibe este correo"));
    }
}
