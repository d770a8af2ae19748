//! Where messages go. For the local runner: people read them on stdout, machines read the JSONL
//! outbox (exactly what SNS would receive, plus `at`, one JSON object per line).

use atalaya_core::Message;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

pub mod sns;
pub mod templates;
pub use sns::{email_subject, SnsPublisher};

/// Takes messages to their destination.
pub trait Publisher {
    fn publish(&mut self, message: &Message) -> io::Result<()>;
}

/// A readable rendering for a terminal.
pub struct Readable<W: Write> {
    out: W,
}

impl<W: Write> Readable<W> {
    pub fn new(out: W) -> Self {
        Readable { out }
    }
}

impl<W: Write> Publisher for Readable<W> {
    fn publish(&mut self, m: &Message) -> io::Result<()> {
        let attr = |k: &str| m.attributes.get(k).map(String::as_str).unwrap_or("-");
        let head = format!(
            "── {} · {} · {} · {} · {} ",
            m.at.format("%H:%M:%S"),
            attr("audience"),
            attr("event"),
            m.attributes
                .get("incident")
                .or(m.attributes.get("service"))
                .map(String::as_str)
                .unwrap_or("-"),
            attr("language"),
        );
        let rule = "─".repeat(100usize.saturating_sub(head.chars().count()));
        writeln!(self.out, "{head}{rule}")?;
        writeln!(self.out, "Subject: {}", m.subject)?;
        writeln!(self.out)?;
        for line in m.body.lines() {
            writeln!(self.out, "  {line}")?;
        }
        writeln!(self.out)?;
        self.out.flush()
    }
}

/// Appends one JSON object per message to a file, synced to disk before it counts as published.
/// A message already among the file's last lines (written just before a crash, before the store
/// could mark it published) is not written again.
pub struct JsonlOutbox {
    file: File,
    recent: HashSet<String>,
}

/// How far back from the end of the file to look for ids already written.
const TAIL: u64 = 1 << 20;

impl JsonlOutbox {
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
        Ok(JsonlOutbox { file, recent })
    }
}

impl Publisher for JsonlOutbox {
    fn publish(&mut self, m: &Message) -> io::Result<()> {
        if self.recent.contains(&m.id) {
            return Ok(());
        }
        let mut line = serde_json::to_vec(m).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.recent.insert(m.id.clone());
        Ok(())
    }
}

/// Publishes to several destinations in turn.
pub struct Fanout(pub Vec<Box<dyn Publisher>>);

impl Publisher for Fanout {
    fn publish(&mut self, m: &Message) -> io::Result<()> {
        for p in &mut self.0 {
            p.publish(m)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atalaya_core::evaluate::Audience;

    fn message(id: &str) -> Message {
        Message {
            id: id.into(),
            at: "2026-11-24T10:00:00Z".parse().unwrap(),
            topic: Audience::Customers,
            subject: "Tienda online: estamos resolviendo un problema".into(),
            body: "Hola".into(),
            attributes: [
                ("audience".to_string(), "customers".to_string()),
                ("event".to_string(), "opened".to_string()),
            ]
            .into(),
        }
    }

    #[test]
    fn jsonl_writes_one_object_per_line_and_never_twice_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let mut out = JsonlOutbox::open(&path).unwrap();
        out.publish(&message("a")).unwrap();
        out.publish(&message("a")).unwrap();
        drop(out);
        // A crash after writing "b" but before it was marked published: "b" comes again.
        let mut out = JsonlOutbox::open(&path).unwrap();
        out.publish(&message("b")).unwrap();
        drop(out);
        let mut out = JsonlOutbox::open(&path).unwrap();
        out.publish(&message("b")).unwrap();
        out.publish(&message("c")).unwrap();
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
        JsonlOutbox::open(&path)
            .unwrap()
            .publish(&message("y"))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(text.lines().nth(1).unwrap()).is_ok(),
            "{text}"
        );
    }

    #[test]
    fn readable_output_shows_subject_and_body() {
        let mut buf = Vec::new();
        Readable::new(&mut buf).publish(&message("a")).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("customers · opened"), "{text}");
        assert!(text.contains("Subject: Tienda online: estamos resolviendo un problema"));
    }
}
