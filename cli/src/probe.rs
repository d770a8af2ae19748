//! `atalaya probe`: run checks once and print their results.

use anyhow::Context;
use atalaya_core::Target;
use atalaya_probe::{Engine, EngineOptions};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub struct ProbeOptions<'a> {
    pub file: &'a Path,
    pub checks: &'a [String],
    pub json: bool,
    pub concurrency: usize,
    pub region: String,
}

pub fn probe(o: ProbeOptions<'_>) -> anyhow::Result<ExitCode> {
    // Read as the runner reads it: PEM files beside the file too.
    let config = match crate::load(o.file, Target::Local) {
        Ok(c) => c.config,
        Err(code) => return Ok(code),
    };
    let unknown: Vec<&str> = o
        .checks
        .iter()
        .filter(|id| config.check(id).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = config.checks.iter().map(|c| c.id.as_str()).collect();
        anyhow::bail!(
            "no check {} in {}; its checks are: {}",
            unknown.join(", "),
            o.file.display(),
            known.join(", ")
        );
    }
    let (passive, probed): (Vec<&atalaya_core::Check>, Vec<&atalaya_core::Check>) = config
        .checks
        .iter()
        .filter(|c| o.checks.is_empty() || o.checks.contains(&c.id))
        .partition(|c| c.kind.is_passive());
    // A heartbeat has nothing to probe: its job pings `atalaya run --listen`.
    for c in &passive {
        eprintln!(
            "{}: a heartbeat, judged from its job's pings by `atalaya run --listen` (not probed)",
            c.id
        );
    }
    let selected: Arc<[atalaya_core::Check]> = probed.into_iter().cloned().collect();
    let engine = Arc::new(
        Engine::new(EngineOptions {
            region: o.region.clone(),
            allow_networks: config.settings.allow_networks.clone(),
            concurrency: o.concurrency,
            ..EngineOptions::default()
        })
        .context("starting the probe engine")?,
    );
    let runtime = atalaya_probe::runtime().context("starting the runtime")?;
    let stdout = std::io::stdout();
    let colour = !o.json && stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut sink = crate::output::Printer::new(o.json, colour, &o.region, stdout.lock());
    let mut remote = crate::references::Remote::of(&config);
    runtime.block_on(async {
        remote.refresh(&engine).await;
        engine.run(selected, &mut sink).await;
    });
    sink.finish()?;
    Ok(if sink.check_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
