//! The bootstrap binary serves a real invocation through the Lambda runtime API (a stand-in),
//! writing to DynamoDB on moto.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_store::Store as _;
use atalaya_tests::lambda_api::{lambda_env, RuntimeApi};
use std::time::Duration;

#[tokio::test]
async fn the_bootstrap_serves_an_invocation_through_the_runtime_api() {
    let target = atalaya_tests::http::server(None).await;
    let moto = atalaya_tests::moto::endpoint();
    let (store, prefix) = atalaya_tests::moto::store().await;
    // A Basic password kept in SSM (SecureString), read at init from the home region.
    let password = "s3cr3t/pw=";
    aws_sdk_ssm::Client::new(&atalaya_tests::moto::sdk_config().await)
        .put_parameter()
        .name(format!("/atalaya/{prefix}/password"))
        .value(password)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        format!(
            "settings:\n  regions: [eu-west-1]\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - {{ id: a, name: A }}\nservices:\n  - {{ id: s, customer: a, name: S }}\nchecks:\n  - {{ id: home, service: s, http: {{ url: 'http://{target}/ok' }} }}\n  - {{ id: basic, service: s, http: {{ url: 'http://bob:${{ssm:/atalaya/{prefix}/password}}@{target}/basic' }} }}\n"
        ),
    )
    .unwrap();
    let api = RuntimeApi::start(vec![("req-1".into(), r#"{"region": "eu-west-1"}"#.into())]).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_atalaya-probe-fn"))
        .envs(lambda_env(&api))
        .env("ATALAYA_CHECKS", &checks)
        .env("ATALAYA_TABLE_PREFIX", &prefix)
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("ATALAYA_HOME_REGION", "eu-west-1")
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let response = api.outcome("req-1", Duration::from_secs(30)).await;
    child.kill().await.unwrap();
    let logs = child.wait_with_output().await.unwrap();
    let logs =
        String::from_utf8_lossy(&logs.stdout).to_string() + &String::from_utf8_lossy(&logs.stderr);
    assert!(
        logs.contains("\"level\":\"TRACE\"") || logs.contains("ChecksRun"),
        "{logs}"
    );
    assert_eq!(
        atalaya_tests::secrets::leaked(&logs, password),
        None,
        "{logs}"
    );
    let response: serde_json::Value = serde_json::from_str(&response.unwrap()).unwrap();
    assert_eq!(response["region"], "eu-west-1");
    assert_eq!(
        (response["checks"].as_u64(), response["written"].as_u64()),
        (Some(2), Some(2))
    );
    let results = store
        .results("eu-west-1", chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(results.iter().filter(|r| r.check == "home").count(), 1);
    // The protected endpoint let the SSM password in.
    let basic = results.iter().find(|r| r.check == "basic").unwrap();
    assert_eq!(basic.outcome, atalaya_core::Outcome::Up, "{basic:?}");
    assert!(api.first_poll().is_some());
}

#[tokio::test]
async fn a_published_checks_file_replaces_the_packaged_one() {
    let target = atalaya_tests::http::server(None).await;
    let moto = atalaya_tests::moto::endpoint();
    let (store, prefix) = atalaya_tests::moto::store().await;
    let bucket = atalaya_tests::moto::versioned_bucket(&prefix).await;
    let dir = tempfile::tempdir().unwrap();
    let file = |ids: &[&str]| {
        let mut s = "settings:\n  regions: [eu-west-1]\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - { id: a, name: A }\nservices:\n  - { id: s, customer: a, name: S }\nchecks:\n".to_string();
        for id in ids {
            s.push_str(&format!(
                "  - {{ id: {id}, service: s, http: {{ url: 'http://{target}/ok' }} }}\n"
            ));
        }
        s
    };
    // Packaged with the function: one check. Published: two others.
    let packaged = dir.path().join("checks.yaml");
    std::fs::write(&packaged, file(&["packaged"])).unwrap();
    let published = dir.path().join("published/checks.yaml");
    std::fs::create_dir_all(published.parent().unwrap()).unwrap();
    std::fs::write(&published, file(&["new-one", "new-two"])).unwrap();
    let (_, bundle) = atalaya_app::bundle::pack(&published).unwrap();
    let sdk = atalaya_tests::moto::sdk_config().await;
    atalaya_aws::checks::S3Checks::new(&sdk, &bucket, "checks.tar.gz")
        .publish(bundle)
        .await
        .unwrap();
    let api = RuntimeApi::start(vec![("req-1".into(), r#"{"region": "eu-west-1"}"#.into())]).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_atalaya-probe-fn"))
        .envs(lambda_env(&api))
        .env("ATALAYA_CHECKS", &packaged)
        .env("ATALAYA_CHECKS_BUCKET", &bucket)
        .env("ATALAYA_TABLE_PREFIX", &prefix)
        .env("ATALAYA_HOME_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let response = api.outcome("req-1", Duration::from_secs(30)).await;
    child.kill().await.unwrap();
    let response: serde_json::Value = serde_json::from_str(&response.unwrap()).unwrap();
    assert_eq!(response["checks"].as_u64(), Some(2), "{response}");
    let results = store
        .results("eu-west-1", chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    let mut ran: Vec<&str> = results.iter().map(|r| r.check.as_str()).collect();
    ran.sort();
    assert_eq!(ran, ["new-one", "new-two"]);
}

/// A secret store that takes the request and never answers costs the first invocation one
/// deadline (`FIRST_READ_DEADLINE`), not the SDK's retries (4 attempts of 5 s); the check that
/// needs the secret reports a check error, the others run, and init did not wait at all.
#[tokio::test]
async fn a_secret_store_that_never_answers_costs_one_deadline() {
    use atalaya_tests::fault_proxy::{self, Fault};
    let target = atalaya_tests::http::server(None).await;
    let moto = atalaya_tests::moto::endpoint();
    let (store, prefix) = atalaya_tests::moto::store().await;
    let upstream: std::net::SocketAddr = moto.trim_start_matches("http://").parse().unwrap();
    // SSM hangs; DynamoDB goes through to moto.
    let (proxy, stats) = fault_proxy::start(
        upstream,
        std::sync::Arc::new(|_, target: &str| {
            target.starts_with("AmazonSSM.").then_some(Fault::Hang)
        }),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        format!(
            "settings:\n  regions: [eu-west-1]\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - {{ id: a, name: A }}\nservices:\n  - {{ id: s, customer: a, name: S }}\nchecks:\n  - {{ id: home, service: s, http: {{ url: 'http://{target}/ok' }} }}\n  - {{ id: basic, service: s, http: {{ url: 'http://bob:${{ssm:/atalaya/{prefix}/password}}@{target}/basic' }} }}\n"
        ),
    )
    .unwrap();
    let api = RuntimeApi::start(vec![("req-1".into(), r#"{"region": "eu-west-1"}"#.into())]).await;
    let started = std::time::Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_atalaya-probe-fn"))
        .envs(lambda_env(&api))
        .env("ATALAYA_CHECKS", &checks)
        .env("ATALAYA_TABLE_PREFIX", &prefix)
        .env("AWS_ENDPOINT_URL", format!("http://{proxy}"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("ATALAYA_HOME_REGION", "eu-west-1")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let response = api.outcome("req-1", Duration::from_secs(30)).await;
    let took = started.elapsed();
    child.kill().await.unwrap();
    let logs = child.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout).to_string();
    // One deadline of 3 s and the run; the SDK's schedule alone would be 20 s.
    assert!(
        took < Duration::from_secs(9),
        "the first invocation took {took:?}\n{logs}"
    );
    assert!(stats.faults.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert!(logs.contains("could not be read in time"), "{logs}");
    let response: serde_json::Value = serde_json::from_str(&response.unwrap()).unwrap();
    assert_eq!(response["written"].as_u64(), Some(2), "{response}");
    let results = store
        .results("eu-west-1", chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    let home = results.iter().find(|r| r.check == "home").unwrap();
    assert_eq!(home.outcome, atalaya_core::Outcome::Up, "{home:?}");
    let basic = results.iter().find(|r| r.check == "basic").unwrap();
    assert_eq!(basic.reason, atalaya_core::Reason::CheckError, "{basic:?}");
    // Init asked for the first event before any read ended.
    let first = api.first_poll().unwrap();
    assert!(
        first - started < Duration::from_secs(2),
        "init waited: {:?}",
        first - started
    );
}
