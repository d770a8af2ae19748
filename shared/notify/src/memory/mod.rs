//! Keeps what it is sent, in order; can be told to fail. For tests of the delivery rules and
//! of the shells' decisions, without a network.

use crate::{Channel, ChannelError};
use atalaya_core::Message;
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub struct MemoryChannel {
    name: String,
    sent: Mutex<Vec<Message>>,
    /// The next this many sends fail (retryable).
    failures: AtomicUsize,
}

impl MemoryChannel {
    pub fn new(name: &str) -> Self {
        MemoryChannel {
            name: name.to_string(),
            sent: Mutex::new(Vec::new()),
            failures: AtomicUsize::new(0),
        }
    }

    /// Everything sent so far, in order.
    pub fn sent(&self) -> Vec<Message> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The next `n` sends fail with a retryable error.
    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

impl Channel for MemoryChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Err(ChannelError {
                    channel: self.name.clone(),
                    id: m.id.clone(),
                    retryable: true,
                    detail: "told to fail".into(),
                });
            }
            self.sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(m.clone());
            Ok(())
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use atalaya_core::evaluate::Audience;

    pub fn message(id: &str) -> Message {
        Message {
            id: id.into(),
            at: "2026-11-24T10:00:00Z".parse().unwrap_or_default(),
            topic: Audience::Customers,
            subject: "Tienda online: nuevo problema, estamos trabajando en ello".into(),
            body: "Hola".into(),
            attributes: atalaya_core::message::Tags::new(
                Audience::Customers,
                atalaya_core::evaluate::EventKind::Opened,
                atalaya_core::evaluate::Severity::Critical,
                atalaya_core::Language::Es,
            ),
            digest: None,
            details: None,
            translations: Default::default(),
            incident_times: None,
        }
    }
}
