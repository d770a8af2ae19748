//! `atalaya doctor`: with the operator's AWS credentials, read-only, checks that a deployment of
//! the checks file is whole and healthy, and says for each finding what to do. Exit 0: nothing
//! wrong (warnings are printed); 1: problems; 2: it could not run (the file, the credentials).

mod deployment;
mod endpoints;
mod facts;
mod findings;

use findings::Level;
use std::path::Path;
use std::process::ExitCode;

pub async fn doctor(file: &Path, home: Option<String>, prefix: &str) -> anyhow::Result<ExitCode> {
    // The file's problems are printed by load; a file that does not load cannot be checked.
    let Ok(checks) = crate::load(file, atalaya_core::Target::Lambda) else {
        return Ok(ExitCode::from(2));
    };
    let config = checks.config;
    let Some(home) = home
        .or_else(|| std::env::var("AWS_REGION").ok())
        .filter(|r| !r.is_empty())
    else {
        eprintln!("atalaya doctor: which region is home? --region eu-west-1 (or AWS_REGION)");
        return Ok(ExitCode::from(2));
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty());
    let sdk = atalaya_aws::sdk_config(&home, endpoint.as_deref()).await;
    let account = match aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
    {
        Ok(id) => id.account().unwrap_or_default().to_string(),
        Err(e) => {
            eprintln!(
                "atalaya doctor: the AWS credentials do not work: {}",
                atalaya_aws::classify(&e).detail
            );
            return Ok(ExitCode::from(2));
        }
    };
    let d = deployment::Deployment::of(&config, prefix, &home, &account);
    println!(
        "atalaya doctor: prefix {}, account {}, home {}, probe regions {}",
        d.prefix,
        d.account,
        d.home,
        d.probe_regions
            .iter()
            .map(|(name, aws)| if name == aws {
                name.clone()
            } else {
                format!("{name} (in {aws})")
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let facts = facts::gather(&d, &config, endpoint.as_deref()).await;
    let found = findings::findings(&d, &facts);
    for f in &found {
        let tag = match f.level {
            Level::Ok => "ok     ",
            Level::Warning => "WARNING",
            Level::Problem => "PROBLEM",
        };
        println!("{tag} {}", f.text);
        if let Some(todo) = &f.todo {
            println!("        → {todo}");
        }
    }
    let problems = found.iter().filter(|f| f.level == Level::Problem).count();
    let warnings = found.iter().filter(|f| f.level == Level::Warning).count();
    println!(
        "{}, {}",
        crate::plural(problems, "problem", "problems"),
        crate::plural(warnings, "warning", "warnings")
    );
    Ok(ExitCode::from(u8::from(problems > 0)))
}
