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
        // Two and a half days ago: "expired 3 day(s) ago" (rounded down) whenever the probe
        // runs, not only within the second the certificate was made.
        Leaf::Expired => (
            now - Duration::days(60),
            now - Duration::days(3) + Duration::hours(12),
        ),
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

/// The test CA's certificate, PEM.
pub fn ca_pem() -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(ca().der.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// The test CA and a valid leaf for 127.0.0.1 it signed, as PEM files in `dir`, for servers
/// that read files (the SMTP test server): (CA, certificate, key).
pub fn pem_files(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
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
    let ca_pem = ca_pem();
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

/// A private PKI, apart from the test CA the test engines trust: a root, an intermediate, a
/// server certificate for 127.0.0.1 sent with the intermediate, and a client CA with one client
/// certificate. What a team's internal services look like.
pub struct Private {
    /// The root, PEM: what a check's `ca` names.
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    /// The server: its chain (leaf, intermediate) and, when asked, requiring a client
    /// certificate signed by the client CA.
    pub server: Arc<rustls::ServerConfig>,
}

fn ca_params(name: &str, from: OffsetDateTime, to: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = from;
    params.not_after = to;
    params
}

/// A private PKI whose intermediate expires in `intermediate_days` (and a half), the server
/// certificate in 90; the server requires a client certificate when `require_client`.
pub fn private_pki(intermediate_days: i64, require_client: bool) -> Private {
    let now = OffsetDateTime::now_utc();
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params(
        "Example Internal Root CA",
        now - Duration::days(10),
        now + Duration::days(3650),
    );
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let mid_key = KeyPair::generate().unwrap();
    let mid_params = ca_params(
        "Example Internal Issuing CA",
        now - Duration::days(10),
        now + Duration::days(intermediate_days) + Duration::hours(12),
    );
    let mid = mid_params.signed_by(&mid_key, &root_issuer).unwrap();
    let mid_issuer = Issuer::new(mid_params, mid_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "internal.example");
    leaf_params.subject_alt_names = vec![
        SanType::IpAddress("127.0.0.1".parse().unwrap()),
        SanType::DnsName("internal.example".try_into().unwrap()),
    ];
    leaf_params.not_before = now - Duration::days(1);
    leaf_params.not_after = now + Duration::days(90) + Duration::hours(12);
    let leaf = leaf_params.signed_by(&leaf_key, &mid_issuer).unwrap();

    let client_ca_key = KeyPair::generate().unwrap();
    let client_ca_params = ca_params(
        "Example Client CA",
        now - Duration::days(10),
        now + Duration::days(3650),
    );
    let client_ca = client_ca_params.self_signed(&client_ca_key).unwrap();
    let client_ca_issuer = Issuer::new(client_ca_params, client_ca_key);
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "atalaya probe");
    client_params.not_before = now - Duration::days(1);
    client_params.not_after = now + Duration::days(90);
    let client = client_params
        .signed_by(&client_key, &client_ca_issuer)
        .unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(client_ca.der().clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut server = builder
        .with_single_cert(vec![leaf.der().clone(), mid.der().clone()], key_der)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Private {
        ca_pem: root.pem(),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
        server: Arc::new(server),
    }
}
