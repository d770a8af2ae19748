//! The network guard. Every probe here runs through the loopback-only connector: if the guard
//! failed, the test would fail on a refused socket, and no packet would leave the machine.

use crate::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_probe::{Engine, EngineOptions};
use atalaya_tests::{engine, http::server, options};

/// An engine with the default guard: nothing allowed, not even loopback.
fn strict_engine(dns: Option<std::net::SocketAddr>) -> Engine {
    Engine::new(EngineOptions {
        allow_networks: vec![],
        ..options(dns)
    })
    .unwrap()
}

#[tokio::test]
async fn redirect_to_the_metadata_address_is_blocked() {
    let addr = server(None).await;
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, http: {{ url: 'http://{addr}/redirect-metadata' }} }}"
        ),
    )
    .await;
    assert_result(&r, Outcome::Unknown, Reason::Blocked);
    assert!(
        r.detail.contains("169.254.169.254") && r.detail.contains("cloud metadata"),
        "{}",
        r.detail
    );
    // Never the advice to allow it: where the name or the redirect points is what to check.
    assert!(!r.detail.contains("allow_networks"), "{}", r.detail);
    assert!(r.detail.contains("a redirect points"), "{}", r.detail);
}

#[tokio::test]
async fn redirect_to_an_obfuscated_metadata_literal_is_blocked() {
    let addr = server(None).await;
    let r = probe(
        &engine(None),
        &format!(
            "  - {{ id: c, service: web, http: {{ url: 'http://{addr}/redirect-obfuscated' }} }}"
        ),
    )
    .await;
    assert_result(&r, Outcome::Unknown, Reason::Blocked);
    assert!(r.detail.contains("169.254.169.254"), "{}", r.detail);
}

#[tokio::test]
async fn names_resolving_to_internal_addresses_are_blocked() {
    let dns = atalaya_tests::dns::server().await;
    for (name, ip) in [
        ("rebind.test", "169.254.169.254"),
        ("private.test", "10.0.0.5"),
    ] {
        let r = probe(
            &engine(Some(dns)),
            &format!("  - {{ id: c, service: web, http: {{ url: 'http://{name}/' }} }}"),
        )
        .await;
        assert_result(&r, Outcome::Unknown, Reason::Blocked);
        assert!(r.detail.contains(ip), "{}", r.detail);
    }
}

#[tokio::test]
async fn loopback_is_blocked_unless_allowed_in_every_spelling() {
    let addr = server(None).await;
    let port = addr.port();
    let strict = strict_engine(None);
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "017700000001",
        "127.1",
        "[::ffff:127.0.0.1]",
        "[::1]",
    ] {
        let r = probe(
            &strict,
            &format!("  - {{ id: c, service: web, http: {{ url: 'http://{host}:{port}/ok' }} }}"),
        )
        .await;
        assert_result(&r, Outcome::Unknown, Reason::Blocked);
    }
    // The same target with 127.0.0.0/8 allowed.
    let r = probe(
        &engine(None),
        &format!("  - {{ id: c, service: web, http: {{ url: 'http://2130706433:{port}/ok' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn tcp_tls_and_dns_targets_pass_the_guard_too() {
    let strict = strict_engine(None);
    for check in [
        "  - { id: c, service: web, tcp: { host: 169.254.169.254, port: 80 } }",
        "  - { id: c, service: web, tcp: { host: '0xa9fea9fe', port: 80 } }",
        "  - { id: c, service: web, tls: { host: 10.1.2.3, port: 443 } }",
        "  - { id: c, service: web, tcp: { host: 'fe80::1', port: 22 } }",
        "  - { id: c, service: web, dns: { name: acme.test, nameserver: 169.254.169.253 } }",
        "  - { id: c, service: web, dns: { name: acme.test, nameserver: '127.0.0.1:53' } }",
    ] {
        let r = probe(&strict, check).await;
        assert_result(&r, Outcome::Unknown, Reason::Blocked);
    }
}

#[tokio::test]
async fn the_platform_resolver_is_trusted_and_a_nameserver_written_in_the_file_is_not() {
    // The platform's own resolver (what /etc/resolv.conf names; on Lambda 169.254.78.1) lives
    // at an address the guard refuses. Here a loopback server plays it, and the guard allows
    // nothing at all.
    let ns = atalaya_tests::dns::server().await;
    let e = strict_engine(Some(ns));
    let r = probe(
        &e,
        "  - { id: c, service: web, dns: { name: acme.test }, expect: { answers_include: [203.0.113.10] } }",
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    // Truncated over UDP: the retry over TCP goes to the same trusted resolver.
    let r = probe(
        &e,
        "  - { id: c, service: web, dns: { name: big.acme.test, type: TXT } }",
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    // The same address written in the checks file goes through the guard.
    let r = probe(
        &e,
        &format!("  - {{ id: c, service: web, dns: {{ name: acme.test, nameserver: '{ns}' }} }}"),
    )
    .await;
    assert_result(&r, Outcome::Unknown, Reason::Blocked);
    assert!(
        r.detail.contains("refused to query nameserver"),
        "{}",
        r.detail
    );
}

/// An engine whose checks file allows `ranges`; the connector still refuses anything but
/// loopback, so a guard that let an address through would show as another reason.
fn engine_allowing(ranges: &[&str], dns: Option<std::net::SocketAddr>) -> Engine {
    Engine::new(EngineOptions {
        allow_networks: ranges.iter().map(|r| r.parse().unwrap()).collect(),
        ..options(dns)
    })
    .unwrap()
}

#[tokio::test]
async fn ipv6_forms_of_the_metadata_address_are_blocked_whatever_ipv6_range_is_allowed() {
    let dns = atalaya_tests::dns::server().await;
    for ranges in [
        &[][..],
        &["::/0"],
        &["2002::/16", "64:ff9b::/96", "::ffff:0:0/96"],
        &["64:ff9b:1::/48", "2001::/32"],
    ] {
        let e = engine_allowing(ranges, Some(dns));
        for host in [
            "[::ffff:169.254.169.254]",
            "[::ffff:0:a9fe:a9fe]",
            "[64:ff9b::a9fe:a9fe]",
            "[64:ff9b:1::a9fe:a9fe]",
            "[2002:a9fe:a9fe::1]",
            "[2001:0:4136:e378:8000:63bf:5601:5601]",
            "nat64-local.test",
            "teredo.test",
        ] {
            let r = probe(
                &e,
                &format!("  - {{ id: c, service: web, http: {{ url: 'http://{host}/latest/meta-data/' }} }}"),
            )
            .await;
            assert_result(&r, Outcome::Unknown, Reason::Blocked);
            assert!(
                r.detail.contains("metadata"),
                "{host} with {ranges:?}: {}",
                r.detail
            );
        }
    }
}

#[tokio::test]
async fn the_metadata_address_opens_only_when_listed_exactly() {
    for ranges in [&["169.254.0.0/16"][..], &["0.0.0.0/0", "::/0"]] {
        let r = probe(
            &engine_allowing(ranges, None),
            "  - { id: c, service: web, tcp: { host: 169.254.169.254, port: 80 } }",
        )
        .await;
        assert_result(&r, Outcome::Unknown, Reason::Blocked);
    }
    // Listed exactly, the guard lets it through, and the loopback-only connector refuses it:
    // proof the guard said yes, without a packet leaving.
    let r = probe(
        &engine_allowing(&["169.254.169.254/32"], None),
        "  - { id: c, service: web, tcp: { host: 169.254.169.254, port: 80 } }",
    )
    .await;
    assert_ne!(r.reason, Reason::Blocked, "{}", r.detail);
}
