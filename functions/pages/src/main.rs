//! The pages function's bootstrap. Environment: ATALAYA_CHECKS (the packaged checks file; a
//! published one from ATALAYA_CHECKS_BUCKET is picked up within a minute), ATALAYA_TABLE_PREFIX
//! (or ATALAYA_SUBSCRIBERS_TABLE, and ATALAYA_STATE_TABLE, ATALAYA_INCIDENTS_TABLE,
//! ATALAYA_OUTBOX_TABLE for operators' acknowledgements), ATALAYA_SES_CONFIGURATION_SET (the
//! subscribe form's confirmations), AWS_REGION, AWS_ENDPOINT_URL (tests
//! only). The link-signing key comes from `settings.email.key` of the checks file in force (a
//! `${ssm:…}` or `${secret:…}` reference), read when first needed: without one the pages answer
//! 503 and log why.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::live::FunctionChecks;
use atalaya_app::on_call::Inbound;
use atalaya_app::Checks;
use atalaya_store::DynamoStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;

/// What authenticates the paging and chat tools' webhooks (settings.operators.channels), for
/// the checks file it was read for: read when first needed, within one deadline, and again for
/// a new file.
type InboundOf = tokio::sync::Mutex<Option<(Arc<Checks>, Arc<Inbound>)>>;

async fn inbound(
    cache: &InboundOf,
    checks: &Arc<Checks>,
    sdk: &aws_config::SdkConfig,
) -> Arc<Inbound> {
    let mut cached = cache.lock().await;
    if let Some((made_for, inbound)) = &*cached {
        if Arc::ptr_eq(made_for, checks) {
            return inbound.clone();
        }
    }
    let read = tokio::time::timeout(
        atalaya_aws::init::FIRST_READ_DEADLINE,
        Inbound::read(&checks.config, sdk),
    )
    .await;
    let read = Arc::new(read.unwrap_or_else(|_| {
        tracing::error!("the vendors' webhook secrets could not be read in time: their webhooks are refused until they can");
        Inbound::default()
    }));
    // A read that timed out is tried again by the next request.
    if read.pagerduty.len() + read.opsgenie.len() + read.slack.len() > 0
        || checks
            .config
            .settings
            .operators
            .on_call
            .channels
            .iter()
            .all(|c| c.kind.inbound().is_none())
    {
        *cached = Some((checks.clone(), read.clone()));
    }
    read
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = atalaya_aws::init::InitTimes::new();
    atalaya_aws::init_lambda_logging(&[]);
    init.step("logging");
    let checks = FunctionChecks::packaged()?;
    init.step("checks file");
    let region = atalaya_aws::env_or("AWS_REGION", "us-east-1");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let sdk = atalaya_aws::sdk_config(&region, endpoint.as_deref()).await;
    let quick = atalaya_aws::init::quick(&sdk);
    init.step("sdk config");
    // The link key of the checks file in force, read when it is first needed: a function
    // deployed before email was set up starts all the same (and says so until it is).
    let link_key = atalaya_aws::link_key::LinkKey::default();
    // The engine's state in partitions, as the alert function keeps it: an acknowledgement
    // finds its incident's.
    let tables = atalaya_store::Tables::from_env();
    let ttl = atalaya_store::DEFAULT_RESULTS_TTL;
    let store = DynamoStore::from_config(&sdk, tables.clone(), ttl)
        .with_partitions(atalaya_store::dynamodb::PARTITIONS);
    let inbound_of = InboundOf::default();
    let checks = FunctionChecks::new(checks, &sdk);
    // The subscribe form's confirmations go through SES, as the mailer's mail does.
    let mail_store = Arc::new(DynamoStore::from_config(&sdk, tables, ttl));
    let configuration_set = std::env::var("ATALAYA_SES_CONFIGURATION_SET").ok();
    let limiter = atalaya_app::subscriptions::subscribe::Limiter::default();
    init.step("clients");
    let (checks, store, link_key, inbound_of, quick) =
        (&checks, &store, &link_key, &inbound_of, &quick);
    let (mail_store, configuration_set, limiter, sdk) =
        (&mail_store, &configuration_set, &limiter, &sdk);
    // The published checks file and the link key are read while the runtime waits for the
    // first request.
    let warm = async move {
        let (checks, _) = checks.now().await;
        let _ = link_key.get(&checks.config, quick).await;
    };
    init.log();
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let (checks, _) = checks.now().await;
            let key = match link_key.get(&checks.config, quick).await {
                Ok(key) => key,
                Err(why) => {
                    tracing::error!(error = %why, "the pages cannot check links without the link key");
                    return Ok::<_, Error>(atalaya_pages_fn::unavailable());
                }
            };
            let key = &key;
            let inbound = &*inbound(inbound_of, &checks, quick).await;
            if let Some(reply) =
                atalaya_pages_fn::operators(store, &checks, key, inbound, &event.payload).await
            {
                return Ok::<_, Error>(reply);
            }
            if let Some((reply, confirm)) =
                atalaya_pages_fn::subscribe_form(store, &checks.config, limiter, &event.payload)
                    .await
            {
                atalaya_pages_fn::send_confirmations(
                    &checks,
                    mail_store,
                    key,
                    sdk,
                    configuration_set.clone(),
                    confirm,
                )
                .await;
                return Ok::<_, Error>(reply);
            }
            Ok::<_, Error>(
                atalaya_pages_fn::answer(store, &checks.config, key, &event.payload).await,
            )
        },
    ));
    tokio::join!(run, warm).0
}
