//! The local runner's channels, and delivering to them.

use anyhow::Context;
use atalaya_app::deliver;
use atalaya_app::EmailChannel;
use atalaya_notify::{Channel, JsonlChannel, StdoutChannel};
use atalaya_store::SqliteStore;
use std::path::Path;

/// The local runner's channels: people read stdout, machines read the JSONL outbox,
/// customers' subscribers get mail when the file has a brand, and operators' paging and chat
/// channels (`settings.operators.channels`) what their routes send them.
pub struct LocalChannels {
    stdout: StdoutChannel,
    jsonl: JsonlChannel,
    email: Option<EmailChannel<SqliteStore>>,
    on_call: Vec<Box<dyn Channel>>,
}

/// The operators' paging and chat channels of `config`, their requests through a network
/// guard of the file's `allow_networks`; references read from the environment and AWS. With
/// `ack`, open incidents' messages carry their acknowledgement link.
pub async fn on_call(
    config: &atalaya_core::Config,
    ack: Option<&atalaya_notify::oncall::AckLinks>,
) -> anyhow::Result<Vec<Box<dyn Channel>>> {
    if config.settings.operators.on_call.channels.is_empty() {
        return Ok(Vec::new());
    }
    let engine = std::sync::Arc::new(atalaya_probe::Engine::new(atalaya_probe::EngineOptions {
        allow_networks: config.settings.allow_networks.clone(),
        ..Default::default()
    })?);
    Ok(atalaya_app::on_call::build(
        config,
        &engine,
        &crate::mail::sdk().await,
        &atalaya_notify::vendor::Policy::default(),
        ack,
    )
    .await)
}

impl LocalChannels {
    pub fn open(outbox: &Path) -> anyhow::Result<Self> {
        Ok(LocalChannels {
            stdout: StdoutChannel::default(),
            jsonl: JsonlChannel::open(outbox)
                .with_context(|| format!("opening the outbox {}", outbox.display()))?,
            email: None,
            on_call: Vec::new(),
        })
    }

    /// With the operators' paging and chat channels ([`on_call`]).
    pub fn with_on_call(mut self, on_call: Vec<Box<dyn Channel>>) -> Self {
        self.on_call = on_call;
        self
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
        all.extend(self.on_call.iter().map(|c| c.as_ref()));
        all
    }
}

/// Where acknowledgement links point for `config`: the pages' address (`settings.email.
/// pages_url`, else `listen`), signed with the email key next to `db`; none without either.
pub async fn ack_links(
    config: &atalaya_core::Config,
    db: &Path,
    listen: Option<&str>,
) -> anyhow::Result<Option<atalaya_notify::oncall::AckLinks>> {
    if config.settings.operators.on_call.channels.is_empty()
        || (listen.is_none() && config.settings.email.pages_url.is_none())
    {
        return Ok(None);
    }
    Ok(Some(atalaya_notify::oncall::AckLinks {
        base: crate::mail::pages_url(config, listen),
        key: crate::mail::key(config, db).await?,
    }))
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
