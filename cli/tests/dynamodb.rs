//! `atalaya incidents` / `atalaya incident …` against the Lambda functions' DynamoDB tables
//! (moto_server): the same commands as with the local runner's SQLite database.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_core::evaluate::evaluate;
use atalaya_core::{Outcome, Phases, ProbeResult, Reason, Renderer};
use atalaya_store::Store;
use std::process::{Command, Output};

const CHECKS: &str = "settings:
  regions: [eu-west-1]
  quorum: 1
  defaults: { interval: 1m, timeout: 5s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp, language: es }
services:
  - { id: shop, customer: acme, name: Tienda online }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.example.com/' } }
";

fn atalaya(args: &[&str], prefix: &str, extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atalaya"));
    cmd.args(args)
        .env("AWS_ENDPOINT_URL", atalaya_tests::moto::endpoint())
        .env("ATALAYA_STORE", "dynamodb")
        .env("ATALAYA_HOME_REGION", "eu-west-1")
        .env("ATALAYA_TABLE_PREFIX", prefix);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn down(at: chrono::DateTime<chrono::Utc>) -> ProbeResult {
    ProbeResult {
        check: "shop-home".into(),
        region: "eu-west-1".into(),
        at,
        outcome: Outcome::Down,
        reason: Reason::HttpStatus,
        detail: "status 503, expected one of [200]".into(),
        latency_ms: 20.0,
        phases: Phases::default(),
        http_status: Some(503),
        cert_days_left: None,
    }
}

#[tokio::test]
async fn incidents_are_listed_shown_and_acted_on_in_dynamodb() {
    let (store, prefix) = atalaya_tests::moto::store().await;
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(&checks, CHECKS).unwrap();
    let config = atalaya_app::Checks::load(&checks, atalaya_core::Target::Lambda)
        .unwrap()
        .config;

    // What the alert function does when the shop goes down.
    let t0 = chrono::Utc::now() - chrono::TimeDelta::minutes(3);
    let renderer = Renderer::new();
    for m in 0..2 {
        let at = t0 + chrono::TimeDelta::minutes(m);
        let v = store.load_state().await.unwrap();
        let (state, events) = evaluate(&v.state, &[down(at)], at, &config);
        let messages: Vec<_> = events
            .iter()
            .map(|e| renderer.render(e, &state, &config).unwrap())
            .collect();
        store.commit(&v, &state, &messages).await.unwrap();
    }
    let opened = store.incidents(true).await.unwrap();
    assert_eq!(opened.len(), 1);
    let id = opened[0].id.clone();
    for m in store.pending().await.unwrap() {
        store.mark_sent(&m.message.id).await.unwrap();
    }

    let list = atalaya(&["incidents", "--open"], &prefix, &[]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{list:?}");
    assert!(
        text.contains(&id) && text.contains("investigating") && text.contains("shop"),
        "{text}"
    );

    let show = atalaya(&["incident", "show", &id], &prefix, &[]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{show:?}");
    assert!(
        text.contains("timeline:") && text.contains("opened"),
        "{text}"
    );

    // Acting needs the checks file the functions run with, and says so.
    let no_checks = atalaya(
        &[
            "incident",
            "update",
            &id,
            "--phase",
            "identified",
            "--message",
            "x",
        ],
        &prefix,
        &[],
    );
    assert!(!no_checks.status.success());
    assert!(
        String::from_utf8_lossy(&no_checks.stderr).contains("--checks FILE"),
        "{no_checks:?}"
    );

    // Without topics, the update is recorded for the alert function to publish.
    let update = atalaya(
        &[
            "incident",
            "update",
            &id,
            "--phase",
            "identified",
            "--message-es",
            "Hemos encontrado la causa.",
            "--checks",
            checks.to_str().unwrap(),
        ],
        &prefix,
        &[],
    );
    assert!(update.status.success(), "{update:?}");
    let pending = store.pending().await.unwrap();
    assert_eq!(pending.len(), 2, "operators and the customer: {pending:?}");
    assert!(pending
        .iter()
        .any(|p| p.message.body.contains("Hemos encontrado la causa.")));
    let inc = store.incident(&id).await.unwrap().unwrap();
    assert_eq!(inc.phase.as_str(), "identified");

    // With topics, the resolution is published at once; the shop still fails, so it is
    // refused unless forced.
    let (ops, customers) = atalaya_tests::moto::topics(&prefix).await;
    let refused = atalaya(
        &[
            "incident",
            "resolve",
            &id,
            "--checks",
            checks.to_str().unwrap(),
        ],
        &prefix,
        &[],
    );
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let resolve = atalaya(
        &[
            "incident",
            "resolve",
            &id,
            "--force",
            "--checks",
            checks.to_str().unwrap(),
        ],
        &prefix,
        &[
            ("ATALAYA_OPERATORS_TOPIC_ARN", &ops),
            ("ATALAYA_CUSTOMERS_TOPIC_ARN", &customers),
        ],
    );
    assert!(resolve.status.success(), "{resolve:?}");
    assert!(store.pending().await.unwrap().is_empty(), "all published");
    assert!(store.incidents(true).await.unwrap().is_empty());
    let all = atalaya(&["incidents"], &prefix, &[]);
    assert!(String::from_utf8_lossy(&all.stdout).contains("resolved"));
    // Every message sent about it, read back from the outbox table.
    let show = atalaya(&["incident", "show", &id, "--messages"], &prefix, &[]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("Hemos encontrado la causa.")
            && text.contains("Subject: Tienda online: resuelto, funciona con normalidad")
            && text.contains("(by hand, forced)"),
        "{text}"
    );
}

/// `${ssm:…}` and `${secret:…}` read from SSM (SecureString) and Secrets Manager on moto, used
/// by the checks, and never printed, in any form, even with every log on.
#[test]
fn secret_references_are_read_from_ssm_and_secrets_manager_and_never_shown() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    let prefix = atalaya_tests::moto::unique_prefix();
    // The Basic password /basic accepts, and a bearer token /leak/json echoes back.
    let (password, token) = ("s3cr3t/pw=", "tok-7Hq2/Zx9+Wm4=Lp");
    rt.block_on(async {
        let sdk = atalaya_tests::moto::sdk_config().await;
        aws_sdk_ssm::Client::new(&sdk)
            .put_parameter()
            .name(format!("/atalaya/{prefix}/shop-password"))
            .value(password)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(format!("atalaya/{prefix}/api-token"))
            .secret_string(token)
            .send()
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checks.yaml");
    std::fs::write(
        &path,
        format!(
            "settings:\n  allow_networks: [127.0.0.0/8]\n  defaults: {{ timeout: 2s }}\n\
customers:\n  - {{ id: acme, name: ACME }}\nservices:\n  - {{ id: web, customer: acme, name: Web }}\nchecks:\n\
  - {{ id: basic, service: web, http: {{ url: 'http://bob:${{ssm:/atalaya/{prefix}/shop-password}}@{addr}/basic' }} }}\n\
  - {{ id: echo, service: web, http: {{ url: 'http://{addr}/leak/json', headers: {{ Authorization: 'Bearer ${{secret:atalaya/{prefix}/api-token}}' }} }}, expect: {{ json: {{ /auth: none }} }} }}\n\
  - {{ id: missing, service: web, http: {{ url: 'http://{addr}/ok', headers: {{ X-Key: '${{ssm:/atalaya/{prefix}/nowhere}}' }} }} }}\n"
        ),
    )
    .unwrap();
    let out = atalaya(
        &["probe", path.to_str().unwrap(), "--format", "json"],
        &prefix,
        &[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("RUST_LOG", "trace"),
        ],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |id: &str| results.iter().find(|r| r["check"] == id).unwrap().clone();
    // The SSM password went out as Basic authentication: the protected endpoint let it in.
    assert_eq!(of("basic")["outcome"], "up", "{stdout}\n{stderr}");
    // The secret went out as the bearer token: echoed back, judged, and scrubbed.
    let echo = of("echo");
    assert_eq!(echo["outcome"], "down", "{echo}");
    assert!(echo["detail"].as_str().unwrap().contains("***"), "{echo}");
    // A parameter that does not exist: a check error naming it (never an outage), and why.
    let missing = of("missing");
    assert_eq!(
        (missing["outcome"].as_str(), missing["reason"].as_str()),
        (Some("unknown"), Some("check_error")),
        "{missing}"
    );
    assert!(
        missing["detail"].as_str().unwrap().contains(&format!(
            "SSM parameter /atalaya/{prefix}/nowhere could not be read"
        )),
        "{missing}"
    );
    assert!(
        stderr.contains(&format!(
            "${{ssm:/atalaya/{prefix}/nowhere}} could not be read (ParameterNotFound"
        )),
        "{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a check that cannot run exits 1"
    );
    for (what, text) in [("stdout", &stdout), ("stderr (trace logs)", &stderr)] {
        for secret in [password, token] {
            assert_eq!(
                atalaya_tests::secrets::leaked(text, secret),
                None,
                "{what} shows a secret:\n{text}"
            );
        }
    }
}

/// `atalaya publish-checks` on moto's S3: a valid file is packed with its templates and
/// uploaded as a new version, which the functions' loader takes; an invalid one is not uploaded;
/// a broken version that slips in is refused and the last good one keeps running.
#[test]
fn published_checks_files_are_taken_within_a_minute_and_a_broken_one_is_refused() {
    use atalaya_app::live::{LiveChecks, Refresh, EVERY};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = atalaya_tests::moto::unique_prefix();
    let bucket = rt.block_on(atalaya_tests::moto::versioned_bucket(&prefix));
    let sdk = rt.block_on(atalaya_tests::moto::sdk_config());
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checks.yaml");
    let file = |n: usize| {
        let mut s = "settings:\n  regions: [eu-west-1]\ncustomers:\n  - { id: acme, name: ACME, templates: templates/acme }\nservices:\n  - { id: shop, customer: acme, name: Shop }\nchecks:\n".to_string();
        for i in 0..n {
            s.push_str(&format!(
                "  - {{ id: c{i}, service: shop, http: {{ url: 'https://shop.example/{i}' }} }}\n"
            ));
        }
        s
    };
    std::fs::create_dir_all(dir.path().join("templates/acme")).unwrap();
    std::fs::write(
        dir.path().join("templates/acme/opened.subject"),
        "ACME: {{ service_name }}",
    )
    .unwrap();
    std::fs::write(&path, file(2)).unwrap();
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let publish = |extra: &[&str]| {
        let mut args = vec![
            "publish-checks",
            path.to_str().unwrap(),
            "--bucket",
            &bucket,
            "--region",
            "eu-west-1",
        ];
        args.extend_from_slice(extra);
        atalaya(&args, &prefix, &env)
    };
    let out = publish(&[]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!(
            "published to s3://{bucket}/checks.tar.gz as version "
        )) && said.contains("(2 checks)"),
        "{said}"
    );

    // The functions' loader, on the same bucket.
    let source = atalaya_aws::checks::S3Checks::new(&sdk, &bucket, "checks.tar.gz");
    let scratch = tempfile::tempdir().unwrap();
    let packaged = atalaya_app::Checks::from_text(
        &file(1),
        "checks.yaml",
        dir.path(),
        atalaya_core::Target::Lambda,
    )
    .unwrap();
    let live = LiveChecks::new(packaged, scratch.path().to_path_buf());
    let t0 = std::time::Instant::now();
    assert!(matches!(
        rt.block_on(live.refresh(&source, t0)),
        Refresh::Updated { .. }
    ));
    assert_eq!(live.current().config.checks.len(), 2);
    assert!(
        live.current().renderer.has_override("acme/opened.subject"),
        "templates travel with the file"
    );

    // An invalid file is not published.
    std::fs::write(
        &path,
        file(3).replace("https://shop.example/2", "ftp://shop.example/2"),
    )
    .unwrap();
    let out = publish(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not published"));
    assert_eq!(
        rt.block_on(live.refresh(&source, t0 + EVERY)),
        Refresh::Unchanged
    );

    // A broken object put there by other means is refused; the last good one runs on.
    rt.block_on(async {
        s3.put_object()
            .bucket(&bucket)
            .key("checks.tar.gz")
            .body(b"not a bundle".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    match rt.block_on(live.refresh(&source, t0 + EVERY * 2)) {
        Refresh::Rejected { problems, .. } => {
            assert!(problems[0].contains("not a bundle"), "{problems:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(live.current().config.checks.len(), 2);
}

/// Subscribers kept in the functions' table: added (a confirmation mail through SES, in the
/// customer's language, with a link to the pages), listed, refused when wrong, removed.
#[tokio::test]
async fn subscribers_are_managed_in_dynamodb_and_confirmed_through_ses() {
    let (_store, prefix) = atalaya_tests::moto::store().await;
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        CHECKS.replace(
            "  defaults:",
            "  brand: { name: Acme, from: \"Estado de Acme <estado@acme.example>\" }\n  email: { pages_url: \"https://abc.lambda-url.eu-west-1.on.aws\", key: \"${env:ATALAYA_EMAIL_KEY}\" }\n  defaults:",
        ),
    )
    .unwrap();
    let sdk = atalaya_aws::sdk_config("eu-west-1", Some(&atalaya_tests::moto::endpoint())).await;
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity("acme.example")
        .send()
        .await
        .unwrap();
    let key = ("ATALAYA_EMAIL_KEY", "k".repeat(40));
    let env = [(key.0, key.1.as_str())];
    let file = checks.to_str().unwrap();
    let out = atalaya(
        &[
            "subscribers",
            "add",
            "--customer",
            "acme",
            "--email",
            "ana@example.com",
            "--checks",
            file,
        ],
        &prefix,
        &env,
    );
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("a confirmation mail went out (Amazon SES)"),
        "{said}"
    );
    let out = atalaya(
        &[
            "subscribers",
            "add",
            "--customer",
            "acme",
            "--email",
            "bob@example.com",
            "--confirmed",
            "--checks",
            file,
        ],
        &prefix,
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = atalaya(
        &[
            "subscribers",
            "add",
            "--customer",
            "nobody",
            "--email",
            "x@example.com",
            "--checks",
            file,
        ],
        &prefix,
        &env,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no customer \"nobody\""));
    let out = atalaya(&["subscribers", "list", "--format", "json"], &prefix, &[]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["email"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("ana@example.com", "pending"),
            ("bob@example.com", "confirmed")
        ]
    );
    // The confirmation mail SES (moto) sent: Spanish, with the pages' link.
    let raw = tokio::task::spawn_blocking(atalaya_tests::moto::ses_sent)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, raw)| raw)
        .find(|r| r.contains("To: ana@example.com"))
        .unwrap();
    let m = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    assert_eq!(
        m.subject(),
        Some("Confirme su suscripción a los avisos de Acme")
    );
    assert!(m
        .body_text(0)
        .unwrap()
        .contains("https://abc.lambda-url.eu-west-1.on.aws/confirm?t="));
    let out = atalaya(
        &[
            "subscribers",
            "remove",
            "--customer",
            "acme",
            "--email",
            "ana@example.com",
        ],
        &prefix,
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = atalaya(&["subscribers", "list", "--format", "json"], &prefix, &[]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

/// The month's report from the functions' rollups (the alert function writes the services'
/// hours, the rollup job each check's per region and the latency; here they are written as
/// they write them), in Spanish for the customer.
#[tokio::test]
async fn the_report_reads_the_functions_rollups() {
    use atalaya_core::rollup::{accrue, Condition, Hours};
    use atalaya_store::Rollups;
    let (store, prefix) = atalaya_tests::moto::store().await;
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(&checks, CHECKS).unwrap();
    let t = |s: &str| -> chrono::DateTime<chrono::Utc> { s.parse().unwrap() };
    let mut hours = Hours::new();
    accrue(
        &mut hours,
        Condition::Up,
        t("2026-10-01T00:00:00Z"),
        t("2026-10-31T00:00:00Z"),
    );
    accrue(
        &mut hours,
        Condition::Down,
        t("2026-10-31T00:00:00Z"),
        t("2026-10-31T01:00:00Z"),
    );
    accrue(
        &mut hours,
        Condition::Up,
        t("2026-10-31T01:00:00Z"),
        t("2026-11-01T00:00:00Z"),
    );
    store
        .write_hours(&std::collections::BTreeMap::from([(
            "shop".to_string(),
            std::collections::BTreeMap::from([("shop".to_string(), hours)]),
        )]))
        .await
        .unwrap();
    // The check in its region, as the rollup job writes it: down a minute longer there (it
    // failed first in that region), with the latency it measured.
    use atalaya_core::rollup::{Detail, Millis};
    use atalaya_store::HourlyRollups;
    for (hour, down_ms, latencies) in [
        ("2026-10-30T23:00:00Z", 60_000, [100.0, 110.0, 120.0]),
        ("2026-10-31T00:00:00Z", 3_600_000, [300.0, 310.0, 320.0]),
    ] {
        let mut d = Detail::default();
        d.checks.insert(
            "shop-home@eu-west-1".into(),
            Millis {
                up: 3_600_000 - down_ms,
                down: down_ms,
                ..Millis::default()
            },
        );
        for (i, ms) in latencies.into_iter().enumerate() {
            let r = atalaya_core::ProbeResult {
                latency_ms: ms,
                outcome: Outcome::Up,
                ..down(t(hour) + chrono::TimeDelta::minutes(i as i64))
            };
            d.latency
                .entry("shop-home@eu-west-1".into())
                .or_default()
                .record(&r);
            d.latency.entry("shop".into()).or_default().record(&r);
        }
        store
            .write_region_hour(
                "eu-west-1",
                t(hour),
                &std::collections::BTreeMap::from([("shop".to_string(), d)]),
            )
            .await
            .unwrap();
    }
    let checks_env = [("ATALAYA_CHECKS", checks.to_str().unwrap())];
    let out = atalaya(
        &["report", "--month", "2026-10", "--format", "json"],
        &prefix,
        &checks_env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shop = &r["services"][0];
    // One hour down of 744: 99.865…%.
    let pct = shop["uptime_percent"].as_f64().unwrap();
    assert!((pct - 100.0 * (1.0 - 1.0 / 744.0)).abs() < 1e-9, "{shop}");
    assert_eq!(shop["down_s"].as_f64(), Some(3600.0));
    let check = &shop["checks"][0];
    assert_eq!(
        (&check["check"], &check["region"]),
        (
            &serde_json::json!("shop-home"),
            &serde_json::json!("eu-west-1")
        ),
        "{shop}"
    );
    assert_eq!(check["down_s"].as_f64(), Some(3660.0), "{shop}");
    // Latency percentiles from the sketches of both hours (1 % relative accuracy).
    let p50 = check["latency"]["p50"].as_f64().unwrap();
    assert!((p50 - 120.0).abs() <= 1.3, "{shop}");
    // Six samples: the 99th percentile is the fifth (DDSketch ranks as q × (n − 1)).
    let p99 = shop["latency"]["total"]["p99"].as_f64().unwrap();
    assert!((p99 - 310.0).abs() <= 3.1, "{shop}");
    assert_eq!(
        shop["latency"]["total"]["samples"].as_u64(),
        Some(6),
        "{shop}"
    );
    let html = atalaya(
        &[
            "report",
            "--month",
            "2026-10",
            "--customer",
            "acme",
            "--format",
            "html",
        ],
        &prefix,
        &checks_env,
    );
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(
        html.contains("octubre de 2026") && html.contains("99,865 %"),
        "{html}"
    );
    // Without the checks file the functions run with, it says what is missing.
    let out = atalaya(&["report", "--month", "2026-10"], &prefix, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--checks"));
}
