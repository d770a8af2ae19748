//! How a composed mail leaves: an SMTP server (STARTTLS, TLS and authentication as the URL
//! says: lettre) or `.eml` files in a folder, which any mail program opens.

use super::compose::Mail;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

/// A mail that did not go: `permanent` when the server refused the recipient for good (a hard
/// bounce), otherwise trying again may work.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub detail: String,
}

impl Transport {
    /// `smtp://[user:password@]host[:port][?tls=required|opportunistic]` or `smtps://…`.
    pub fn smtp(url: &str) -> Result<Transport, String> {
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            // The URL may hold a password: never repeat it.
            .map_err(|e| {
                format!(
                    "the SMTP address is not usable ({})",
                    redact(&e.to_string(), url)
                )
            })?;
        Ok(Transport::Smtp(
            builder.timeout(Some(Duration::from_secs(30))).build(),
        ))
    }

    pub fn folder(path: impl Into<PathBuf>) -> Transport {
        Transport::Folder(path.into())
    }

    /// Where mail goes, for people: the server's host or the folder.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(_) => "the SMTP server".into(),
            Transport::Folder(p) => p.display().to_string(),
        }
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => {
                let envelope = Envelope::new(
                    Some(mail.from.parse().map_err(|e| SendError {
                        permanent: true,
                        detail: format!("sender {}: {e}", mail.from),
                    })?),
                    vec![mail.to.parse().map_err(|e| SendError {
                        permanent: true,
                        detail: format!("recipient {}: {e}", mail.to),
                    })?],
                )
                .map_err(|e| SendError {
                    permanent: true,
                    detail: e.to_string(),
                })?;
                smtp.send_raw(&envelope, &mail.bytes)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        permanent: e.is_permanent(),
                        detail: e.to_string(),
                    })
            }
            Transport::Folder(dir) => {
                let io = |e: std::io::Error| SendError {
                    permanent: false,
                    detail: format!("{}: {e}", dir.display()),
                };
                std::fs::create_dir_all(dir).map_err(io)?;
                let name: String = mail
                    .message_id
                    .trim_matches(['<', '>'])
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "-.@".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                let partial = dir.join(format!(".{name}.eml.partial"));
                std::fs::write(&partial, &mail.bytes).map_err(io)?;
                std::fs::rename(&partial, &path).map_err(io)
            }
        }
    }
}

/// `text` with the password of `url` (if any) replaced.
fn redact(text: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
    {
        Some(p) if !p.is_empty() => text.replace(&p, "***"),
        _ => text.to_string(),
    }
}
