//! Heartbeats on AWS, against moto: jobs ping the ping function (HTTP API events, payload 2.0; tokens
//! derived from a key in SSM or kept there), the judge calls the endpoint's `/alive` through a
//! real HTTP server on 127.0.0.1 and judges every heartbeat each minute; what they write to the
//! results table goes through the table's real stream to the alert function, which opens the
//! incidents, tells operators the job's own words and customers plain ones, and says nothing
//! good while the endpoint cannot take pings.

use super::end_to_end::stream_batch;
use super::*;
use atalaya_alert_fn::{handle as alert, results_of, Deps};
use atalaya_core::email::Key;
use atalaya_core::kinds::heartbeat::{derived_token, REGION};
use chrono::{DateTime, TimeDelta, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "0123456789abcdef0123456789abcdef-heartbeats";

fn url_event(path: &str, body: &str) -> serde_json::Value {
    serde_json::json!({
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "requestContext": { "http": { "method": if body.is_empty() { "GET" } else { "POST" }, "path": path } },
        "body": body,
        "isBase64Encoded": false,
    })
}

/// The endpoint as its HTTP API serves it: each HTTP request on 127.0.0.1 becomes a
/// payload 2.0 event for the ping function's handler.
async fn http_api(
    store: DynamoStore,
    checks: Checks,
    tokens: atalaya_app::heartbeat::Tokens,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = std::sync::Arc::new((store, checks, tokens));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                let (store, checks, tokens) = &*shared;
                let (response, _) = atalaya_ping_fn::answer(
                    store,
                    &checks.config,
                    tokens,
                    &url_event(&path, ""),
                    Utc::now(),
                )
                .await;
                let status = response["statusCode"].as_u64().unwrap();
                let body = response["body"].as_str().unwrap().to_string();
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_ping_function_writes_results_the_alert_function_judges() {
    let (s, prefix) = atalaya_tests::moto::store().await;
    let sdk = atalaya_tests::moto::sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for (name, value) in [
        (format!("/{prefix}/heartbeat-key"), KEY.to_string()),
        (
            format!("/{prefix}/hb/export"),
            "export-token-kept-in-ssm".to_string(),
        ),
    ] {
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    let text = format!(
        "settings:
  regions: [eu-west-1]
  allow_networks: [127.0.0.0/8]
  heartbeats: {{ key: '${{ssm:/{prefix}/heartbeat-key}}' }}
customers:
  - {{ id: acme, name: ACME Corp, language: es }}
services:
  - {{ id: backups, customer: acme, name: Copias de seguridad }}
  - {{ id: exports, customer: acme, name: Exportaciones }}
  - {{ id: reports, customer: acme, name: Informes }}
checks:
  - {{ id: backup, service: backups, heartbeat: {{ every: 1m, grace: 1m }} }}
  - {{ id: export, service: exports, heartbeat: {{ every: 1h, token: '${{ssm:/{prefix}/hb/export}}' }} }}
  - {{ id: report, service: reports, heartbeat: {{ every: 1h, token: '${{ssm:/{prefix}/hb/missing}}' }} }}
"
    );
    let c = checks(&text);
    assert!(c.config.settings.regions.contains(&REGION.to_string()));
    let tokens = atalaya_app::heartbeat::read_tokens(&c.config, &sdk, None).await;
    let url = http_api(
        atalaya_tests::moto::store_with_prefix(&prefix).await,
        checks(&text),
        atalaya_app::heartbeat::read_tokens(&c.config, &sdk, None).await,
    )
    .await;
    let engine = atalaya_tests::engine(None);
    // The URL `atalaya heartbeat url backup` prints: derived from the key in SSM.
    let backup = format!(
        "/ping/{}",
        derived_token(&Key::from_text(KEY).unwrap(), "backup")
    );
    let export = "/ping/export-token-kept-in-ssm";

    let m = moto().await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let cust_q = m.queue("cust", &m.cust_topic, None).await;
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let sdk2 = sdk.clone();
    let table = s.tables().results.clone();
    // Everything the results table's stream carries to the alert function, evaluated at `now`.
    let evaluate = |now: DateTime<Utc>| {
        let (sdk, table, deps) = (sdk2.clone(), table.clone(), &deps);
        async move {
            let batch = stream_batch(&sdk, &table).await;
            let (results, first) = results_of(&batch);
            alert(deps, &results, first, now).await
        }
    };
    let ping = |path: String, body: &'static str, at: DateTime<Utc>| {
        let (s, c, tokens) = (&s, &c, &tokens);
        async move {
            let (response, _) =
                atalaya_ping_fn::answer(s, &c.config, tokens, &url_event(&path, body), at).await;
            (
                response["statusCode"].as_u64().unwrap(),
                response["body"].as_str().unwrap().to_string(),
            )
        }
    };
    let look = || atalaya_ping_fn::look(&engine, Some(&url), &c.config);

    let t0 = Utc::now() - TimeDelta::minutes(10);
    // The jobs ping: the backup succeeds; the export fails, saying why.
    assert_eq!(ping(backup.clone(), "", t0).await, (200, "OK\n".into()));
    assert_eq!(
        ping(
            format!("{export}/fail"),
            "COPY failed: relation \"orders\" is locked",
            t0
        )
        .await
        .0,
        200
    );
    assert_eq!(ping("/ping/guessed-token-0000".into(), "", t0).await.0, 404);
    // The judge's minute: the endpoint answers through its URL.
    assert_eq!(look().await, Ok(()));
    let judged = atalaya_ping_fn::judge(
        &s,
        &c.config,
        &tokens,
        t0 + TimeDelta::seconds(5),
        look().await,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            judged.endpoint_ok,
            judged.heartbeats,
            judged.up,
            judged.down,
            judged.unknown
        ),
        (true, 3, 1, 1, 1),
        "{judged:?}"
    );
    let out = evaluate(t0 + TimeDelta::seconds(10)).await;
    assert_eq!(out.publish_failures, 0, "{out:?}");
    let ops = m.drain(&ops_q).await;
    let cust = m.drain(&cust_q).await;
    let subject = |e: &serde_json::Value| e["Subject"].as_str().unwrap_or_default().to_string();
    let message = |e: &serde_json::Value| e["Message"].as_str().unwrap_or_default().to_string();
    // The export's failure is an incident; its operators read the job's words.
    let opened: Vec<_> = ops
        .iter()
        .filter(|e| subject(e).starts_with("[OPENED]"))
        .collect();
    assert_eq!(
        opened.len(),
        1,
        "{:#?}",
        ops.iter().map(subject).collect::<Vec<_>>()
    );
    assert!(subject(opened[0]).contains("export"));
    assert!(
        message(opened[0]).contains("relation \"orders\" is locked"),
        "{}",
        message(opened[0])
    );
    assert!(
        message(opened[0]).contains(&format!("export  {REGION}  job_failed")),
        "{}",
        message(opened[0])
    );
    // A token that cannot be read is the monitor's fault: operators hear it, nobody else.
    let fault: Vec<_> = ops
        .iter()
        .filter(|e| subject(e).contains("report: heartbeat cannot be judged"))
        .collect();
    assert_eq!(
        fault.len(),
        1,
        "{:#?}",
        ops.iter().map(subject).collect::<Vec<_>>()
    );
    assert!(
        message(fault[0]).contains("could not be read"),
        "{}",
        message(fault[0])
    );
    assert_eq!(events(&cust), vec!["opened"], "{cust:#?}");
    for e in &cust {
        for technical in ["orders", "COPY", "ping", "export", "token"] {
            assert!(
                !message(e).contains(technical),
                "{technical} in {}",
                message(e)
            );
        }
    }

    // The backup stops pinging: a minute for the next run, a minute of grace, then late.
    for minute in 1..=3 {
        let at = t0 + TimeDelta::minutes(minute) + TimeDelta::seconds(5);
        atalaya_ping_fn::judge(&s, &c.config, &tokens, at, look().await)
            .await
            .unwrap();
        evaluate(at + TimeDelta::seconds(5)).await;
    }
    let ops = m.drain(&ops_q).await;
    let late: Vec<_> = ops
        .iter()
        .filter(|e| subject(e).starts_with("[OPENED]") && subject(e).contains("backup"))
        .collect();
    assert_eq!(
        late.len(),
        1,
        "{:#?}",
        ops.iter().map(subject).collect::<Vec<_>>()
    );
    assert!(
        message(late[0]).contains(&format!("backup  {REGION}  late")),
        "{}",
        message(late[0])
    );

    // The endpoint stops answering (its URL points nowhere): every heartbeat is unknown, the
    // operators are told why, the backup's incident stays open and customers hear nothing good.
    let nowhere = format!("http://127.0.0.1:{}", atalaya_tests::closed_port().await);
    let at = t0 + TimeDelta::minutes(4) + TimeDelta::seconds(5);
    let alive = atalaya_ping_fn::look(&engine, Some(&nowhere), &c.config).await;
    assert!(
        alive.as_ref().is_err_and(|e| e.contains("did not answer")),
        "{alive:?}"
    );
    let judged = atalaya_ping_fn::judge(&s, &c.config, &tokens, at, alive)
        .await
        .unwrap();
    assert_eq!(
        (judged.endpoint_ok, judged.unknown),
        (false, 3),
        "{judged:?}"
    );
    evaluate(at + TimeDelta::seconds(5)).await;
    let ops = m.drain(&ops_q).await;
    assert!(
        ops.iter().any(
            |e| subject(e).contains("backup: heartbeat cannot be judged")
                && message(e).contains("not taking pings")
        ),
        "{:#?}",
        ops.iter().map(subject).collect::<Vec<_>>()
    );
    assert!(!ops.iter().any(|e| subject(e).starts_with("[RESOLVED]")));
    let cust = m.drain(&cust_q).await;
    assert!(!events(&cust).iter().any(|e| e == "resolved"), "{cust:#?}");

    // A job looping on its URL is refused past its bucket.
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(ping(export.to_string(), "", at).await.0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );
}
