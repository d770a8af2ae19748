//! Test support: real servers on 127.0.0.1 (HTTP with misbehaving paths, HTTPS with generated
//! certificates, DNS with fixed records, a TCP banner), and an engine that can only ever open
//! loopback sockets.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

pub mod browser;
pub mod dns;
pub mod fake_server;
pub mod fake_sns;
pub mod fault_proxy;
pub mod http;
pub mod lambda_api;
pub mod moto;
pub mod moto_plus;
pub mod process;
pub mod recorder;
pub mod secrets;
pub mod smtp;
pub mod story;
pub mod tls;
pub mod vendors;

use atalaya_probe::{Connector, Engine, EngineOptions};
use futures_free::BoxFuture;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

mod futures_free {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

/// Opens loopback sockets only. Guard tests run through it, so a broken guard shows up as a
/// failed test, never as a packet to a metadata or private address.
#[derive(Debug, Default)]
pub struct LoopbackOnly;

fn refuse(addr: SocketAddr) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("test connector refuses non-loopback {addr}"),
    )
}

impl Connector for LoopbackOnly {
    fn tcp(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
        Box::pin(async move {
            if !addr.ip().is_loopback() {
                return Err(refuse(addr));
            }
            TcpStream::connect(addr).await
        })
    }
    fn udp(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<UdpSocket>> {
        Box::pin(async move {
            if !addr.ip().is_loopback() {
                return Err(refuse(addr));
            }
            let socket = UdpSocket::bind("127.0.0.1:0").await?;
            socket.connect(addr).await?;
            Ok(socket)
        })
    }
}

/// The options every probe test starts from: loopback allowed (and nothing else), the
/// loopback-only connector, the test CA trusted, names resolved by `dns` when given.
pub fn options(dns: Option<SocketAddr>) -> EngineOptions {
    EngineOptions {
        region: "local".into(),
        allow_networks: vec!["127.0.0.0/8".parse().unwrap()],
        nameservers: Some(dns.into_iter().collect()),
        extra_roots: vec![tls::ca().der.clone()],
        connector: Arc::new(LoopbackOnly),
        concurrency: 16,
        references: Arc::default(),
    }
}

pub fn engine(dns: Option<SocketAddr>) -> Arc<Engine> {
    Arc::new(Engine::new(options(dns)).unwrap())
}

/// A port on 127.0.0.1 with nothing listening.
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// Accepts connections and never reads or writes.
pub async fn silent_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    addr
}

/// Writes a banner on connect, then echoes nothing.
pub async fn banner_server(banner: &'static str) -> SocketAddr {
    banner_server_on("127.0.0.1:0", banner).await.unwrap()
}

pub async fn banner_server_on(bind: &str, banner: &'static str) -> io::Result<SocketAddr> {
    use tokio::io::AsyncWriteExt;
    let l = TcpListener::bind(bind).await?;
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(banner.as_bytes()).await;
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            });
        }
    });
    Ok(addr)
}

/// Builds a validated checks file around `checks` (YAML list items), loopback allowed.
pub fn config(checks: &str) -> atalaya_core::Config {
    let text = format!(
        "settings:\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - {{ id: acme, name: ACME }}\nservices:\n  - {{ id: web, customer: acme, name: Web }}\nchecks:\n{checks}"
    );
    atalaya_core::load_str(&text, "test.yaml", atalaya_core::Target::Local)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}
