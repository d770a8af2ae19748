//! The subscribers' pages: confirm, unsubscribe, and choose which services to hear about. A GET
//! shows a page in the subscriber's language with a button and changes nothing (a mail
//! gateway's link scanner fetches every link); only a POST acts — the page's button, or a mail
//! program's one-click unsubscribe (RFC 8058: a POST to the `List-Unsubscribe` address). Links
//! are HMAC-signed (`atalaya_core::email::Token`): a forged or altered one is refused, one
//! revoked (an older token version) is refused, and doing the same twice is harmless. Served by
//! `atalaya run --listen` locally and by the subscriptions function on AWS.

use atalaya_core::email::{
    Change, Key, LinkAction, Subscriber, SubscriberState, Subscription, Token,
};
use atalaya_core::{Config, Language};
use atalaya_store::Subscribers;
use chrono::Utc;
use minijinja::{context, Environment};

/// The headers every page goes out with: HTML, never cached (a page reflects a subscriber's
/// state), no referrer (the link carries a token), no script, no framing.
pub const HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    ),
];

/// The largest form a page takes, in bytes.
pub const MAX_FORM: usize = 16 * 1024;

/// The page a path names (`…/confirm`, `…/unsubscribe`, `…/manage`), if any.
pub fn action_of(path: &str) -> Option<&str> {
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    ["confirm", "unsubscribe", "manage"]
        .contains(&last)
        .then_some(last)
}

/// The token of a request: from the query (links, one-click POSTs) or the form.
pub fn token_of(query: &[(String, String)], form: &[(String, String)]) -> String {
    query
        .iter()
        .chain(form.iter())
        .find(|(k, _)| k == "t")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A page to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub html: String,
}

/// A request to the pages: the path's last part (`confirm`, `unsubscribe`, `manage`), the
/// token, and for a POST its form (a manage form's `service` values; `all`).
pub struct Request<'a> {
    pub post: bool,
    pub action: &'a str,
    pub token: &'a str,
    pub form: &'a [(String, String)],
}

const PAGE: &str = include_str!("subscriptions/page.html");

mod words;
use words::words;

pub mod subscribe;

struct Out<'a> {
    status: u16,
    language: Language,
    brand: &'a str,
    colour: &'a str,
    text: String,
    form: Option<Form>,
}

/// The form a page shows: its button's words; for manage, the customer's services (id, name,
/// chosen) and the "all of them" box (its words, ticked).
type Form = (
    &'static str,
    Vec<(String, String, bool)>,
    Option<(&'static str, bool)>,
);

fn render(o: Out<'_>) -> Page {
    let w = words(o.language);
    let mut env = Environment::new();
    // The page is HTML: every value is escaped.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let html = env
        .template_from_str(PAGE)
        .and_then(|t| {
            t.render(context! {
                language => o.language.code(),
                title => w.title,
                brand => o.brand,
                colour => o.colour,
                text => o.text,
                button => o.form.as_ref().map(|f| f.0),
                services => o.form.as_ref().map(|f| f.1.clone()).unwrap_or_default(),
                all => o.form.as_ref().and_then(|f| f.2),
            })
        })
        .unwrap_or_else(|e| format!("<!DOCTYPE html><title>error</title><p>{e}</p>"));
    Page {
        status: o.status,
        html,
    }
}

/// Answers one request to the pages.
pub async fn handle<S: Subscribers>(
    store: &S,
    config: &Config,
    key: &Key,
    r: &Request<'_>,
) -> Page {
    let (token, subscriber) = match verified(store, config, key, r).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let customer = config.customer(&subscriber.customer);
    let language = subscriber.language_with(customer);
    let w = words(language);
    let (brand_name, colour) = look(config, Some(&subscriber.customer));
    let fill = |t: &str| {
        t.replace("{email}", &subscriber.email)
            .replace("{brand}", &brand_name)
    };
    let page = |status: u16, text: String, form| {
        render(Out {
            status,
            language,
            brand: &brand_name,
            colour: &colour,
            text,
            form,
        })
    };
    if token.version != subscriber.token_version {
        return page(403, w.revoked.to_string(), None);
    }
    let gone = matches!(
        subscriber.state,
        SubscriberState::Unsubscribed | SubscriberState::Bounced | SubscriberState::Complained
    );
    let save = |s: Subscriber| async move {
        let mut s = s;
        s.updated_at = Utc::now();
        store.put_subscriber(&s).await.map(|_| s)
    };
    match (token.action, r.post) {
        (LinkAction::Confirm, false) if subscriber.state == SubscriberState::Pending => page(
            200,
            fill(w.confirm_ask),
            Some((w.confirm_button, Vec::new(), None)),
        ),
        (LinkAction::Confirm, _) if subscriber.state == SubscriberState::Confirmed => {
            page(200, fill(w.confirmed), None)
        }
        (LinkAction::Confirm, true) if subscriber.state == SubscriberState::Pending => {
            let mut s = subscriber.clone();
            s.change(Change::Confirm, Utc::now());
            match save(s).await {
                Ok(_) => page(200, fill(w.confirmed), None),
                Err(_) => page(503, w.trouble.into(), None),
            }
        }
        (LinkAction::Confirm, _) => page(200, fill(w.not_subscribed), None),
        (LinkAction::Unsubscribe, _) if gone => page(200, fill(w.unsubscribed), None),
        (LinkAction::Unsubscribe, false) => page(
            200,
            fill(w.unsubscribe_ask),
            Some((w.unsubscribe_button, Vec::new(), None)),
        ),
        (LinkAction::Unsubscribe, true) => {
            let mut s = subscriber.clone();
            s.change(Change::Unsubscribe, Utc::now());
            match save(s).await {
                Ok(_) => page(200, fill(w.unsubscribed), None),
                Err(_) => page(503, w.trouble.into(), None),
            }
        }
        (LinkAction::Manage, _) if gone => page(200, fill(w.not_subscribed), None),
        (LinkAction::Manage, false) => page(
            200,
            fill(w.manage_ask),
            Some((
                w.manage_button,
                services_of(config, &subscriber),
                Some((w.manage_all, subscriber.services == Subscription::All)),
            )),
        ),
        (LinkAction::Manage, true) => {
            let mut s = subscriber.clone();
            s.services = chosen(config, &subscriber, r.form);
            match save(s).await {
                Ok(s) => page(
                    200,
                    fill(w.managed),
                    Some((
                        w.manage_button,
                        services_of(config, &s),
                        Some((w.manage_all, s.services == Subscription::All)),
                    )),
                ),
                Err(_) => page(503, w.trouble.into(), None),
            }
        }
    }
}

/// The subscriber a request's token names, if the token is good for its page; else the page
/// that says why (in English: whose language is unknown).
async fn verified<S: Subscribers>(
    store: &S,
    config: &Config,
    key: &Key,
    r: &Request<'_>,
) -> Result<(Token, Subscriber), Page> {
    let fallback_brand = config
        .settings
        .brand
        .as_ref()
        .map_or("", |b| b.name.as_str())
        .to_string();
    let colour = config
        .settings
        .brand
        .as_ref()
        .map_or(atalaya_core::email::DEFAULT_COLOUR, |b| b.colour.as_str())
        .to_string();
    let plain = |status: u16, language: Language, text: &str| {
        render(Out {
            status,
            language,
            brand: &fallback_brand,
            colour: &colour,
            text: text.replace("{brand}", &fallback_brand),
            form: None,
        })
    };
    let token = match Token::verify(r.token, key) {
        Ok(t) if t.action.as_str() == r.action => t,
        _ => return Err(plain(403, Language::En, words(Language::En).invalid)),
    };
    let subscriber = match store.subscriber(&token.subscriber).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(plain(
                404,
                Language::En,
                &words(Language::En)
                    .not_subscribed
                    .replace("{email}", "This address"),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a subscriber for a page");
            return Err(plain(503, Language::En, words(Language::En).trouble));
        }
    };
    Ok((token, subscriber))
}

/// The services a subscriber chose on the manage page (the customer's only), or all of them.
fn chosen(config: &Config, subscriber: &Subscriber, form: &[(String, String)]) -> Subscription {
    let all = form.iter().any(|(k, v)| k == "all" && v == "1");
    let chosen: std::collections::BTreeSet<String> = form
        .iter()
        .filter(|(k, _)| k == "service")
        .map(|(_, v)| v.clone())
        .filter(|v| {
            config
                .service(v)
                .is_some_and(|s| s.customer == subscriber.customer)
        })
        .collect();
    if all {
        Subscription::All
    } else {
        Subscription::Services(chosen)
    }
}

/// The name and colour a page shows: the customer's brand, else the file's.
fn look(config: &Config, customer: Option<&str>) -> (String, String) {
    let brand = customer
        .and_then(|c| config.brand_for(c))
        .or_else(|| config.settings.brand.clone());
    brand.map_or(
        (
            String::new(),
            atalaya_core::email::DEFAULT_COLOUR.to_string(),
        ),
        |b| (b.name, b.colour),
    )
}

/// A customer's services on the manage page: (id, name, chosen).
fn services_of(config: &Config, s: &Subscriber) -> Vec<(String, String, bool)> {
    let l = s.language_with(config.customer(&s.customer));
    config
        .services
        .iter()
        .filter(|v| v.customer == s.customer)
        .map(|v| {
            (
                v.id.clone(),
                v.names.get(l).to_string(),
                s.services.includes(&v.id) && s.services != Subscription::All,
            )
        })
        .collect()
}
