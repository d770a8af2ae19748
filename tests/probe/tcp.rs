use crate::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_tests::{banner_server, closed_port, engine, silent_server};

#[tokio::test]
async fn banner_is_read_and_matched() {
    let addr = banner_server("SSH-2.0-OpenSSH_9.6\r\n").await;
    let e = engine(None);
    let r = probe(&e, &format!("  - {{ id: c, service: web, tcp: {{ host: 127.0.0.1, port: {}, send: '' }}, expect: {{ reply_contains: SSH-2.0 }} }}", addr.port())).await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    let r = probe(&e, &format!("  - {{ id: c, service: web, timeout: 1s, tcp: {{ host: 127.0.0.1, port: {} }}, expect: {{ reply_contains: '220 smtp' }} }}", addr.port())).await;
    assert_result(&r, Outcome::Down, Reason::Timeout);
    assert_eq!(r.detail, "no reply within 1s (phase: reply)");
}

#[tokio::test]
async fn connect_only_check_is_up_when_the_port_accepts() {
    let addr = silent_server().await;
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, tcp: {{ host: 127.0.0.1, port: {} }} }}",
            addr.port()
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert!(r.phases.connect_ms.is_some());
}

#[tokio::test]
async fn closed_port_is_refused() {
    let port = closed_port().await;
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, tcp: {{ host: 127.0.0.1, port: {port} }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::Refused);
}
