//! One JSON object per line in a file: exactly what SNS would receive (topic role, subject,
//! body, attributes) plus `at`. Synced to disk before it counts as sent; a message already among
//! the file's last lines (written just before a crash, before the store could record it) is not
//! written again.

use crate::{Channel, ChannelError};
use atalaya_core::Message;
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

/// The line for `m` (pure: what [`JsonlChannel`] appends).
pub fn line(m: &Message) -> Result<Vec<u8>, serde_json::Error> {
    // What SNS receives: not the translations (for the email channel) nor a digest part.
    let sent = Message {
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: None,
        ..m.clone()
    };
    let mut line = serde_json::to_vec(&sent)?;
    line.push(b'\n');
    Ok(line)
}

/// How far back from the end of the file to look for ids already written.
const TAIL: u64 = 1 << 20;

pub struct JsonlChannel {
    inner: Mutex<Inner>,
}

struct Inner {
    file: File,
    recent: HashSet<String>,
}

impl JsonlChannel {
    pub fn open(path: &Path) -> io::Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
        let mut recent = HashSet::new();
        for line in BufReader::new(&file).lines() {
            let Ok(line) = line else { continue };
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
                    recent.insert(id.to_string());
                }
            }
        }
        // A line cut short by a crash is completed so the next one starts on its own line.
        if len > 0 {
            file.seek(SeekFrom::Start(len - 1))?;
            let mut last = [0u8; 1];
            if io::Read::read(&mut file, &mut last)? == 1 && last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(JsonlChannel {
            inner: Mutex::new(Inner { file, recent }),
        })
    }
}

impl Channel for JsonlChannel {
    fn name(&self) -> &str {
        "jsonl"
    }

    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if inner.recent.contains(&m.id) {
                return Ok(());
            }
            let bytes = line(m).map_err(|e| ChannelError {
                channel: "jsonl".into(),
                id: m.id.clone(),
                retryable: false,
                detail: e.to_string(),
            })?;
            inner
                .file
                .write_all(&bytes)
                .and_then(|_| inner.file.sync_data())
                .map_err(|e| ChannelError::io("jsonl", &m.id, &e))?;
            inner.recent.insert(m.id.clone());
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::message;

    fn send(c: &JsonlChannel, m: &Message) {
        futures::executor::block_on(c.send(m)).unwrap();
    }

    #[test]
    fn a_line_is_what_sns_receives_without_translations() {
        let mut m = crate::memory::tests::message("m1");
        m.translations.insert(
            atalaya_core::Language::En,
            atalaya_core::message::Translation {
                subject: "Online shop: new problem".into(),
                body: "Hello".into(),
            },
        );
        let text = String::from_utf8(line(&m).unwrap()).unwrap();
        assert!(
            !text.contains("translations") && !text.contains("Online shop"),
            "{text}"
        );
        assert!(text.contains("Tienda online"), "{text}");
    }

    #[test]
    fn jsonl_writes_one_object_per_line_and_never_twice_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let out = JsonlChannel::open(&path).unwrap();
        send(&out, &message("a"));
        send(&out, &message("a"));
        drop(out);
        // A crash after writing "b" but before it was recorded: "b" comes again.
        let out = JsonlChannel::open(&path).unwrap();
        send(&out, &message("b"));
        drop(out);
        let out = JsonlChannel::open(&path).unwrap();
        send(&out, &message("b"));
        send(&out, &message("c"));
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["topic"], "customers");
        assert_eq!(first["at"], "2026-11-24T10:00:00Z");
        assert_eq!(first["attributes"]["event"], "opened");
    }

    #[test]
    fn a_line_cut_short_by_a_crash_does_not_swallow_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        std::fs::write(&path, "{\"id\":\"x\",\"subj").unwrap();
        send(&JsonlChannel::open(&path).unwrap(), &message("y"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(text.lines().nth(1).unwrap()).is_ok(),
            "{text}"
        );
    }
}
