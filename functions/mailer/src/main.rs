//! The mailer's bootstrap. Environment: ATALAYA_CHECKS (the packaged checks file; a published
//! one from ATALAYA_CHECKS_BUCKET is picked up within a minute), ATALAYA_TABLE_PREFIX (or
//! ATALAYA_OUTBOX_TABLE, ATALAYA_SUBSCRIBERS_TABLE), ATALAYA_SES_CONFIGURATION_SET,
//! AWS_REGION, AWS_ENDPOINT_URL (tests only). The checks file must give `settings.brand`,
//! `settings.email.pages_url` and `settings.email.key` (a `${ssm:…}` or `${secret:…}`
//! reference); the key is that of the checks file in force, read when first needed (a mailer
//! deployed before email was set up starts, and fails each message with why until it is).

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use atalaya_app::live::FunctionChecks;
use atalaya_app::Checks;
use atalaya_app::EmailChannel;
use atalaya_notify::email::{Templates, Transport};
use atalaya_store::DynamoStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;

/// The link-signing key from the file's reference (read once per cold start).
type Made = (Arc<Checks>, Arc<EmailChannel<DynamoStore>>);

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
    let store = Arc::new(DynamoStore::from_config(
        &sdk,
        atalaya_store::Tables::from_env(),
        atalaya_store::DEFAULT_RESULTS_TTL,
    ));
    // The link key of the checks file in force, read when first needed (a mailer deployed
    // before email was set up starts, and fails each message with why until it is).
    let link_key = atalaya_aws::link_key::LinkKey::default();
    let configuration_set = std::env::var("ATALAYA_SES_CONFIGURATION_SET").ok();
    let live = FunctionChecks::new(checks, &sdk);
    let (live, store, link_key, sdk, configuration_set) =
        (&live, &store, &link_key, &sdk, &configuration_set);
    // The channel of the checks file in use, made again only when a new version is picked up.
    let made: std::sync::Mutex<Option<Made>> = std::sync::Mutex::new(None);
    let made = &made;
    init.step("sdk config and clients");
    let warm = live.now();
    init.log();
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let (checks, _) = live.now().await;
            let cached = made
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .filter(|(c, _)| Arc::ptr_eq(c, &checks))
                .map(|(_, ch)| ch.clone());
            let channel = match cached {
                Some(ch) => ch,
                None => {
                    let config = &checks.config;
                    let key = link_key.get(config, sdk).await?;
                    let pages = config.settings.email.pages_url.clone().ok_or(
                        "settings.email.pages_url is not set: subscribers' links need the pages' address",
                    )?;
                    // Customers' mail templates beside the file in use (the published bundle's
                    // once one is picked up).
                    let ch = Arc::new(EmailChannel::new(
                        store.clone(),
                        Arc::new(config.clone()),
                        Templates::new(config, &checks.base)?,
                        key,
                        &pages,
                        Transport::ses(sdk, configuration_set.clone()),
                    ));
                    *made.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some((checks.clone(), ch.clone()));
                    ch
                }
            };
            let sns: aws_lambda_events::event::sns::SnsEvent =
                serde_json::from_value(event.payload)?;
            let out = atalaya_mailer_fn::handle(store, &channel, &sns).await?;
            Ok::<_, Error>(serde_json::to_value(out)?)
        },
    ));
    tokio::join!(run, warm).0
}
