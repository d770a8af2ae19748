//! The local runner's channels, and delivering to them.

use anyhow::Context;
use atalaya_app::deliver;
use atalaya_app::EmailChannel;
use atalaya_notify::{Channel, JsonlChannel, StdoutChannel};
use atalaya_store::SqliteStore;
use std::path::Path;

/// The local runner's channels: people read stdout, machines read the JSONL outbox, and
/// customers' subscribers get mail when the file has a brand.
pub struct LocalChannels {
    stdout: StdoutChannel,
    jsonl: JsonlChannel,
    email: Option<EmailChannel<SqliteStore>>,
}

impl LocalChannels {
    pub fn open(outbox: &Path) -> anyhow::Result<Self> {
        Ok(LocalChannels {
            stdout: StdoutChannel::default(),
            jsonl: JsonlChannel::open(outbox)
                .with_context(|| format!("opening the outbox {}", outbox.display()))?,
            email: None,
        })
    }

    /// With the email channel of the file (`crate::mail::channel`).
    pub fn with_email(mut self, email: Option<EmailChannel<SqliteStore>>) -> Self {
        self.email = email;
        self
    }

    pub fn email(&self) -> Option<&EmailChannel<SqliteStore>> {
        self.email.as_ref()
    }

    pub fn all(&self) -> Vec<&dyn Channel> {
        let mut all: Vec<&dyn Channel> = vec![&self.stdout, &self.jsonl];
        if let Some(e) = &self.email {
            all.push(e);
        }
        all
    }
}

/// Delivers what is pending to the local channels; a failure is an error (the message stays
/// pending and goes out on the next round).
pub async fn deliver_local(store: &SqliteStore, channels: &LocalChannels) -> anyhow::Result<()> {
    let out = deliver(store, &channels.all()).await?;
    match out.first_error {
        Some(e) => anyhow::bail!("{e}"),
        None => Ok(()),
    }
}
