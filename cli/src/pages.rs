//! `atalaya run --listen ADDR`: the subscribers' pages (confirm, unsubscribe, manage) over HTTP
//! on the local machine, and the status site with `--status-page DIR`. What each subscription
//! page does is the application's (`atalaya_app::subscriptions`); this only speaks HTTP:
//! `GET|POST /confirm|/unsubscribe|/manage?t=TOKEN`, a form body of at most 16 KB; heartbeats'
//! pings, `/ping/…` (`crate::heartbeat`); every other GET is a file of the site.

use atalaya_app::subscriptions::{action_of, handle, token_of, Request, MAX_FORM};
use atalaya_core::email::Key;
use atalaya_core::Config;
use atalaya_store::SqliteStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use std::sync::Arc;

pub struct Pages {
    pub store: Arc<SqliteStore>,
    pub config: Arc<Config>,
    pub key: Key,
    /// The checks in force (acknowledgements act on incidents with them).
    pub checks: Arc<atalaya_app::Checks>,
    /// What authenticates the paging and chat tools' webhooks.
    pub inbound: atalaya_app::on_call::Inbound,
    /// Customer mail, for the subscribe form's confirmations (none without a brand).
    pub mail: Option<Arc<atalaya_app::EmailChannel<SqliteStore>>>,
    /// Confirmations sent a minute, at most.
    pub limiter: atalaya_app::subscriptions::subscribe::Limiter,
    /// The status site's folder (what its build wrote there).
    pub site: Option<crate::status_site::Served>,
    /// Heartbeats' ping endpoint (`/ping/…`), when the file has heartbeats.
    pub pings: Option<crate::heartbeat::PingEndpoint>,
}

fn respond(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in atalaya_app::subscriptions::HEADERS {
        r.headers_mut()
            .insert(*name, hyper::header::HeaderValue::from_static(value));
    }
    r
}

/// A file of the status site, with the headers S3 and CloudFront would give it; a folder
/// without its `/` is sent to it (the pages' links are relative), always within the site.
fn site_file(site: &crate::status_site::Served, path: &str) -> Response<Full<Bytes>> {
    let not_found = || {
        let mut r = Response::new(Full::new(Bytes::from_static(b"not found")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r
    };
    let Some(rel) = crate::status_site::site_path(path) else {
        return not_found();
    };
    if !rel.is_empty() && !rel.ends_with('/') && site.file_for(&format!("/{rel}/")).is_some() {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
        // One leading `/` and the site's own path: never another host (`//evil.example/`).
        if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("/{rel}/")) {
            r.headers_mut().insert(hyper::header::LOCATION, v);
        }
        return r;
    }
    let Some(file) = site.file_for(path) else {
        return not_found();
    };
    let Ok(body) = std::fs::read(&file) else {
        return not_found();
    };
    let (kind, cache) = crate::status_site::headers_for(&file);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(kind),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static(cache),
    );
    h.insert(
        "x-content-type-options",
        hyper::header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "referrer-policy",
        hyper::header::HeaderValue::from_static("no-referrer"),
    );
    r
}

/// `/ack/…` and `/hooks/…`: operators acknowledging (`atalaya_app::acknowledge`).
async fn acknowledge(
    pages: &Pages,
    post: bool,
    req: hyper::Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = Limited::new(req.into_body(), atalaya_app::acknowledge::MAX_BODY).collect();
    let body = match tokio::time::timeout(crate::listen::BODY_TIMEOUT, body).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return respond(413, "too large".into()),
        Err(_) => return respond(408, "the body did not arrive in time".into()),
    };
    let reply = atalaya_app::acknowledge::answer(
        &*pages.store,
        &pages.checks,
        &pages.key,
        &pages.inbound,
        &atalaya_app::acknowledge::Req {
            post,
            path: &path,
            headers: &headers,
            body: &body,
        },
    )
    .await;
    if reply.html {
        respond(reply.status, reply.body)
    } else {
        let mut r = Response::new(Full::new(Bytes::from(reply.body)));
        *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
        r
    }
}

/// `POST /subscribe`: the status pages' form (`atalaya_app::subscriptions::subscribe`). The
/// confirmations go out on their own task, each within a deadline: a slow relay never holds
/// the listener.
async fn subscribe(
    pages: &Pages,
    post: bool,
    req: hyper::Request<Incoming>,
) -> Response<Full<Bytes>> {
    use atalaya_app::subscriptions::subscribe::{subscribe, Asked};
    if !post {
        return respond(405, "the subscribe form posts here".into());
    }
    let Some(mail) = pages.mail.clone() else {
        return respond(404, "this monitor sends no customer mail".into());
    };
    let form = match read_form(req).await {
        Ok(form) => form,
        Err(answer) => return answer,
    };
    let asked = Asked::from_form(&form);
    let out = subscribe(
        &*pages.store,
        &pages.config,
        &asked,
        &pages.limiter,
        chrono::Utc::now(),
    )
    .await;
    for s in out.confirm {
        let mail = mail.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(CONFIRM_DEADLINE, mail.send_confirmation(&s)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(subscriber = %s.id, error = %e, "the confirmation mail was not sent")
                }
                Err(_) => {
                    tracing::warn!(subscriber = %s.id, "the confirmation mail took too long; not sent")
                }
            }
        });
    }
    respond(out.page.status, out.page.html)
}

/// A form body of at most 16 KB, within its deadline; else the answer that says why.
async fn read_form(
    req: hyper::Request<Incoming>,
) -> Result<Vec<(String, String)>, Response<Full<Bytes>>> {
    let body = Limited::new(req.into_body(), MAX_FORM).collect();
    match tokio::time::timeout(crate::listen::BODY_TIMEOUT, body).await {
        Ok(Ok(body)) => Ok(url::form_urlencoded::parse(&body.to_bytes())
            .into_owned()
            .collect()),
        Ok(Err(_)) => Err(respond(413, "the form is too large".into())),
        Err(_) => Err(respond(408, "the form did not arrive in time".into())),
    }
}

/// How long a confirmation mail may take to send.
const CONFIRM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// One request to the listener (`crate::listen` holds the connections).
pub async fn answer(pages: &Pages, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    if let (Some(pings), true) = (&pages.pings, req.uri().path().starts_with("/ping/")) {
        return crate::heartbeat::answer(pings, req).await;
    }
    let post = match *req.method() {
        Method::GET | Method::HEAD => false,
        Method::POST => true,
        _ => return respond(405, "method not allowed".into()),
    };
    if atalaya_app::acknowledge::ours(req.uri().path()) {
        return acknowledge(pages, post, req).await;
    }
    if req.uri().path().trim_end_matches('/') == "/subscribe" {
        return subscribe(pages, post, req).await;
    }
    let Some(action) = action_of(req.uri().path()).map(str::to_string) else {
        return match (&pages.site, post) {
            (Some(site), false) => site_file(site, req.uri().path()),
            _ => respond(404, "not found".into()),
        };
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let form: Vec<(String, String)> = if post {
        match read_form(req).await {
            Ok(form) => form,
            Err(answer) => return answer,
        }
    } else {
        Vec::new()
    };
    let token = token_of(&query, &form);
    let page = handle(
        &*pages.store,
        &pages.config,
        &pages.key,
        &Request {
            post,
            action: &action,
            token: &token,
            form: &form,
        },
    )
    .await;
    respond(page.status, page.html)
}
