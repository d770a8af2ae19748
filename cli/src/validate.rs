//! `atalaya validate`: every problem with its position; warnings for what will not work as the
//! file hopes (targets the guard refuses, `${env:…}` variables not set, no checks).

use atalaya_core::secrets::Reader;
use atalaya_core::{Config, ConfigError, Target};
use std::path::Path;
use std::process::ExitCode;

pub fn validate(file: &Path, target: Target, strict: bool) -> anyhow::Result<ExitCode> {
    // The file with its PEM files and templates, read as the runner will.
    let config = match crate::load(file, target) {
        Ok(c) => c.config,
        Err(code) => return Ok(code),
    };
    let warnings = warnings(&config, target);
    for w in &warnings {
        eprintln!("{}{w}", if strict { "" } else { "warning: " });
    }
    if strict && !warnings.is_empty() {
        eprintln!(
            "{}: {} found (--strict makes warnings errors)",
            file.display(),
            crate::plural(warnings.len(), "problem", "problems")
        );
        return Ok(ExitCode::from(1));
    }
    crate::emit(&format!(
        "{}: valid ({}, {}, {}){}\n",
        file.display(),
        crate::plural(config.checks.len(), "check", "checks"),
        crate::plural(config.services.len(), "service", "services"),
        crate::plural(config.customers.len(), "customer", "customers"),
        if warnings.is_empty() {
            String::new()
        } else {
            format!(
                "; {} on stderr",
                crate::plural(warnings.len(), "warning", "warnings")
            )
        }
    ))?;
    if target == Target::Lambda {
        crate::emit(&cost_line(&atalaya_core::cost::estimate(&config)))?;
        crate::emit(&floor_line(&atalaya_core::cost::floor(&config)))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The monthly estimate in one line, with what it is made of.
fn cost_line(e: &atalaya_core::cost::Estimate) -> String {
    let mut parts = vec![
        format!(
            "{} check runs ${:.2}",
            thousands(e.runs.round() as u64),
            e.runs_usd
        ),
        format!(
            "{} ${:.2}",
            crate::plural(e.schedules as usize, "probe schedule", "probe schedules"),
            e.schedules_usd
        ),
    ];
    if e.heartbeat_judge_usd > 0.0 {
        parts.push(format!(
            "the heartbeats' judge ${:.2}",
            e.heartbeat_judge_usd
        ));
    }
    if e.kept_running > 0 {
        parts.push(format!(
            "{} kept running all minute for sub-minute checks ${:.2}",
            crate::plural(e.kept_running as usize, "probe function", "probe functions"),
            e.kept_running_usd
        ));
    }
    format!(
        "estimated AWS cost: ${:.2} a month ({}; us-east-1 list prices, docs/data-model.md)\n",
        e.total(),
        parts.join(", ")
    )
}

/// What the stacks cost whatever runs, in one line.
fn floor_line(f: &atalaya_core::cost::Floor) -> String {
    format!(
        "and the stacks' fixed floor: ${:.2} a month ({} ${:.2}, {} ${:.2}, {} ${:.2}; each Secrets Manager secret the file refers to adds $0.40)\n",
        f.total(),
        crate::plural(f.metrics as usize, "custom metric", "custom metrics"),
        f.metrics_usd(),
        crate::plural(f.alarms as usize, "alarm", "alarms"),
        f.alarms_usd(),
        crate::plural(f.kms_keys as usize, "KMS key", "KMS keys"),
        f.kms_usd()
    )
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Everything worth a warning: the file's own (no checks), targets the guard refuses, and
/// `${env:…}` variables this environment does not set.
pub fn warnings(config: &Config, target: Target) -> Vec<ConfigError> {
    let mut out = config.warnings.clone();
    out.extend(atalaya_probe::lint::refused_targets(config));
    out.extend(unset_variables(config, target, |name| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).is_some()
    }));
    out.extend(email_on_lambda(config, target));
    out.extend(settings_secrets(config, target));
    out.extend(channel_secrets(config, target, |name| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).is_some()
    }));
    out
}

/// Paging and chat channels whose secrets cannot be read where they will run: an unset
/// `${env:…}` locally, any `${env:…}` on AWS, a reference outside the secrets prefix.
fn channel_secrets(
    config: &Config,
    target: Target,
    is_set: impl Fn(&str) -> bool,
) -> Vec<ConfigError> {
    let mut out = Vec::new();
    for c in &config.settings.operators.on_call.channels {
        for (field, template) in c.kind.templates() {
            let mut warn = |message: String| {
                out.push(ConfigError {
                    file: config.source.clone(),
                    pos: c.pos,
                    subject: "settings".into(),
                    field: format!("operators.channels.{}.{field}", c.name),
                    message,
                })
            };
            for name in template.variables() {
                match target {
                    Target::Local if !is_set(name) => warn(format!("${{env:{name}}} is not set in this environment: the channel cannot send until it is (what it should send waits for it)")),
                    Target::Lambda => warn(format!("${{env:{name}}} is read from the alert function's environment, which the stacks do not set: keep it in SSM or Secrets Manager as {}", Reader::Alert.where_())),
                    _ => {}
                }
            }
            if target == Target::Lambda {
                for r in template.references().filter(|r| !Reader::Alert.may_read(r)) {
                    warn(outside(r, Reader::Alert));
                }
            }
        }
    }
    out
}

/// Customer email on AWS needs the pages' address and a key the functions can read.
fn email_on_lambda(config: &Config, target: Target) -> Vec<ConfigError> {
    let mails = config.settings.brand.is_some()
        || config
            .customers
            .iter()
            .any(|c| config.brand_for(&c.id).is_some());
    if target != Target::Lambda || !mails {
        return Vec::new();
    }
    let email = &config.settings.email;
    let mut missing = Vec::new();
    if email.pages_url.is_none() {
        missing.push("settings.email.pages_url (the home stack's PagesUrl output)");
    }
    match &email.key {
        None => missing.push("settings.email.key (${ssm:/atalaya/mail/email-key})"),
        Some(k) if k.references().any(|r| r.source == atalaya_core::Source::Env) => missing.push(
            "settings.email.key as ${ssm:...} or ${secret:...} (the functions' environment has no such variable)",
        ),
        Some(_) => {}
    }
    missing
        .into_iter()
        .map(|what| ConfigError {
            file: config.source.clone(),
            pos: atalaya_core::Pos { line: 1, col: 1 },
            subject: "settings".into(),
            field: "email".into(),
            message: format!("customer email on AWS needs {what}: without it the mailer and the pages do not start (docs/deploy.md, \"Customer email in your own name\")"),
        })
        .collect()
}

fn unset_variables(
    config: &Config,
    target: Target,
    is_set: impl Fn(&str) -> bool,
) -> Vec<ConfigError> {
    let mut out = Vec::new();
    for check in &config.checks {
        let reader = if check.kind.is_passive() {
            Reader::Heartbeat
        } else {
            Reader::Probe
        };
        for (field, template) in check.kind.templates() {
            for name in template.variables().filter(|n| !is_set(n)) {
                out.push(ConfigError {
                    file: config.source.clone(),
                    pos: check.pos,
                    subject: format!("check {}", check.id),
                    field: field.clone(),
                    message: match target {
                        Target::Local => format!(
                            "${{env:{name}}} is not set in this environment: the check will report a monitoring fault until it is"
                        ),
                        Target::Lambda => format!(
                            "${{env:{name}}} is read from {}'s environment, which the stacks do not set: keep the value in SSM or Secrets Manager and write {}",
                            reader.functions(),
                            reader.where_()
                        ),
                    },
                });
            }
            if target == Target::Lambda {
                for r in template.references().filter(|r| !reader.may_read(r)) {
                    out.push(ConfigError {
                        file: config.source.clone(),
                        pos: check.pos,
                        subject: format!("check {}", check.id),
                        field: field.clone(),
                        message: outside(r, reader),
                    });
                }
            }
        }
    }
    out
}

/// The settings' own references (the email link key, the heartbeats' key) outside the folder of
/// the functions that read them.
fn settings_secrets(config: &Config, target: Target) -> Vec<ConfigError> {
    let settings = &config.settings;
    let read = [
        ("email.key", settings.email.key.as_ref(), Reader::Mail),
        (
            "heartbeats.key",
            settings.heartbeats.key.as_ref(),
            Reader::Heartbeat,
        ),
    ];
    let mut out = Vec::new();
    if target != Target::Lambda {
        return out;
    }
    for (field, template, reader) in read {
        for r in template.into_iter().flat_map(|t| t.references()) {
            if !reader.may_read(r) {
                out.push(ConfigError {
                    file: config.source.clone(),
                    pos: atalaya_core::Pos { line: 1, col: 1 },
                    subject: "settings".into(),
                    field: field.into(),
                    message: outside(r, reader),
                });
            }
        }
    }
    out
}

/// Each function may read only its own folder of the secrets prefix (atalaya_core::secrets).
fn outside(r: &atalaya_core::Reference, reader: Reader) -> String {
    format!(
        "{r} is not where the stacks let {} read: write it as {} (the prefix is the stacks' SecretsPrefix / secrets_prefix)",
        reader.functions(),
        reader.where_()
    )
}
