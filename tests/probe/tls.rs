use crate::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_tests::{engine, http::server, tls::Leaf};

#[tokio::test]
async fn https_with_a_valid_certificate_is_up_with_tls_timing_and_days_left() {
    let addr = server(Some(Leaf::Valid)).await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'https://{addr}/ok' }}, expect: {{ body_contains: 'Add to cart' }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert!(r.phases.tls_ms.is_some(), "{r:?}");
    assert_eq!(r.cert_days_left, Some(90));
}

#[tokio::test]
async fn https_with_an_expired_certificate_is_tls_expired() {
    let addr = server(Some(Leaf::Expired)).await;
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, http: {{ url: 'https://{addr}/ok' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::TlsExpired);
    assert_eq!(r.cert_days_left, Some(-3));
    assert!(
        r.detail.starts_with("certificate expired 3 day(s) ago"),
        "{}",
        r.detail
    );
}

#[tokio::test]
async fn https_with_a_self_signed_certificate_is_untrusted() {
    let addr = server(Some(Leaf::SelfSigned)).await;
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, http: {{ url: 'https://{addr}/ok' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::TlsUntrusted);
    // With verification turned off for this check, the same server is up.
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, http: {{ url: 'https://{addr}/ok', tls_verify: false }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn https_with_a_certificate_for_another_name_is_tls_hostname() {
    let addr = server(Some(Leaf::WrongName)).await;
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, http: {{ url: 'https://{addr}/ok' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::TlsHostname);
}

#[tokio::test]
async fn tls_check_reports_days_left_and_degrades_under_the_threshold() {
    let e = engine(None);
    let valid = server(Some(Leaf::Valid)).await;
    let r = probe(&e, &format!("  - {{ id: c, service: web, tls: {{ host: 127.0.0.1, port: {} }}, expect: {{ cert_valid_for: 14d }} }}", valid.port())).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert_eq!(r.cert_days_left, Some(90));

    let soon = server(Some(Leaf::ExpiringSoon)).await;
    let r = probe(&e, &format!("  - {{ id: c, service: web, tls: {{ host: 127.0.0.1, port: {} }}, expect: {{ cert_valid_for: 14d }} }}", soon.port())).await;
    assert_result(&r, Outcome::Degraded, Reason::Assertion);
    assert_eq!(
        r.detail,
        "certificate expires in 5 day(s), under the 14d threshold"
    );

    let expired = server(Some(Leaf::Expired)).await;
    let r = probe(&e, &format!("  - {{ id: c, service: web, tls: {{ host: 127.0.0.1, port: {} }}, expect: {{ cert_valid_for: 14d }} }}", expired.port())).await;
    assert_result(&r, Outcome::Down, Reason::TlsExpired);
    assert_eq!(r.cert_days_left, Some(-3));
}

#[tokio::test]
async fn tls_check_against_a_plain_tcp_server_is_a_handshake_failure() {
    let addr = atalaya_tests::banner_server("SSH-2.0-OpenSSH_9.6\r\n").await;
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, timeout: 2s, tls: {{ host: 127.0.0.1, port: {} }} }}",
            addr.port()
        ),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Down);
    assert!(
        matches!(
            r.reason,
            Reason::TlsHandshake | Reason::Reset | Reason::Protocol
        ),
        "{r:?}"
    );
}
