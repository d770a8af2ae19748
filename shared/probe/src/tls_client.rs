//! The TLS client a check asks for (`atalaya_core::kinds::tls_client`): which roots verify the
//! server (the built-in public ones, the machine's store, a private CA), the client certificate
//! it presents, the name it verifies. Verifiers are made once per distinct trust and kept; the
//! PEM values are filled in for each run like a header's, and never reported.

use crate::{CheckError, Engine, References};
use atalaya_core::kinds::tls_client::{Pem, TlsClient, Trust};
use atalaya_core::{Check, Reference};
use rustls::client::WebPkiServerVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::{Arc, Mutex, OnceLock};

/// One run's TLS client, when the check asks for more than the defaults.
pub(crate) struct TlsSetup {
    pub verifier: Arc<WebPkiServerVerifier>,
    /// The client certificate with its key, checked to go together.
    pub client: Option<Arc<dyn rustls::client::ResolvesClientCert>>,
    pub server_name: Option<String>,
    /// PEM values that came from references or a key file; scrubbed from anything reported.
    pub secrets: Vec<String>,
}

/// Presents the one client certificate whenever the server asks.
#[derive(Debug)]
struct OneCertificate(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for OneCertificate {
    fn resolve(
        &self,
        _acceptable_issuers: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Verifiers by trust, and the machine's roots once read.
#[derive(Default)]
pub(crate) struct Verifiers {
    made: Mutex<std::collections::HashMap<u64, Arc<WebPkiServerVerifier>>>,
    system: OnceLock<Result<Vec<CertificateDer<'static>>, String>>,
}

/// The machine's trust store (rustls-native-certs: `SSL_CERT_FILE`/`SSL_CERT_DIR`, then the
/// platform's). Certificates it cannot parse are left out, as OpenSSL does.
fn system_roots() -> Result<Vec<CertificateDer<'static>>, String> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "none found".into());
        return Err(format!(
            "the system's trust store has no certificate ({why})"
        ));
    }
    Ok(found.certs)
}

fn text(
    pem: &Pem,
    field: &str,
    values: &References,
    secrets: &mut Vec<String>,
    secret: bool,
) -> Result<String, CheckError> {
    match pem {
        Pem::Value(t) => {
            let env = |r: &Reference| values.value(r);
            let v = t.resolve(env).map_err(|source| CheckError::Unset {
                field: field.to_string(),
                source,
            })?;
            // What a reference brought is secret; of PEM, the encoded body (its armour lines,
            // `-----BEGIN CERTIFICATE-----`, are words any TLS error may say).
            if !v.secrets.is_empty() || secret {
                secrets.push(body(&v.value));
            }
            Ok(v.value)
        }
        Pem::File { text: Some(t), .. } => {
            if secret {
                secrets.push(body(t));
            }
            Ok(t.clone())
        }
        Pem::File { path, .. } => Err(CheckError::Invalid {
            field: field.to_string(),
            message: format!("{path} was not read with the checks file"),
        }),
    }
}

/// The base64 body of PEM text, its lines joined (any run of it is scrubbed); text that is not
/// PEM, whole.
fn body(pem: &str) -> String {
    let lines: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----") && !l.contains(':'))
        .collect();
    if lines.is_empty() {
        pem.to_string()
    } else {
        lines
    }
}

fn certificates(pem: &str, field: &str) -> Result<Vec<CertificateDer<'static>>, CheckError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| CheckError::Invalid {
            field: field.to_string(),
            message: format!("not PEM certificates: {e}"),
        })?;
    if certs.is_empty() {
        return Err(CheckError::Invalid {
            field: field.to_string(),
            message: "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
        });
    }
    Ok(certs)
}

impl Engine {
    /// The TLS client `check` asks for this run (its first: a flow's steps each have their
    /// own, [`Engine::tls_setup_for`]); `None`: the engine's defaults.
    pub(crate) fn tls_setup(&self, check: &Check) -> Result<Option<TlsSetup>, CheckError> {
        match check.kind.tls_clients().first() {
            Some((prefix, client)) => self.tls_setup_for(prefix, client),
            None => Ok(None),
        }
    }

    /// The TLS client of one request (`prefix`: its fields' place, for errors).
    pub(crate) fn tls_setup_for(
        &self,
        prefix: &str,
        client: &TlsClient,
    ) -> Result<Option<TlsSetup>, CheckError> {
        if client.is_default() {
            return Ok(None);
        }
        let values = &self.references;
        let mut secrets = Vec::new();
        let ca = match &client.ca {
            Some(pem) => Some(text(
                pem,
                &format!("{prefix}ca"),
                values,
                &mut secrets,
                false,
            )?),
            None => None,
        };
        let verifier = self.verifier(client, ca.as_deref(), prefix)?;
        let client_auth = match client.client.as_deref() {
            Some((cert, key)) => {
                let f_cert = format!("{prefix}client_cert");
                let f_key = format!("{prefix}client_key");
                let cert_text = text(cert, &f_cert, values, &mut secrets, false)?;
                let key_text = text(key, &f_key, values, &mut secrets, true)?;
                let chain = certificates(&cert_text, &f_cert)?;
                // The parser's error never quotes the key.
                let key = PrivateKeyDer::from_pem_slice(key_text.as_bytes()).map_err(|e| {
                    CheckError::Invalid {
                        field: f_key.clone(),
                        message: format!("not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
                    }
                })?;
                let signing = self
                    .crypto
                    .key_provider
                    .load_private_key(key)
                    .map_err(|e| CheckError::Invalid {
                        field: f_key.clone(),
                        message: format!("the key cannot sign: {e}"),
                    })?;
                let certified = rustls::sign::CertifiedKey::new(chain, signing);
                certified.keys_match().map_err(|e| CheckError::Invalid {
                    field: f_key.clone(),
                    message: format!("not the key of client_cert: {e}"),
                })?;
                Some(Arc::new(OneCertificate(Arc::new(certified)))
                    as Arc<dyn rustls::client::ResolvesClientCert>)
            }
            None => None,
        };
        Ok(Some(TlsSetup {
            verifier,
            client: client_auth,
            server_name: client.server_name.clone(),
            secrets,
        }))
    }

    fn verifier(
        &self,
        client: &TlsClient,
        ca: Option<&str>,
        prefix: &str,
    ) -> Result<Arc<WebPkiServerVerifier>, CheckError> {
        if ca.is_none() && client.trust.is_none_or(|t| t == Trust::Public) {
            return Ok(self.webpki.clone());
        }
        let key = atalaya_core::schedule::stable_hash(
            format!("{:?}\n{}", client.trust, ca.unwrap_or_default()).as_bytes(),
        );
        if let Some(v) = self
            .verifiers
            .made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(v.clone());
        }
        let mut roots = rustls::RootCertStore::empty();
        match client.trust {
            Some(Trust::Public) => roots.roots.extend(self.public_roots.iter().cloned()),
            Some(Trust::System) => {
                let system = self
                    .verifiers
                    .system
                    .get_or_init(system_roots)
                    .as_ref()
                    .map_err(|e| CheckError::Invalid {
                        field: format!("{prefix}trust"),
                        message: e.clone(),
                    })?;
                roots.add_parsable_certificates(system.iter().cloned());
            }
            None => {}
        }
        if let Some(ca) = ca {
            let field = format!("{prefix}ca");
            for cert in certificates(ca, &field)? {
                roots.add(cert).map_err(|e| CheckError::Invalid {
                    field: field.clone(),
                    message: format!("cannot be trusted as a CA: {e}"),
                })?;
            }
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.crypto.clone())
                .build()
                .map_err(|e| CheckError::Invalid {
                    field: format!("{prefix}ca"),
                    message: format!("cannot verify with these roots: {e}"),
                })?;
        let mut made = self
            .verifiers
            .made
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // A file changed many times over a long run: start afresh rather than grow.
        if made.len() > 256 {
            made.clear();
        }
        made.insert(key, verifier.clone());
        Ok(verifier)
    }
}
