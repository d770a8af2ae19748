//! Reads the `${ssm:…}` and `${secret:…}` references of a checks file from AWS: SSM parameters
//! with decryption (SecureString), Secrets Manager secrets' strings. Used by the probe function
//! (at init, then every few minutes) and by `atalaya probe`/`run`. Values are returned, never
//! logged; a reference that cannot be read is returned with why (the error code and message
//! AWS gave, which carry no value).

use atalaya_core::{Reference, Source};
use std::collections::{BTreeSet, HashMap};

/// References read at once, at most (each is one call).
const IN_FLIGHT: usize = 8;

/// What reading gave: the values, and the references that could not be read with why.
#[derive(Debug, Default)]
pub struct Read {
    pub values: HashMap<Reference, String>,
    pub failed: Vec<(Reference, String)>,
}

/// Reads every reference (environment references are left out: they are read as checks run).
pub async fn read(references: &BTreeSet<Reference>, sdk: &aws_config::SdkConfig) -> Read {
    use futures::StreamExt;
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let results: Vec<(Reference, Result<String, String>)> =
        futures::stream::iter(references.iter().filter(|r| r.source.is_remote()))
            .map(|r| {
                let (ssm, secrets) = (&ssm, &secrets);
                async move { (r.clone(), read_one(r, ssm, secrets).await) }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
    let mut out = Read::default();
    for (r, got) in results {
        match got {
            Ok(v) => {
                out.values.insert(r, v);
            }
            Err(why) => out.failed.push((r, why)),
        }
    }
    out.failed.sort();
    out
}

async fn read_one(
    r: &Reference,
    ssm: &aws_sdk_ssm::Client,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<String, String> {
    match r.source {
        Source::Ssm => ssm
            .get_parameter()
            .name(&r.name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| crate::detail(&e))?
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| "the parameter has no value".to_string()),
        Source::Secret => secrets
            .get_secret_value()
            .secret_id(&r.name)
            .send()
            .await
            .map_err(|e| crate::detail(&e))?
            .secret_string
            .ok_or_else(|| {
                "the secret has no string value (binary secrets are not supported)".to_string()
            }),
        Source::Env | Source::Var => {
            Err("environment references and variables are read as checks run".into())
        }
    }
}

/// Reads every reference and logs, by name and never by value, those that could not be read.
pub async fn read_logged(references: &BTreeSet<Reference>, sdk: &aws_config::SdkConfig) -> Read {
    let got = read(references, sdk).await;
    for (r, why) in &got.failed {
        tracing::error!(reference = %r, why = %why, "cannot read a secret reference: the checks that use it report a check error until it can be read");
    }
    got
}

/// A setting with references filled: `${env:…}` from the environment, `${ssm:…}` and
/// `${secret:…}` read with `sdk`. Says which reference could not be read, never a value.
pub async fn resolve(
    t: &atalaya_core::EnvTemplate,
    sdk: &aws_config::SdkConfig,
) -> Result<String, String> {
    let remote: BTreeSet<Reference> = t
        .references()
        .filter(|r| r.source.is_remote())
        .cloned()
        .collect();
    let got = if remote.is_empty() {
        Read::default()
    } else {
        read(&remote, sdk).await
    };
    if let Some((r, why)) = got.failed.first() {
        return Err(format!("{r} could not be read ({why})"));
    }
    t.resolve(|r| match r.source {
        Source::Env => std::env::var(&r.name).ok(),
        _ => got.values.get(r).cloned(),
    })
    .map(|v| v.value)
    .map_err(|e| e.to_string())
}
