//! A real SMTP server for the email tests: tests/smtp_sink.py (aiosmtpd, from the project's
//! virtualenv) on 127.0.0.1. Every message it accepts is kept as the bytes received with its
//! envelope; recipients starting with `bounce` are refused for good, `busy` for now.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// One message received: its envelope and bytes.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub tls: bool,
    pub bytes: Vec<u8>,
}

fn python() -> String {
    std::env::var("ATALAYA_MOTO_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").to_string())
}

impl SmtpSink {
    /// Starts the server; `tls` (certificate and key files) offers and requires STARTTLS,
    /// `auth` (`user:password`) requires that login.
    pub fn start(tls: Option<(&Path, &Path)>, auth: Option<&str>) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp_sink.py");
        let mut cmd = Command::new(python());
        cmd.arg(script).arg(dir.path());
        if let Some((cert, key)) = tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        if let Some(a) = auth {
            cmd.args(["--auth", a]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} (make test installs aiosmtpd): {e}", python()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("the SMTP server did not start (is aiosmtpd in the virtualenv? `make test` installs it): {line:?}")
        });
        SmtpSink { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn folder(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// What it received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for n in 1.. {
            let eml = self.dir.path().join(format!("{n}.eml"));
            let json = self.dir.path().join(format!("{n}.json"));
            let (Ok(bytes), Ok(env)) = (std::fs::read(&eml), std::fs::read_to_string(&json)) else {
                break;
            };
            let env: serde_json::Value = serde_json::from_str(&env).unwrap();
            out.push(Received {
                from: env["from"].as_str().unwrap_or_default().to_string(),
                to: env["to"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                tls: env["tls"].as_bool().unwrap_or(false),
                bytes,
            });
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
