//! The ping function's bootstrap serves both of its functions through the Lambda runtime API (a
//! stand-in), on DynamoDB on moto: a job's ping from an HTTP API event, then the judge's
//! minute, which calls the endpoint's `/alive` over HTTP on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_store::Store as _;
use atalaya_tests::lambda_api::{lambda_env, RuntimeApi};
use std::time::Duration;

#[tokio::test]
async fn the_bootstrap_takes_a_ping_and_judges_the_minute() {
    // Where the judge finds the endpoint answering (its `/alive` under this address).
    let target = atalaya_tests::http::server(None).await;
    let moto = atalaya_tests::moto::endpoint();
    let (store, prefix) = atalaya_tests::moto::store().await;
    let token = "nightly-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        "settings:\n  regions: [eu-west-1]\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - { id: a, name: A }\nservices:\n  - { id: s, customer: a, name: S }\nchecks:\n  - { id: nightly, service: s, heartbeat: { every: 1d, token: '${env:PING_TOKEN}' } }\n",
    )
    .unwrap();
    let ping = serde_json::json!({
        "version": "2.0",
        "rawPath": format!("/ping/{token}/0"),
        "rawQueryString": "",
        "requestContext": { "http": { "method": "POST", "path": format!("/ping/{token}/0") } },
        "body": "backup done: 12 GB",
        "isBase64Encoded": false,
    });
    let api = RuntimeApi::start(vec![
        ("req-1".into(), ping.to_string()),
        ("req-2".into(), r#"{"judge": true}"#.into()),
    ])
    .await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_atalaya-ping-fn"))
        .envs(lambda_env(&api))
        .env("ATALAYA_CHECKS", &checks)
        .env("ATALAYA_TABLE_PREFIX", &prefix)
        .env(
            "ATALAYA_PING_URL",
            format!("http://{target}/switch/ping-endpoint"),
        )
        .env("PING_TOKEN", token)
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pinged = api.outcome("req-1", Duration::from_secs(30)).await;
    let judged = api.outcome("req-2", Duration::from_secs(30)).await;
    child.kill().await.unwrap();
    let logs = child.wait_with_output().await.unwrap();
    let logs =
        String::from_utf8_lossy(&logs.stdout).to_string() + &String::from_utf8_lossy(&logs.stderr);
    let pinged: serde_json::Value = serde_json::from_str(&pinged.unwrap()).unwrap();
    assert_eq!(pinged["statusCode"], 200, "{pinged}");
    assert_eq!(pinged["body"], "OK\n");
    let judged: serde_json::Value = serde_json::from_str(&judged.unwrap()).unwrap();
    assert_eq!(
        (&judged["endpoint_ok"], &judged["heartbeats"], &judged["up"]),
        (
            &serde_json::json!(true),
            &serde_json::json!(1),
            &serde_json::json!(1)
        ),
        "{judged}"
    );
    assert!(
        logs.contains("PingsReceived") && logs.contains("PingEndpointDown"),
        "{logs}"
    );
    assert_eq!(atalaya_tests::secrets::leaked(&logs, token), None, "{logs}");
    // The ping's result (with what the job said) and the minute's, under the heartbeats' region.
    let results = store
        .results(
            atalaya_core::kinds::heartbeat::REGION,
            chrono::DateTime::UNIX_EPOCH,
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results
        .iter()
        .all(|r| r.check == "nightly" && r.outcome == atalaya_core::Outcome::Up));
    // The ping's own result carries what the job said (results keep whole seconds, so the
    // ping's and the judge's may share one: in any order).
    assert!(
        results
            .iter()
            .any(|r| r.detail.contains("backup done: 12 GB")),
        "{results:?}"
    );
    for r in &results {
        assert_eq!(atalaya_tests::secrets::leaked(&r.detail, token), None);
    }
}
