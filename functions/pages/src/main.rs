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
use atalaya_store::DynamoStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    atalaya_aws::init_lambda_logging(&[]);
    let checks = FunctionChecks::packaged()?;
    let region = atalaya_aws::env_or("AWS_REGION", "us-east-1");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let sdk = atalaya_aws::sdk_config(&region, endpoint.as_deref()).await;
    // The link key of the checks file in force, read when it is first needed: a function
    // deployed before email was set up starts all the same (and says so until it is).
    let link_key = atalaya_aws::link_key::LinkKey::default();
    // The engine's state in partitions, as the alert function keeps it: an acknowledgement
    // finds its incident's.
    let store = DynamoStore::from_env(&region, endpoint.as_deref())
        .await
        .with_partitions(atalaya_store::dynamodb::PARTITIONS);
    // What authenticates the paging and chat tools' webhooks (settings.operators.channels).
    let inbound = atalaya_app::on_call::Inbound::read(&checks.config, &sdk).await;
    let checks = FunctionChecks::new(checks, &sdk);
    // The subscribe form's confirmations go through SES, as the mailer's mail does.
    let mail_store = std::sync::Arc::new(DynamoStore::from_env(&region, endpoint.as_deref()).await);
    let configuration_set = std::env::var("ATALAYA_SES_CONFIGURATION_SET").ok();
    let limiter = atalaya_app::subscriptions::subscribe::Limiter::default();
    let (checks, store, link_key, inbound) = (&checks, &store, &link_key, &inbound);
    let (mail_store, configuration_set, limiter, sdk) =
        (&mail_store, &configuration_set, &limiter, &sdk);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let (checks, _) = checks.now().await;
            let key = match link_key.get(&checks.config, sdk).await {
                Ok(key) => key,
                Err(why) => {
                    tracing::error!(error = %why, "the pages cannot check links without the link key");
                    return Ok::<_, Error>(atalaya_pages_fn::unavailable());
                }
            };
            let key = &key;
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
    ))
    .await
}
