//! The alert bootstrap serves invocations through the Lambda runtime API (a stand-in): a
//! scheduler tick and an empty stream batch, against DynamoDB on moto.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_store::Store;
use atalaya_tests::lambda_api::{lambda_env, RuntimeApi};
use std::time::Duration;

#[tokio::test]
async fn the_bootstrap_serves_ticks_and_stream_batches_through_the_runtime_api() {
    let moto = atalaya_tests::moto::endpoint();
    let (store, prefix) = atalaya_tests::moto::store().await;
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        "settings:\n  regions: [eu-west-1]\ncustomers:\n  - { id: a, name: A }\nservices:\n  - { id: s, customer: a, name: S }\nchecks:\n  - { id: home, service: s, http: { url: 'https://shop.example/' } }\n",
    )
    .unwrap();
    let api = RuntimeApi::start(vec![
        (
            "tick-1".into(),
            r#"{"source": "aws.scheduler", "detail-type": "Scheduled Event"}"#.into(),
        ),
        ("batch-1".into(), r#"{"Records": []}"#.into()),
    ])
    .await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_atalaya-alert-fn"))
        .envs(lambda_env(&api))
        .env("ATALAYA_CHECKS", &checks)
        .env("ATALAYA_TABLE_PREFIX", &prefix)
        .env(
            "ATALAYA_OPERATORS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:ops",
        )
        .env(
            "ATALAYA_CUSTOMERS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:customers",
        )
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let tick = api.outcome("tick-1", Duration::from_secs(30)).await;
    let batch = api.outcome("batch-1", Duration::from_secs(30)).await;
    child.kill().await.unwrap();
    let tick: serde_json::Value = serde_json::from_str(&tick.unwrap()).unwrap();
    assert_eq!(tick["batchItemFailures"], serde_json::json!([]));
    let batch: serde_json::Value = serde_json::from_str(&batch.unwrap()).unwrap();
    assert_eq!(batch["results"], 0);
    // The first tick recorded the engine's start, in the regions' partition and in each
    // partition of the file (the function splits the state: atalaya_core::partition).
    assert!(store
        .load_part("regions")
        .await
        .unwrap()
        .state
        .started_at
        .is_some());
    let checks = atalaya_app::Checks::load(&checks, atalaya_core::Target::Lambda).unwrap();
    let plan = checks.plan(atalaya_store::dynamodb::PARTITIONS);
    for part in &plan.parts {
        assert!(
            store
                .load_part(&part.key)
                .await
                .unwrap()
                .state
                .started_at
                .is_some(),
            "{}",
            part.key
        );
    }
    // Nothing in the unsplit document.
    assert_eq!(store.load_state().await.unwrap().version, 0);
}

/// Starts the bootstrap on `checks` with `env` (variables to set, or to remove when `None`) and
/// expects it to stop at init without asking for an event; what it said (stderr and stdout).
async fn stops_at_init(checks: &std::path::Path, env: &[(&str, Option<&str>)]) -> String {
    let api = RuntimeApi::start(Vec::new()).await;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_atalaya-alert-fn"));
    cmd.envs(lambda_env(&api))
        .env("ATALAYA_CHECKS", checks)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .kill_on_drop(true);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("the bootstrap exits")
        .unwrap();
    assert!(!out.status.success());
    assert!(api.first_poll().is_none(), "it never asked for an event");
    String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
}

const ONE_CHECK: &str = "settings:\n  regions: [eu-west-1]\ncustomers:\n  - { id: a, name: A }\nservices:\n  - { id: s, customer: a, name: S }\nchecks:\n  - { id: home, service: s, http: { url: 'https://shop.example/' } }\n";

/// Customers' own templates ship beside the checks file; a folder that is missing or a template
/// that does not parse stops the function at init, naming the problem, instead of sending
/// messages in the wrong words.
#[tokio::test]
async fn a_broken_customer_template_stops_the_function_at_init_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        ONE_CHECK.replace(
            "{ id: a, name: A }",
            "{ id: a, name: A, templates: templates/a }",
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("templates/a")).unwrap();
    std::fs::write(
        dir.path().join("templates/a/opened.subject"),
        "{{ service_name ",
    )
    .unwrap();
    let said = stops_at_init(&checks, &[]).await;
    assert!(said.contains("opened.subject"), "{said}");
}

#[tokio::test]
async fn a_missing_topic_stops_the_function_at_init_and_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(&checks, ONE_CHECK).unwrap();
    let said = stops_at_init(
        &checks,
        &[
            (
                "ATALAYA_OPERATORS_TOPIC_ARN",
                Some("arn:aws:sns:eu-west-1:123456789012:ops"),
            ),
            ("ATALAYA_CUSTOMERS_TOPIC_ARN", None),
        ],
    )
    .await;
    assert!(
        said.contains("ATALAYA_CUSTOMERS_TOPIC_ARN is not set"),
        "{said}"
    );
}
