//! The probe function's bootstrap: clients built once, then the Lambda runtime loop.
//!
//! Environment: ATALAYA_CHECKS (path of the checks file shipped with the function, default
//! `checks.yaml` beside the bootstrap), ATALAYA_HOME_REGION (where the tables are; default the
//! function's own region), ATALAYA_TABLE_PREFIX (default `atalaya-`; or each table's name in
//! ATALAYA_<RESULTS|STATE|INCIDENTS|OUTBOX>_TABLE),
//! ATALAYA_CONCURRENCY (default 64), ATALAYA_RESULTS_TTL_DAYS (default 30),
//! ATALAYA_CHECKS_BUCKET and ATALAYA_CHECKS_KEY (a checks file published with `atalaya
//! publish-checks`, in the home region), AWS_REGION (set by Lambda), AWS_ENDPOINT_URL (tests
//! only).

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::live::FunctionChecks;
use atalaya_app::Checks;
use atalaya_core::Reference;
use atalaya_probe::{Engine, EngineOptions, References};
use atalaya_probe_fn::{handle, ProbeEvent};
use atalaya_store::{DynamoStore, Tables};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an invocation runs with: the checks file in use and an engine built for it.
struct Current {
    version: Option<String>,
    checks: Arc<Checks>,
    engine: Arc<Engine>,
    wanted: BTreeSet<Reference>,
}

/// An engine for `checks` (its allowed networks), sharing the references read so far.
fn engine_for(
    checks: &Checks,
    region: &str,
    concurrency: usize,
    references: &Arc<References>,
) -> Result<Arc<Engine>, Error> {
    Ok(Arc::new(Engine::new(EngineOptions {
        region: region.to_string(),
        allow_networks: checks.config.settings.allow_networks.clone(),
        concurrency,
        references: references.clone(),
        ..EngineOptions::default()
    })?))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    atalaya_aws::init_lambda_logging(&atalaya_probe::QUIET_LIBRARIES);
    let packaged = FunctionChecks::packaged()?;
    let concurrency: usize = atalaya_aws::env_or("ATALAYA_CONCURRENCY", "64")
        .parse()
        .map_err(|_| "ATALAYA_CONCURRENCY is not a number")?;
    let ttl_days: u64 = atalaya_aws::env_or("ATALAYA_RESULTS_TTL_DAYS", "30")
        .parse()
        .map_err(|_| "ATALAYA_RESULTS_TTL_DAYS is not a number")?;
    let region = atalaya_aws::env_or("AWS_REGION", "us-east-1");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    // The tables, the published checks file and the secret references live in the home region,
    // wherever this function runs.
    let home = atalaya_aws::env_or("ATALAYA_HOME_REGION", &region);
    let aws = atalaya_aws::sdk_config(&home, endpoint.as_deref()).await;
    let live = FunctionChecks::new(packaged, &aws);
    let references = Arc::new(References::default());
    let first = live.current();
    let current = tokio::sync::Mutex::new(Current {
        version: None,
        engine: engine_for(&first, &region, concurrency, &references)?,
        wanted: atalaya_probe::remote_references(&first.config),
        checks: first,
    });
    let store = DynamoStore::connect(
        &home,
        endpoint.as_deref(),
        Tables::from_env(),
        Duration::from_secs(ttl_days * 86_400),
    )
    .await;
    // Before each run: a newly published checks file (checked once a minute), then the
    // ${ssm:…} and ${secret:…} references when older than atalaya_probe::references::REFRESH.
    let prepare = || async {
        let (checks, rejected) = live.now().await;
        let mut cur = current.lock().await;
        if live.version() != cur.version {
            match engine_for(&checks, &region, concurrency, &references) {
                Ok(engine) => {
                    references.mark_stale();
                    *cur = Current {
                        version: live.version(),
                        engine,
                        wanted: atalaya_probe::remote_references(&checks.config),
                        checks,
                    };
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot start an engine for the new checks file; the last one runs on")
                }
            }
        }
        let now = Instant::now();
        if !cur.wanted.is_empty() && cur.engine.references().stale(now) {
            let read = atalaya_aws::references::read_logged(&cur.wanted, &aws);
            match tokio::time::timeout(Duration::from_secs(10), read).await {
                Ok(values) => cur.engine.references().update(values, now),
                Err(_) => tracing::error!(
                    "reading secret references took over 10 s; the values read before are used"
                ),
            }
        }
        (cur.checks.clone(), cur.engine.clone(), rejected)
    };
    prepare().await;
    let (store, prepare, live) = (&store, &prepare, &live);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ProbeEvent>| async move {
            // Finish writing a safe margin before Lambda's own deadline.
            let left = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let deadline = Instant::now() + left.saturating_sub(Duration::from_secs(3));
            let (checks, engine, rejected) = prepare().await;
            let region = event.payload.region.clone();
            let out = handle(
                event.payload,
                &checks.config,
                &engine,
                store,
                chrono::Utc::now(),
                deadline,
            )
            .await;
            println!(
                "{}",
                atalaya_aws::with_checks_version(
                    atalaya_probe_fn::shell_emf(&region, rejected, chrono::Utc::now()),
                    live.version()
                )
            );
            out.map_err(Error::from)
        },
    ))
    .await
}
