//! `atalaya run --listen ADDR`: the subscribers' pages (confirm, unsubscribe, manage) over HTTP
//! on the local machine. What each page does is the application's
//! (`atalaya_app::subscriptions`); this only speaks HTTP: `GET|POST /confirm|/unsubscribe|/manage?t=TOKEN`,
//! a form body of at most 16 KB.

use atalaya_app::subscriptions::{action_of, handle, token_of, Request, MAX_FORM};
use atalaya_core::email::Key;
use atalaya_core::Config;
use atalaya_store::SqliteStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;

pub struct Pages {
    pub store: Arc<SqliteStore>,
    pub config: Arc<Config>,
    pub key: Key,
}

/// Serves the pages on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, pages: Arc<Pages>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let pages = pages.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let pages = pages.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&pages, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
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

async fn answer(pages: &Pages, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let post = match *req.method() {
        Method::GET | Method::HEAD => false,
        Method::POST => true,
        _ => return respond(405, "method not allowed".into()),
    };
    let Some(action) = action_of(req.uri().path()).map(str::to_string) else {
        return respond(404, "not found".into());
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let form: Vec<(String, String)> = if post {
        match Limited::new(req.into_body(), MAX_FORM).collect().await {
            Ok(body) => url::form_urlencoded::parse(&body.to_bytes())
                .into_owned()
                .collect(),
            Err(_) => return respond(413, "the form is too large".into()),
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
