//! Private CAs, client certificates, the system's trust store and chains whose intermediate
//! expires first, against TLS servers on 127.0.0.1 with a PKI generated for the test (apart from
//! the test CA the engines trust).

use crate::{assert_result, probe};
use atalaya_core::{Outcome, Reason};
use atalaya_tests::http::server_with_tls;
use atalaya_tests::{engine, tls::private_pki};

/// `text` as a YAML block scalar under a key indented by `indent` spaces.
fn block(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent + 2);
    let lines: Vec<String> = text.lines().map(|l| format!("{pad}{l}")).collect();
    format!("|\n{}", lines.join("\n"))
}

fn https(addr: std::net::SocketAddr, tls: &str) -> String {
    format!("  - id: c\n    service: web\n    http:\n      url: 'https://{addr}/ok'\n{tls}")
}

#[tokio::test]
async fn a_service_behind_a_private_ca_is_untrusted_without_it_and_up_with_it() {
    let pki = private_pki(400, false);
    let addr = server_with_tls(pki.server.clone()).await;
    let e = engine(None);
    let r = probe(&e, &https(addr, "")).await;
    assert_result(&r, Outcome::Down, Reason::TlsUntrusted);
    // The CA inline: trusted alone.
    let r = probe(
        &e,
        &https(
            addr,
            &format!("      tls:\n        ca: {}\n", block(&pki.ca_pem, 8)),
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    assert_eq!(r.cert_days_left, Some(90), "{r:?}");
    // From the environment, added to the public roots: trusted too.
    std::env::set_var("ATALAYA_TEST_PRIVATE_CA", &pki.ca_pem);
    let r = probe(
        &e,
        &https(
            addr,
            "      tls: { ca: '${env:ATALAYA_TEST_PRIVATE_CA}', trust: public }\n",
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    // Another name to verify than the URL's host: the certificate also names it.
    let r = probe(
        &e,
        &https(
            addr,
            "      tls: { ca: '${env:ATALAYA_TEST_PRIVATE_CA}', server_name: internal.example }\n",
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    let r = probe(
        &e,
        &https(
            addr,
            "      tls: { ca: '${env:ATALAYA_TEST_PRIVATE_CA}', server_name: other.example }\n",
        ),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::TlsHostname);
    // A CA that is not the server's: untrusted still.
    let other = private_pki(400, false);
    let r = probe(
        &e,
        &https(
            addr,
            &format!("      tls:\n        ca: {}\n", block(&other.ca_pem, 8)),
        ),
    )
    .await;
    assert_result(&r, Outcome::Down, Reason::TlsUntrusted);
}

#[tokio::test]
async fn the_systems_trust_store_is_used_when_asked() {
    let pki = private_pki(400, false);
    let addr = server_with_tls(pki.server.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("system-roots.pem");
    std::fs::write(&file, &pki.ca_pem).unwrap();
    // rustls-native-certs reads SSL_CERT_FILE before the platform's store (this test runs in a
    // process of its own).
    std::env::set_var("SSL_CERT_FILE", &file);
    let r = probe(
        &engine(None),
        &https(addr, "      tls: { trust: system }\n"),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
}

#[tokio::test]
async fn a_client_certificate_opens_a_server_that_requires_one_and_its_key_is_never_shown() {
    let pki = private_pki(400, true);
    let addr = server_with_tls(pki.server.clone()).await;
    let e = engine(None);
    std::env::set_var("ATALAYA_TEST_MTLS_CA", &pki.ca_pem);
    std::env::set_var("ATALAYA_TEST_MTLS_CERT", &pki.client_cert_pem);
    std::env::set_var("ATALAYA_TEST_MTLS_KEY", &pki.client_key_pem);
    let r = probe(
        &e,
        &https(addr, "      tls: { ca: '${env:ATALAYA_TEST_MTLS_CA}' }\n"),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Down, "{r:?}");
    // The server's alert, as rustls names it: the words of a PEM armour are not scrubbed.
    assert!(r.detail.contains("CertificateRequired"), "{r:?}");
    let r = probe(
        &e,
        &https(
            addr,
            "      tls: { ca: '${env:ATALAYA_TEST_MTLS_CA}', client_cert: '${env:ATALAYA_TEST_MTLS_CERT}', client_key: '${env:ATALAYA_TEST_MTLS_KEY}' }\n",
        ),
    )
    .await;
    assert_result(&r, Outcome::Up, Reason::Ok);
    // The key's body never appears in a result, even when it is not a key.
    let body: String = pki
        .client_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!format!("{r:?}").contains(&body[..40]));
    std::env::set_var(
        "ATALAYA_TEST_MTLS_BAD_KEY",
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n",
    );
    let config = atalaya_tests::config(&https(
        addr,
        "      tls: { ca: '${env:ATALAYA_TEST_MTLS_CA}', client_cert: '${env:ATALAYA_TEST_MTLS_CERT}', client_key: '${env:ATALAYA_TEST_MTLS_BAD_KEY}' }\n",
    ));
    // A key that is not one: the check's own fault (a monitoring fault, never the service's
    // outage), said without the key.
    let err = e.probe(&config.checks[0]).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("http.tls.client_key"), "{text}");
    assert!(!text.contains("c2VjcmV0"), "{text}");
    let r = err.to_result(&config.checks[0], "local", chrono::Utc::now());
    assert_result(&r, Outcome::Unknown, Reason::CheckError);
    // Another pair's key: not this certificate's.
    let other = private_pki(400, true);
    std::env::set_var("ATALAYA_TEST_MTLS_OTHER_KEY", &other.client_key_pem);
    let config = atalaya_tests::config(&https(
        addr,
        "      tls: { ca: '${env:ATALAYA_TEST_MTLS_CA}', client_cert: '${env:ATALAYA_TEST_MTLS_CERT}', client_key: '${env:ATALAYA_TEST_MTLS_OTHER_KEY}' }\n",
    ));
    let text = e.probe(&config.checks[0]).await.unwrap_err().to_string();
    assert!(text.contains("not the key of client_cert"), "{text}");
}

#[tokio::test]
async fn an_intermediate_that_expires_first_decides_the_days_left() {
    let pki = private_pki(10, false);
    let addr = server_with_tls(pki.server.clone()).await;
    let e = engine(None);
    let r = probe(
        &e,
        &format!(
            "  - id: c\n    service: web\n    tls:\n      host: 127.0.0.1\n      port: {}\n      ca: {}\n    expect: {{ cert_valid_for: 14d }}\n",
            addr.port(),
            block(&pki.ca_pem, 6)
        ),
    )
    .await;
    assert_result(&r, Outcome::Degraded, Reason::Assertion);
    assert_eq!(r.cert_days_left, Some(10));
    assert!(
        r.detail.contains("Example Internal Issuing CA") && r.detail.contains("10 day(s)"),
        "{}",
        r.detail
    );
    // The same chain over HTTPS: the same days left.
    let r = probe(
        &e,
        &https(
            addr,
            &format!("      tls:\n        ca: {}\n", block(&pki.ca_pem, 8)),
        ),
    )
    .await;
    assert_eq!(r.cert_days_left, Some(10));
}

#[tokio::test]
async fn pem_files_beside_the_checks_file_are_read_with_it_and_a_missing_one_is_named() {
    let pki = private_pki(400, true);
    let addr = server_with_tls(pki.server.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    std::fs::write(dir.path().join("certs/ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("certs/probe.pem"), &pki.client_cert_pem).unwrap();
    std::fs::write(dir.path().join("certs/probe.key"), &pki.client_key_pem).unwrap();
    let text = |key: &str| {
        format!(
            "settings:\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - {{ id: acme, name: ACME }}\nservices:\n  - {{ id: web, customer: acme, name: Web }}\nchecks:\n{}",
            https(
                addr,
                &format!("      tls: {{ ca: certs/ca.pem, client_cert: certs/probe.pem, client_key: {key} }}\n")
            )
        )
    };
    let checks = atalaya_app::Checks::from_text(
        &text("certs/probe.key"),
        "checks.yaml",
        dir.path(),
        atalaya_core::Target::Local,
    )
    .unwrap();
    let r = engine(None).probe(&checks.config.checks[0]).await.unwrap();
    assert_result(&r, Outcome::Up, Reason::Ok);
    let err = atalaya_app::Checks::from_text(
        &text("certs/missing.key"),
        "checks.yaml",
        dir.path(),
        atalaya_core::Target::Local,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.starts_with("checks.yaml:12:74:")
            && err.contains("check c: http.tls.client_key: ")
            && err.contains("missing.key"),
        "{err}"
    );
    // A certificate where the key should be: said, and nothing of it shown.
    let err = atalaya_app::Checks::from_text(
        &text("certs/probe.pem"),
        "checks.yaml",
        dir.path(),
        atalaya_core::Target::Local,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("probe.pem holds no private key in PEM form"),
        "{err}"
    );
}
