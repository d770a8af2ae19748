//! On call through the binary: an outage routed to PagerDuty and Slack (and the rest to Teams
//! and a signed webhook), a reminder, an escalation to Opsgenie, an acknowledgement by
//! `atalaya incident ack`, a resolution; the vendors are fakes on 127.0.0.1 that check every
//! payload against their published rules and answer with scripted faults.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use atalaya_tests::vendors::{Fault, Vendors, PD_KEY, WEBHOOK_SECRET};
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLACK_TOKEN: &str = "xoxb-1111-2222-SLACKSECRETTOKEN";
const OG_KEY: &str = "0gk3y-5ecret-0f-0psgenie-1234";

fn until(what: &str, secs: u64, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {secs} s");
}

#[test]
fn an_outage_pages_posts_escalates_is_acknowledged_and_resolves_once_on_every_channel() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = rt.block_on(atalaya_tests::http::server(None));
    let v = rt.block_on(Vendors::start());
    let w = workspace(&format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
  operators:
    renotify_every: 3s
    escalate_after: 6s
    escalate_to: [lead]
    channels:
      pd: {{ pagerduty: {{ routing_key: '${{env:T_PD}}', url: '{pd}' }} }}
      chat: {{ slack: {{ token: '${{env:T_SLACK}}', channel: C0ATALAYA, url: '{slack}' }} }}
      lead: {{ opsgenie: {{ api_key: '${{env:T_OG}}', url: '{og}' }} }}
      team: {{ teams: {{ webhook: '${{env:T_TEAMS}}' }} }}
      hook: {{ webhook: {{ url: '{hook}', secret: '${{env:T_HOOK}}' }} }}
    routes:
      - {{ services: [shop], to: [pd, chat] }}
      - {{ to: [team, hook] }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: shop, customer: acme, name: Online shop, runbook: 'https://wiki.acme.example/shop' }}
  - {{ id: blog, customer: acme, name: Blog }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{target}/switch/oncall-shop' }} }}
  - {{ id: blog-home, service: blog, http: {{ url: 'http://{target}/switch/oncall-blog' }} }}
",
        pd = v.url("/pagerduty/v2/enqueue"),
        slack = v.url("/slack/api"),
        og = v.url("/opsgenie"),
        hook = v.url("/webhook/hook"),
    ));
    let env = [
        ("T_PD", PD_KEY.to_string()),
        ("T_SLACK", SLACK_TOKEN.to_string()),
        ("T_OG", OG_KEY.to_string()),
        ("T_TEAMS", v.url("/teams/hook")),
        ("T_HOOK", WEBHOOK_SECRET.to_string()),
    ];
    let logs = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (logs.path().join("out"), logs.path().join("err"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atalaya"));
    cmd.args([
        "run",
        w.file.to_str().unwrap(),
        "--db",
        w.db.to_str().unwrap(),
        "--outbox",
        w.out.to_str().unwrap(),
    ])
    .envs(env.iter().map(|(k, v)| (k, v)))
    .env("RUST_LOG", "debug")
    .stdout(std::fs::File::create(&stdout).unwrap())
    .stderr(std::fs::File::create(&stderr).unwrap());
    let runner = Running::spawn(&mut cmd);
    // The first page meets a 429 (Retry-After: 1), Slack a 500, the webhook a 400 (given up
    // for that message, the other channels unaffected).
    v.fault("pagerduty", &[Fault::TooMany(1)]);
    v.fault("slack", &[Fault::ServerError]);
    v.fault("webhook", &[Fault::BadRequest]);
    std::thread::sleep(Duration::from_secs(2));
    atalaya_tests::http::set_switch("oncall-shop", true);
    atalaya_tests::http::set_switch("oncall-blog", true);

    until("a PagerDuty incident", 30, || {
        v.pagerduty_incidents().0 == 1
    });
    let shop = v.taken("pagerduty")[0].body["dedup_key"]
        .as_str()
        .unwrap()
        .to_string();
    until("the escalation reaches Opsgenie", 30, || {
        v.taken("opsgenie")
            .iter()
            .any(|t| t.path.ends_with("/priority"))
    });
    until("a reminder in the Slack thread", 30, || {
        v.slack_messages().len() >= 3
    });

    let ack = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "incident",
            "ack",
            &shop,
            "--by",
            "alice",
            "--db",
            w.db.to_str().unwrap(),
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        ack.status.success(),
        "{}",
        String::from_utf8_lossy(&ack.stderr)
    );
    until("PagerDuty acknowledged", 30, || {
        v.pagerduty_incidents()
            .1
            .values()
            .any(|i| i.status == "acknowledged")
    });

    atalaya_tests::http::set_switch("oncall-shop", false);
    atalaya_tests::http::set_switch("oncall-blog", false);
    until("PagerDuty resolved", 30, || {
        v.pagerduty_incidents()
            .1
            .values()
            .all(|i| i.status == "resolved")
    });
    until("Opsgenie closed", 30, || {
        v.taken("opsgenie")
            .iter()
            .any(|t| t.path.ends_with("/close"))
    });
    std::thread::sleep(Duration::from_secs(2));
    interrupt(runner);

    // Every payload kept the vendors' rules.
    assert_eq!(v.problems(), Vec::<String>::new());
    // PagerDuty: one incident, triggered (again with each update), acknowledged, resolved.
    let (created, incidents) = v.pagerduty_incidents();
    assert_eq!(created, 1, "{incidents:#?}");
    let actions = &incidents[&shop].actions;
    assert_eq!(
        actions.first().map(String::as_str),
        Some("trigger"),
        "{actions:?}"
    );
    assert!(actions.contains(&"acknowledge".to_string()), "{actions:?}");
    assert_eq!(
        actions.last().map(String::as_str),
        Some("resolve"),
        "{actions:?}"
    );
    // The 429 was honoured: the page was sent again, once.
    assert_eq!(v.requests("pagerduty"), v.taken("pagerduty").len() + 1);
    let first = &v.taken("pagerduty")[0].body;
    assert_eq!(first["payload"]["severity"], "error", "{first}");
    assert_eq!(
        first["payload"]["custom_details"]["failing"][0]["check"], "shop-home",
        "{first}"
    );
    assert_eq!(
        first["links"][0]["href"], "https://wiki.acme.example/shop",
        "{first}"
    );
    let escalated = v
        .taken("pagerduty")
        .iter()
        .any(|t| t.body["payload"]["severity"] == "critical");
    assert!(escalated, "the escalation is critical in PagerDuty");

    // Slack: one thread; its first message kept current (edited to resolved); every later
    // event a reply in it; no message twice.
    let slack = v.slack_messages();
    let roots: Vec<_> = slack.iter().filter(|m| m.thread_ts.is_none()).collect();
    assert_eq!(roots.len(), 1, "{slack:#?}");
    let root = roots[0];
    assert!(
        slack
            .iter()
            .skip(1)
            .all(|m| m.thread_ts.as_deref() == Some(root.ts.as_str())),
        "{slack:#?}"
    );
    assert!(root.edits >= 3, "{root:#?}");
    assert!(
        root.blocks.to_string().contains("Resolved"),
        "{}",
        root.blocks
    );
    // (The first message, edited, reads as the latest event: the replies are the events.)
    let texts: Vec<&str> = slack.iter().skip(1).map(|m| m.text.as_str()).collect();
    let unique: std::collections::HashSet<&&str> = texts.iter().collect();
    assert_eq!(
        unique.len(),
        texts.len(),
        "a duplicate in Slack: {texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("[ACK]") && t.contains("alice")),
        "{texts:#?}"
    );

    // Opsgenie, the escalation: an alert with P1, acknowledged, closed; alias the incident.
    let og = v.taken("opsgenie");
    assert!(og.iter().all(|t| t
        .headers
        .iter()
        .any(|(n, v)| n == "authorization" && v == &format!("GenieKey {OG_KEY}"))));
    assert!(
        og.iter()
            .any(|t| t.path == format!("/v2/alerts/{shop}/acknowledge")),
        "{og:#?}"
    );

    // The blog's incident went to the catch-all's channels, the shop's never did.
    let teams = v.taken("teams");
    assert!(
        teams
            .iter()
            .any(|t| t.body.to_string().contains("[OPENED] blog")),
        "{teams:#?}"
    );
    for t in teams.iter().chain(v.taken("webhook").iter()) {
        assert!(!t.body.to_string().contains(&format!("{shop}\"")), "{t:?}");
    }
    // The webhook's 400 gave that one message up; the rest came, signed (checked by the fake).
    let hooks = v.taken("webhook");
    assert_eq!(v.requests("webhook"), hooks.len() + 1);
    assert!(
        hooks
            .iter()
            .any(|t| t.body["data"]["event"] == "resolved" && t.body["version"] == 1),
        "{hooks:#?}"
    );
    assert!(
        hooks.iter().all(|t| t.body["data"]["event"] != "opened"),
        "{hooks:#?}"
    );

    // Every delivery is recorded per message and channel: the shop's operator messages on
    // stdout, the JSONL outbox, PagerDuty and Slack (the escalation's on Opsgenie too), the
    // blog's on Teams and the webhook (its opening given up, with why); customers' on neither.
    let db = rusqlite::Connection::open(&w.db).unwrap();
    let mut q = db
        .prepare(
            "SELECT d.message_id, json_extract(o.message, '$.topic'),
                    coalesce(json_extract(o.message, '$.attributes.service'), '-'),
                    group_concat(d.channel || CASE WHEN d.gave_up IS NULL THEN '' ELSE ' (gave up)' END, ', ')
             FROM deliveries d JOIN outbox o ON o.id = d.message_id
             GROUP BY d.message_id ORDER BY min(o.seq)",
        )
        .unwrap();
    let table: Vec<(String, String, String, String)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    println!("\nchannel deliveries (message, audience, service: channels):");
    for (id, topic, service, channels) in &table {
        println!("  {id:<34} {topic:<10} {service:<5} {channels}");
    }
    for (id, topic, service, channels) in &table {
        let has = |c: &str| channels.split(", ").any(|x| x.starts_with(c));
        let paging = ["pd", "chat", "lead", "team", "hook"];
        match (topic.as_str(), service.as_str()) {
            ("customers", _) => assert!(!paging.iter().any(|c| has(c)), "{id}: {channels}"),
            ("operators", "shop") => {
                assert!(
                    has("pd") && has("chat") && !has("team") && !has("hook"),
                    "{id}: {channels}"
                )
            }
            ("operators", "blog") => {
                assert!(has("team") && has("hook") && !has("pd"), "{id}: {channels}")
            }
            _ => {}
        }
        assert!(has("stdout") && has("jsonl"), "{id}: {channels}");
    }
    assert!(
        table
            .iter()
            .any(|(_, _, _, c)| c.contains("hook (gave up)")),
        "{table:#?}"
    );
    println!("\nPagerDuty, as it received them:");
    for t in v.taken("pagerduty") {
        println!("{}", serde_json::to_string_pretty(&t.body).unwrap());
    }
    println!("\nSlack, as posted (chat.postMessage and chat.update, in order):");
    for t in v.taken("slack") {
        println!("{} {}", t.path, serde_json::to_string(&t.body).unwrap());
    }

    // No secret in anything the runner wrote.
    let mut written = std::fs::read_to_string(&stdout).unwrap();
    written.push_str(&std::fs::read_to_string(&stderr).unwrap());
    written.push_str(&std::fs::read_to_string(&w.out).unwrap());
    written.push_str(&String::from_utf8_lossy(&ack.stdout));
    written.push_str(&String::from_utf8_lossy(&ack.stderr));
    for (name, secret) in &env {
        if name == &"T_TEAMS" {
            continue; // a loopback URL: not secret here
        }
        if let Some(form) = atalaya_tests::secrets::leaked(&written, secret) {
            panic!("{name} leaked as {form:?}");
        }
    }
}

#[test]
fn channels_test_sends_a_marked_notification_and_prints_what_the_vendor_answered() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let v = rt.block_on(Vendors::start());
    let w = workspace(&format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  operators:
    channels:
      pd: {{ pagerduty: {{ routing_key: '${{env:T_PD}}', url: '{pd}' }} }}
      chat: {{ slack: {{ token: '${{env:T_SLACK}}', channel: C0ATALAYA, url: '{slack}' }} }}
      idle: {{ teams: {{ webhook: '${{env:T_TEAMS}}' }} }}
    routes:
      - {{ to: [pd, chat] }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: shop, customer: acme, name: Online shop }}
checks:
  - {{ id: shop-tcp, service: shop, tcp: {{ host: 127.0.0.1, port: 9 }} }}
",
        pd = v.url("/pagerduty/v2/enqueue"),
        slack = v.url("/slack/api"),
    ));
    let atalaya = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args(args)
            .env("T_PD", PD_KEY)
            .env("T_SLACK", SLACK_TOKEN)
            .env("T_TEAMS", v.url("/teams/hook"))
            .output()
            .unwrap()
    };
    let file = w.file.to_str().unwrap();
    let out = atalaya(&["channels", "test", "chat", "--checks", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("chat: sent \"[TEST] Atalaya test notification through chat\"; the vendor answered: 200 {"), "{text}");
    assert!(text.contains("\"ok\":true"), "{text}");
    let slack = v.slack_messages();
    assert_eq!(slack.len(), 2, "{slack:#?}");
    assert_eq!(slack[1].thread_ts.as_deref(), Some(slack[0].ts.as_str()));
    assert!(!text.contains(SLACK_TOKEN));

    let out = atalaya(&["channels", "test", "pd", "--checks", file]);
    assert!(out.status.success());
    let (created, incidents) = v.pagerduty_incidents();
    assert_eq!(created, 1);
    assert!(
        incidents.values().all(|i| i.status == "resolved"),
        "{incidents:?}"
    );

    v.fault("pagerduty", &[Fault::BadRequest]);
    let out = atalaya(&["channels", "test", "pd", "--checks", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("failed: status 400"), "{text}");
    assert!(!text.contains(PD_KEY), "{text}");

    let out = atalaya(&["channels", "list", "--checks", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("chat                 slack      routes[0]"),
        "{text}"
    );
    assert!(
        text.contains("idle                 teams      none"),
        "{text}"
    );
    let out = atalaya(&["validate", file]);
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("operators.channels.idle: no route sends to this channel"),
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["validate", file])
        .env_remove("T_SLACK")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(
            "operators.channels.chat.slack.token: ${env:T_SLACK} is not set in this environment"
        ),
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["validate", "--target", "lambda", file])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("${env:T_PD} is read from the alert function's environment"),
        "{text}"
    );
    assert_eq!(v.problems(), Vec::<String>::new());
}

#[test]
fn acknowledged_by_link_slack_button_and_pagerduty_and_a_pagerduty_resolution_the_monitor_does_not_see(
) {
    use atalaya_tests::vendors::{hex_hmac, post};
    const PD_HOOK: &str = "pd-webhook-signing-secret-0123456789";
    const SLACK_SIGNING: &str = "slack-signing-secret-abcdef";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = rt.block_on(atalaya_tests::http::server(None));
    let v = rt.block_on(Vendors::start());
    let port = rt.block_on(async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    });
    let w = workspace(&format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
  operators:
    renotify_every: 1h
    channels:
      pd: {{ pagerduty: {{ routing_key: '${{env:T_PD}}', url: '{pd}', webhook_secret: '${{env:T_PD_HOOK}}' }} }}
      chat: {{ slack: {{ token: '${{env:T_SLACK}}', channel: C0ATALAYA, url: '{slack}', signing_secret: '${{env:T_SLACK_SIGNING}}' }} }}
      og: {{ opsgenie: {{ api_key: '${{env:T_OG}}', url: '{og}', webhook_token: '${{env:T_OG_HOOK}}' }} }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: shop, customer: acme, name: Online shop }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{target}/switch/ack-shop' }} }}
",
        pd = v.url("/pagerduty/v2/enqueue"),
        slack = v.url("/slack/api"),
        og = v.url("/opsgenie"),
    ));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atalaya"));
    cmd.args([
        "run",
        w.file.to_str().unwrap(),
        "--db",
        w.db.to_str().unwrap(),
        "--outbox",
        w.out.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ])
    .env("T_PD", PD_KEY)
    .env("T_PD_HOOK", PD_HOOK)
    .env("T_SLACK", SLACK_TOKEN)
    .env("T_SLACK_SIGNING", SLACK_SIGNING)
    .env("T_OG", OG_KEY)
    .env("T_OG_HOOK", "og-webhook-token-42")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let runner = Running::spawn(&mut cmd);
    std::thread::sleep(Duration::from_secs(2));
    atalaya_tests::http::set_switch("ack-shop", true);
    until("a PagerDuty incident", 30, || {
        v.pagerduty_incidents().0 == 1
    });
    let trigger = v.taken("pagerduty")[0].body.clone();
    let id = trigger["dedup_key"].as_str().unwrap().to_string();

    // 1. By link: the page asks who; only the POST acknowledges.
    let link = trigger["links"][0]["href"].as_str().unwrap().to_string();
    assert_eq!(trigger["links"][0]["text"], "Acknowledge in Atalaya");
    let path = link
        .split_once(&format!("127.0.0.1:{port}"))
        .unwrap()
        .1
        .to_string();
    let (status, page) = http(port, "GET", &path, "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form method=\"post\">"), "{page}");
    assert!(
        v.pagerduty_incidents().1[&id].status == "triggered",
        "a GET acknowledged"
    );
    let (status, _) = http(port, "GET", &format!("/ack/{id}/forged"), "");
    assert_eq!(status, 403);
    let (status, page) = http(port, "POST", &path, "by=carol");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("acknowledged by carol"), "{page}");
    until("PagerDuty acknowledged", 30, || {
        v.pagerduty_incidents().1[&id].status == "acknowledged"
    });

    // 2. By Slack button: signed as Slack signs; a forged one is refused.
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": { "id": "U1", "username": "dave", "name": "dave" },
        "actions": [{ "action_id": "atalaya_ack", "value": id, "type": "button" }],
    });
    let body = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    );
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = format!(
        "v0={}",
        hex_hmac(
            SLACK_SIGNING,
            &[b"v0:", ts.as_bytes(), b":", body.as_bytes()]
        )
    );
    let form = (
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    );
    let (status, _) = post(
        port,
        "/hooks/slack",
        &[
            form.clone(),
            ("x-slack-request-timestamp", ts.clone()),
            ("x-slack-signature", "v0=00".into()),
        ],
        &body,
    );
    assert_eq!(status, 401);
    let (status, _) = post(
        port,
        "/hooks/slack",
        &[
            form,
            ("x-slack-request-timestamp", ts),
            ("x-slack-signature", sig),
        ],
        &body,
    );
    assert_eq!(status, 200);

    // 3. By PagerDuty's webhook.
    let pd_hook = |event_type: &str, who: &str| {
        let body = serde_json::json!({ "event": {
            "id": "01", "event_type": event_type, "resource_type": "incident",
            "occurred_at": "2026-12-07T10:00:00Z",
            "agent": { "id": "P1", "summary": who, "type": "user_reference" },
            "data": { "id": "Q1", "type": "incident", "incident_key": id, "status": "acknowledged" },
        }}).to_string();
        let sig = format!("v1=00,v1={}", hex_hmac(PD_HOOK, &[body.as_bytes()]));
        post(
            port,
            "/hooks/pagerduty",
            &[
                ("content-type", "application/json".into()),
                ("x-pagerduty-signature", sig),
            ],
            &body,
        )
    };
    assert_eq!(pd_hook("incident.acknowledged", "Erin").0, 200);
    // 4. By Opsgenie's outgoing webhook, with the token set in the integration.
    let og_body = serde_json::json!({
        "action": "Acknowledge",
        "alert": { "alertId": "a1", "alias": id, "username": "frank@acme.example" },
        "source": { "name": "", "type": "web" },
    })
    .to_string();
    let json = ("content-type", "application/json".to_string());
    let (status, _) = post(
        port,
        "/hooks/opsgenie",
        &[json.clone(), ("x-atalaya-token", "wrong".into())],
        &og_body,
    );
    assert_eq!(status, 401);
    let (status, _) = post(
        port,
        "/hooks/opsgenie",
        &[json, ("x-atalaya-token", "og-webhook-token-42".into())],
        &og_body,
    );
    assert_eq!(status, 200);
    let acks = || -> Vec<String> {
        v.slack_messages()
            .iter()
            .filter(|m| m.thread_ts.is_some() && m.text.starts_with("[ACK]"))
            .map(|m| m.text.lines().next().unwrap().to_string())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks().len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let thread: Vec<(Option<String>, String)> = v
        .slack_messages()
        .iter()
        .map(|m| {
            (
                m.thread_ts.clone(),
                m.text.lines().next().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(acks().len(), 4, "{thread:#?}");
    let acks = acks();
    assert!(
        acks[0].contains("carol (link)")
            && acks[1].contains("dave (Slack)")
            && acks[2].contains("Erin (PagerDuty)")
            && acks[3].contains("frank@acme.example (Opsgenie)"),
        "{acks:#?}"
    );

    // A resolution in PagerDuty while the monitor still sees the shop down: it stays open,
    // operators are told why, and PagerDuty is paged again.
    v.resolve_in_pagerduty(&id);
    assert_eq!(pd_hook("incident.resolved", "Erin").0, 200);
    until("operators told it is not resolved", 30, || {
        v.slack_messages().iter().any(|m| {
            m.text.starts_with("[NOT RESOLVED]")
                && m.text.contains(
                    "Resolved by Erin in PagerDuty, but the monitor does not see it working",
                )
        })
    });
    until("PagerDuty paged again", 30, || {
        v.pagerduty_incidents().0 == 2
    });
    atalaya_tests::http::set_switch("ack-shop", false);
    until("resolved everywhere", 30, || {
        v.pagerduty_incidents().1[&id].status == "resolved"
            && v.taken("pagerduty").last().unwrap().body["event_action"] == "resolve"
    });
    interrupt(runner);
    assert_eq!(v.problems(), Vec::<String>::new());
}

#[test]
fn a_vendor_that_hangs_holds_up_no_other_channel() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = rt.block_on(atalaya_tests::http::server(None));
    let v = rt.block_on(Vendors::start());
    let w = workspace(&format!(
        "settings:
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1s, timeout: 500ms, retries: 1, recover_after: 1 }}
  operators:
    renotify_every: 2s
    channels:
      pd: {{ pagerduty: {{ routing_key: '${{env:T_PD}}', url: '{pd}' }} }}
      team: {{ teams: {{ webhook: '${{env:T_TEAMS}}' }} }}
customers:
  - {{ id: acme, name: ACME Corp }}
services:
  - {{ id: shop, customer: acme, name: Online shop }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{target}/switch/hang-shop' }} }}
",
        pd = v.url("/pagerduty/v2/enqueue"),
    ));
    // Teams never answers: each attempt waits its 10 s deadline, three times.
    v.fault("teams", &[Fault::Hang, Fault::Hang, Fault::Hang]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atalaya"));
    cmd.args([
        "run",
        w.file.to_str().unwrap(),
        "--db",
        w.db.to_str().unwrap(),
        "--outbox",
        w.out.to_str().unwrap(),
    ])
    .env("T_PD", PD_KEY)
    .env("T_TEAMS", v.url("/teams/hook"))
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let runner = Running::spawn(&mut cmd);
    std::thread::sleep(Duration::from_secs(2));
    atalaya_tests::http::set_switch("hang-shop", true);
    let started = Instant::now();
    until("the opening and two reminders in PagerDuty", 20, || {
        v.taken("pagerduty").len() >= 3
    });
    let took = started.elapsed();
    assert!(
        v.taken("teams").is_empty(),
        "Teams still hangs meanwhile ({} requests)",
        v.requests("teams")
    );
    assert!(
        took < Duration::from_secs(15),
        "PagerDuty waited on Teams: {took:?}"
    );
    atalaya_tests::http::set_switch("hang-shop", false);
    // Teams catches up once it answers: every message, none twice.
    until("Teams caught up", 60, || {
        v.taken("teams")
            .iter()
            .any(|t| t.body.to_string().contains("[RESOLVED]"))
    });
    interrupt(runner);
    // Both got every operator message, once.
    assert_eq!(v.taken("teams").len(), v.taken("pagerduty").len());
    assert_eq!(v.problems(), Vec::<String>::new());
}
