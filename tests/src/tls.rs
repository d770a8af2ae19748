//! Certificates generated for the tests: a test CA, and leaves that are valid, expired,
//! self-signed, or for another name.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::{Arc, OnceLock};
use time::{Duration, OffsetDateTime};

pub struct Ca {
    pub der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

pub fn ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Atalaya Test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Ca {
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf {
    /// Signed by the test CA for 127.0.0.1, valid for 90 more days.
    Valid,
    /// Valid, but only for 5 more days.
    ExpiringSoon,
    /// Signed by the test CA, expired 3 days ago.
    Expired,
    /// Self-signed for 127.0.0.1.
    SelfSigned,
    /// Signed by the test CA, for other.example only.
    WrongName,
}

pub fn server_config(leaf: Leaf) -> Arc<rustls::ServerConfig> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "atalaya test server");
    params.subject_alt_names = match leaf {
        Leaf::WrongName => vec![SanType::DnsName("other.example".try_into().unwrap())],
        _ => vec![SanType::IpAddress("127.0.0.1".parse().unwrap())],
    };
    let now = OffsetDateTime::now_utc();
    let (from, to) = match leaf {
        Leaf::Expired => (now - Duration::days(60), now - Duration::days(3)),
        Leaf::ExpiringSoon => (
            now - Duration::days(60),
            now + Duration::days(5) + Duration::hours(12),
        ),
        _ => (
            now - Duration::days(1),
            now + Duration::days(90) + Duration::hours(12),
        ),
    };
    params.not_before = from;
    params.not_after = to;
    let cert = match leaf {
        Leaf::SelfSigned => params.self_signed(&key).unwrap(),
        _ => params.signed_by(&key, &ca().issuer).unwrap(),
    };
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The test CA and a valid leaf for 127.0.0.1 it signed, as PEM files in `dir`, for servers
/// that read files (the SMTP test server): (CA, certificate, key).
pub fn pem_files(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use base64::Engine;
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "atalaya test server");
    params.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(90);
    let cert = params.signed_by(&key, &ca().issuer).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(ca().der.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let ca_pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca_pem).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}
