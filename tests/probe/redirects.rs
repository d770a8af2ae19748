//! Redirects between two origins on 127.0.0.1 and 127.0.0.2: nothing derived from a secret
//! crosses to the other origin, and the result says why a redirect was not followed.

use super::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_tests::engine;
use atalaya_tests::recorder::{Answer, Recorder};

/// Origin A answers every request with `status` to B's `/landed`; B records what it receives.
async fn pair(status: u16) -> (Recorder, Recorder) {
    let b = Recorder::start("127.0.0.2", |_| Answer::ok("landed")).await;
    let to = b.url("/landed");
    let a = Recorder::start("127.0.0.1", move |seen| {
        if seen.target == "/login" {
            Answer::redirect(status, &to)
        } else {
            Answer::ok("same origin")
        }
    })
    .await;
    (a, b)
}

#[tokio::test]
async fn a_secret_body_is_never_resent_to_another_origin_on_307_or_308() {
    std::env::set_var("ATALAYA_TEST_LOGIN_SECRET", "pa55-w0rd-login-secret");
    for status in [307, 308] {
        let (a, b) = pair(status).await;
        let r = probe(
            &engine(None),
            &format!(
                "  - {{ id: c, service: web, http: {{ url: '{}', method: POST, body: '{{\"user\":\"mon\",\"password\":\"${{env:ATALAYA_TEST_LOGIN_SECRET}}\"}}' }} }}",
                a.url("/login")
            ),
        )
        .await;
        // Not judged (the monitor would not send it), never down; the detail says why.
        assert_result(&r, Outcome::Unknown, Reason::CheckError);
        assert!(
            r.detail
                .contains(&format!("status {status} to another origin")),
            "{}",
            r.detail
        );
        assert!(r.detail.contains("not followed"), "{}", r.detail);
        assert!(r.detail.contains(&b.addr.to_string()), "{}", r.detail);
        assert_eq!(a.seen().len(), 1);
        assert_eq!(
            String::from_utf8_lossy(&a.seen()[0].body),
            "{\"user\":\"mon\",\"password\":\"pa55-w0rd-login-secret\"}"
        );
        assert!(b.seen().is_empty(), "{status}: B received {:?}", b.seen());
    }
}

#[tokio::test]
async fn a_body_without_secrets_follows_307_and_a_secret_one_follows_within_its_origin() {
    let (a, b) = pair(307).await;
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, http: {{ url: '{}', method: POST, body: 'q=plain' }} }}",
            a.url("/login")
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    let landed = b.seen();
    assert_eq!(landed.len(), 1);
    assert_eq!(
        (landed[0].method.as_str(), landed[0].body.as_slice()),
        ("POST", &b"q=plain"[..])
    );

    // Within one origin a 308 keeps the method and the body, secret or not.
    std::env::set_var("ATALAYA_TEST_LOGIN_SECRET_2", "s4me-origin-secret");
    let same = Recorder::start("127.0.0.1", |seen| match seen.target.as_str() {
        "/login" => Answer::redirect(308, "/session"),
        _ => Answer::ok("in"),
    })
    .await;
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, http: {{ url: '{}', method: POST, body: 'p=${{env:ATALAYA_TEST_LOGIN_SECRET_2}}' }} }}",
            same.url("/login")
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    let seen = same.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].target, "/session");
    assert_eq!(seen[1].body, b"p=s4me-origin-secret");
}

#[tokio::test]
async fn a_303_drops_the_secret_body_and_goes_on_to_the_other_origin() {
    std::env::set_var("ATALAYA_TEST_LOGIN_SECRET_3", "s3e-other-secret");
    let (a, b) = pair(303).await;
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, http: {{ url: '{}', method: POST, body: 'p=${{env:ATALAYA_TEST_LOGIN_SECRET_3}}' }} }}",
            a.url("/login")
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    let landed = b.seen();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].method, "GET");
    assert!(landed[0].body.is_empty());
}
