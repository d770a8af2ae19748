//! What the runner's end-to-end tests share: a workspace, the runner as a child process, and
//! its outbox.

#![allow(dead_code, clippy::unwrap_used)]

pub use atalaya_tests::process::Running;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The runner on `file`, stopped when the returned guard is dropped (a failing test too).
pub fn start(file: &Path, db: &Path, outbox: &Path) -> Running {
    Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "run",
                file.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
                "--outbox",
                outbox.to_str().unwrap(),
            ])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// A folder with the checks file `text`, and where the runner keeps its database and outbox.
pub struct Workspace {
    _dir: tempfile::TempDir,
    pub file: PathBuf,
    pub db: PathBuf,
    pub out: PathBuf,
}

pub fn workspace(text: &str) -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(&file, text).unwrap();
    Workspace {
        db: dir.path().join("atalaya.db"),
        out: dir.path().join("outbox.jsonl"),
        file,
        _dir: dir,
    }
}

pub fn outbox(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

pub fn wait_for(path: &Path, what: &str, pred: impl Fn(&[serde_json::Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if pred(&outbox(path)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no {what} in the outbox within 30 s: {:#?}", outbox(path));
}

pub fn has(messages: &[serde_json::Value], audience: &str, event: &str) -> bool {
    messages
        .iter()
        .any(|m| m["attributes"]["audience"] == audience && m["attributes"]["event"] == event)
}

/// Stops the runner as Ctrl-C would (killed if it has not stopped within 10 s).
pub fn interrupt(runner: Running) {
    runner.interrupt(Duration::from_secs(10));
}

pub fn at(m: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    m["at"].as_str().unwrap().parse().unwrap()
}

pub fn customers_file(addr: std::net::SocketAddr) -> Workspace {
    workspace(&format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
customers:
  - {{ id: initech, name: Initech, language: en }}
  - {{ id: acme, name: ACME Corp, language: es, timezone: Europe/Madrid }}
services:
  - {{ id: portal, customer: initech, name: Customer portal }}
  - {{ id: tienda, customer: acme, name: Tienda online, depends_on: [portal] }}
checks:
  - {{ id: portal-home, service: portal, http: {{ url: 'http://{addr}/switch/commands' }} }}
  - {{ id: tienda-home, service: tienda, http: {{ url: 'http://{addr}/switch/commands' }} }}
"
    ))
}

/// A raw HTTP/1.1 request to the runner on 127.0.0.1 (a form body, or a ping's): (status, body).
pub fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string(),
    )
}
