//! The alert function's bootstrap: clients built once, then the Lambda runtime loop. The same
//! function takes DynamoDB stream batches and the scheduler's tick (any event without Records).
//!
//! Environment: ATALAYA_CHECKS, ATALAYA_TABLE_PREFIX (or ATALAYA_<RESULTS|STATE|INCIDENTS|OUTBOX>_TABLE), ATALAYA_OPERATORS_TOPIC_ARN,
//! ATALAYA_CUSTOMERS_TOPIC_ARN, ATALAYA_SITE_BUCKET (the status site; optional), AWS_REGION,
//! AWS_ENDPOINT_URL (tests only).

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_alert_fn::{handle, results_of, subscriptions, Deps};
use atalaya_app::live::FunctionChecks;
use atalaya_app::on_call::OnCallChannels;
use atalaya_notify::{Channel, SnsChannel};
use atalaya_store::DynamoStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};

/// Evaluations clone and drop many small strings and maps: mimalloc takes a third less CPU for
/// them than the system allocator (docs/performance.md, "Scale").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = atalaya_aws::init::InitTimes::new();
    // No probes run here; the SDK's own logs carry nothing resolved.
    atalaya_aws::init_lambda_logging(&[]);
    init.step("logging");
    // The checks file and its customers' templates (folders beside it): a problem stops the
    // function at init, with every problem in its log.
    let checks = FunctionChecks::packaged()?;
    init.step("checks file");
    let region = atalaya_aws::env_or("AWS_REGION", "us-east-1");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let sdk = atalaya_aws::sdk_config(&region, endpoint.as_deref()).await;
    // The channels' secrets and the acknowledgement key are read on the way to judging: each
    // read within one deadline, not the SDK's retry schedule.
    let quick = atalaya_aws::init::quick(&sdk);
    init.step("sdk config");
    let store = DynamoStore::from_config(
        &sdk,
        atalaya_store::Tables::from_env(),
        atalaya_store::dynamodb::DEFAULT_RESULTS_TTL,
    )
    // The engine's state in partitions (atalaya_core::partition): no item grows with the file.
    .with_partitions(atalaya_store::dynamodb::PARTITIONS);
    let operators_topic = atalaya_aws::required("ATALAYA_OPERATORS_TOPIC_ARN")?;
    let sns = SnsChannel::from_config(
        &sdk,
        operators_topic.clone(),
        atalaya_aws::required("ATALAYA_CUSTOMERS_TOPIC_ARN")?,
    );
    init.step("clients");
    // Operators' paging and chat channels: their requests through the network guard of the
    // file's allow_networks; made, with their acknowledgement links, when first needed and
    // again when a new checks file is in force.
    let engine = std::sync::Arc::new(atalaya_probe::Engine::new(atalaya_probe::EngineOptions {
        allow_networks: checks.config.settings.allow_networks.clone(),
        ..Default::default()
    })?);
    let on_call = OnCallChannels::new(engine, atalaya_notify::vendor::Policy::default());
    init.step("on-call engine");
    // A published checks file (ATALAYA_CHECKS_BUCKET), picked up within a minute; the packaged
    // one until then.
    let live = FunctionChecks::new(checks, &sdk);
    // The status site (ATALAYA_SITE_BUCKET, served by CloudFront): none without it.
    let site = match std::env::var("ATALAYA_SITE_BUCKET") {
        Ok(bucket) if !bucket.is_empty() => Some(atalaya_app::status_site::S3Site::new(
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(endpoint.is_some())
                    .build(),
            ),
            bucket,
        )),
        _ => None,
    };
    init.step("published file and site");
    let store = &store;
    let sns = &sns;
    let site = site.as_ref();
    let live = &live;
    let (on_call, sdk, quick, operators_topic) = (&on_call, &sdk, &quick, operators_topic.as_str());
    // The published checks file is asked while the runtime waits for the first event.
    let warm = live.now();
    init.log();
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let tick = event.payload.get("Records").is_none();
            let (results, first) = if !tick {
                let stream: aws_lambda_events::event::dynamodb::Event =
                    serde_json::from_value(event.payload)?;
                results_of(&stream)
            } else {
                (Vec::new(), None)
            };
            let now = chrono::Utc::now();
            let (checks, rejected) = live.now().await;
            let paging = on_call.of(&checks, quick).await;
            let mut channels: Vec<&dyn Channel> = vec![sns];
            channels.extend(paging.iter().map(|c| c.as_ref()));
            let deps = Deps {
                checks: &checks,
                store,
                channels: &channels,
                site,
            };
            let out = handle(&deps, &results, first, now).await;
            println!(
                "{}",
                atalaya_aws::with_checks_version(
                    atalaya_alert_fn::store_emf(store.stats(), rejected, now),
                    live.version()
                )
            );
            if tick && subscriptions::due(now) {
                let regions = checks.config.settings.probe_regions();
                if let Some(n) = subscriptions::unconfirmed(sdk, operators_topic, &regions).await {
                    println!("{}", subscriptions::emf(n, now));
                }
            }
            // A tick whose evaluation failed fails the invocation: the errors alarm sees it. (A
            // stream batch reports its failure back, or, if retrying cannot help, is counted in
            // EvaluationFailures, alarmed, rather than handed back until it expires.)
            if tick && out.evaluation_failed {
                return Err(Error::from(
                    "the evaluation could not be committed (see the log above)",
                ));
            }
            Ok::<_, Error>(serde_json::to_value(out)?)
        },
    ));
    tokio::join!(run, warm).0
}
