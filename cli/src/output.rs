//! Printing results: a table for people, JSON lines for machines.

use atalaya_core::{Check, Outcome, ProbeResult};
use atalaya_probe::{CheckError, Sink};
use std::io::Write;

pub struct Printer<W: Write> {
    json: bool,
    colour: bool,
    out: W,
    /// Table rows are held until the end so columns line up.
    rows: Vec<ProbeResult>,
    pub check_errors: usize,
    error: Option<std::io::Error>,
    region: String,
}

impl<W: Write> Printer<W> {
    pub fn new(json: bool, colour: bool, region: &str, out: W) -> Self {
        Printer {
            region: region.to_string(),
            json,
            colour,
            out,
            rows: Vec::new(),
            check_errors: 0,
            error: None,
        }
    }

    /// Flushes the table; a reader that went away is not an error.
    pub fn finish(&mut self) -> std::io::Result<()> {
        match self.finish_inner() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    fn finish_inner(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.json {
            return self.out.flush();
        }
        self.rows.sort_by(|a, b| a.check.cmp(&b.check));
        let w = self
            .rows
            .iter()
            .map(|r| r.check.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            self.out,
            "{:<w$}  {:<8}  {:<13}  {:>10}  DETAIL",
            "CHECK", "OUTCOME", "REASON", "LATENCY"
        )?;
        for r in &self.rows {
            let outcome = format!("{:<8}", r.outcome.as_str());
            let outcome = if self.colour {
                let code = match r.outcome {
                    Outcome::Up => "32",
                    Outcome::Degraded => "33",
                    Outcome::Down => "31",
                    Outcome::Unknown => "35",
                };
                format!("\x1b[{code}m{outcome}\x1b[0m")
            } else {
                outcome
            };
            writeln!(
                self.out,
                "{:<w$}  {outcome}  {:<13}  {:>8.1}ms  {}",
                r.check,
                r.reason.as_str(),
                r.latency_ms,
                r.detail
            )?;
        }
        let count = |o: Outcome| self.rows.iter().filter(|r| r.outcome == o).count();
        writeln!(
            self.out,
            "\n{}: {} up, {} degraded, {} down, {} unknown",
            crate::plural(self.rows.len(), "check", "checks"),
            count(Outcome::Up),
            count(Outcome::Degraded),
            count(Outcome::Down),
            count(Outcome::Unknown)
        )?;
        self.out.flush()
    }
}

impl<W: Write> Sink for Printer<W> {
    fn result(&mut self, result: ProbeResult) {
        if !self.json {
            self.rows.push(result);
            return;
        }
        if self.error.is_some() {
            return;
        }
        let line = serde_json::to_string(&result).map_err(std::io::Error::other);
        if let Err(e) = line.and_then(|l| writeln!(self.out, "{l}")) {
            self.error = Some(e);
        }
    }

    /// A check that cannot run: an error on stderr, and its monitoring-fault result like any
    /// other (reason `check_error`).
    fn check_error(&mut self, check: &Check, error: CheckError) {
        self.check_errors += 1;
        eprintln!("error: check {}: {error}", check.id);
        let result = error.to_result(check, &self.region, chrono::Utc::now());
        self.result(result);
    }
}
