//! How a composed mail leaves: an SMTP server (STARTTLS, TLS and authentication as the URL
//! says: lettre), Amazon SES (the raw message, a configuration set whose events report bounces
//! and complaints, the subscriber as a message tag), or `.eml` files in a folder, which any
//! mail program opens.

use super::compose::Mail;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// How long one mail's SMTP conversation may take, and one command of it.
const SMTP_DEADLINE: Duration = Duration::from_secs(30);
const SMTP_COMMAND: Duration = Duration::from_secs(15);

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Ses {
        client: aws_sdk_sesv2::Client,
        configuration_set: Option<String>,
    },
    Folder(PathBuf),
}

/// A mail that did not go. `bounced` when the recipient's address itself is refused for good
/// (SMTP 5.1.x: no such mailbox, bad address): that subscriber gets nothing more. Anything else
/// — a refusal of ours (relay denied, sender not verified, authentication) or a failure for now —
/// leaves the mail to be tried again and reaches the operators: a fault of the monitor's own
/// setup never marks a customer's subscriber.
#[derive(Debug)]
pub struct SendError {
    pub bounced: bool,
    /// The relay itself failed (no connection, no answer in time, a broken conversation), not
    /// this mail: the next mails would fail alike, so they wait (`relay::Breaker`).
    pub relay: bool,
    pub detail: String,
}

impl Transport {
    /// `smtp://[user:password@]host[:port][?tls=required|opportunistic]` or `smtps://…`;
    /// `ca_pem`: the certificate authority of a relay with a private certificate (public
    /// certificates are checked against the usual roots).
    pub fn smtp(url: &str, ca_pem: Option<&[u8]>) -> Result<Transport, String> {
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            // The URL may hold a password: never repeat it.
            .map_err(|e| {
                format!(
                    "the SMTP address is not usable ({})",
                    redact(&e.to_string(), url)
                )
            })?;
        if let Some(pem) = ca_pem {
            let parsed = url::Url::parse(url).map_err(|e| format!("the SMTP address: {e}"))?;
            let host = parsed.host_str().unwrap_or_default().to_string();
            let ca = Certificate::from_pem(pem)
                .map_err(|e| format!("the SMTP server's certificate authority: {e}"))?;
            let params = TlsParameters::builder(host)
                .add_root_certificate(ca)
                .build_rustls()
                .map_err(|e| format!("TLS for the SMTP server: {e}"))?;
            let mode = parsed
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.to_string());
            builder = builder.tls(match (parsed.scheme(), mode.as_deref()) {
                ("smtps", _) => Tls::Wrapper(params),
                (_, Some("opportunistic")) => Tls::Opportunistic(params),
                // A certificate authority was given: the conversation is to be encrypted.
                _ => Tls::Required(params),
            });
        }
        // PLAIN, which every server with authentication takes: trying LOGIN after a refused
        // PLAIN only repeats the refusal (some servers then stall the conversation).
        Ok(Transport::Smtp(
            builder
                .timeout(Some(SMTP_COMMAND))
                .authentication(vec![
                    lettre::transport::smtp::authentication::Mechanism::Plain,
                ])
                .build(),
        ))
    }

    pub fn ses(sdk: &aws_config::SdkConfig, configuration_set: Option<String>) -> Transport {
        Transport::Ses {
            client: aws_sdk_sesv2::Client::new(sdk),
            configuration_set: configuration_set.filter(|c| !c.is_empty()),
        }
    }

    pub fn folder(path: impl Into<PathBuf>) -> Transport {
        Transport::Folder(path.into())
    }

    /// Where mail goes, for people: the server's host or the folder.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(_) => "the SMTP server".into(),
            Transport::Ses { .. } => "Amazon SES".into(),
            Transport::Folder(p) => p.display().to_string(),
        }
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => send_smtp(smtp, mail).await,
            Transport::Ses {
                client,
                configuration_set,
            } => send_ses(client, configuration_set.as_deref(), mail).await,
            Transport::Folder(dir) => write_eml(dir, mail),
        }
    }
}

/// One mail through an SMTP server, within [`SMTP_DEADLINE`].
async fn send_smtp(
    smtp: &AsyncSmtpTransport<Tokio1Executor>,
    mail: &Mail,
) -> Result<(), SendError> {
    let envelope = Envelope::new(
        Some(mail.from.parse().map_err(|e| SendError {
            bounced: false,
            relay: false,
            detail: format!("sender {}: {e}", mail.from),
        })?),
        vec![mail.to.parse().map_err(|e| SendError {
            bounced: true,
            relay: false,
            detail: format!("recipient {}: {e}", mail.to),
        })?],
    )
    .map_err(|e| SendError {
        bounced: false,
        relay: false,
        detail: e.to_string(),
    })?;
    // A server that stops answering mid-conversation must not hold the deliveries
    // behind it: the whole conversation has a deadline.
    match tokio::time::timeout(SMTP_DEADLINE, smtp.send_raw(&envelope, &mail.bytes)).await {
        Ok(sent) => sent.map(|_| ()).map_err(|e| {
            let detail = e.to_string();
            SendError {
                // RFC 3463: X.1.X is about the address (no such mailbox, bad syntax).
                bounced: e.is_permanent() && detail.contains(" 5.1."),
                // No SMTP answer at all: the connection, TLS or a timeout.
                relay: e.is_timeout() || !(e.is_permanent() || e.is_transient()),
                detail,
            }
        }),
        Err(_) => Err(SendError {
            bounced: false,
            relay: true,
            detail: format!(
                "the SMTP server did not finish within {} s",
                SMTP_DEADLINE.as_secs()
            ),
        }),
    }
}

/// One mail through SES: the raw message, the configuration set, the subscriber as a tag.
async fn send_ses(
    client: &aws_sdk_sesv2::Client,
    configuration_set: Option<&str>,
    mail: &Mail,
) -> Result<(), SendError> {
    use aws_sdk_sesv2::primitives::Blob;
    use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};
    let fail = |detail: String| SendError {
        bounced: false,
        relay: false,
        detail,
    };
    let raw = RawMessage::builder()
        .data(Blob::new(mail.bytes.clone()))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut call = client
        .send_email()
        .from_email_address(&mail.from)
        .destination(Destination::builder().to_addresses(&mail.to).build())
        .content(EmailContent::builder().raw(raw).build())
        .set_configuration_set_name(configuration_set.map(str::to_string));
    if let Some(subscriber) = &mail.subscriber {
        // Bounce and complaint events name the subscriber.
        call = call.email_tags(
            MessageTag::builder()
                .name("subscriber")
                .value(subscriber)
                .build()
                .map_err(|e| fail(e.to_string()))?,
        );
    }
    // SES reports bounces later, as events (the mailer marks the subscriber then);
    // a refusal now (an unverified sender, the sandbox, a paused account) is ours.
    call.send()
        .await
        .map(|_| ())
        .map_err(|e| fail(atalaya_aws::classify(&e).detail))
}

/// One mail as an `.eml` file in `dir` (written beside and renamed: never half a file).
fn write_eml(dir: &std::path::Path, mail: &Mail) -> Result<(), SendError> {
    let io = |e: std::io::Error| SendError {
        bounced: false,
        relay: false,
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
