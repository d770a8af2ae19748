//! Resolving, dialling through the guard, and TLS: the steps every probe kind shares, each one
//! timed into the probe's trace.

use crate::guard::{Guard, HostKind};
use crate::{Engine, Judgement, Step, Trace};
use atalaya_core::Reason;
use futures::future::BoxFuture;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;

/// Opens sockets for probes. The engine dials only through this seam, after the guard has
/// judged the address; tests put a loopback-only connector here so that no packet can leave the
/// machine even if the guard were broken.
pub trait Connector: Send + Sync + 'static {
    fn tcp(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>>;
    /// A UDP socket connected to `addr`.
    fn udp(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<UdpSocket>>;
}

/// Dials the address given.
#[derive(Debug, Default)]
pub struct DirectConnector;

impl Connector for DirectConnector {
    fn tcp(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
        Box::pin(TcpStream::connect(addr))
    }
    fn udp(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<UdpSocket>> {
        Box::pin(async move {
            let bind: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            let socket = UdpSocket::bind(bind).await?;
            socket.connect(addr).await?;
            Ok(socket)
        })
    }
}

pub(crate) fn ms_since(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// Maps a socket error to a reason code. The monitor's own lack of resources (file
/// descriptors, buffers, local ports) is a fault of the monitor, not of the target.
pub(crate) fn io_reason(e: &io::Error) -> Reason {
    // EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL (Linux numbers).
    if matches!(e.raw_os_error(), Some(24 | 23 | 105 | 99)) {
        return Reason::CheckError;
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Reason::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => Reason::Reset,
        io::ErrorKind::TimedOut => Reason::Timeout,
        _ => Reason::Protocol,
    }
}

impl Engine {
    /// Resolves a host to addresses (an IP literal resolves to itself, without a lookup).
    pub(crate) async fn resolve(&self, host: &HostKind, trace: &mut Trace) -> Step<Vec<IpAddr>> {
        let name = match host {
            HostKind::Ip(ip) => return Ok(vec![*ip]),
            HostKind::Name(name) => name,
        };
        trace.phase = "dns";
        let t = Instant::now();
        let fqdn = if name.ends_with('.') {
            name.clone()
        } else {
            format!("{name}.")
        };
        let resolver = self.resolver.as_ref().map_err(|e| {
            Judgement::down(Reason::CheckError, format!("cannot resolve {name}: {e}"))
        })?;
        // Boxed: hickory's lookup future is large, and every in-flight probe would carry its size.
        let result = Box::pin(resolver.lookup_ip(fqdn.as_str())).await;
        trace.add_dns(ms_since(t));
        match result {
            Ok(ips) => {
                let ips: Vec<IpAddr> = ips.iter().collect();
                if ips.is_empty() {
                    Err(Judgement::down(
                        Reason::Dns,
                        format!("{name} has no A or AAAA records"),
                    ))
                } else {
                    Ok(ips)
                }
            }
            Err(e) if e.is_no_records_found() => Err(Judgement::down(
                Reason::Dns,
                format!("{name} does not resolve: no A or AAAA records (NXDOMAIN or NODATA)"),
            )),
            Err(e) => Err(Judgement::down(
                Reason::Dns,
                format!("resolving {name} failed: {e}"),
            )),
        }
    }

    /// Resolves a host as written in the checks file (a name or an IP literal in any spelling)
    /// and connects to it through the guard.
    pub(crate) async fn connect_host(
        &self,
        host: &str,
        port: u16,
        trace: &mut Trace,
    ) -> Step<TcpStream> {
        let host = crate::guard::parse_host(host).map_err(|e| Judgement::down(Reason::Dns, e))?;
        let ips = self.resolve(&host, trace).await?;
        self.dial(&ips, port, trace).await
    }

    /// Connects to the first address the guard allows and that answers.
    pub(crate) async fn dial(
        &self,
        ips: &[IpAddr],
        port: u16,
        trace: &mut Trace,
    ) -> Step<TcpStream> {
        self.dial_through(ips, port, trace, &self.guard).await
    }

    /// Connects to one of the platform's own nameservers (from the system resolver
    /// configuration): trusted, as the platform's resolver lives at an address the guard would
    /// refuse (169.254.78.1 on Lambda, the VPC's .2 address). Addresses written in the checks
    /// file never come this way.
    pub(crate) async fn dial_platform(
        &self,
        ip: IpAddr,
        port: u16,
        trace: &mut Trace,
    ) -> Step<TcpStream> {
        self.dial_through(&[ip], port, trace, &Guard::permissive())
            .await
    }

    async fn dial_through(
        &self,
        ips: &[IpAddr],
        port: u16,
        trace: &mut Trace,
        guard: &Guard,
    ) -> Step<TcpStream> {
        trace.phase = "connect";
        let mut last: Option<Judgement> = None;
        for ip in ips {
            if let Err(kind) = guard.check(*ip) {
                last = Some(blocked(*ip, kind));
                continue;
            }
            let addr = SocketAddr::new(*ip, port);
            let t = Instant::now();
            let result = self.connector.tcp(addr).await;
            trace.add_connect(ms_since(t));
            match result {
                Ok(stream) => {
                    // Judge the peer the socket is actually connected to, whatever path led here.
                    let peer = stream.peer_addr().map_err(|e| {
                        Judgement::down(io_reason(&e), format!("connection to {addr} lost: {e}"))
                    })?;
                    if let Err(kind) = guard.check(peer.ip()) {
                        return Err(blocked(peer.ip(), kind));
                    }
                    let _ = stream.set_nodelay(true);
                    trace.peer = Some(peer);
                    return Ok(stream);
                }
                Err(e) => {
                    let verb = match io_reason(&e) {
                        Reason::Refused => "refused",
                        Reason::Reset => "reset",
                        _ => "failed",
                    };
                    last = Some(Judgement::down(
                        io_reason(&e),
                        format!("connection to {addr} {verb}: {e}"),
                    ));
                }
            }
        }
        Err(last.unwrap_or_else(|| Judgement::down(Reason::Dns, "no address to connect to".into())))
    }

    /// TLS handshake, with the check's own trust and client certificate when it has them
    /// (`setup`); records the days left of the chain's first certificate to expire (the
    /// server's or an intermediate it sent) even when verification fails.
    pub(crate) async fn handshake(
        &self,
        stream: TcpStream,
        server_name: &str,
        verify: bool,
        alpn: &[&[u8]],
        setup: Option<&crate::tls_client::TlsSetup>,
        trace: &mut Trace,
    ) -> Step<TlsStream<TcpStream>> {
        trace.phase = "tls";
        let server_name = setup
            .and_then(|s| s.server_name.as_deref())
            .unwrap_or(server_name);
        let name = ServerName::try_from(
            server_name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|e| {
            Judgement::down(
                Reason::TlsHandshake,
                format!("{server_name:?} cannot be a TLS server name: {e}"),
            )
        })?;
        let verifier = Arc::new(CapturingVerifier {
            inner: setup.map_or_else(|| self.webpki.clone(), |s| s.verifier.clone()),
            verify,
            chain: Mutex::new(Vec::new()),
        });
        let builder = rustls::ClientConfig::builder_with_provider(self.crypto.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Judgement::down(Reason::TlsHandshake, format!("TLS configuration: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let mut config = match setup.and_then(|s| s.client.clone()) {
            Some(client) => builder.with_client_cert_resolver(client),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let t = Instant::now();
        let result = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await;
        trace.add_tls(ms_since(t));
        let chain = verifier
            .chain
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        // The first to expire decides; the server's own certificate wins a tie.
        let mut first: Option<(i64, usize)> = None;
        for (i, der) in chain.iter().enumerate() {
            if let Some(d) = days_left(der) {
                if first.is_none_or(|(f, _)| d < f) {
                    first = Some((d, i));
                }
            }
        }
        if let Some((days, i)) = first {
            trace.cert_days_left = Some(days);
            trace.cert_first_to_expire = (i > 0).then(|| subject(&chain[i]));
        }
        result.map_err(|e| tls_failure(&e, server_name, trace.cert_days_left))
    }
}

fn blocked(ip: IpAddr, kind: &str) -> Judgement {
    Judgement::down(
        Reason::Blocked,
        format!(
            "refused to connect to {ip}: {kind} addresses are blocked; {}",
            crate::lint::remedy(kind)
        ),
    )
}

/// A certificate's subject, as operators read it (`CN=Example Intermediate CA, O=Example`).
fn subject(der: &[u8]) -> String {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_else(|_| "an intermediate certificate".into())
}

/// Days until the certificate's notAfter, rounded down (negative once expired).
pub(crate) fn days_left(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    Some((not_after - chrono::Utc::now().timestamp()).div_euclid(86_400))
}

fn tls_failure(e: &io::Error, server_name: &str, days: Option<i64>) -> Judgement {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return Judgement::down(
            io_reason(e),
            format!("TLS handshake with {server_name} failed: {e}"),
        );
    };
    let (reason, what) = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                Reason::TlsExpired,
                match days {
                    Some(d) => format!("certificate expired {} day(s) ago", -d),
                    None => "certificate expired".to_string(),
                },
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                Reason::TlsExpired,
                "certificate is not valid yet".to_string(),
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                (
                    Reason::TlsHostname,
                    format!("certificate is not valid for {server_name}"),
                )
            }
            CertificateError::UnknownIssuer => (
                Reason::TlsUntrusted,
                "certificate is not signed by a trusted authority (self-signed or unknown issuer)"
                    .to_string(),
            ),
            other => (
                Reason::TlsUntrusted,
                format!("certificate rejected: {other:?}"),
            ),
        },
        other => (
            Reason::TlsHandshake,
            format!("TLS handshake failed: {other}"),
        ),
    };
    Judgement::down(reason, format!("{what} ({server_name})"))
}

/// Verifies like webpki (or not at all, when a check turns verification off) and keeps the
/// chain the server sent so its expiry can be reported whatever the verdict.
#[derive(Debug)]
struct CapturingVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    verify: bool,
    /// The server's certificate, then the intermediates it sent.
    chain: Mutex<Vec<Vec<u8>>>,
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.to_vec())
                .collect();
        }
        if self.verify {
            self.inner.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )
        } else {
            Ok(ServerCertVerified::assertion())
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
