//! Customer email as a channel: each customer message becomes, for every confirmed subscriber
//! of its service, one mail in the subscriber's language (the format and the transport are
//! `atalaya_notify::email`'s). Each mail is claimed per message and subscriber before it is sent
//! (`Subscribers::claim_mail`), so a message delivered again sends nothing twice; an address
//! that refuses mail for good, or that no mailer can write, marks its subscriber bounced
//! (`Subscriber::change`). A new subscriber gets the confirmation mail alone until they confirm
//! (double opt-in).

use atalaya_core::email::{Brand, Change, Key, Subscriber};
use atalaya_core::evaluate::{Audience, EventKind};
use atalaya_core::{Config, Message};
use atalaya_notify::email::Transport;
use atalaya_notify::email::{compose, confirmation, links, Breaker, Content, Mail, Templates};
use atalaya_notify::{Channel, ChannelError};
use atalaya_store::{mail_key, StoreError, Subscribers};
use chrono::Utc;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    relay: Breaker,
}

/// How one subscriber's mail went.
enum Mailed {
    /// Sent, or nothing to send (already sent; an address that can never take mail, marked).
    Done,
    Retry(String),
    GaveUp(String),
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
            relay: Breaker::default(),
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Sends the confirmation mail of a new subscriber.
    pub async fn send_confirmation(&self, s: &Subscriber) -> Result<Mail, String> {
        let mail = confirmation(&self.templates, &self.config, &self.key, &self.pages_url, s)?;
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
        let (Some(customer), Some(service)) = (
            m.attributes.customer.as_deref(),
            m.attributes.service.as_deref(),
        ) else {
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
            .check(Instant::now())
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
        if let Err(why) = self.relay.check(Instant::now()) {
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
            let why = format!("{why}: re-add the subscriber with a corrected address");
            let recorded = self.bounce(s, why).await;
            return done(recorded.and(self.store.mail_sent(&key).await));
        }
        let mail = match self.mail_for(m, s, brand, customer) {
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
        match self.transport.send(&mail).await {
            Ok(()) => {
                self.relay.ok();
                done(self.store.mail_sent(&key).await)
            }
            Err(e) if e.relay => {
                tracing::error!(subscriber = %s.id, error = %e.detail, "the mail relay failed; mail waits and is tried again");
                self.relay.failed(Instant::now(), &e.detail);
                let _ = self.store.release_mail(&key).await;
                Mailed::Retry(e.detail)
            }
            Err(e) if e.bounced => {
                // Refused for good: no more mail to that address until someone re-adds it.
                tracing::warn!(subscriber = %s.id, customer = %customer, error = %e.detail, "the address refused the mail for good; the subscriber is marked bounced");
                let marked = self.bounce(s, e.detail).await;
                done(self.store.mail_sent(&key).await.and(marked))
            }
            Err(e) => {
                tracing::error!(subscriber = %s.id, error = %e.detail, "mail not sent; it is tried again");
                let _ = self.store.release_mail(&key).await;
                Mailed::Retry(e.detail)
            }
        }
    }

    /// `m` as a mail to `s`, in the subscriber's language where the message has it.
    fn mail_for(
        &self,
        m: &Message,
        s: &Subscriber,
        brand: &Brand,
        customer: &str,
    ) -> Result<Mail, String> {
        let language = s.language_with(self.config.customer(customer));
        let (subject, body) = m.in_language(language);
        // Joined after the last word their customer had of the incident: this mail is their
        // first of it, and says when it began (once: the next finds them told).
        let late = m.incident_times.filter(|t| {
            matches!(
                m.attributes.event,
                EventKind::Update | EventKind::HumanUpdate | EventKind::Resolved
            ) && s.confirmed_at.is_some_and(|c| c > t.told_before)
        });
        let joined;
        let body = match late {
            Some(t) => {
                let tz = self
                    .config
                    .customer(customer)
                    .map_or(chrono_tz::Tz::UTC, |c| c.timezone);
                joined = atalaya_core::message::for_late_joiner(body, t.started_at, language, tz);
                joined.as_str()
            }
            None => body,
        };
        compose(
            &self.templates,
            brand,
            &Content {
                id: &m.id,
                at: m.at,
                subject,
                body,
                language: if m.translations.contains_key(&language) {
                    language
                } else {
                    m.attributes.language
                },
                incident: m.attributes.incident.as_deref(),
                customer,
            },
            &s.email,
            &s.id,
            &atalaya_notify::email::Links {
                status_page: atalaya_notify::email::status_page_for(&self.config, customer),
                ..links(s, &self.key, &self.pages_url, brand)
            },
        )
    }

    /// Marks `s` bounced with `why`: no more mail to the address until someone re-adds it.
    async fn bounce(&self, s: &Subscriber, why: String) -> Result<(), StoreError> {
        let mut bounced = s.clone();
        if bounced.change(Change::Bounce(why), Utc::now()) {
            self.store.put_subscriber(&bounced).await?;
        }
        Ok(())
    }
}

fn done(recorded: Result<(), StoreError>) -> Mailed {
    match recorded {
        Ok(()) => Mailed::Done,
        Err(e) => Mailed::Retry(e.to_string()),
    }
}

impl<S: Subscribers + Send + Sync> Channel for EmailChannel<S> {
    fn name(&self) -> &str {
        "email"
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(self.deliver(message))
    }
}
