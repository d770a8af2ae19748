//! Atalaya's probe engine: HTTP(S), TCP, DNS and TLS probes that report the truth, with timings
//! per phase, inside one deadline per check, through a network guard.
//!
//! The engine pushes each [`ProbeResult`] into a caller-owned [`Sink`]; it does not decide where
//! output goes.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod dns;
mod flow;
pub mod guard;
mod http;
pub mod lint;
mod net;
pub mod outbound;
mod redact;
pub mod references;
mod tcp;
mod tls;
mod tls_client;

pub use guard::Guard;
pub use net::{Connector, DirectConnector};
pub use outbound::{Answer, Outbound, OutboundError};
pub use redact::{printable, redact_url, scrub, Scrubber, QUIET_LIBRARIES};
pub use references::{remote_references, References};

use atalaya_core::duration::format_duration;
use atalaya_core::{Check, CheckKind, Outcome, Phases, ProbeResult, Reason, UnsetVariable};
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The runtime the engine runs on in the CLI and the benchmark: tokio's multi-threaded
/// scheduler, one worker per core.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// How the engine is set up; one engine serves many runs.
pub struct EngineOptions {
    /// The region named in results (`local` for the local runner).
    pub region: String,
    /// Ranges the guard lets through (`settings.allow_networks`).
    pub allow_networks: Vec<ipnet::IpNet>,
    /// The platform's nameservers, for name lookups and for DNS checks without their own;
    /// `None` reads the system's (/etc/resolv.conf). They are trusted: the guard does not judge
    /// them (a nameserver written in the checks file is judged like any target).
    pub nameservers: Option<Vec<SocketAddr>>,
    /// Certificate authorities trusted besides the built-in web roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// How sockets are opened (tests pass a loopback-only connector).
    pub connector: Arc<dyn Connector>,
    /// Most probes in flight at once.
    pub concurrency: usize,
    /// The values of `${ssm:…}` and `${secret:…}` references (the shell reads them).
    pub references: Arc<References>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            region: atalaya_core::LOCAL_REGION.to_string(),
            allow_networks: Vec::new(),
            nameservers: None,
            extra_roots: Vec::new(),
            connector: Arc::new(DirectConnector),
            concurrency: 64,
            references: Arc::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

/// A problem with a check's configuration found when it runs (not a verdict on the target).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{field}: {source}")]
    Unset {
        field: String,
        #[source]
        source: UnsetVariable,
    },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl CheckError {
    /// The result that reports this error: a monitoring fault (outcome `unknown`, reason
    /// `check_error`), so that the incident engine tells operators instead of judging the
    /// target. The detail names the field and the variable, never a value.
    pub fn to_result(
        &self,
        check: &Check,
        region: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> ProbeResult {
        ProbeResult {
            check: check.id.clone(),
            region: region.to_string(),
            at,
            outcome: Outcome::Unknown,
            reason: Reason::CheckError,
            detail: format!("the check cannot run: {self}"),
            latency_ms: 0.0,
            phases: Phases::default(),
            http_status: None,
            cert_days_left: None,
        }
    }
}

/// Receives what a run produces, in completion order.
pub trait Sink {
    fn result(&mut self, result: ProbeResult);
    fn check_error(&mut self, check: &Check, error: CheckError);
}

pub struct Engine {
    region: String,
    guard: Guard,
    resolver: Result<TokioResolver, String>,
    dns_servers: Vec<SocketAddr>,
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    /// The roots `webpki` verifies with (the public ones and any extra), for checks that add a
    /// CA to them.
    public_roots: Arc<Vec<rustls_pki_types::TrustAnchor<'static>>>,
    verifiers: tls_client::Verifiers,
    crypto: Arc<rustls::crypto::CryptoProvider>,
    connector: Arc<dyn Connector>,
    concurrency: usize,
    references: Arc<References>,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Result<Engine, EngineError> {
        let crypto = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in options.extra_roots {
            roots
                .add(cert)
                .map_err(|e| EngineError::Tls(format!("extra root: {e}")))?;
        }
        let public_roots = Arc::new(roots.roots.clone());
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            crypto.clone(),
        )
        .build()
        .map_err(|e| EngineError::Tls(e.to_string()))?;

        let config = match &options.nameservers {
            Some(list) => Ok(ResolverConfig::from_name_servers(
                list.iter()
                    .map(|a| {
                        let mut udp = ConnectionConfig::udp();
                        udp.port = a.port();
                        let mut tcp = ConnectionConfig::tcp();
                        tcp.port = a.port();
                        NameServerConfig::new(a.ip(), true, vec![udp, tcp])
                    })
                    .collect(),
            )),
            None => hickory_resolver::system_conf::read_system_conf()
                .map(|(c, _)| c)
                .map_err(|e| format!("no system nameservers (/etc/resolv.conf): {e}")),
        };
        let dns_servers = match &config {
            Ok(c) => c
                .name_servers
                .iter()
                .map(|ns| {
                    SocketAddr::new(ns.ip, ns.connections.first().map(|c| c.port).unwrap_or(53))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let resolver = config.and_then(|config| {
            let mut opts = ResolverOpts::default();
            // A probe measures the lookup every time and trusts only DNS, never /etc/hosts.
            opts.cache_size = 0;
            opts.use_hosts_file = ResolveHosts::Never;
            opts.attempts = 2;
            opts.timeout = Duration::from_secs(3);
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|e| e.to_string())
        });
        Ok(Engine {
            region: options.region,
            guard: Guard::new(options.allow_networks),
            resolver,
            dns_servers,
            webpki,
            public_roots,
            verifiers: Default::default(),
            crypto,
            connector: options.connector,
            concurrency: options.concurrency.max(1),
            references: options.references,
        })
    }

    /// The values of the `${ssm:…}` and `${secret:…}` references the shell read.
    pub fn references(&self) -> &References {
        &self.references
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Runs every check once, at most `concurrency` at a time, pushing results as they finish.
    ///
    /// `concurrency` worker tasks each take the next check as soon as their last one finishes,
    /// so starting a check never waits for the caller's thread to be scheduled.
    pub async fn run(self: &Arc<Self>, checks: Arc<[Check]>, sink: &mut dyn Sink) {
        let queue = checks;
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let workers = self.concurrency.min(queue.len());
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (engine, queue, next, tx) = (
                Arc::clone(self),
                Arc::clone(&queue),
                Arc::clone(&next),
                tx.clone(),
            );
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(check) = queue.get(i) else { break };
                    let outcome = engine.probe(check).await;
                    if tx.send((i, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        while let Some((i, outcome)) = rx.recv().await {
            match outcome {
                Ok(result) => sink.result(result),
                Err(e) => sink.check_error(&queue[i], e),
            }
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                tracing::error!(error = %e, "probe worker failed");
            }
        }
    }

    /// Runs one check once. The check's timeout bounds everything: resolution, connection, TLS,
    /// headers and body.
    pub async fn probe(&self, check: &Check) -> Result<ProbeResult, CheckError> {
        if check.kind.is_passive() {
            return Err(CheckError::Invalid {
                field: "heartbeat".into(),
                message: "a heartbeat is judged from the pings its job sends, not probed".into(),
            });
        }
        let prepared = http::Prepared::new(check, &self.references)?;
        let tls = match &check.kind {
            CheckKind::Flow(_) => None,
            _ => self.tls_setup(check)?,
        };
        let flow_tls = match &check.kind {
            CheckKind::Flow(f) => self.flow_ready(f)?,
            _ => Vec::new(),
        };
        let at = chrono::Utc::now();
        let start = Instant::now();
        let mut trace = Trace::default();
        let work = async {
            match &check.kind {
                CheckKind::Http(h) => {
                    self.http(check, h, prepared.as_ref(), tls.as_ref(), &mut trace)
                        .await
                }
                // Boxed so that each in-flight probe is the size of its own kind.
                CheckKind::Tcp(t) => Box::pin(self.tcp(t, &mut trace)).await,
                CheckKind::Dns(d) => Box::pin(self.dns(d, &mut trace)).await,
                CheckKind::Tls(t) => Box::pin(self.tls(check, t, tls.as_ref(), &mut trace)).await,
                CheckKind::Flow(f) => Box::pin(self.flow(check, f, &flow_tls, &mut trace)).await,
                // Refused above: a heartbeat is not probed.
                CheckKind::Heartbeat(_) => Err(Judgement::down(
                    Reason::CheckError,
                    "a heartbeat is not probed".into(),
                )),
            }
        };
        let judged = match tokio::time::timeout(check.timeout, work).await {
            Ok(Ok(j)) | Ok(Err(j)) => j,
            Err(_) => {
                let mut detail = timeout_detail(trace.phase, check.timeout);
                if let Some(step) = &trace.step {
                    detail.push_str(&format!(" in step {step}"));
                }
                Judgement::down(Reason::Timeout, detail)
            }
        };
        let latency_ms = net::ms_since(start);
        let judged = judged.with_latency(check, latency_ms);
        // Borrowed, not copied: a check without secrets collects nothing (`redact::scrub`).
        let secrets: Vec<&str> = prepared
            .iter()
            .flat_map(|p| p.secrets.iter())
            .chain(tls.iter().flat_map(|t| t.secrets.iter()))
            .chain(flow_tls.iter().flatten().flat_map(|t| t.secrets.iter()))
            .chain(trace.secrets.iter())
            .chain(trace.extracted.iter().map(|(_, v)| v))
            .map(String::as_str)
            .collect();
        Ok(ProbeResult {
            check: check.id.clone(),
            region: self.region.clone(),
            at,
            outcome: judged.outcome,
            reason: judged.reason,
            // What the target said, with no secret in any form, nothing that moves a cursor,
            // and at most MAX_DETAIL characters (its start and its end).
            detail: atalaya_core::text::shorten(
                &redact::printable(&redact::scrub(&judged.detail, &secrets)),
                MAX_DETAIL,
            ),
            latency_ms,
            phases: trace.phases,
            http_status: trace.http_status,
            cert_days_left: trace.cert_days_left,
        })
    }
}

/// The longest detail a result carries, in characters.
pub const MAX_DETAIL: usize = 4000;

fn timeout_detail(phase: &str, timeout: Duration) -> String {
    let t = format_duration(timeout);
    let what = match phase {
        "dns" => "no DNS answer",
        "connect" => "no connection",
        "tls" => "TLS handshake not finished",
        "ttfb" => "no response headers",
        "body" => "body not complete",
        "reply" => "no reply",
        _ => "no answer",
    };
    format!("{what} within {t} (phase: {phase})")
}

/// What happened during one probe, filled in as it goes so that a probe cut short by its
/// deadline still reports how far it got.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub phase: &'static str,
    pub phases: Phases,
    pub http_status: Option<u16>,
    pub cert_days_left: Option<i64>,
    /// The certificate of the chain that expires first, when it is not the server's own
    /// (an intermediate): its subject.
    pub cert_first_to_expire: Option<String>,
    pub peer: Option<SocketAddr>,
    /// Values a flow's steps took from their responses (variable, value), in order.
    pub extracted: Vec<(String, String)>,
    /// The flow's step running now.
    pub step: Option<String>,
    /// Values met during the run that must never be reported (a flow's steps' references).
    pub secrets: Vec<String>,
}

fn add(slot: &mut Option<f64>, ms: f64) {
    *slot = Some((slot.unwrap_or(0.0) * 1e3 + ms * 1e3).round() / 1e3);
}

impl Trace {
    pub fn add_dns(&mut self, ms: f64) {
        add(&mut self.phases.dns_ms, ms)
    }
    pub fn add_connect(&mut self, ms: f64) {
        add(&mut self.phases.connect_ms, ms)
    }
    pub fn add_tls(&mut self, ms: f64) {
        add(&mut self.phases.tls_ms, ms)
    }
    pub fn add_ttfb(&mut self, ms: f64) {
        add(&mut self.phases.ttfb_ms, ms)
    }
}

/// A verdict with its reason and operator detail.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Judgement {
    pub outcome: Outcome,
    pub reason: Reason,
    pub detail: String,
}

/// A probe step: its value, or the judgement that ends the probe.
pub(crate) type Step<T> = Result<T, Judgement>;

impl Judgement {
    pub fn up(detail: String) -> Self {
        Judgement {
            outcome: Outcome::Up,
            reason: Reason::Ok,
            detail,
        }
    }
    /// The probe failed. A monitoring fault (`blocked`, `check_error`) judges nothing about the
    /// target: its outcome is `unknown`.
    pub fn down(reason: Reason, detail: String) -> Self {
        Judgement {
            outcome: if reason.is_monitoring_fault() {
                Outcome::Unknown
            } else {
                Outcome::Down
            },
            reason,
            detail,
        }
    }

    /// Applies the latency thresholds to a probe that otherwise passed.
    fn with_latency(self, check: &Check, latency_ms: f64) -> Self {
        if matches!(self.outcome, Outcome::Down | Outcome::Unknown) {
            return self;
        }
        let over = |limit: Option<Duration>| limit.filter(|l| latency_ms > l.as_secs_f64() * 1e3);
        if let Some(limit) = over(check.expect.latency_down) {
            return Judgement::down(
                Reason::Assertion,
                format!(
                    "latency {latency_ms:.1}ms above the down threshold {}",
                    format_duration(limit)
                ),
            );
        }
        if let Some(limit) = over(check.expect.latency_degraded) {
            let detail = format!(
                "latency {latency_ms:.1}ms above the degraded threshold {}",
                format_duration(limit)
            );
            return Judgement {
                outcome: Outcome::Degraded,
                reason: Reason::Assertion,
                detail: if self.outcome == Outcome::Degraded {
                    format!("{}; {detail}", self.detail)
                } else {
                    detail
                },
            };
        }
        self
    }
}
