//! `atalaya incidents` and `atalaya incident show`: what happened, from the local runner's
//! database or the Lambda functions' tables (one implementation over the `Store` trait).

use crate::store::{open, runtime, Opened, StoreArgs};
use anyhow::Context;
use atalaya_core::evaluate::Incident;
use atalaya_core::{Config, Message};
use atalaya_store::Store;
use std::fmt::Write;

pub fn list(args: &StoreArgs, open_only: bool, json: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let opened = open(args).await?;
        let incidents = match &opened {
            Opened::Sqlite { store, .. } => store.incidents(open_only).await?,
            Opened::Dynamo { store, .. } => store.incidents(open_only).await?,
        };
        let config = opened.checks().map(|c| &c.config);
        let text = if json {
            format!("{}\n", serde_json::to_string_pretty(&incidents)?)
        } else {
            render_list(&incidents, config)?
        };
        crate::emit(&text)
    })
}

pub fn show(args: &StoreArgs, id: &str, messages: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let opened = open(args).await?;
        let incident = match &opened {
            Opened::Sqlite { store, .. } => store.incident(id).await?,
            Opened::Dynamo { store, .. } => store.incident(id).await?,
        };
        let incident = incident
            .with_context(|| format!("no incident {id}: `atalaya incidents` lists them"))?;
        let mut text = render_incident(&incident)?;
        if messages {
            let ids: Vec<String> = incident.timeline.iter().map(|t| t.event.clone()).collect();
            let sent = match &opened {
                Opened::Sqlite { store, .. } => store.messages(&ids).await?,
                Opened::Dynamo { store, .. } => store.messages(&ids).await?,
            };
            text.push_str(&render_messages(&sent));
        }
        crate::emit(&text)
    })
}

/// Columns as wide as their widest value, so long service names do not push the rest.
fn render_list(incidents: &[Incident], config: Option<&Config>) -> anyhow::Result<String> {
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let rows: Vec<[String; 6]> = incidents
        .iter()
        .map(|i| {
            [
                i.id.clone(),
                i.phase.as_str().to_string(),
                match config.and_then(|c| c.service(&i.service)) {
                    Some(s) => format!("{} ({})", i.service, s.name),
                    None => i.service.clone(),
                },
                time(i.opened_at),
                i.resolved_at.map(time).unwrap_or_else(|| "-".into()),
                match i.acknowledgements.len() {
                    0 | 1 => i.acknowledged_by.clone().unwrap_or_else(|| "-".into()),
                    _ => i
                        .acknowledgements
                        .iter()
                        .map(|a| a.by.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            ]
        })
        .collect();
    let head = ["ID", "PHASE", "SERVICE", "OPENED", "RESOLVED", "ACK"];
    let widths: Vec<usize> = (0..head.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([head[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| -> std::fmt::Result {
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                writeln!(out, "{cell}")?;
            } else {
                write!(out, "{cell:<w$}  ", w = widths[i])?;
            }
        }
        Ok(())
    };
    line(&mut out, &head)?;
    for r in &rows {
        line(&mut out, &r.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    if rows.is_empty() {
        writeln!(out, "(no incidents)")?;
    }
    Ok(out)
}

fn render_incident(inc: &Incident) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(
        out,
        "{} · {} · service {}{}",
        inc.id,
        inc.phase.as_str(),
        inc.service,
        if inc.affected.is_empty() {
            String::new()
        } else {
            format!(" (also {})", inc.affected.join(", "))
        }
    )?;
    writeln!(
        out,
        "first failure {} · opened {}",
        inc.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        inc.opened_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    if let Some(r) = inc.resolved_at {
        writeln!(
            out,
            "resolved {}{}",
            r.format("%Y-%m-%d %H:%M:%S UTC"),
            if inc.forced { " (by hand, forced)" } else { "" }
        )?;
    }
    for a in &inc.acknowledgements {
        writeln!(
            out,
            "acknowledged by {} at {}",
            a.by,
            a.at.format("%Y-%m-%d %H:%M:%S UTC")
        )?;
    }
    if inc.acknowledgements.is_empty() {
        if let Some(by) = &inc.acknowledged_by {
            writeln!(out, "acknowledged by {by}")?;
        }
    }
    writeln!(out, "\ntimeline:")?;
    for t in &inc.timeline {
        writeln!(
            out,
            "  {}  {:<9}  {:<13}  {:<12}  {}{}",
            t.at.format("%H:%M:%S"),
            t.audience.as_str(),
            t.kind.as_str(),
            t.phase.as_str(),
            t.service.as_deref().unwrap_or(""),
            t.text
                .as_deref()
                .map(|x| format!(" — {x}"))
                .unwrap_or_default()
        )?;
    }
    Ok(out)
}

/// Every message sent about the incident, as its readers got it.
fn render_messages(messages: &[Message]) -> String {
    let text: String = messages
        .iter()
        .map(atalaya_notify::stdout::render)
        .collect();
    format!("\nmessages ({}):\n\n{text}", messages.len())
}
