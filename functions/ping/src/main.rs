//! The ping function's bootstrap, for both of its functions (the ping endpoint behind a
//! throttled HTTP API, and the judge on a schedule; which one an invocation is for is told by its
//! event). Environment: ATALAYA_CHECKS (the packaged checks file; a published one from
//! ATALAYA_CHECKS_BUCKET is picked up within a minute), ATALAYA_TABLE_PREFIX (or
//! ATALAYA_RESULTS_TABLE and ATALAYA_STATE_TABLE), ATALAYA_PING_URL (the judge: the endpoint's
//! public address), AWS_REGION, AWS_ENDPOINT_URL (tests only). Tokens are read again when the
//! checks file changes and every 15 minutes.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::heartbeat::Tokens;
use atalaya_app::live::FunctionChecks;
use atalaya_app::Checks;
use atalaya_probe::{Engine, EngineOptions};
use atalaya_store::DynamoStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long tokens read from references are kept before they are read again.
const TOKENS_REFRESH: Duration = Duration::from_secs(15 * 60);
/// When a read missed a token: the next try.
const TOKENS_RETRY: Duration = Duration::from_secs(60);

struct Current {
    checks: Arc<Checks>,
    /// None until first read (after init, beside the first poll).
    tokens: Option<Arc<Tokens>>,
    due: Instant,
}

/// The tokens of the checks file in force, read again when it changed or they are due, within
/// one deadline (`FIRST_READ_DEADLINE`).
async fn tokens(
    current: &tokio::sync::Mutex<Current>,
    checks: Arc<Checks>,
    sdk: &aws_config::SdkConfig,
) -> (Arc<Checks>, Arc<Tokens>) {
    let mut c = current.lock().await;
    let now = Instant::now();
    match &c.tokens {
        Some(t) if Arc::ptr_eq(&c.checks, &checks) && now < c.due => {
            return (checks, t.clone());
        }
        _ => {}
    }
    let read = atalaya_app::heartbeat::read_tokens_within(
        &checks.config,
        sdk,
        atalaya_aws::init::FIRST_READ_DEADLINE,
    )
    .await;
    c.due = now
        + if read.complete() {
            TOKENS_REFRESH
        } else {
            TOKENS_RETRY
        };
    let read = Arc::new(read);
    c.tokens = Some(read.clone());
    c.checks = checks.clone();
    (checks, read)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = atalaya_aws::init::InitTimes::new();
    atalaya_aws::init_lambda_logging(&atalaya_probe::QUIET_LIBRARIES);
    init.step("logging");
    let packaged = FunctionChecks::packaged()?;
    init.step("checks file");
    let region = atalaya_aws::env_or("AWS_REGION", "us-east-1");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let ping_url = std::env::var("ATALAYA_PING_URL").ok();
    let sdk = atalaya_aws::sdk_config(&region, endpoint.as_deref()).await;
    let quick = atalaya_aws::init::quick(&sdk);
    init.step("sdk config");
    let store = DynamoStore::from_config(
        &sdk,
        atalaya_store::Tables::from_env(),
        atalaya_store::DEFAULT_RESULTS_TTL,
    );
    let live = FunctionChecks::new(packaged, &sdk);
    let current = tokio::sync::Mutex::new(Current {
        checks: live.current(),
        tokens: None,
        due: Instant::now(),
    });
    let engine = Arc::new(Engine::new(EngineOptions {
        region: region.clone(),
        allow_networks: live.current().config.settings.allow_networks.clone(),
        concurrency: 1,
        ..EngineOptions::default()
    })?);
    init.step("clients and engine");
    let (store, live, current, quick, engine, ping_url) =
        (&store, &live, &current, &quick, &engine, &ping_url);
    // The published checks file and the tokens are read while the runtime waits for the first
    // event; that event waits for them (within their deadline).
    let warm = async move {
        let (checks, _) = live.now().await;
        tokens(current, checks, quick).await;
    };
    init.log();
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let (checks, _) = live.now().await;
            let (checks, tokens) = tokens(current, checks, quick).await;
            let now = chrono::Utc::now();
            if atalaya_ping_fn::is_request(&event.payload) {
                let (response, answered) =
                    atalaya_ping_fn::answer(store, &checks.config, &tokens, &event.payload, now)
                        .await;
                if answered.status != 200 || answered.check.is_some() {
                    println!("{}", atalaya_ping_fn::ping_emf(&answered, now));
                }
                return Ok::<_, Error>(response);
            }
            // The judge: first, does the endpoint take pings through its public URL?
            let alive = atalaya_ping_fn::look(engine, ping_url.as_deref(), &checks.config).await;
            if let Err(why) = &alive {
                tracing::error!(why = %why, "the ping endpoint is not taking pings: heartbeats are unknown");
            }
            let out = atalaya_ping_fn::judge(store, &checks.config, &tokens, now, alive).await?;
            println!(
                "{}",
                atalaya_aws::with_checks_version(
                    atalaya_ping_fn::judge_emf(&out, now),
                    live.version()
                )
            );
            Ok(serde_json::to_value(out)?)
        },
    ));
    tokio::join!(run, warm).0
}
