//! A readable rendering for a terminal: a rule with the time, audience, event, incident and
//! language, the subject, then the body indented.

use crate::{Channel, ChannelError};
use atalaya_core::Message;
use futures::future::BoxFuture;
use std::io::Write;
use std::sync::Mutex;

/// The message as a person reads it on a terminal (pure: what [`StdoutChannel`] writes).
pub fn render(m: &Message) -> String {
    let t = &m.attributes;
    let head = format!(
        "── {} · {} · {} · {} · {} ",
        m.at.format("%H:%M:%S"),
        t.audience.as_str(),
        t.event.as_str(),
        t.incident
            .as_deref()
            .or(t.service.as_deref())
            .unwrap_or("-"),
        t.language.code(),
    );
    let rule = "─".repeat(100usize.saturating_sub(head.chars().count()));
    let mut out = format!("{head}{rule}\nSubject: {}\n\n", m.subject);
    for line in m.body.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Writes each message, rendered, to a writer (standard output by default).
pub struct StdoutChannel {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Default for StdoutChannel {
    fn default() -> Self {
        StdoutChannel::new(Box::new(std::io::stdout()))
    }
}

impl StdoutChannel {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        StdoutChannel {
            out: Mutex::new(out),
        }
    }
}

impl Channel for StdoutChannel {
    fn name(&self) -> &str {
        "stdout"
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            out.write_all(render(m).as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| ChannelError::io(self.name(), &m.id, &e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_output_shows_subject_and_body() {
        let text = render(&crate::memory::tests::message("a"));
        assert!(text.contains("customers · opened"), "{text}");
        assert!(text.contains("Subject: Tienda online: nuevo problema, estamos trabajando en ello"));
        assert!(text.contains("\n  Hola\n"), "{text}");
    }
}
