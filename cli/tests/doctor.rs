//! `atalaya doctor` against a deployment in moto_server (tests/doctor_world.py makes it as the
//! stacks name it), through a proxy that answers what moto lacks (tests/src/moto_plus.rs): a
//! healthy deployment exits 0; each fault planted (an operator who never confirmed, an alarm
//! firing, a public function its API may not invoke, functions on an old checks version, the
//! SES account in its sandbox) exits 1 and says what to do.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_tests::moto_plus::MotoPlus;
use std::process::Command;

/// A tiny endpoint on 127.0.0.1 that answers `/alive` as the ping and pages APIs do.
async fn alive_endpoint() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let ok = String::from_utf8_lossy(&buf[..n]).starts_with("GET /alive ");
                let answer = if ok {
                    "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nOK\n"
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                };
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

fn checks(port: u16) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::io::Write::write_all(
        &mut f,
        format!(
            r#"settings:
  regions: [eu-west-1, us-east-1]
  allow_networks: [127.0.0.0/8]
  heartbeats: {{ url: "http://127.0.0.1:{port}", key: "${{ssm:/atalaya/heartbeat/key}}" }}
  brand: {{ name: Acme, from: "Estado de Acme <estado@acme.example>" }}
  email: {{ pages_url: "http://127.0.0.1:{port}", key: "${{ssm:/atalaya/mail/email-key}}" }}
  status_page: {{ url: "https://status.acme.example" }}
customers:
  - {{ id: acme, name: Acme }}
services:
  - {{ id: shop, customer: acme, name: Shop }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: "https://shop.acme.example/" }} }}
  - {{ id: nightly, service: shop, heartbeat: {{ every: 1d }} }}
"#
        )
        .as_bytes(),
    )
    .unwrap();
    f
}

fn world(moto: &str, prefix: &str, what: &str) -> String {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/doctor_world.py");
    let out = Command::new(python)
        .args([script, moto, prefix, what])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "doctor_world.py {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn doctor(plus: &MotoPlus, file: &tempfile::NamedTempFile, prefix: &str) -> (i32, String) {
    let (url, path, prefix) = (plus.url(), file.path().to_path_buf(), prefix.to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args(["doctor", "--region", "eu-west-1", "--prefix", &prefix])
            .arg(&path)
            .env("AWS_ENDPOINT_URL", url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// A healthy deployment in a moto of its own (Lambda functions in moto spoil its data dump,
/// which other tests read).
async fn healthy(prefix: &str) -> (MotoPlus, tempfile::NamedTempFile, String) {
    let moto = atalaya_tests::moto::private();
    let plus = MotoPlus::start(&moto).await;
    plus.plant(|p| {
        p.ses_verified.insert("acme.example".into());
    });
    let version = world(&moto, prefix, "healthy");
    let file = checks(alive_endpoint().await);
    (plus, file, version)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_deployment_exits_0_and_says_what_it_looked_at() {
    let (plus, file, version) = healthy("doc-ok-").await;
    let (code, out) = doctor(&plus, &file, "doc-ok-").await;
    eprintln!("{out}");
    assert_eq!(code, 0, "{out}");
    for expected in [
        "atalaya doctor: prefix doc-ok-, account 123456789012, home eu-west-1, probe regions eu-west-1, us-east-1",
        "ok      table doc-ok-subscribers is active",
        "ok      function doc-ok-probe (us-east-1) is active, 15 runs and no errors in the last 15 minutes",
        "ok      alarms in us-east-1: all OK",
        "ok      arn:aws:sns:us-east-1:123456789012:doc-ok-alarms-us-east-1: 1 confirmed",
        "ok      SES identity acme.example is verified for sending",
        "ok      SES account is out of the sandbox",
        "ok      Lambda concurrency in us-east-1: 1000",
        "ok      the subscribers' pages http://127.0.0.1:",
        "ok      the ping endpoint http://127.0.0.1:",
        "ok      function doc-ok-pages is invoked by its HTTP API only",
        &format!("ok      function doc-ok-alert (eu-west-1) runs the published checks file ({version})"),
        &format!("ok      function doc-ok-ping-judge (eu-west-1) runs the published checks file ({version})"),
        "ok      status site deployed at https://",
        "0 problems",
    ] {
        assert!(out.contains(expected), "{expected:?} not in:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_planted_is_found_with_what_to_do() {
    let (plus, file, _) = healthy("doc-bad-").await;
    let (code, out) = doctor(&plus, &file, "doc-bad-").await;
    assert_eq!(code, 0, "{out}");

    // An operator who never confirmed: alarms reach nobody.
    plus.plant(|p| {
        p.pending.insert("oncall@example.com".into());
    });
    let (code, out) = doctor(&plus, &file, "doc-bad-").await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PROBLEM arn:aws:sns:eu-west-1:123456789012:doc-bad-operators: oncall@example.com never confirmed the subscription; alarms do not reach them\n        → follow the link in AWS's confirmation mail"), "{out}");
    plus.plant(|p| p.pending.clear());

    // An alarm firing.
    world(&plus.upstream, "doc-bad-", "alarm");
    let (code, out) = doctor(&plus, &file, "doc-bad-").await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "PROBLEM alarm doc-bad-ping-5xx (eu-west-1) is ALARM: Threshold Crossed: 4 datapoints"
        ),
        "{out}"
    );

    // The pages function's API may no longer invoke it.
    world(&plus.upstream, "doc-bad-", "permission");
    let (code, out) = doctor(&plus, &file, "doc-bad-").await;
    assert_eq!(code, 1);
    assert!(out.contains("PROBLEM function doc-bad-pages has no permission for its HTTP API: every request is answered 500\n        → deploy the home stack again"), "{out}");

    // A checks file published that the functions do not run.
    let newer = world(&plus.upstream, "doc-bad-", "stale");
    let (code, out) = doctor(&plus, &file, "doc-bad-").await;
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!(", not the published {newer}")),
        "{out}"
    );
    assert!(
        out.contains("PROBLEM function doc-bad-probe (us-east-1) runs checks version"),
        "{out}"
    );

    // SES in its sandbox, and a small concurrency quota (a warning: it deploys, it is tight).
    plus.plant(|p| {
        p.ses_production = false;
        p.concurrency.insert("us-east-1".into(), 10);
    });
    let (code, out) = doctor(&plus, &file, "doc-bad-").await;
    assert_eq!(code, 1);
    assert!(out.contains("PROBLEM SES account is in the sandbox: mail reaches verified addresses only, 200 a day"), "{out}");
    assert!(out.contains("WARNING Lambda concurrency in us-east-1: the account's quota is 10\n        → ask Service Quotas"), "{out}");
    eprintln!("{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_credentials_that_work_it_exits_2() {
    let file = checks(1);
    let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["doctor", "--region", "eu-west-1"])
        .arg(file.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the AWS credentials do not work"));
}
