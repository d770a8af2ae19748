//! Customer email in the team's own name: the branding and settings from the checks file, the
//! subscribers (who hears about which services, in which language, and whether they confirmed),
//! and the signed links that confirm, unsubscribe and manage. Pure: composing the MIME message
//! and sending it are the email channel's (`atalaya_notify::email`).

mod subscriber;
mod token;

pub use subscriber::{Change, Subscriber, SubscriberState, Subscription};
pub use token::{Key, LinkAction, Token, TokenError};

use crate::template::EnvTemplate;

/// An address with an optional display name: `Estado de Acme <estado@acme.example>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

impl Mailbox {
    /// Reads `Name <addr>` or `addr`; says what is wrong otherwise.
    pub fn parse(text: &str) -> Result<Mailbox, String> {
        let text = text.trim();
        if text.chars().any(char::is_control) {
            return Err("must be one line without control characters".into());
        }
        let (name, address) = match (text.rfind('<'), text.ends_with('>')) {
            (Some(open), true) => {
                let name = text[..open].trim().trim_matches('"').trim();
                (
                    (!name.is_empty()).then(|| name.to_string()),
                    &text[open + 1..text.len() - 1],
                )
            }
            (None, false) => (None, text),
            _ => return Err(format!("{text:?} is not `Name <address>` or an address")),
        };
        check_address(address)?;
        Ok(Mailbox {
            name,
            address: address.to_string(),
        })
    }

    /// The domain of the address (Message-IDs are made in it).
    pub fn domain(&self) -> &str {
        self.address.rsplit('@').next().unwrap_or("localhost")
    }
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n} <{}>", self.address),
            None => f.write_str(&self.address),
        }
    }
}

/// An email address as subscribers and senders give it: one `@`, a local part and a domain
/// with a dot, nothing that could break a header, and nothing the mailer cannot write: the
/// local part and the domain pass the very checks lettre applies when it composes a mail
/// (`email_address`: no `a..b`, no leading dot, no label starting with `-`). One rule for
/// `subscribers add`/`import`, the subscriber pages and the mailer.
pub fn check_address(address: &str) -> Result<(), String> {
    let bad = |why: &str| {
        format!(
            "{:?} is not an email address{why}",
            crate::text::shorten(address, 80)
        )
    };
    let (local, domain) = address.rsplit_once('@').ok_or_else(|| bad(""))?;
    if local.is_empty()
        || local.len() > 64
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || address.len() > 254
        || address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
        || domain.contains('@')
    {
        return Err(bad(""));
    }
    if !email_address::EmailAddress::is_valid_local_part(local) {
        return Err(bad(
            ": the part before @ cannot be sent to (dots only between letters, no quotes)",
        ));
    }
    if !email_address::EmailAddress::is_valid_domain(domain) {
        return Err(bad(": the domain is not a host name mail can go to"));
    }
    Ok(())
}

/// How customer email looks and who it comes from (`settings.brand`, each field overridable per
/// customer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brand {
    /// The name customers know the team by.
    pub name: String,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// An HTTPS image shown at the top (the mail reads as well without it).
    pub logo_url: Option<String>,
    /// `#rrggbb`: the accent of the header and buttons.
    pub colour: String,
    /// A line under every mail: the company's name and address.
    pub footer: Option<String>,
}

/// The colour when a brand gives none: a green with WCAG AA contrast against white text.
pub const DEFAULT_COLOUR: &str = "#0a7d4f";

/// A customer's brand over the file's, field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrandOverride {
    pub name: Option<String>,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub logo_url: Option<String>,
    pub colour: Option<String>,
    pub footer: Option<String>,
}

impl Brand {
    /// This brand with a customer's own fields over it.
    pub fn with(&self, o: &BrandOverride) -> Brand {
        Brand {
            name: o.name.clone().unwrap_or_else(|| self.name.clone()),
            from: o.from.clone().unwrap_or_else(|| self.from.clone()),
            reply_to: o.reply_to.clone().or_else(|| self.reply_to.clone()),
            logo_url: o.logo_url.clone().or_else(|| self.logo_url.clone()),
            colour: o.colour.clone().unwrap_or_else(|| self.colour.clone()),
            footer: o.footer.clone().or_else(|| self.footer.clone()),
        }
    }
}

/// How mail goes out (`settings.email`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmailSettings {
    /// `smtp://[user:password@]host[:port][?tls=required]` (STARTTLS) or `smtps://…` (TLS from
    /// the first byte); credentials may be `${env:…}`/`${ssm:…}`/`${secret:…}` references. The
    /// local runner sends through it; without it, it writes `.eml` files to `folder`.
    pub smtp: Option<EnvTemplate>,
    /// The certificate authority of a private SMTP relay: a PEM file, relative to the checks
    /// file.
    pub smtp_ca: Option<String>,
    /// Where the local runner writes `.eml` files when there is no `smtp` (relative to the
    /// database's folder; default `mail`).
    pub folder: Option<String>,
    /// Where subscribers' confirm, unsubscribe and manage pages are served, e.g.
    /// `https://status.acme.example/email` (on AWS the subscriptions function's URL; locally
    /// `atalaya run --listen`'s address).
    pub pages_url: Option<String>,
    /// The key that signs subscribers' links: a reference (`${ssm:/atalaya/mail/email-key}`,
    /// `${secret:…}`, `${env:…}`), never the key itself. Locally a key file next to the
    /// database is made when there is none.
    pub key: Option<EnvTemplate>,
}
