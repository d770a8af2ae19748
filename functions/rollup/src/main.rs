//! The rollup function's bootstrap. Environment: ATALAYA_CHECKS (the packaged checks file; a
//! published one from ATALAYA_CHECKS_BUCKET is picked up within a minute), ATALAYA_TABLE_PREFIX
//! (or ATALAYA_RESULTS_TABLE and ATALAYA_STATE_TABLE), AWS_REGION, AWS_ENDPOINT_URL (tests
//! only). Any event runs the job.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::live::FunctionChecks;
use atalaya_store::DynamoStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::time::{Duration, Instant, SystemTime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = atalaya_aws::init::InitTimes::new();
    atalaya_aws::init_lambda_logging(&[]);
    init.step("logging");
    let packaged = FunctionChecks::packaged()?;
    init.step("checks file");
    let region = atalaya_aws::env_or("AWS_REGION", "us-east-1");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let sdk = atalaya_aws::sdk_config(&region, endpoint.as_deref()).await;
    let store = DynamoStore::from_config(
        &sdk,
        atalaya_store::Tables::from_env(),
        atalaya_store::DEFAULT_RESULTS_TTL,
    );
    let checks = FunctionChecks::new(packaged, &sdk);
    let (store, checks) = (&store, &checks);
    init.step("sdk config and clients");
    let warm = checks.now();
    init.log();
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let (checks, _) = checks.now().await;
            // Stop taking hours 10 s before Lambda would stop the function.
            let left = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(Duration::from_secs(10));
            let out = atalaya_rollup_fn::handle(
                store,
                &checks.config,
                chrono::Utc::now(),
                Instant::now() + left,
            )
            .await?;
            Ok::<_, Error>(serde_json::to_value(out)?)
        },
    ));
    tokio::join!(run, warm).0
}
