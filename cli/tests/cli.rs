//! The `atalaya` binary as a user runs it: exit codes, output formats, errors, secrets.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use std::io::Write;
use std::process::{Command, Output};

fn atalaya(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atalaya"));
    cmd.args(args).env_remove("RUST_LOG").env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn with_checks(checks: &str) -> tempfile::NamedTempFile {
    file(&format!(
        "settings:\n  allow_networks: [127.0.0.0/8]\ncustomers:\n  - {{ id: acme, name: ACME }}\nservices:\n  - {{ id: web, customer: acme, name: Web }}\nchecks:\n{checks}"
    ))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_exits_0_for_a_valid_file() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/checks.yaml");
    let out = atalaya(&["validate", root], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("valid (12 checks, 2 services, 1 customer)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn validate_exits_1_and_prints_every_problem_on_stderr() {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/configs/invalid/many-problems.yaml"
    );
    let out = atalaya(&["validate", root], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("many-problems.yaml:"))
            .count(),
        11,
        "{err}"
    );
    assert!(
        err.contains(
            "many-problems.yaml:9:42: check a: http.url: scheme \"gopher\" is not supported"
        ),
        "{err}"
    );
    assert!(err.trim_end().ends_with("10 problems found"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn validate_for_lambda_rejects_second_level_intervals() {
    let f = file("settings:\n  regions: [eu-west-1]\n  defaults: { interval: 5s, timeout: 1s }\n");
    assert_eq!(
        atalaya(&["validate", f.path().to_str().unwrap()], &[])
            .status
            .code(),
        Some(0)
    );
    let out = atalaya(
        &["validate", "--target", "lambda", f.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("interval 5s is below 1m"));
}

#[test]
fn a_file_that_cannot_be_read_is_an_io_error_exit_2_everywhere() {
    for cmd in ["validate", "probe", "run"] {
        let out = atalaya(
            &[cmd, "/nonexistent/checks.yaml", "--once"][..if cmd == "run" { 3 } else { 2 }],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains("/nonexistent/checks.yaml: the checks file: cannot read it: No such file")
                && !err.contains(":0:0"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn what_is_not_a_checks_file_is_refused_with_where() {
    // Endless: read no further than the limit.
    let out = atalaya(&["validate", "/dev/zero"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("/dev/zero:1:1: the file is larger than 16 MiB"),
        "{}",
        text(&out.stderr)
    );
    // Not UTF-8: the line and column (in characters) of the first byte that is not.
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    f.write_all(
        b"customers:
  - { id: acme, name: \xc3\xb1u\xff }
",
    )
    .unwrap();
    let out = atalaya(&["validate", f.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(".yaml:2:25: not UTF-8 text: byte 0xff here"),
        "{}",
        text(&out.stderr)
    );
    // A list or a string where a map belongs: where the document starts.
    for (doc, at) in [
        ("# checks\n- a\n- b\n", ":2:1: invalid type: sequence"),
        ("hello\n", ":1:1: invalid type: string"),
    ] {
        let f = file(doc);
        let out = atalaya(&["validate", f.path().to_str().unwrap()], &[]);
        assert!(text(&out.stderr).contains(at), "{}", text(&out.stderr));
    }
    // Aliases that expand beyond any checks file: a sentence, not the reader's internals.
    let mut doc =
        String::from("checks:\n  - id: a0\n    regions: &a [x, x, x, x, x, x, x, x, x]\n");
    let mut prev = 'a';
    for (k, n) in "bcdefghijk".chars().enumerate() {
        let refs = vec![format!("*{prev}"); 9].join(",");
        doc.push_str(&format!("  - id: a{}\n    regions: &{n} [{refs}]\n", k + 1));
        prev = n;
    }
    let f = file(&doc);
    let out = atalaya(&["validate", f.path().to_str().unwrap()], &[]);
    let err = text(&out.stderr);
    assert!(
        err.contains("too large once its aliases (`*name`) are expanded: it holds more than 250000 values; use fewer aliases")
            && !err.contains("Nodes {"),
        "{err}"
    );
}

#[test]
fn long_values_are_shown_by_their_start_and_end() {
    let id = "x".repeat(1_000_000);
    let f = with_checks(&format!(
        "  - {{ id: {id}, service: web, tcp: {{ host: a.example, port: 1 }} }}\n"
    ));
    let out = atalaya(&["validate", f.path().to_str().unwrap()], &[]);
    let err = text(&out.stderr);
    assert!(err.len() < 1_000, "{} bytes", err.len());
    assert!(err.contains("check xxxx") && err.contains(" … "), "{err}");
}

fn serve() -> (std::net::SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    (addr, rt)
}

#[test]
fn probe_json_prints_one_result_per_line_and_exits_0_whatever_the_outcomes() {
    let (addr, _rt) = serve();
    let f = with_checks(&format!(
        "  - {{ id: up, service: web, http: {{ url: 'http://{addr}/ok' }} }}\n  - {{ id: down, service: web, http: {{ url: 'http://{addr}/500' }} }}\n  - {{ id: blocked, service: web, http: {{ url: 'http://169.254.169.254/' }} }}\n"
    ));
    let out = atalaya(
        &["probe", f.path().to_str().unwrap(), "--format", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut seen: Vec<(String, String, String)> = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            // The public shape, in its documented order.
            let order = [
                "check",
                "region",
                "at",
                "outcome",
                "reason",
                "detail",
                "latency_ms",
                "phases",
                "http_status",
                "cert_days_left",
            ];
            let positions: Vec<usize> = order
                .iter()
                .map(|k| l.find(&format!("\"{k}\":")).unwrap())
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{l}");
            assert_eq!(v.as_object().unwrap().len(), order.len(), "{l}");
            (
                v["check"].as_str().unwrap().into(),
                v["outcome"].as_str().unwrap().into(),
                v["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            // The guard refused it: the target was never judged (a monitoring fault).
            ("blocked".into(), "unknown".into(), "blocked".into()),
            ("down".into(), "down".into(), "http_status".into()),
            ("up".into(), "up".into(), "ok".into())
        ]
    );
}

#[test]
fn probe_table_is_plain_text_off_a_terminal_and_selects_checks() {
    let (addr, _rt) = serve();
    let f = with_checks(&format!(
        "  - {{ id: home, service: web, http: {{ url: 'http://{addr}/ok' }} }}\n  - {{ id: other, service: web, http: {{ url: 'http://{addr}/500' }} }}\n"
    ));
    let out = atalaya(
        &["probe", f.path().to_str().unwrap(), "--check", "home"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    assert!(table.starts_with("CHECK"), "{table}");
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["home", "up", "ok", row[3]], "{table}");
    assert_eq!(row[4..].join(" "), "status 200 OK", "{table}");
    assert!(!table.contains("other"), "{table}");
    assert!(
        !table.contains('\x1b'),
        "no colour off a terminal: {table:?}"
    );
    assert!(
        table.contains("1 check: 1 up, 0 degraded, 0 down, 0 unknown"),
        "{table}"
    );
}

#[test]
fn probe_of_an_unknown_check_is_a_usage_error_naming_the_known_ones() {
    let f = with_checks("  - { id: home, service: web, tcp: { host: 127.0.0.1, port: 1 } }\n");
    let out = atalaya(
        &["probe", f.path().to_str().unwrap(), "--check", "nope"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no check nope in"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("its checks are: home"));
}

#[test]
fn probe_with_an_unset_variable_fails_that_check_and_runs_the_others() {
    let (addr, _rt) = serve();
    let f = with_checks(&format!(
        "  - {{ id: secret, service: web, http: {{ url: 'http://{addr}/ok', headers: {{ X-Key: '${{env:ATALAYA_CLI_UNSET}}' }} }} }}\n  - {{ id: plain, service: web, http: {{ url: 'http://{addr}/ok' }} }}\n"
    ));
    let out = atalaya(
        &["probe", f.path().to_str().unwrap(), "--format", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error: check secret: http.headers.X-Key: environment variable ATALAYA_CLI_UNSET is not set"));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let secret = lines.iter().find(|r| r["check"] == "secret").unwrap();
    // Reported as the monitoring fault it is, never as the target being down.
    assert_eq!(
        (&secret["outcome"], &secret["reason"]),
        (
            &serde_json::json!("unknown"),
            &serde_json::json!("check_error")
        )
    );
    assert!(lines
        .iter()
        .any(|r| r["check"] == "plain" && r["outcome"] == "up"));
}

#[test]
fn secrets_stay_out_of_every_output_stored_row_and_log_line_in_every_form() {
    let (addr, _rt) = serve();
    // A token with the characters encodings change, and a Basic password from the URL.
    let token = r#"tK7/f3a+9c"Q\=Zr8mW2pX5vLq"#;
    let password = "s3cr3t-Pa55/w0rd=";
    let bearer = "headers: { Authorization: 'Bearer ${env:ATALAYA_CLI_TOKEN}' }";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checks.yaml");
    std::fs::write(
        &path,
        format!(
            "settings:\n  allow_networks: [127.0.0.0/8]\n  defaults: {{ interval: 1s, timeout: 900ms, retries: 1, recover_after: 1 }}\n\
customers:\n  - {{ id: acme, name: ACME }}\nservices:\n  - {{ id: web, customer: acme, name: Web }}\nchecks:\n\
  - {{ id: redirect, service: web, http: {{ url: 'http://{addr}/leak/redirect', {bearer} }} }}\n\
  - {{ id: quote, service: web, http: {{ url: 'http://{addr}/leak/quote', {bearer} }}, expect: {{ json: {{ /x: 1 }} }} }}\n\
  - {{ id: header, service: web, http: {{ url: 'http://{addr}/leak/header', {bearer} }}, expect: {{ headers: {{ x-echo: {{ equals: ok }} }} }} }}\n\
  - {{ id: json, service: web, http: {{ url: 'http://{addr}/leak/json', {bearer} }}, expect: {{ json: {{ /auth: none }} }} }}\n\
  - {{ id: basic, service: web, http: {{ url: 'http://bob:${{env:ATALAYA_CLI_PW}}@{addr}/leak/quote' }}, expect: {{ json: {{ /x: 1 }} }} }}\n"
        ),
    )
    .unwrap();
    let env = [
        ("ATALAYA_CLI_TOKEN", token),
        ("ATALAYA_CLI_PW", password),
        ("RUST_LOG", "trace"),
    ];
    let file = path.to_str().unwrap();
    let json = atalaya(&["probe", file, "--format", "json"], &env);
    let table = atalaya(&["probe", file], &env);
    let db = dir.path().join("atalaya.db");
    let outbox = dir.path().join("outbox.jsonl");
    let run = atalaya(
        &[
            "run",
            file,
            "--once",
            "--db",
            db.to_str().unwrap(),
            "--outbox",
            outbox.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    // The details still say what happened, with the secret replaced.
    let results = text(&json.stdout);
    assert_eq!(results.lines().count(), 5, "{results}");
    for line in results.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["outcome"], "down", "{line}");
        if r["check"] != "basic" {
            assert!(r["detail"].as_str().unwrap().contains("***"), "{line}");
        }
    }
    let outbox_text = std::fs::read_to_string(&outbox).unwrap();
    assert!(outbox_text.contains("[OPENED]"), "{outbox_text}");
    let mut everything = vec![
        ("probe --format json", results.clone()),
        (
            "probe --format json, stderr (trace logs)",
            text(&json.stderr),
        ),
        ("probe table", text(&table.stdout)),
        ("probe table, stderr", text(&table.stderr)),
        ("run stdout", text(&run.stdout)),
        ("run stderr (trace logs)", text(&run.stderr)),
        ("outbox", outbox_text),
    ];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("atalaya.db")
        {
            everything.push((
                "SQLite",
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned(),
            ));
        }
    }
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("bob:{password}"));
    for (place, content) in &everything {
        for secret in [token, password, basic.as_str()] {
            if let Some(form) = atalaya_tests::secrets::leaked(content, secret) {
                panic!("{form:?} (from {secret:?}) in {place}:\n{content}");
            }
        }
    }
}

#[test]
fn schema_is_a_json_schema_for_the_checks_file() {
    let out = atalaya(&["schema"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["title"], "Atalaya checks file");
    assert!(v["$defs"]["Check"]["properties"]["http"].is_object());
}

#[test]
fn help_teaches_with_examples() {
    let out = atalaya(&["probe", "--help"], &[]);
    let help = text(&out.stdout);
    assert!(
        help.contains("Exit status is 0 when the run completed"),
        "{help}"
    );
    assert!(
        help.contains("atalaya probe checks.yaml --check shop-home"),
        "{help}"
    );
}

#[test]
fn validate_checks_customer_template_folders() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(
        &file,
        "customers:\n  - { id: acme, name: ACME, templates: tpl }\n",
    )
    .unwrap();
    let out = atalaya(&["validate", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("customer acme: templates:")
            && text(&out.stderr).contains("is not a folder"),
        "{}",
        text(&out.stderr)
    );
    std::fs::create_dir(dir.path().join("tpl")).unwrap();
    std::fs::write(
        dir.path().join("tpl/opened.subject"),
        "{% if service %}unclosed",
    )
    .unwrap();
    let out = atalaya(&["validate", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("tpl/opened.subject: template acme/opened.subject"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        dir.path().join("tpl/opened.subject"),
        "[ACME] {{ service }}",
    )
    .unwrap();
    assert_eq!(
        atalaya(&["validate", file.to_str().unwrap()], &[])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn validate_warns_about_what_will_not_work_and_strict_makes_it_fail() {
    let f = file(
        "customers:\n  - { id: a, name: A, status_page: { slug: a-7f3k9q } }\nservices:\n  - { id: s, customer: a, name: S }\nchecks:\n  - { id: db, service: s, tcp: { host: 10.0.0.5, port: 5432 } }\n  - { id: api, service: s, http: { url: 'https://api.example/', headers: { X-Key: '${env:ATALAYA_CLI_NEVER_SET}' } } }\n  - { id: mx, service: s, dns: { name: example.com, type: MX, nameserver: '169.254.169.253' } }\n",
    );
    let path = f.path().to_str().unwrap();
    let out = atalaya(&["validate", path], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for expected in [
        ":6:5: check db: tcp.host: 10.0.0.5: private (10.0.0.0/8) addresses are blocked",
        ":7:5: check api: http.headers.X-Key: ${env:ATALAYA_CLI_NEVER_SET} is not set in this environment",
        ":8:5: check mx: dns.nameserver: 169.254.169.253: link-local (169.254.0.0/16) addresses are blocked",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }
    assert!(err.lines().all(|l| l.starts_with("warning: ")), "{err}");
    assert!(
        text(&out.stdout)
            .ends_with("valid (3 checks, 1 service, 1 customer); 3 warnings on stderr\n"),
        "{}",
        text(&out.stdout)
    );
    let lambda = atalaya(&["validate", "--target", "lambda", path], &[]);
    assert!(
        text(&lambda.stderr)
            .contains("which the stacks do not set: keep the value in SSM or Secrets Manager and write ${ssm:/atalaya/probe/…} or ${secret:atalaya/probe/…}"),
        "{}",
        text(&lambda.stderr)
    );
    // Secret references the stacks' IAM would not let their reader read: each function has its
    // own folder of the secrets prefix (a probe may not read the link key's folder).
    let outside = file(concat!(
        "settings:\n  allow_networks: [127.0.0.0/8]\n",
        "  heartbeats: { url: 'https://ping.example', key: '${ssm:/atalaya/heartbeat/key}' }\n",
        "  email: { pages_url: 'https://pages.example', key: '${ssm:/atalaya/probe/email-key}' }\n",
        "customers:\n  - { id: web, name: Web }\nservices:\n  - { id: web, customer: web, name: Web }\nchecks:\n",
        "  - { id: api, service: web, http: { url: 'https://api.example/', headers: { X-Key: '${ssm:/prod/api-key}', X-Mail: '${secret:atalaya/mail/other}', X-Ok: '${secret:atalaya/probe/ok}' } } }\n",
        "  - { id: job, service: web, heartbeat: { every: 1h, token: '${ssm:/atalaya/probe/job}' } }\n",
    ));
    let out = atalaya(
        &[
            "validate",
            "--target",
            "lambda",
            outside.path().to_str().unwrap(),
        ],
        &[],
    );
    let err = text(&out.stderr);
    for expected in [
        "check api: http.headers.X-Key: ${ssm:/prod/api-key} is not where the stacks let the probe function read: write it as ${ssm:/atalaya/probe/…} or ${secret:atalaya/probe/…}",
        "check api: http.headers.X-Mail: ${secret:atalaya/mail/other} is not where the stacks let the probe function read",
        "check job: heartbeat.token: ${ssm:/atalaya/probe/job} is not where the stacks let the ping and ping-judge functions read: write it as ${ssm:/atalaya/heartbeat/…}",
        "settings: email.key: ${ssm:/atalaya/probe/email-key} is not where the stacks let the mailer, the pages and the alert function read: write it as ${ssm:/atalaya/mail/…}",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }
    assert!(!err.contains("atalaya/probe/ok}"), "{err}");
    assert!(!err.contains("heartbeat/key}"), "{err}");
    let strict = atalaya(&["validate", "--strict", path], &[]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(text(&strict.stderr).contains("3 problems found (--strict makes warnings errors)"));
    // Set, the variable is no longer a warning.
    let set = atalaya(&["validate", path], &[("ATALAYA_CLI_NEVER_SET", "x")]);
    assert!(
        text(&set.stdout).contains("2 warnings"),
        "{}",
        text(&set.stdout)
    );
}

#[test]
fn an_empty_file_is_an_error_and_a_file_without_checks_a_warning() {
    let empty = file("\n");
    let out = atalaya(&["validate", empty.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(":1:1: the file is empty"),
        "{}",
        text(&out.stderr)
    );
    let none = file("customers:\n  - { id: a, name: A }\n");
    let out = atalaya(&["validate", none.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("the file has no checks: nothing will be probed"));
    assert!(text(&out.stdout).contains("valid (0 checks, 0 services, 1 customer)"));
}

#[test]
fn a_misspelt_reference_or_field_gets_a_suggestion() {
    let f = file("customers:\n  - { id: acme, name: A }\nservices:\n  - { id: acme-shop, customer: acme, name: S }\nchecks:\n  - { id: c, service: acme-shp, http: { url: 'https://a.example/' }, expect: { stauts: [200] } }\n");
    let out = atalaya(&["validate", f.path().to_str().unwrap()], &[]);
    let err = text(&out.stderr);
    assert!(err.contains("did you mean `status`?"), "{err}");
    let f = file("customers:\n  - { id: acme, name: A }\nservices:\n  - { id: acme-shop, customer: acme, name: S }\nchecks:\n  - { id: c, service: acme-shp, http: { url: 'https://a.example/' } }\n");
    let out = atalaya(&["validate", f.path().to_str().unwrap()], &[]);
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown service \"acme-shp\"; did you mean \"acme-shop\"?"),
        "{err}"
    );
}

#[test]
fn incident_help_explains_every_argument_and_groups_the_store_options_once() {
    for sub in ["show", "ack", "update", "resolve"] {
        let out = atalaya(&["incident", sub, "--help"], &[]);
        let help = text(&out.stdout);
        assert!(
            help.contains("The incident's id, as `atalaya incidents` lists it"),
            "{sub}: {help}"
        );
        let heading = help
            .find("Where incidents are kept (the runner's database, or DynamoDB):")
            .unwrap_or_else(|| panic!("{sub}: no store heading in {help}"));
        assert!(
            help.find("--table-prefix").unwrap() > heading,
            "{sub}: {help}"
        );
        assert_eq!(help.matches("--table-prefix <PREFIX>").count(), 1, "{sub}");
    }
    let update = text(&atalaya(&["incident", "update", "--help"], &[]).stdout);
    for flag in [
        "--message <TEXT>",
        "--message-en <TEXT>",
        "--message-es <TEXT>",
        "--dry-run",
        "--force",
    ] {
        assert!(update.contains(flag), "{flag}: {update}");
    }
}

#[test]
fn plan_sizes_the_shards_from_the_busiest_minute() {
    let mut checks = String::new();
    // 4,500 checks every minute in eu-west-1 and 1,000 every 5 minutes in both regions.
    for i in 0..4_500 {
        checks.push_str(&format!("  - {{ id: m{i}, service: web, interval: 1m, regions: [eu-west-1], tcp: {{ host: db.example, port: 5432 }} }}\n"));
    }
    for i in 0..1_000 {
        checks.push_str(&format!("  - {{ id: f{i}, service: web, interval: 5m, tcp: {{ host: db.example, port: 5432 }} }}\n"));
    }
    let f = file(&format!(
        "settings:\n  regions: [eu-west-1, us-east-1]\ncustomers:\n  - {{ id: acme, name: ACME }}\nservices:\n  - {{ id: web, customer: acme, name: Web }}\nchecks:\n{checks}"
    ));
    let path = f.path().to_str().unwrap();
    let out = atalaya(&["plan", "--shards", path], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // eu-west-1's busiest minute holds 4,500 + at least 200 checks: three shards of 2,000.
    assert_eq!(text(&out.stdout), "3\n");
    let out = atalaya(&["plan", path], &[]);
    let table = text(&out.stdout);
    let eu = table.lines().find(|l| l.starts_with("eu-west-1")).unwrap();
    let us = table.lines().find(|l| l.starts_with("us-east-1")).unwrap();
    assert_eq!(eu.split_whitespace().nth(1), Some("5500"), "{table}");
    assert_eq!(us.split_whitespace().last(), Some("1"), "{table}");
    assert!(
        table.ends_with("3 shard(s) per region (at most 2000 checks per invocation)\n"),
        "{table}"
    );
}

#[test]
fn validate_for_lambda_estimates_the_monthly_cost_sub_minute_checks_included() {
    let f = file(
        "settings:
  regions: [eu-west-1, us-east-1]
customers:
  - { id: acme, name: ACME }
services:
  - { id: pay, customer: acme, name: Payments }
checks:
  - { id: pay-home, service: pay, http: { url: 'https://pay.acme.example/' } }
  - { id: pay-api, service: pay, interval: 10s, timeout: 5s, regions: [eu-west-1], http: { url: 'https://api.pay.acme.example/health' } }
",
    );
    let out = atalaya(
        &["validate", "--target", "lambda", f.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // 43,200 × 2 + 259,200 runs; two schedules; one function up all minute (~$15).
    assert!(
        stdout.contains("estimated AWS cost: $15.15 a month (345,600 check runs $0.02, 2 probe schedules $0.15, 1 probe function kept running all minute for sub-minute checks $14.98;"),
        "{stdout}"
    );
    // And what the stacks cost whatever runs: two probe regions, no mail, no heartbeats:
    // metrics 8 + 2 × 2 (only the alarmed ones), alarms 23 + 2 × 5, keys 1 + 2.
    assert!(
        stdout.contains("and the stacks' fixed floor: $9.90 a month (12 custom metrics $3.60, 33 alarms $3.30, 3 KMS keys $3.00;"),
        "{stdout}"
    );
    // Locally there is nothing to estimate.
    let out = atalaya(&["validate", f.path().to_str().unwrap()], &[]);
    assert!(
        !text(&out.stdout).contains("estimated"),
        "{}",
        text(&out.stdout)
    );
}

/// The top-level help names every kind of check the kinds module knows, in its order, and no
/// other (a new kind is one module: its help line follows or this fails).
#[test]
fn the_help_names_every_kind_of_check() {
    let out = atalaya(&["--help"], &[]);
    let help = text(&out.stdout).replace('\n', " ");
    let (_, rest) = help
        .split_once("checks of kind ")
        .unwrap_or_else(|| panic!("no list of kinds in the help: {help}"));
    let (list, _) = rest.split_once(", run from").unwrap();
    // Each kind by its checks-file name, with what it is in parentheses.
    let mut bare = String::new();
    let mut depth = 0;
    for c in list.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => bare.push(c),
            _ => {}
        }
    }
    let named: Vec<String> = bare
        .replace(" and ", ", ")
        .split(", ")
        .map(|k| k.trim().to_string())
        .collect();
    let kinds: Vec<String> = atalaya_core::kinds::EXPECT
        .iter()
        .map(|(name, _)| (*name).to_string())
        .collect();
    assert_eq!(named, kinds, "{help}");
}

/// The checks file is named the same way in every command: `--checks FILE` everywhere (the old
/// `--file` still works), and a plain `FILE` where it is the command's subject; both at once
/// is a usage error (exit 2), as is neither.
#[test]
fn every_command_takes_the_checks_file_as_checks() {
    let f = with_checks("  - { id: web, service: web, tcp: { host: 127.0.0.1, port: 9 } }\n");
    let path = f.path().to_str().unwrap();
    for args in [
        vec!["validate", path],
        vec!["validate", "--checks", path],
        vec!["validate", "--file", path],
        vec!["plan", "--checks", path],
        vec!["plan", path],
    ] {
        let out = atalaya(&args, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let both = atalaya(&["validate", path, "--checks", path], &[]);
    assert_eq!(both.status.code(), Some(2));
    assert!(
        text(&both.stderr).contains("cannot be used with"),
        "{}",
        text(&both.stderr)
    );
    let neither = atalaya(&["validate"], &[]);
    assert_eq!(neither.status.code(), Some(2));
    for cmd in [
        ["run", "--help"],
        ["probe", "--help"],
        ["publish-checks", "--help"],
    ] {
        let help = text(&atalaya(&cmd, &[]).stdout);
        assert!(help.contains("--checks <FILE>"), "{cmd:?}: {help}");
    }
}
