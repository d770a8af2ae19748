//! moto_server, the local AWS endpoint of the tests (design.md): the one `make test` started
//! (ATALAYA_MOTO_ENDPOINT), or one this test process starts from the project's virtualenv —
//! both through tests/moto_serial.py, which handles one request at a time so that conditional
//! writes are atomic as in DynamoDB.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The endpoint URL of a running moto_server.
pub fn endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            // moto accepts any credentials; the SDK needs some.
            for (k, v) in [
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_SESSION_TOKEN", "testing"),
            ] {
                if std::env::var_os(k).is_none() {
                    std::env::set_var(k, v);
                }
            }
            if let Ok(e) = std::env::var("ATALAYA_MOTO_ENDPOINT") {
                return e;
            }
            start()
        })
        .clone()
}

/// A moto_server of the caller's own, for tests that leave in moto what would spoil
/// `/moto-api/data.json` for the others (a Lambda function: moto then asks for Docker). Like the
/// shared one, it stops by itself after 15 minutes.
pub fn private() -> String {
    let _ = endpoint(); // the credentials the SDK needs
    start()
}

fn start() -> String {
    let python = std::env::var("ATALAYA_MOTO_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").to_string()
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/moto_serial.py");
    assert!(
        std::path::Path::new(&python).exists(),
        "no moto virtualenv at {python}: `make test` installs it (python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.6')"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // `timeout` ends moto even if this process dies without cleaning up; nobody waits
    // for it, by design: it outlives the test that started it.
    #[allow(clippy::zombie_processes)]
    std::process::Command::new("timeout")
        .args([
            "900",
            &python,
            script,
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("http://127.0.0.1:{port}")
}

/// A table-name prefix no other test uses.
pub fn unique_prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}-",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// SDK configuration pointing at moto (for the test's own SNS/SQS clients).
pub async fn sdk_config() -> aws_config::SdkConfig {
    atalaya_aws::sdk_config("eu-west-1", Some(&endpoint())).await
}

/// An operators and a customers topic on moto, named after `prefix`: their ARNs, in that order.
pub async fn topics(prefix: &str) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(&sdk_config().await);
    let mut arns = Vec::new();
    for role in ["operators", "customers"] {
        arns.push(
            sns.create_topic()
                .name(format!("{prefix}{role}"))
                .send()
                .await
                .unwrap()
                .topic_arn
                .unwrap(),
        );
    }
    (arns.remove(0), arns.remove(0))
}

/// A DynamoDB store on moto with its four tables created under a fresh prefix, and the prefix.
pub async fn store() -> (atalaya_store::DynamoStore, String) {
    let prefix = unique_prefix();
    let store = atalaya_store::DynamoStore::connect(
        "eu-west-1",
        Some(&endpoint()),
        atalaya_store::Tables::with_prefix(&prefix),
        Duration::from_secs(30 * 86_400),
    )
    .await;
    store.create_tables().await.unwrap();
    (store, prefix)
}

/// Another client on the tables of `store()` under `prefix` (as a second function sees them).
pub async fn store_with_prefix(prefix: &str) -> atalaya_store::DynamoStore {
    atalaya_store::DynamoStore::connect(
        "eu-west-1",
        Some(&endpoint()),
        atalaya_store::Tables::with_prefix(prefix),
        Duration::from_secs(30 * 86_400),
    )
    .await
}

/// An S3 client for moto (path-style addresses).
pub async fn s3() -> aws_sdk_s3::Client {
    let sdk = sdk_config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

/// A private S3 bucket `name` on moto, in eu-west-1, with a client for it.
pub async fn bucket(name: &str) -> aws_sdk_s3::Client {
    let s3 = s3().await;
    s3.create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3
}

/// A versioned S3 bucket on moto (in eu-west-1), as the home stack's checks bucket is; its name.
pub async fn versioned_bucket(prefix: &str) -> String {
    let bucket_name = format!("{}checks", prefix.trim_end_matches('-'));
    let s3 = bucket(&bucket_name).await;
    s3.put_bucket_versioning()
        .bucket(&bucket_name)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    bucket_name
}

/// What SES on moto has sent so far: each raw message with its destinations, oldest first
/// (moto keeps them in its model data, `/moto-api/data.json`).
pub fn ses_sent() -> Vec<(Vec<String>, String)> {
    use std::io::{Read, Write};
    let u = url::Url::parse(&endpoint()).unwrap();
    let mut s = std::net::TcpStream::connect((u.host_str().unwrap(), u.port().unwrap())).unwrap();
    write!(s, "GET /moto-api/data.json HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["destinations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect(),
                m["raw_data"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
