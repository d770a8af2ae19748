use crate::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_tests::{closed_port, engine, http::server, silent_server};

#[tokio::test]
async fn healthy_page_is_up_with_connect_and_ttfb_timings() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/ok' }}, expect: {{ body_contains: 'Add to cart' }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert_eq!(r.http_status, Some(200));
    assert_eq!(r.detail, "status 200 OK");
    assert!(
        r.phases.connect_ms.is_some() && r.phases.ttfb_ms.is_some(),
        "{r:?}"
    );
    assert_eq!(r.phases.dns_ms, None, "an IP literal needs no lookup");
    assert!(r.latency_ms >= r.phases.ttfb_ms.unwrap());
}

#[tokio::test]
async fn server_error_is_down_with_the_status_it_saw() {
    let addr = server(None).await;
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/500' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::HttpStatus);
    assert_eq!(r.detail, "status 500, expected 2xx");
    assert_eq!(r.http_status, Some(500));
}

#[tokio::test]
async fn status_assertion_says_what_it_expected_and_saw() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/status/503' }}, expect: {{ status: [200] }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::HttpStatus);
    assert_eq!(r.detail, "status 503, expected one of [200]");
}

#[tokio::test]
async fn html_where_json_is_asserted_is_an_assertion_failure() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/html' }}, expect: {{ json: {{ /status: UP }} }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Assertion);
    assert!(r.detail.starts_with("body is not JSON"), "{}", r.detail);
    assert!(
        r.detail.contains("<!DOCTYPE html>"),
        "shows what it saw: {}",
        r.detail
    );
}

#[tokio::test]
async fn json_pointer_and_header_assertions_compare_values() {
    let addr = server(None).await;
    let e = engine(None);
    let up = probe(&e, &format!(
        "  - {{ id: c, service: web, http: {{ url: 'http://{addr}/json-up' }}, expect: {{ json: {{ /status: UP, /db/ok: true, /db/latency: 3 }}, headers: {{ x-version: '2', content-type: {{ contains: json }} }} }} }}"
    )).await;
    assert_result(&up, Outcome::Up, Reason::Ok);
    let down = probe(&e, &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/json-down' }}, expect: {{ json: {{ /status: UP }}, headers: {{ x-version: '2' }} }} }}")).await;
    assert_result(&down, Outcome::Down, Reason::Assertion);
    assert_eq!(
        down.detail,
        r#"header x-version is missing; json /status is "DOWN", expected "UP""#
    );
}

#[tokio::test]
async fn method_headers_and_body_are_sent_as_configured() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!(
        "  - {{ id: c, service: web, http: {{ url: 'http://{addr}/echo-body', method: post, headers: {{ Content-Type: application/json }}, body: '{{\"deep\": true}}' }}, expect: {{ body_contains: 'POST application/json {{\"deep\": true}}' }} }}"
    )).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn body_regex_is_matched() {
    let addr = server(None).await;
    let e = engine(None);
    let r = probe(&e, &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/ok' }}, expect: {{ body_regex: 'Add to c[a-z]+' }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    let r = probe(&e, &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/ok' }}, expect: {{ body_regex: '^checkout$' }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Assertion);
    assert!(
        r.detail.starts_with("body does not match /^checkout$/"),
        "{}",
        r.detail
    );
}

#[tokio::test]
async fn slow_response_crossing_the_degraded_threshold_is_degraded() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!(
        "  - {{ id: c, service: web, timeout: 2s, http: {{ url: 'http://{addr}/slow/300' }}, expect: {{ latency: {{ degraded: 150ms, down: 1s }} }} }}"
    )).await;
    assert_result(&r, Outcome::Degraded, Reason::Assertion);
    assert!(
        r.detail.contains("above the degraded threshold 150ms"),
        "{}",
        r.detail
    );
    assert!(r.latency_ms >= 300.0);
}

#[tokio::test]
async fn slow_response_crossing_the_down_threshold_is_down() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!(
        "  - {{ id: c, service: web, timeout: 2s, http: {{ url: 'http://{addr}/slow/300' }}, expect: {{ latency: {{ down: 200ms }} }} }}"
    )).await;
    assert_result(&r, Outcome::Down, Reason::Assertion);
    assert!(
        r.detail.contains("above the down threshold 200ms"),
        "{}",
        r.detail
    );
}

#[tokio::test]
async fn headers_dribbled_one_byte_a_second_time_out_in_ttfb() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, timeout: 1500ms, http: {{ url: 'http://{addr}/dribble' }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Timeout);
    assert_eq!(r.detail, "no response headers within 1s500ms (phase: ttfb)");
    assert_eq!(r.phases.ttfb_ms, None, "ttfb never completed");
}

#[tokio::test]
async fn server_that_accepts_and_never_answers_times_out() {
    let addr = server(None).await;
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, timeout: 1s, http: {{ url: 'http://{addr}/hang' }} }}"
        ),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::Timeout);
    assert!(r.detail.contains("phase: ttfb"), "{}", r.detail);
    let silent = silent_server().await;
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, timeout: 1s, http: {{ url: 'http://{silent}/' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::Timeout);
}

#[tokio::test]
async fn endless_body_stops_at_the_cap() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, timeout: 5s, http: {{ url: 'http://{addr}/endless' }}, expect: {{ body_contains: 'never there' }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::BodyLimit);
    assert!(r.detail.contains("1048576 byte cap"), "{}", r.detail);
}

#[tokio::test]
async fn endless_trickling_body_times_out_in_the_body_phase() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, timeout: 1s, http: {{ url: 'http://{addr}/endless-trickle' }}, expect: {{ body_contains: 'never there' }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Timeout);
    assert_eq!(r.detail, "body not complete within 1s (phase: body)");
}

#[tokio::test]
async fn body_is_not_read_when_no_assertion_needs_it() {
    let addr = server(None).await;
    // The endless body would hit the cap or the deadline if it were read.
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, timeout: 1s, http: {{ url: 'http://{addr}/endless' }} }}"
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn gzip_body_is_decompressed_for_assertions() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/gzip' }}, expect: {{ body_contains: 'compressed: Add to cart' }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn gzip_bomb_is_stopped_at_the_decompressed_cap() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, timeout: 5s, http: {{ url: 'http://{addr}/gzip-bomb', max_body: 256KiB }}, expect: {{ body_contains: 'x' }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::BodyLimit);
    assert!(
        r.detail.contains("262144 byte cap after decompression"),
        "{}",
        r.detail
    );
}

#[tokio::test]
async fn redirect_loop_is_cut_at_the_limit() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/loop', max_redirects: 3 }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Redirects);
    assert!(
        r.detail.starts_with("more than 3 redirects: "),
        "{}",
        r.detail
    );
}

#[tokio::test]
async fn redirect_is_followed_to_the_final_response() {
    let addr = server(None).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/redirect-ok' }}, expect: {{ body_contains: 'Add to cart' }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert_eq!(
        r.detail,
        format!("status 200 OK after 1 redirect(s) to http://{addr}/ok")
    );
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/redirect-ok', follow_redirects: false }}, expect: {{ status: [302] }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn connection_reset_is_reported_as_reset() {
    let addr = server(None).await;
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/reset' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::Reset);
}

#[tokio::test]
async fn closed_port_is_refused() {
    let port = closed_port().await;
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, http: {{ url: 'http://127.0.0.1:{port}/' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::Refused);
}

#[tokio::test]
async fn name_is_resolved_and_timed() {
    let dns = atalaya_tests::dns::server().await;
    let addr = server(None).await;
    let r = probe(
        &engine(Some(dns)),
        &format!(
            "  - {{ id: c, service: web, http: {{ url: 'http://shop.test:{}/ok' }} }}",
            addr.port()
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert!(r.phases.dns_ms.is_some(), "{r:?}");
    let r = probe(
        &engine(Some(dns)),
        "  - { id: c, service: web, http: { url: 'http://nowhere.test/' } }",
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::Dns);
}

#[tokio::test]
async fn credentials_are_not_sent_to_another_origin_on_redirect() {
    let dns = atalaya_tests::dns::server().await;
    let addr = server(None).await;
    std::env::set_var("ATALAYA_TEST_REDIRECT_TOKEN", "tok-redirect");
    let e = engine(Some(dns));
    let same = probe(&e, &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/redirect-same-origin-echo', headers: {{ Authorization: 'Bearer ${{env:ATALAYA_TEST_REDIRECT_TOKEN}}' }} }}, expect: {{ body_contains: 'auth=[Bearer tok-redirect]' }} }}")).await;
    assert_result(&same, Outcome::Up, Reason::Ok);
    let other = probe(&e, &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/redirect-other-origin-echo', headers: {{ Authorization: 'Bearer ${{env:ATALAYA_TEST_REDIRECT_TOKEN}}' }} }}, expect: {{ body_contains: 'auth=[]' }} }}")).await;
    assert_result(&other, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn secrets_never_appear_in_results() {
    let addr = server(None).await;
    std::env::set_var("ATALAYA_TEST_SECRET_TOKEN", "s3cr3t-t0ken");
    // The server echoes the Authorization header into a body that fails a JSON assertion, whose
    // detail quotes the body: the secret must be scrubbed from it.
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/echo-auth', headers: {{ Authorization: 'Bearer ${{env:ATALAYA_TEST_SECRET_TOKEN}}' }} }}, expect: {{ json: {{ /a: 1 }} }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Assertion);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("s3cr3t-t0ken"), "{json}");
    assert!(json.contains("Bearer ***"), "{json}");
    // User info and token-like query parameters are hidden from URLs shown in details.
    std::env::set_var("ATALAYA_TEST_URL_PASSWORD", "hunter2");
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://bob:${{env:ATALAYA_TEST_URL_PASSWORD}}@{addr}/loop?token=abc123&page=1', max_redirects: 1 }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Redirects);
    for secret in ["hunter2", "abc123"] {
        assert!(!r.detail.contains(secret), "{}", r.detail);
    }
    assert!(r.detail.contains("token=***&page=1"), "{}", r.detail);
}

#[tokio::test]
async fn url_credentials_are_sent_as_basic_authentication() {
    let addr = server(None).await;
    // A password with characters a URL gives meaning to.
    std::env::set_var("ATALAYA_TEST_BASIC_PASSWORD", "s3cr3t/pw=");
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'http://bob:${{env:ATALAYA_TEST_BASIC_PASSWORD}}@{addr}/basic' }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    // Without them the endpoint refuses, as it should.
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/basic' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::HttpStatus);
}

#[tokio::test]
async fn a_secret_in_a_host_name_is_hidden_even_lower_cased() {
    let dns = atalaya_tests::dns::server().await;
    std::env::set_var("ATALAYA_TEST_TENANT", "AcmeTenant42x");
    let r = probe(
        &engine(Some(dns)),
        "  - { id: c, service: web, http: { url: 'http://${env:ATALAYA_TEST_TENANT}.test/' } }",
    )
    .await;
    assert_eq!(r.reason, Reason::Dns, "{}", r.detail);
    assert!(
        atalaya_tests::secrets::leaked(&serde_json::to_string(&r).unwrap(), "AcmeTenant42x")
            .is_none(),
        "{}",
        r.detail
    );
    assert!(r.detail.contains("***.test"), "{}", r.detail);
}

#[tokio::test]
async fn unset_environment_variable_is_an_error_for_that_check_never_an_empty_header() {
    let addr = server(None).await;
    let config = atalaya_tests::config(&format!("  - {{ id: c, service: web, http: {{ url: 'http://{addr}/ok', headers: {{ Authorization: 'Bearer ${{env:ATALAYA_TEST_NEVER_SET}}' }} }} }}"));
    let err = engine(None).probe(&config.checks[0]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "http.headers.Authorization: environment variable ATALAYA_TEST_NEVER_SET is not set"
    );
}

#[tokio::test]
async fn many_checks_run_concurrently_up_to_the_bound_and_all_report() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    struct Collect(Vec<atalaya_core::ProbeResult>);
    impl atalaya_probe::Sink for Collect {
        fn result(&mut self, r: atalaya_core::ProbeResult) {
            self.0.push(r);
        }
        fn check_error(&mut self, c: &atalaya_core::Check, e: atalaya_probe::CheckError) {
            panic!("{}: {e}", c.id);
        }
    }
    // A server that counts the requests it is holding at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), max.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (n, m) = (n.clone(), m.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let inside = n.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(inside, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    let checks: String = (0..40)
        .map(|i| format!("  - {{ id: c{i}, service: web, timeout: 5s, http: {{ url: 'http://{addr}/' }} }}\n"))
        .collect();
    let config = atalaya_tests::config(&checks);
    let engine = engine(None); // concurrency 16
    let mut sink = Collect(Vec::new());
    engine.run(config.checks.into(), &mut sink).await;
    assert_eq!(sink.0.len(), 40);
    assert!(sink.0.iter().all(|r| r.outcome == Outcome::Up));
    let mut ids: Vec<&str> = sink.0.iter().map(|r| r.check.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every check reported once");
    let peak = max.load(Ordering::SeqCst);
    assert!(
        peak > 1 && peak <= 16,
        "at most 16 in flight, and more than one: {peak}"
    );
}
