//! Multi-step API flows against a local API (tests/src/http.rs, `/flow/…`): log in, create an
//! order with the token, delete it; a failing step named with every step's time, the cleanup
//! step run after the failure, the token and the password never in any output.

use crate::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_tests::engine;
use atalaya_tests::http::{server, set_switch, FLOW_DELETED, FLOW_PASSWORD, FLOW_TOKEN};

fn flow(addr: std::net::SocketAddr, id: &str, timeout: &str) -> String {
    format!(
        "  - id: {id}
    service: web
    timeout: {timeout}
    steps:
      - name: login
        http:
          url: 'http://{addr}/flow/login'
          method: POST
          headers: {{ Content-Type: application/json }}
          body: '{{\"user\":\"probe\",\"password\":\"${{env:ATALAYA_TEST_FLOW_PASSWORD}}\"}}'
        expect: {{ status: [200], json: {{ /user: probe }} }}
        extract:
          token: {{ json: /token }}
          session: {{ header: x-session, regex: 'sid=([^;]+)' }}
      - name: create-order
        http:
          url: 'http://{addr}/flow/orders'
          method: POST
          headers: {{ Authorization: 'Bearer ${{var:token}}', X-Session: '${{var:session}}' }}
        expect: {{ status: [201], json: {{ /status: open }} }}
        extract:
          order: {{ json: /id }}
      - name: delete-order
        always: true
        http:
          url: 'http://{addr}/flow/orders/${{var:order}}'
          method: DELETE
          headers: {{ Authorization: 'Bearer ${{var:token}}' }}
        expect: {{ status: [204] }}
"
    )
}

fn deleted() -> Vec<String> {
    FLOW_DELETED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

#[tokio::test]
async fn a_flow_logs_in_uses_the_token_and_cleans_up_with_every_step_timed() {
    std::env::set_var("ATALAYA_TEST_FLOW_PASSWORD", FLOW_PASSWORD);
    let addr = server(None).await;
    let e = engine(None);
    let r = probe(&e, &flow(addr, "checkout", "5s")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    let re = regex::Regex::new(
        r"^3 steps: login 200 in \d+ ms, create-order 201 in \d+ ms, delete-order 204 in \d+ ms$",
    )
    .unwrap();
    assert!(re.is_match(&r.detail), "{}", r.detail);
    assert_eq!(deleted(), vec!["ord-42".to_string()]);
    // Phases add up over the steps: three connections, three answers.
    assert!(
        r.phases.connect_ms.is_some() && r.phases.ttfb_ms.is_some(),
        "{r:?}"
    );
    let all = format!("{r:?}");
    assert!(
        !all.contains(FLOW_TOKEN) && !all.contains(FLOW_PASSWORD),
        "{all}"
    );
}

#[tokio::test]
async fn a_failing_step_is_named_the_cleanup_still_runs_and_the_token_is_never_shown() {
    std::env::set_var("ATALAYA_TEST_FLOW_PASSWORD", FLOW_PASSWORD);
    let addr = server(None).await;
    let e = engine(None);
    set_switch("flow-orders", true);
    let r = probe(&e, &flow(addr, "checkout-down", "5s")).await;
    set_switch("flow-orders", false);
    assert_result(&r, Outcome::Down, Reason::HttpStatus);
    assert!(
        r.detail
            .starts_with("step create-order: status 500, expected one of [201] · login 200 in "),
        "{}",
        r.detail
    );
    // The order was never made, so its cleanup has no id: it is said, not sent.
    assert!(
        r.detail.contains(
            "delete-order not run (http.url: variable order was not extracted by an earlier step)"
        ),
        "{}",
        r.detail
    );
    let all = format!("{r:?}");
    assert!(
        !all.contains(FLOW_TOKEN) && !all.contains(FLOW_PASSWORD),
        "{all}"
    );

    // A wrong password: login fails, nothing after it runs but the cleanup, which has no token.
    std::env::set_var("ATALAYA_TEST_FLOW_PASSWORD", "not-the-password");
    let r = probe(&e, &flow(addr, "checkout-401", "5s")).await;
    assert_result(&r, Outcome::Down, Reason::HttpStatus);
    assert!(
        r.detail.starts_with("step login: status 401"),
        "{}",
        r.detail
    );
    assert!(r.detail.contains("create-order not run"), "{}", r.detail);
    assert!(!format!("{r:?}").contains("not-the-password"), "{r:?}");
}

#[tokio::test]
async fn a_cleanup_step_runs_after_a_later_failure_and_an_unset_reference_is_the_checks_fault() {
    std::env::set_var("ATALAYA_TEST_FLOW_PASSWORD", FLOW_PASSWORD);
    let addr = server(None).await;
    let e = engine(None);
    // The order is made, then a check on it fails: the cleanup deletes it all the same.
    let text = flow(addr, "checkout-assert", "5s").replace("/status: open", "/status: shipped");
    let before = deleted().len();
    let r = probe(&e, &text).await;
    assert_result(&r, Outcome::Down, Reason::Assertion);
    assert!(
        r.detail
            .starts_with("step create-order: json /status is \"open\", expected \"shipped\""),
        "{}",
        r.detail
    );
    assert!(
        r.detail.contains("cleanup delete-order 204 in "),
        "{}",
        r.detail
    );
    // The status reported is the failing step's (201, with the wrong body), not the cleanup's.
    assert_eq!(r.http_status, Some(201));
    assert_eq!(deleted().len(), before + 1);
    // An environment variable nobody set: a monitoring fault naming the step and field.
    let text = flow(addr, "checkout-unset", "5s")
        .replace("ATALAYA_TEST_FLOW_PASSWORD", "ATALAYA_TEST_FLOW_NEVER_SET");
    let config = atalaya_tests::config(&text);
    let err = e.probe(&config.checks[0]).await.unwrap_err().to_string();
    assert!(err.contains("steps.login.http.body"), "{err}");
}

#[tokio::test]
async fn a_flow_out_of_time_says_which_step_it_was_in() {
    std::env::set_var("ATALAYA_TEST_FLOW_PASSWORD", FLOW_PASSWORD);
    let addr = server(None).await;
    let text = flow(addr, "checkout-slow", "1s").replace(
        "/flow/orders'\n          method: POST",
        "/hang'\n          method: POST",
    );
    let r = probe(&engine(None), &text).await;
    assert_result(&r, Outcome::Down, Reason::Timeout);
    assert!(r.detail.ends_with("in step create-order"), "{}", r.detail);
}
