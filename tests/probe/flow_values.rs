//! A flow against a target that answers with hostile values: an order id that would climb the
//! path and add a query, a dot segment, a 4 MB token. Each value stays in its place, or is
//! refused and said; the bearer token goes to no other path.

use crate::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_tests::engine;
use atalaya_tests::recorder::{Answer, Recorder};

/// A login that hands out `token`, an order create that hands out `order`, and a delete.
async fn hostile(token: String, order: &'static str) -> Recorder {
    Recorder::start("127.0.0.1", move |seen| {
        match (seen.method.as_str(), seen.target.as_str()) {
            ("POST", "/login") => Answer::json(&serde_json::json!({ "token": token })),
            ("POST", "/orders") => {
                let mut a = Answer::json(&serde_json::json!({ "id": order, "status": "open" }));
                a.status = 201;
                a
            }
            ("DELETE", _) => Answer {
                status: 204,
                headers: Vec::new(),
                body: Vec::new(),
            },
            _ => Answer {
                status: 404,
                headers: Vec::new(),
                body: b"no".to_vec(),
            },
        }
    })
    .await
}

fn flow(r: &Recorder) -> String {
    let base = r.url("");
    format!(
        "  - id: f
    service: web
    timeout: 5s
    steps:
      - name: login
        http: {{ url: '{base}/login', method: POST }}
        extract: {{ token: {{ json: /token }} }}
      - name: create-order
        http: {{ url: '{base}/orders', method: POST, headers: {{ Authorization: 'Bearer ${{var:token}}' }} }}
        expect: {{ status: [201] }}
        extract: {{ order: {{ json: /id }} }}
      - name: delete-order
        http: {{ url: '{base}/orders/${{var:order}}?confirm=${{var:order}}', method: DELETE, headers: {{ Authorization: 'Bearer ${{var:token}}' }} }}
        expect: {{ status: [204] }}
"
    )
}

#[tokio::test]
async fn an_extracted_value_stays_in_its_path_segment_and_query_value() {
    let r = hostile(
        "tok-123".into(),
        "../admin/delete-everything?confirm=yes&x=",
    )
    .await;
    let result = probe(&engine(None), &flow(&r)).await;
    assert_result(&result, Outcome::Up, Reason::Ok);
    let seen = r.seen();
    let delete = seen.iter().find(|s| s.method == "DELETE").unwrap();
    assert_eq!(
        delete.target,
        "/orders/..%2Fadmin%2Fdelete-everything%3Fconfirm%3Dyes%26x%3D?confirm=..%2Fadmin%2Fdelete-everything%3Fconfirm%3Dyes%26x%3D"
    );
    assert_eq!(delete.header("authorization"), Some("Bearer tok-123"));
    assert!(
        seen.iter().all(|s| !s.target.starts_with("/admin")),
        "{seen:#?}"
    );
}

#[tokio::test]
async fn a_dot_segment_value_fails_its_step_and_is_never_sent() {
    let r = hostile("tok-123".into(), "..").await;
    let result = probe(&engine(None), &flow(&r)).await;
    assert_result(&result, Outcome::Down, Reason::Assertion);
    assert!(
        result
            .detail
            .starts_with("step delete-order: a value extracted earlier cannot be used"),
        "{}",
        result.detail
    );
    assert!(result.detail.contains("dot segment"), "{}", result.detail);
    assert!(
        result.detail.contains("delete-order not run"),
        "{}",
        result.detail
    );
    let seen = r.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert!(seen.iter().all(|s| s.method != "DELETE"));
}

#[tokio::test]
async fn a_four_megabyte_token_is_refused_and_said_never_shown() {
    let token = "eyJhbGciOiJIUzI1NiJ9x".repeat(4 * 1024 * 1024 / 21);
    let r = hostile(token.clone(), "42").await;
    let checks = flow(&r).replace("timeout: 5s", "timeout: 20s").replace(
        "http: { url: 'http://",
        "http: { max_body: 8MB, url: 'http://",
    );
    let result = probe(&engine(None), &checks).await;
    assert_result(&result, Outcome::Down, Reason::Assertion);
    assert!(
        result.detail.contains(&format!(
            "cannot extract token: the value is {} bytes, more than the 16384 a value may have",
            token.len()
        )),
        "{}",
        result.detail
    );
    // Only the login was sent: the flow stopped at the step that could not extract.
    assert_eq!(r.seen().len(), 1);
    assert!(
        !result.detail.contains("eyJhbGciOiJIUzI1NiJ9"),
        "{}",
        result.detail
    );
}
