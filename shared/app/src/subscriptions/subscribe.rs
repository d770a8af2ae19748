//! The status pages' subscribe form (double opt-in): `POST …/subscribe` with `email`, `page`
//! (a customer's page slug, or `public`) and `lang`. It records a pending subscriber (one per
//! customer whose services the page shows, to those services) and hands back who needs a
//! confirmation mail; nobody hears anything else until they follow its link. The answer is the
//! same whatever the address was, so the form tells no one who subscribes. Abuse is bounded:
//! an address is sent one confirmation an hour at most, a bounced or complaining address never
//! again, a filled-in trap field (people leave it empty; form-filling robots do not) adds no
//! one, and each process records and confirms at most [`PER_MINUTE`] requests a minute.

use super::{look, render, words, Out, Page};
use atalaya_core::email::{check_address, Change, Subscriber, SubscriberState, Subscription};
use atalaya_core::{Config, Language};
use atalaya_store::Subscribers;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Mutex;

/// The path's last part.
pub const ACTION: &str = "subscribe";
/// Confirmations one process sends in a minute, at most.
pub const PER_MINUTE: u32 = 20;
/// How soon the same address may be sent another confirmation.
const AGAIN_AFTER: TimeDelta = TimeDelta::hours(1);

/// What the form asked.
pub struct Asked {
    pub email: String,
    pub page: String,
    pub language: Option<Language>,
    /// The trap field was filled in.
    pub robot: bool,
}

impl Asked {
    pub fn from_form(form: &[(String, String)]) -> Asked {
        let get = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        Asked {
            email: get("email"),
            page: get("page"),
            language: Language::from_code(&get("lang")),
            robot: !get("website").is_empty(),
        }
    }
}

/// Confirmations sent this minute, per process.
#[derive(Default)]
pub struct Limiter(Mutex<(i64, u32)>);

impl Limiter {
    fn take(&self, now: DateTime<Utc>) -> bool {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now.timestamp().div_euclid(60);
        if g.0 != minute {
            *g = (minute, 0);
        }
        g.1 += 1;
        g.1 <= PER_MINUTE
    }
}

/// The page to answer with, and the subscribers to send a confirmation mail to.
pub struct Outcome {
    pub page: Page,
    pub confirm: Vec<Subscriber>,
}

/// Who a page's form subscribes: (customer, the services that page shows of theirs).
fn audience(config: &Config, page: &str) -> Vec<(String, Subscription)> {
    if let Some(c) = config.customers.iter().find(|c| c.slug == page) {
        return vec![(c.id.clone(), Subscription::All)];
    }
    if page != "public" {
        return Vec::new();
    }
    let mut out: Vec<(String, Subscription)> = Vec::new();
    for s in config.services.iter().filter(|s| s.public) {
        match out.iter_mut().find(|(c, _)| *c == s.customer) {
            Some((_, Subscription::Services(set))) => {
                set.insert(s.id.clone());
            }
            Some(_) => {}
            None => out.push((
                s.customer.clone(),
                Subscription::Services([s.id.clone()].into()),
            )),
        }
    }
    out
}

/// Records what the form asked and says what happens next.
pub async fn subscribe<S: Subscribers>(
    store: &S,
    config: &Config,
    asked: &Asked,
    limiter: &Limiter,
    now: DateTime<Utc>,
) -> Outcome {
    let whom = audience(config, &asked.page);
    let customer = whom.first().and_then(|(c, _)| config.customer(c));
    let language = asked
        .language
        .or(customer.map(|c| c.language))
        .unwrap_or(Language::En);
    let w = words(language);
    let (brand, colour) = look(config, customer.map(|c| c.id.as_str()));
    let page = |status: u16, text: &str| {
        render(Out {
            status,
            language,
            brand: &brand,
            colour: &colour,
            text: text
                .replace("{email}", &asked.email)
                .replace("{brand}", &brand),
            form: None,
        })
    };
    if check_address(&asked.email).is_err() {
        return Outcome {
            page: page(400, w.not_an_address),
            confirm: Vec::new(),
        };
    }
    let mut confirm = Vec::new();
    if !asked.robot {
        for (customer, services) in whom {
            // The budget is taken before anything is written: a flood of addresses writes at
            // most [`PER_MINUTE`] subscribers a minute into the store the monitor judges from.
            if !limiter.take(now) {
                return Outcome {
                    page: page(429, w.busy),
                    confirm,
                };
            }
            match pending(store, &customer, asked, services, now).await {
                Ok(Some(s)) => confirm.push(s),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "recording a subscriber from the subscribe form");
                    return Outcome {
                        page: page(503, w.trouble),
                        confirm,
                    };
                }
            }
        }
    }
    Outcome {
        page: page(200, w.check_inbox),
        confirm,
    }
}

/// The subscriber pending confirmation, when a confirmation should go: new, or pending and not
/// sent one in the last hour, or unsubscribed and back. Confirmed, bounced or complaining
/// addresses get nothing.
async fn pending<S: Subscribers>(
    store: &S,
    customer: &str,
    asked: &Asked,
    services: Subscription,
    now: DateTime<Utc>,
) -> Result<Option<Subscriber>, atalaya_store::StoreError> {
    let id = Subscriber::id_for(customer, &asked.email);
    let s = match store.subscriber(&id).await? {
        None => Subscriber::new(customer, &asked.email, asked.language, services, false, now),
        Some(s) => match s.state {
            SubscriberState::Pending if now - s.updated_at >= AGAIN_AFTER => {
                let mut s = s;
                s.updated_at = now;
                s
            }
            SubscriberState::Unsubscribed => {
                let mut s = s;
                s.services = services;
                s.language = asked.language.or(s.language);
                s.change(Change::AddAgain { confirmed: false }, now);
                s
            }
            _ => return Ok(None),
        },
    };
    store.put_subscriber(&s).await?;
    Ok(Some(s))
}
