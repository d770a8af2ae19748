//! Customer email in the team's own name, as a format and a transport: a branded multipart
//! mail in the subscriber's language, threaded per incident, with one-click unsubscribe
//! (`compose`), the signed links each mail carries (`links`), the confirmation mail of double
//! opt-in (`confirmation`), sent through SMTP or SES or written as `.eml` files (`transport`),
//! with the relay's back-off (`relay`). Who gets which mail, the claims that keep a mail from
//! going twice and the bounce policy are the application layer's (`atalaya_app::customer_mail`).

mod compose;
pub mod relay;
mod templates;
mod transport;
mod words;

pub use compose::{compose, thread_id, Content, Links, Mail};
pub use templates::Templates;
pub use transport::{SendError, Transport};
pub use words::{words, Words};

pub use relay::Breaker;

use atalaya_core::email::{Brand, Key, LinkAction, Subscriber, SubscriberState, Token};
use atalaya_core::{Config, Language};
use chrono::Utc;

/// The customer's status page, when the status site has an address (`settings.status_page.url`).
pub fn status_page_for(config: &Config, customer: &str) -> Option<String> {
    let url = config.settings.status_site.url.as_ref()?;
    let c = config.customer(customer)?;
    Some(format!("{url}/{}/", c.slug))
}

/// A subscriber's links, signed with `key`, on pages at `pages_url`.
pub fn links(s: &Subscriber, key: &Key, pages_url: &str, brand: &Brand) -> Links {
    let token = |action| {
        Token {
            action,
            subscriber: s.id.clone(),
            version: s.token_version,
        }
        .sign(key)
    };
    let unsubscribe = token(LinkAction::Unsubscribe);
    Links {
        unsubscribe: format!("{pages_url}/unsubscribe?t={unsubscribe}"),
        manage: format!("{pages_url}/manage?t={}", token(LinkAction::Manage)),
        unsubscribe_mailto: format!(
            "mailto:{}?subject=unsubscribe%20{unsubscribe}",
            brand.from.address
        ),
        confirm: (s.state == SubscriberState::Pending)
            .then(|| format!("{pages_url}/confirm?t={}", token(LinkAction::Confirm))),
        status_page: None,
    }
}

/// The confirmation mail of a new subscriber (the only mail a pending subscriber gets), with
/// links signed with `key` to pages at `pages_url`.
pub fn confirmation(
    templates: &Templates,
    config: &Config,
    key: &Key,
    pages_url: &str,
    s: &Subscriber,
) -> Result<Mail, String> {
    let brand = config
        .brand_for(&s.customer)
        .ok_or("no settings.brand in the checks file: there is no sender for customer email")?;
    let customer = config.customer(&s.customer);
    let language = s.language_with(customer);
    let services: Vec<&str> = config
        .services
        .iter()
        .filter(|v| v.customer == s.customer && s.services.includes(&v.id))
        .map(|v| v.names.get(language))
        .collect();
    let (subject, body) = confirmation_words(language, &brand.name, &services);
    compose(
        templates,
        &brand,
        &Content {
            id: &format!("confirm-{}-{}", s.id, s.token_version),
            at: Utc::now(),
            subject: &subject,
            body: &body,
            language,
            incident: None,
            customer: &s.customer,
        },
        &s.email,
        &s.id,
        &Links {
            status_page: status_page_for(config, &s.customer),
            ..links(s, key, pages_url, &brand)
        },
    )
}

/// The confirmation mail's subject and body.
pub fn confirmation_words(language: Language, brand: &str, services: &[&str]) -> (String, String) {
    let w = words(language);
    let list = services.join(", ");
    let fill = |text: &str| words::fill(text, &[("{brand}", brand), ("{list}", &list)]);
    (fill(w.confirm_subject), fill(w.confirm_body))
}
