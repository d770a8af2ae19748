//! Customer email in the team's own name: each customer message becomes, for every confirmed
//! subscriber of its service, a branded multipart mail in the subscriber's language, threaded
//! per incident, with one-click unsubscribe (`compose`), sent through SMTP or written as `.eml`
//! files (`transport`). Each mail is claimed per message and subscriber before it is sent
//! (`atalaya_store::Subscribers::claim_mail`), so a message delivered again sends nothing twice.
//! A new subscriber gets the confirmation mail alone until they confirm (double opt-in).

mod compose;
mod relay;
mod templates;
mod transport;

pub use compose::{compose, thread_id, Content, Links, Mail};
pub use templates::{words, Templates};
pub use transport::{SendError, Transport};

use crate::{Channel, ChannelError};
use atalaya_core::email::{Action, Brand, Key, Subscriber, SubscriberState, Token};
use atalaya_core::evaluate::Audience;
use atalaya_core::{Config, Message};
use atalaya_store::{mail_key, Subscribers};
use chrono::Utc;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// How long a sender holds a mail it claimed.
const MAIL_LEASE: Duration = Duration::from_secs(120);

/// Mails of one message sent at once.
const IN_FLIGHT: usize = 4;

pub struct EmailChannel<S> {
    store: Arc<S>,
    config: Arc<Config>,
    templates: Templates,
    key: Key,
    /// Where the subscribers' pages are (no trailing `/`).
    pages_url: String,
    transport: Transport,
    relay: relay::Breaker,
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
    let unsubscribe = token(Action::Unsubscribe);
    Links {
        unsubscribe: format!("{pages_url}/unsubscribe?t={unsubscribe}"),
        manage: format!("{pages_url}/manage?t={}", token(Action::Manage)),
        unsubscribe_mailto: format!(
            "mailto:{}?subject=unsubscribe%20{unsubscribe}",
            brand.from.address
        ),
        confirm: (s.state == SubscriberState::Pending)
            .then(|| format!("{pages_url}/confirm?t={}", token(Action::Confirm))),
    }
}

impl<S: Subscribers + Send + Sync> EmailChannel<S> {
    pub fn new(
        store: Arc<S>,
        config: Arc<Config>,
        templates: Templates,
        key: Key,
        pages_url: &str,
        transport: Transport,
    ) -> Self {
        EmailChannel {
            store,
            config,
            templates,
            key,
            pages_url: pages_url.trim_end_matches('/').to_string(),
            transport,
            relay: Default::default(),
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The confirmation mail of a new subscriber (the only mail a pending subscriber gets).
    pub async fn send_confirmation(&self, s: &Subscriber) -> Result<Mail, String> {
        let brand = self
            .config
            .brand_for(&s.customer)
            .ok_or("no settings.brand in the checks file: there is no sender for customer email")?;
        let customer = self.config.customer(&s.customer);
        let language = s.language_with(customer);
        let services: Vec<&str> = self
            .config
            .services
            .iter()
            .filter(|v| v.customer == s.customer && s.services.includes(&v.id))
            .map(|v| v.name.as_str())
            .collect();
        let (subject, body) = confirmation_words(language.code(), &brand.name, &services);
        let mail = compose(
            &self.templates,
            &brand,
            &Content {
                id: &format!("confirm-{}-{}", s.id, s.token_version),
                at: Utc::now(),
                subject: &subject,
                body: &body,
                language: language.code(),
                incident: None,
                customer: &s.customer,
            },
            &s.email,
            &s.id,
            &links(s, &self.key, &self.pages_url, &brand),
        )?;
        self.transport.send(&mail).await.map_err(|e| e.detail)?;
        Ok(mail)
    }

    async fn deliver(&self, m: &Message) -> Result<(), ChannelError> {
        let fail = |retryable: bool, detail: String| ChannelError {
            channel: "email".into(),
            id: m.id.clone(),
            retryable,
            detail,
        };
        if m.topic != Audience::Customers {
            return Ok(()); // operators hear through their own channels
        }
        let (Some(customer), Some(service)) =
            (m.attributes.get("customer"), m.attributes.get("service"))
        else {
            return Ok(());
        };
        let Some(brand) = self.config.brand_for(customer) else {
            return Ok(()); // no customer email without a sender
        };
        let subscribers = self
            .store
            .subscribers(Some(customer))
            .await
            .map_err(|e| fail(true, e.to_string()))?;
        // While the relay is failing, mail waits without trying it (the message stays
        // pending for this channel alone).
        self.relay
            .check(std::time::Instant::now())
            .map_err(|why| fail(true, why))?;
        use futures::StreamExt;
        let mut mails = Vec::new();
        for s in &subscribers {
            if s.receives(service) {
                mails.push(self.send_one(m, s, &brand, customer));
            }
        }
        let outcomes: Vec<Mailed> = futures::stream::iter(mails)
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let (mut retry, mut gave_up) = (None, None);
        for outcome in outcomes {
            match outcome {
                Mailed::Done => {}
                Mailed::Retry(detail) => {
                    retry.get_or_insert(detail);
                }
                Mailed::GaveUp(detail) => {
                    gave_up.get_or_insert(detail);
                }
            }
        }
        // What can be sent later is tried again (the mails given up are recorded and not
        // sent again); a message that can never be composed is given up on this channel.
        match (retry, gave_up) {
            (Some(detail), _) => Err(fail(true, detail)),
            (None, Some(detail)) => Err(fail(false, detail)),
            (None, None) => Ok(()),
        }
    }

    /// One message's mail to one subscriber, claimed first (a mail sent once is never sent
    /// again by another sender or a retry).
    async fn send_one(&self, m: &Message, s: &Subscriber, brand: &Brand, customer: &str) -> Mailed {
        if let Err(why) = self.relay.check(std::time::Instant::now()) {
            return Mailed::Retry(why);
        }
        let key = mail_key(&m.id, &s.id);
        match self.store.claim_mail(&key, Utc::now(), MAIL_LEASE).await {
            Ok(true) => {}
            Ok(false) => return Mailed::Done, // sent already, or another sender has it
            Err(e) => return Mailed::Retry(e.to_string()),
        }
        // An address the mailer cannot write (one kept from before addresses were checked as
        // strictly) will never take mail: that subscriber gets none until someone re-adds it.
        if let Err(why) = atalaya_core::email::check_address(&s.email) {
            tracing::warn!(subscriber = %s.id, customer = %customer, error = %why, "the address cannot be mailed; the subscriber is marked bounced");
            let recorded = self
                .bounce(
                    s,
                    &format!("{why}: re-add the subscriber with a corrected address"),
                )
                .await;
            return match recorded.and(self.store.mail_sent(&key).await) {
                Ok(()) => Mailed::Done,
                Err(e) => Mailed::Retry(e.to_string()),
            };
        }
        let language = s.language_with(self.config.customer(customer));
        let (subject, body) = m.in_language(language.code());
        let mail = compose(
            &self.templates,
            brand,
            &Content {
                id: &m.id,
                at: m.at,
                subject,
                body,
                language: if m.translations.contains_key(language.code()) {
                    language.code()
                } else {
                    m.attributes.get("language").map_or("en", String::as_str)
                },
                incident: m.attributes.get("incident").map(String::as_str),
                customer,
            },
            &s.email,
            &s.id,
            &links(s, &self.key, &self.pages_url, brand),
        );
        let mail = match mail {
            Ok(mail) => mail,
            // Composing again gives the same answer: given up, recorded, never retried.
            Err(detail) => {
                tracing::error!(id = %m.id, subscriber = %s.id, error = %detail, "the mail cannot be composed; given up");
                return match self.store.mail_sent(&key).await {
                    Ok(()) => Mailed::GaveUp(format!("the mail cannot be composed: {detail}")),
                    Err(e) => Mailed::Retry(e.to_string()),
                };
            }
        };
        let recorded = match self.transport.send(&mail).await {
            Ok(()) => {
                self.relay.ok();
                self.store.mail_sent(&key).await
            }
            Err(e) if e.relay => {
                tracing::error!(subscriber = %s.id, error = %e.detail, "the mail relay failed; mail waits and is tried again");
                self.relay.failed(std::time::Instant::now(), &e.detail);
                let _ = self.store.release_mail(&key).await;
                return Mailed::Retry(e.detail);
            }
            Err(e) if e.bounced => {
                // Refused for good: no more mail to that address until someone re-adds it.
                tracing::warn!(subscriber = %s.id, customer = %customer, error = %e.detail, "the address refused the mail for good; the subscriber is marked bounced");
                let marked = self.bounce(s, &e.detail).await;
                self.store.mail_sent(&key).await.and(marked)
            }
            Err(e) => {
                tracing::error!(subscriber = %s.id, error = %e.detail, "mail not sent; it is tried again");
                let _ = self.store.release_mail(&key).await;
                return Mailed::Retry(e.detail);
            }
        };
        match recorded {
            Ok(()) => Mailed::Done,
            Err(e) => Mailed::Retry(e.to_string()),
        }
    }

    /// Marks `s` bounced with `note`: no more mail to the address until someone re-adds it.
    async fn bounce(&self, s: &Subscriber, note: &str) -> Result<(), atalaya_store::StoreError> {
        let mut bounced = s.clone();
        bounced.state = SubscriberState::Bounced;
        bounced.note = Some(note.to_string());
        bounced.updated_at = Utc::now();
        self.store.put_subscriber(&bounced).await
    }
}

/// How one subscriber's mail went.
enum Mailed {
    /// Sent, or nothing to send (already sent; an address that can never take mail, marked).
    Done,
    Retry(String),
    GaveUp(String),
}

impl<S: Subscribers + Send + Sync> Channel for EmailChannel<S> {
    fn name(&self) -> &str {
        "email"
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(self.deliver(message))
    }
}

/// The confirmation mail's subject and body.
pub fn confirmation_words(language: &str, brand: &str, services: &[&str]) -> (String, String) {
    let list = services.join(", ");
    match language {
        "es" => (
            format!("Confirme su suscripción a los avisos de {brand}"),
            format!(
                "Hola:\n\nAlguien (esperamos que usted) pidió recibir en esta dirección los avisos de estado de {brand} sobre: {list}.\n\nPara empezar a recibirlos, confirme la suscripción con el enlace de abajo. Si no fue usted, ignore este correo: no le enviaremos nada más."
            ),
        ),
        _ => (
            format!("Confirm your subscription to {brand} status updates"),
            format!(
                "Hello,\n\nSomeone (we hope you) asked to receive {brand}'s status updates at this address about: {list}.\n\nTo start receiving them, confirm the subscription with the link below. If it was not you, ignore this mail: nothing more will be sent."
            ),
        ),
    }
}
