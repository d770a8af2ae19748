//! The probe function's bootstrap: clients built once, then the Lambda runtime loop.
//!
//! Environment: ATALAYA_CHECKS (path of the checks file shipped with the function, default
//! `checks.yaml` beside the bootstrap), ATALAYA_HOME_REGION (where the tables are; default the
//! function's own region), ATALAYA_TABLE_PREFIX (default `atalaya-`; or each table's name in
//! ATALAYA_<RESULTS|STATE|INCIDENTS|OUTBOX>_TABLE),
//! ATALAYA_CONCURRENCY (default 64), ATALAYA_RESULTS_TTL_DAYS (default 30), AWS_REGION (set by
//! Lambda), AWS_ENDPOINT_URL (tests only).

use atalaya_probe::{Engine, EngineOptions};
use atalaya_probe_fn::{handle, ProbeEvent};
use atalaya_store::{DynamoStore, Tables};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    atalaya_aws::init_lambda_logging(&atalaya_probe::QUIET_LIBRARIES);
    let path = env("ATALAYA_CHECKS", "checks.yaml");
    let config = atalaya_core::load_file(std::path::Path::new(&path), atalaya_core::Target::Lambda)
        .map_err(|e| format!("{path}: {e}"))?;
    let concurrency: usize = env("ATALAYA_CONCURRENCY", "64")
        .parse()
        .map_err(|_| "ATALAYA_CONCURRENCY is not a number")?;
    let ttl_days: u64 = env("ATALAYA_RESULTS_TTL_DAYS", "30")
        .parse()
        .map_err(|_| "ATALAYA_RESULTS_TTL_DAYS is not a number")?;
    let region = env("AWS_REGION", "us-east-1");
    let engine = Arc::new(Engine::new(EngineOptions {
        region: region.clone(),
        allow_networks: config.settings.allow_networks.clone(),
        concurrency,
        ..EngineOptions::default()
    })?);
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    // The tables live in the home region, wherever this function runs.
    let home = env("ATALAYA_HOME_REGION", &region);
    // ${ssm:…} and ${secret:…} references are read from the home region: at init, then again
    // when they are older than atalaya_probe::references::REFRESH.
    let wanted = atalaya_probe::remote_references(&config);
    let aws = atalaya_aws::sdk_config(&home, endpoint.as_deref()).await;
    let refresh = |engine: Arc<Engine>| {
        let (wanted, aws) = (wanted.clone(), aws.clone());
        async move {
            let now = Instant::now();
            if !wanted.is_empty() && engine.references().stale(now) {
                let read = atalaya_aws::references::read_logged(&wanted, &aws);
                match tokio::time::timeout(Duration::from_secs(10), read).await {
                    Ok(values) => engine.references().update(values, now),
                    Err(_) => tracing::error!(
                        "reading secret references took over 10 s; the values read before are used"
                    ),
                }
            }
        }
    };
    refresh(engine.clone()).await;
    let store = DynamoStore::connect(
        &home,
        endpoint.as_deref(),
        Tables::from_env(),
        Duration::from_secs(ttl_days * 86_400),
    )
    .await;
    let (config, engine, store, refresh) = (&config, &engine, &store, &refresh);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ProbeEvent>| async move {
            // Finish writing a safe margin before Lambda's own deadline.
            let left = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let deadline = Instant::now() + left.saturating_sub(Duration::from_secs(3));
            refresh(engine.clone()).await;
            handle(
                event.payload,
                config,
                engine,
                store,
                chrono::Utc::now(),
                deadline,
            )
            .await
            .map_err(Error::from)
        },
    ))
    .await
}
