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
use atalaya_aws::init::{InitTimes, FIRST_READ_DEADLINE};
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
    wanted: Arc<BTreeSet<Reference>>,
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

/// Reads the `${ssm:…}` and `${secret:…}` references `wanted` into `engine` when they are due,
/// within one deadline ([`FIRST_READ_DEADLINE`]): what could not be read is tried again a
/// minute later, and its checks are monitoring faults meanwhile. `reading` makes a second
/// caller wait for a read in flight rather than start another.
async fn refresh(
    engine: &Engine,
    wanted: &BTreeSet<Reference>,
    aws: &aws_config::SdkConfig,
    reading: &tokio::sync::Mutex<()>,
) {
    let _reading = reading.lock().await;
    let now = Instant::now();
    if wanted.is_empty() || !engine.references().stale(now) {
        return;
    }
    let read = atalaya_aws::references::read_logged(wanted, aws);
    match tokio::time::timeout(FIRST_READ_DEADLINE, read).await {
        Ok(read) => {
            let complete = read.failed.is_empty();
            engine.references().update(read.values, complete, now);
        }
        Err(_) => {
            tracing::error!(
                deadline_s = FIRST_READ_DEADLINE.as_secs(),
                "the secret references could not be read in time: values read before are used, the checks without one report a check error, and they are read again in a minute"
            );
            engine.references().update(Default::default(), false, now);
        }
    }
}

/// When to have finished writing: a safe margin before Lambda's own deadline.
fn finish_by(context: &lambda_runtime::Context) -> Instant {
    let left = context
        .deadline()
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Instant::now() + left.saturating_sub(Duration::from_secs(3))
}

/// ATALAYA_CONCURRENCY (default 64) and ATALAYA_RESULTS_TTL_DAYS (default 30).
fn settings() -> Result<(usize, u64), Error> {
    let concurrency = atalaya_aws::env_or("ATALAYA_CONCURRENCY", "64")
        .parse()
        .map_err(|_| "ATALAYA_CONCURRENCY is not a number")?;
    let ttl_days = atalaya_aws::env_or("ATALAYA_RESULTS_TTL_DAYS", "30")
        .parse()
        .map_err(|_| "ATALAYA_RESULTS_TTL_DAYS is not a number")?;
    Ok((concurrency, ttl_days))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = InitTimes::new();
    atalaya_aws::init_lambda_logging(&atalaya_probe::QUIET_LIBRARIES);
    init.step("logging");
    let packaged = FunctionChecks::packaged()?;
    init.step("checks file");
    let (concurrency, ttl_days) = settings()?;
    let region = atalaya_aws::env_or("AWS_REGION", "us-east-1");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    // The tables, the published checks file and the secret references live in the home region,
    // wherever this function runs.
    let home = atalaya_aws::env_or("ATALAYA_HOME_REGION", &region);
    let aws = atalaya_aws::sdk_config(&home, endpoint.as_deref()).await;
    // References are read within one deadline, not the SDK's retry schedule.
    let quick = atalaya_aws::init::quick(&aws);
    init.step("sdk config");
    let live = FunctionChecks::new(packaged, &aws);
    let references = Arc::new(References::default());
    let first = live.current();
    let current = tokio::sync::Mutex::new(Current {
        version: None,
        engine: engine_for(&first, &region, concurrency, &references)?,
        wanted: Arc::new(atalaya_probe::remote_references(&first.config)),
        checks: first,
    });
    init.step("probe engine");
    let store = DynamoStore::from_config(
        &aws,
        Tables::from_env(),
        Duration::from_secs(ttl_days * 86_400),
    );
    init.step("dynamodb client");
    let reading = tokio::sync::Mutex::new(());
    // Before each run: a newly published checks file (asked once a minute, within one
    // deadline), and a new engine for it.
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
                        wanted: Arc::new(atalaya_probe::remote_references(&checks.config)),
                        checks,
                    };
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot start an engine for the new checks file; the last one runs on")
                }
            }
        }
        (
            cur.checks.clone(),
            cur.engine.clone(),
            cur.wanted.clone(),
            rejected,
        )
    };
    let (store, prepare, live, quick, reading) = (&store, &prepare, &live, &quick, &reading);
    // What the first event needs from AWS (a published checks file, the references) is asked
    // while the runtime waits for that event, not before: init ends here.
    let warm = async move {
        let (_, engine, wanted, _) = prepare().await;
        refresh(&engine, &wanted, quick, reading).await;
    };
    init.log();
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ProbeEvent>| async move {
            let deadline = finish_by(&event.context);
            let (checks, engine, wanted, rejected) = prepare().await;
            let region = event.payload.region.clone();
            let probe = |payload| {
                handle(
                    payload,
                    &checks.config,
                    &engine,
                    store,
                    chrono::Utc::now(),
                    deadline,
                )
            };
            // The first run waits for the first read (within its deadline); later refreshes
            // are read while the checks run, for the next run.
            let out = if engine.references().tried() {
                tokio::join!(
                    refresh(&engine, &wanted, quick, reading),
                    probe(event.payload)
                )
                .1
            } else {
                refresh(&engine, &wanted, quick, reading).await;
                probe(event.payload).await
            };
            println!(
                "{}",
                atalaya_aws::with_checks_version(
                    atalaya_probe_fn::shell_emf(&region, rejected, chrono::Utc::now()),
                    live.version()
                )
            );
            out.map_err(Error::from)
        },
    ));
    // The runtime loop first: its first poll goes out before the warm-up's reads.
    tokio::join!(run, warm).0
}
