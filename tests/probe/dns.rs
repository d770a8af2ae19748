use crate::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_tests::{dns::server, engine};

#[tokio::test]
async fn a_records_are_checked_against_expected_answers() {
    let ns = server().await;
    let e = engine(None);
    let r = probe(&e, &format!("  - {{ id: c, service: web, dns: {{ name: acme.test, nameserver: '{ns}' }}, expect: {{ answers_include: [203.0.113.10] }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert_eq!(r.detail, "A acme.test: 203.0.113.10, 203.0.113.11");
    assert!(r.phases.dns_ms.is_some());
    let r = probe(&e, &format!("  - {{ id: c, service: web, dns: {{ name: acme.test, nameserver: '{ns}' }}, expect: {{ answers_include: [198.51.100.7] }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Assertion);
    assert_eq!(
        r.detail,
        r#"A acme.test: answers ["203.0.113.10", "203.0.113.11"] do not include ["198.51.100.7"]"#
    );
}

#[tokio::test]
async fn nxdomain_is_down_unless_expected() {
    let ns = server().await;
    let e = engine(None);
    let r = probe(
        &e,
        &format!(
            "  - {{ id: c, service: web, dns: {{ name: old.acme.test, nameserver: '{ns}' }} }}"
        ),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::Dns);
    assert!(
        r.detail.contains("rcode NXDOMAIN, expected NOERROR"),
        "{}",
        r.detail
    );
    let r = probe(&e, &format!("  - {{ id: c, service: web, dns: {{ name: old.acme.test, nameserver: '{ns}' }}, expect: {{ rcode: NXDOMAIN }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn mx_txt_and_cname_answers_are_compared_as_written() {
    let ns = server().await;
    let e = engine(None);
    for (rtype, name, want) in [
        ("MX", "acme.test", "10 mail.acme.test"),
        ("TXT", "acme.test", "v=spf1 -all"),
        ("CNAME", "www.acme.test", "acme.test."),
    ] {
        let r = probe(&e, &format!("  - {{ id: c, service: web, dns: {{ name: {name}, type: {rtype}, nameserver: '{ns}' }}, expect: {{ answers_include: ['{want}'] }} }}")).await;
        assert_result(&r, Outcome::Up, Reason::Ok);
    }
}

#[tokio::test]
async fn control_and_bidi_characters_in_an_answer_are_written_out() {
    let ns = server().await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, dns: {{ name: evil.acme.test, type: TXT, nameserver: '{ns}' }} }}")).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert!(
        !r.detail.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{:?}",
        r.detail
    );
    assert!(r.detail.contains(r"\u{202e}gnp.exe"), "{}", r.detail);
}

#[tokio::test]
async fn empty_answer_is_down_by_default() {
    let ns = server().await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, dns: {{ name: empty.test, type: AAAA, nameserver: '{ns}' }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Dns);
    assert!(r.detail.contains("NODATA"), "{}", r.detail);
}

#[tokio::test]
async fn silent_nameserver_times_out() {
    // A UDP socket that receives and never answers.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ns = socket.local_addr().unwrap();
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, timeout: 1s, dns: {{ name: acme.test, nameserver: '{ns}' }} }}")).await;
    assert_result(&r, Outcome::Down, Reason::Timeout);
    assert_eq!(r.detail, "no DNS answer within 1s (phase: dns)");
    drop(socket);
}

#[tokio::test]
async fn truncated_udp_answer_is_retried_over_tcp() {
    let ns = server().await;
    let r = probe(&engine(None), &format!("  - {{ id: c, service: web, dns: {{ name: big.acme.test, type: TXT, nameserver: '{ns}' }}, expect: {{ answers_include: ['record 39 {}'] }} }}", "x".repeat(80))).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}
