//! `atalaya incident` end to end against the runner's database: acknowledge, update, resolve,
//! and refusals of words customers must not read.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use std::process::Command;

use common::*;

#[test]
fn incident_commands_act_on_the_runners_database_and_publish() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    let w = customers_file(addr);
    let (file, db, out) = (&w.file, &w.db, &w.out);
    let atalaya = |args: &[&str], user: &str| {
        let mut all = args.to_vec();
        all.extend(["--db", db.to_str().unwrap()]);
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args(&all)
            .env("USER", user)
            .output()
            .unwrap()
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    atalaya_tests::http::set_switch("commands", true);
    // --once: every check probed once, evaluated, published; one failure is enough with retries 1.
    let run = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--once",
            "--db",
            db.to_str().unwrap(),
            "--outbox",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("Subject: Customer portal: new problem, we are working on it")
            && stdout
                .contains("Subject: Tienda online: nuevo problema, estamos trabajando en ello"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.ends_with("2 checks: 0 up, 0 degraded, 2 down, 0 unknown · 1 open incident")),
        "one line per round: {stdout}"
    );
    assert!(
        !text(&run.stderr).contains("Ctrl-C"),
        "{}",
        text(&run.stderr)
    );

    let list = text(&atalaya(&["incidents", "--open"], "ana").stdout);
    assert!(
        list.lines()
            .nth(1)
            .unwrap()
            .starts_with("inc-1  investigating  portal (Customer portal)  "),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&atalaya(&["incidents", "--format", "json"], "ana").stdout).unwrap();
    assert_eq!(json[0]["id"], "inc-1");
    assert_eq!(json[0]["affected"][0], "tienda");

    // A preview of the acknowledgement sends and changes nothing.
    let before_ack = outbox(out).len();
    let dry = atalaya(&["incident", "ack", "inc-1", "--dry-run"], "ana");
    assert_eq!(dry.status.code(), Some(0));
    let preview = text(&dry.stdout);
    assert!(
        preview.starts_with("Dry run: nothing is sent. 1 message would go out:")
            && preview
                .contains("Subject: [ACK] portal (Customer portal): acknowledged by ana (inc-1)"),
        "{preview}"
    );
    assert_eq!(outbox(out).len(), before_ack);
    assert!(text(&atalaya(&["incidents"], "ana").stdout)
        .lines()
        .nth(1)
        .unwrap()
        .ends_with("  -"));
    // Acknowledged: it says what it did; a second operator's acknowledgement is kept.
    let ack = atalaya(&["incident", "ack", "inc-1"], "ana");
    assert_eq!(ack.status.code(), Some(0));
    assert!(
        text(&ack.stderr)
            .contains("inc-1 acknowledged by ana: operator reminders and the escalation stop"),
        "{}",
        text(&ack.stderr)
    );
    let again = atalaya(&["incident", "ack", "inc-1"], "ana");
    assert!(text(&again.stderr).contains("was already acknowledged by ana"));
    let bob = atalaya(&["incident", "ack", "inc-1"], "bob");
    assert!(
        text(&bob.stderr).contains("Also acknowledged by ana."),
        "{}",
        text(&bob.stderr)
    );

    let outbox_len = || outbox(out).len();
    let before = outbox_len();
    // English only, to a Spanish customer too: refused, naming the customer.
    let english_only = atalaya(
        &[
            "incident",
            "update",
            "inc-1",
            "--phase",
            "identified",
            "--message",
            "A failed deploy; rolling back now.",
        ],
        "ana",
    );
    assert_eq!(english_only.status.code(), Some(1));
    assert!(
        text(&english_only.stderr)
            .contains("customer acme (ACME Corp) reads Spanish: add --message-es"),
        "{}",
        text(&english_only.stderr)
    );
    // An operator's slip: refused, naming what and where.
    let slip = atalaya(
        &[
            "incident",
            "update",
            "inc-1",
            "--phase",
            "identified",
            "--message",
            "Root cause: 500 from https://10.0.0.5:8443/api (db-prod-1.internal, ECONNREFUSED)",
            "--message-es",
            "Causa: el puerto 5432 de tienda-home.",
        ],
        "ana",
    );
    assert_eq!(slip.status.code(), Some(1));
    let err = text(&slip.stderr);
    for expected in [
        "--message 1:13: \"500 from\" (an HTTP status code)",
        "--message 1:22: \"https://10.0.0.5:8443/api\" (a URL)",
        "--message 1:49: \"db-prod-1.internal\" (a host name)",
        "--message 1:69: \"ECONNREFUSED\" (an error code)",
        "--message-es 1:11: \"puerto 5432\" (a port)",
        "--message-es 1:26: \"tienda-home\" (a check id)",
    ] {
        assert!(err.contains(expected), "{expected} not in:\n{err}");
    }
    // A preview sends nothing.
    let dry = atalaya(
        &[
            "incident",
            "update",
            "inc-1",
            "--phase",
            "identified",
            "--message",
            "We found the cause: a failed deploy. We are rolling it back.",
            "--message-es",
            "Hemos encontrado la causa: una actualización fallida. La estamos deshaciendo.",
            "--dry-run",
        ],
        "ana",
    );
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    let preview = text(&dry.stdout);
    assert!(
        preview.starts_with("Dry run: nothing is sent. 3 messages would go out:")
            && preview.contains("Subject: Customer portal: update from our team, cause found")
            && preview.contains("We found the cause: a failed deploy.")
            && preview
                .contains("Subject: Tienda online: novedades de nuestro equipo, causa encontrada")
            && preview.contains("Hemos encontrado la causa: una actualización fallida.")
            && preview.contains("[es] Hemos encontrado la causa"),
        "{preview}"
    );
    assert_eq!(outbox_len(), before, "a dry run sends nothing");
    let update = atalaya(
        &[
            "incident",
            "update",
            "inc-1",
            "--phase",
            "identified",
            "--message",
            "We found the cause: a failed deploy. We are rolling it back.",
            "--message-es",
            "Hemos encontrado la causa: una actualización fallida. La estamos deshaciendo.",
        ],
        "ana",
    );
    assert_eq!(update.status.code(), Some(0), "{}", text(&update.stderr));

    // Resolving while the target still fails: refused, then forced and marked.
    let refused = atalaya(
        &[
            "incident",
            "resolve",
            "inc-1",
            "--message",
            "Everything is back to normal.",
            "--message-es",
            "Todo funciona con normalidad.",
        ],
        "ana",
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains(
            "the monitor does not see inc-1 working: portal-home is down, tienda-home is down"
        ),
        "{}",
        text(&refused.stderr)
    );
    let forced = atalaya(
        &[
            "incident",
            "resolve",
            "inc-1",
            "--force",
            "--message",
            "Everything is back to normal.",
            "--message-es",
            "Todo funciona con normalidad.",
        ],
        "ana",
    );
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert!(
        text(&forced.stderr).contains("resolved by hand while the monitor did not see it passing")
    );
    // Nothing left to act on: refused (1), as the README documents, not a usage error (2).
    let closed = atalaya(&["incident", "resolve", "inc-1"], "ana");
    assert_eq!(closed.status.code(), Some(1));
    assert!(text(&closed.stderr).contains("incident inc-1 is resolved"));
    let closed = atalaya(&["incident", "ack", "inc-1"], "ana");
    assert_eq!(closed.status.code(), Some(1), "{}", text(&closed.stderr));
    let unknown = atalaya(&["incident", "ack", "inc-99"], "ana");
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown.stderr));
    assert!(text(&unknown.stderr).contains("no incident inc-99"));

    let messages = outbox(out);
    let customer: Vec<(&str, &str, &str)> = messages
        .iter()
        .filter(|m| m["topic"] == "customers")
        .map(|m| {
            (
                m["attributes"]["customer"].as_str().unwrap(),
                m["attributes"]["event"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    let events = |who: &str| {
        customer
            .iter()
            .filter(|c| c.0 == who)
            .map(|c| c.1)
            .collect::<Vec<_>>()
    };
    assert_eq!(events("initech"), ["opened", "human_update", "resolved"]);
    assert_eq!(events("acme"), ["opened", "human_update", "resolved"]);
    assert!(customer
        .iter()
        .any(|c| c.0 == "acme" && c.2.contains("La estamos deshaciendo.")));
    assert!(customer
        .iter()
        .any(|c| c.0 == "initech" && c.2.contains("Everything is back to normal.")));
    assert!(
        !customer
            .iter()
            .any(|c| c.0 == "acme" && c.2.contains("Everything")),
        "English text to a Spanish customer"
    );

    let show = text(&atalaya(&["incident", "show", "inc-1", "--messages"], "ana").stdout);
    assert!(
        show.contains("resolved ")
            && show.contains("(by hand, forced)")
            && show.contains("acknowledged by ana at")
            && show.contains("acknowledged by bob at")
            && show.contains("messages (")
            && show.contains("Subject: Tienda online: resuelto, funciona con normalidad")
            && show.contains("Todo funciona con normalidad."),
        "{show}"
    );
}

#[test]
fn every_kind_of_technical_content_is_refused_with_where_it_is() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(atalaya_tests::http::server(None));
    atalaya_tests::http::set_switch("commands", true);
    let w = customers_file(addr);
    let run = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "run",
            w.file.to_str().unwrap(),
            "--once",
            "--db",
            w.db.to_str().unwrap(),
            "--outbox",
            w.out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    for (text, found, what) in [
        (
            "see http://status.example.com/x for more",
            "http://status.example.com/x",
            "a URL",
        ),
        ("the server 192.0.2.7 is back", "192.0.2.7", "an IP address"),
        (
            "we can reach [2001:db8::1]:443 again",
            "[2001:db8::1]:443",
            "an IP address",
        ),
        (
            "payments.initech.internal is back",
            "payments.initech.internal",
            "a host name",
        ),
        (
            "the database on port 5432 refused us",
            "port 5432",
            "a port",
        ),
        ("db:5432 refused us", "db:5432", "a host and port"),
        (
            "we saw HTTP 503 for a while",
            "HTTP 503",
            "an HTTP status code",
        ),
        (
            "it answered 500 from the gateway",
            "500 from",
            "an HTTP status code",
        ),
        (
            "a 502 Bad Gateway answer",
            "502 Bad Gateway",
            "an HTTP status code",
        ),
        ("many 5xx answers", "5xx", "an HTTP status class"),
        (
            "ECONNREFUSED on the gateway",
            "ECONNREFUSED",
            "an error code",
        ),
        (
            "the resolver said NXDOMAIN",
            "NXDOMAIN",
            "a DNS response code",
        ),
        (
            "a NullPointerException in checkout",
            "NullPointerException",
            "an exception name",
        ),
        (
            "a worker panicked at startup",
            "panicked at",
            "an error message",
        ),
        (
            "see at com.initech.Pay.charge(Pay.java:42) now",
            "at com.initech.Pay.charge(Pay.java:42)",
            "a stack trace",
        ),
        (
            "a crash at address 0xdeadbeef",
            "0xdeadbeef",
            "a memory address",
        ),
        (
            "in payments::gateway::charge",
            "payments::gateway::charge",
            "a code path",
        ),
        (
            "the tls_handshake failed",
            "tls_handshake",
            "an internal identifier",
        ),
        ("the portal-home check fails", "portal-home", "a check id"),
        (
            "Frankfurt (eu-west-1) is fine",
            "eu-west-1",
            "a region name",
        ),
        (
            "the same as ACME Corp yesterday",
            "ACME Corp",
            "another customer's name",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "incident",
                "update",
                "inc-1",
                "--phase",
                "identified",
                "--dry-run",
                "--message",
                text,
                "--message-es",
                "Seguimos trabajando en ello.",
                "--db",
                w.db.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let col = text.find(found).unwrap() + 1;
        let expected = format!("--message 1:{col}: {found:?} ({what})");
        assert_eq!(out.status.code(), Some(1), "{text:?}: {err}");
        assert!(
            err.contains(&expected),
            "{text:?}: {expected} not in:\n{err}"
        );
        assert!(out.stdout.is_empty(), "nothing previewed once refused");
    }
}
