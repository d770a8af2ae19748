//! Customer email end to end through the binary: subscribers added with the CLI, a real SMTP
//! server on 127.0.0.1 (aiosmtpd), the subscribers' pages served by `atalaya run --listen`, and
//! every mail received parsed with a MIME parser.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use atalaya_tests::smtp::{Received, SmtpSink};
use common::*;
use mail_parser::{HeaderValue, Message, MessageParser};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn atalaya(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `atalaya subscribers add` (pending: a confirmation mail) with the SMTP password in the
/// environment: what it said on both streams.
fn add_with_password(w: &Workspace, email: &str, password: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(["subscribers", "add", "--customer", "acme", "--email", email])
        .args([
            "--checks",
            w.file.to_str().unwrap(),
            "--db",
            w.db.to_str().unwrap(),
        ])
        .env("SMTP_PASSWORD", password)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

fn checks(smtp: &str, target_port: u16) -> String {
    format!(
        r##"settings:
  regions: [local]
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 2s, timeout: 1s, retries: 1 }}
  brand: {{ name: Acme, from: "Estado de Acme <estado@acme.example>", reply_to: soporte@acme.example, footer: "Acme S.L. · Calle Mayor 1" }}
  email: {{ smtp: "{smtp}" }}
customers:
  - {{ id: acme, name: Acme Iberia, language: es }}
services:
  - {{ id: shop, customer: acme, name: Tienda de España }}
  - {{ id: blog, customer: acme, name: Blog }}
checks:
  - {{ id: shop-tcp, service: shop, tcp: {{ host: 127.0.0.1, port: {target_port} }} }}
  - {{ id: blog-tcp, service: blog, tcp: {{ host: 127.0.0.1, port: {target_port} }} }}
"##
    )
}

fn parse(r: &Received) -> Message<'_> {
    MessageParser::default().parse(&r.bytes).unwrap()
}

fn subscribers(db: &Path) -> serde_json::Value {
    let (ok, out, err) = atalaya(&[
        "subscribers",
        "list",
        "--format",
        "json",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn state_of(db: &Path, email: &str) -> String {
    subscribers(db)
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"] == email)
        .map(|s| s["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The path and query of a link on the pages (`http://127.0.0.1:PORT/confirm?t=…`).
fn path_of(link: &str) -> String {
    let url = url::Url::parse(link).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

fn wait(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within 30 s");
}

#[test]
fn subscribers_confirm_choose_and_unsubscribe_on_the_pages_and_get_branded_mail_once() {
    let smtp = SmtpSink::start(None, None);
    // Up: the SMTP server's own port answers. Down: a port nobody listens on.
    let up = checks(&smtp.url(), smtp.port);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let w = workspace(&up);
    let down_file = w.file.with_file_name("down.yaml");
    std::fs::write(&down_file, checks(&smtp.url(), closed)).unwrap();
    let (file, db) = (w.file.to_str().unwrap(), w.db.to_str().unwrap());
    let add = |email: &str, extra: &[&str]| {
        let mut args = vec![
            "subscribers",
            "add",
            "--customer",
            "acme",
            "--email",
            email,
            "--checks",
            file,
            "--db",
            db,
        ];
        args.extend_from_slice(extra);
        let (ok, out, err) = atalaya(&args);
        assert!(ok, "{email}: {out}{err}");
        out
    };
    let said = add("ana@example.com", &["--confirmed"]);
    assert!(
        said.contains("ana@example.com: added (confirmed)"),
        "{said}"
    );
    // The same again (an import run twice) changes nothing, and says so.
    let said = add("ana@example.com", &["--confirmed"]);
    assert!(said.contains("ana@example.com: unchanged"), "{said}");
    let said = add("bob@example.com", &["--language", "en"]);
    assert!(said.contains("a confirmation mail went out"), "{said}");
    add("carol@example.com", &["--confirmed", "--services", "blog"]);
    add("eve@example.com", &["--confirmed"]);
    add("bounce@example.com", &["--confirmed"]);
    add("dan@example.com", &[]); // never confirms
    add("busy@example.com", &["--confirmed"]); // the server says "later", every time
    add("denied@example.com", &["--confirmed"]); // the server refuses our relaying: our fault
                                                 // Bad input is refused, saying what is wrong.
    let (ok, _, err) = atalaya(&[
        "subscribers",
        "add",
        "--customer",
        "acme",
        "--email",
        "not-an-address",
        "--db",
        db,
    ]);
    assert!(!ok && err.contains("is not an email address"), "{err}");
    let (ok, _, err) = atalaya(&[
        "subscribers",
        "add",
        "--customer",
        "acme",
        "--email",
        "x@example.com",
        "--services",
        "nope",
        "--db",
        db,
    ]);
    assert!(!ok && err.contains("no service \"nope\""), "{err}");

    // Two confirmation mails: bob's (English) and dan's (Spanish, the customer's language).
    let confirmations = smtp.received();
    assert_eq!(confirmations.len(), 2, "{confirmations:?}");
    let bob_mail = confirmations
        .iter()
        .find(|r| r.to == ["bob@example.com"])
        .unwrap();
    let bob = parse(bob_mail);
    assert_eq!(
        bob.subject(),
        Some("Confirm your subscription to Acme status updates")
    );
    let text = bob.body_text(0).unwrap().to_string();
    // Its own footer: nobody has subscribed yet.
    assert!(
        text.contains("someone asked for Acme's status updates at this address"),
        "{text}"
    );
    assert!(!text.contains("you subscribed"), "{text}");
    let confirm = text
        .lines()
        .find_map(|l| l.strip_prefix("Confirm the subscription: "))
        .unwrap()
        .to_string();

    // The runner serves the pages while everything is up.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let runner = Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "run",
                file,
                "--db",
                db,
                "--outbox",
                w.out.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{listen}"),
            ])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait("the pages", || {
        std::net::TcpStream::connect(("127.0.0.1", listen)).is_ok()
    });
    // The confirmation link points at the pages (no pages_url: the --listen address is used).
    assert!(
        confirm.starts_with("http://127.0.0.1:8088/confirm?t="),
        "{confirm}"
    );
    let confirm_path = path_of(&confirm);
    // A GET (a link scanner) shows the button and changes nothing.
    let (status, page) = http(listen, "GET", &confirm_path, "");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<button type=\"submit\">Confirm the subscription</button>"),
        "{page}"
    );
    assert_eq!(state_of(&w.db, "bob@example.com"), "pending");
    // A forged or altered link is refused; so is a link for another action.
    let forged = confirm_path.replace("?t=", "?t=x");
    assert_eq!(http(listen, "POST", &forged, "").0, 403);
    let (tok, sig) = confirm_path.split_once('.').unwrap();
    let altered = format!("{}A.{sig}", tok);
    assert_eq!(http(listen, "POST", &altered, "").0, 403);
    assert_eq!(
        http(
            listen,
            "POST",
            &confirm_path.replace("/confirm?", "/unsubscribe?"),
            ""
        )
        .0,
        403
    );
    assert_eq!(state_of(&w.db, "bob@example.com"), "pending");
    // The POST confirms; doing it again is harmless.
    let (status, page) = http(listen, "POST", &confirm_path, "");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Done: bob@example.com will receive Acme"),
        "{page}"
    );
    assert_eq!(http(listen, "POST", &confirm_path, "").0, 200);
    assert_eq!(state_of(&w.db, "bob@example.com"), "confirmed");
    // bob chooses to hear about the shop only.
    let manage = text
        .lines()
        .find_map(|l| l.strip_prefix("Choose which services you hear about: "))
        .unwrap();
    let (status, page) = http(listen, "GET", &path_of(manage), "");
    assert_eq!(status, 200);
    assert!(
        page.contains("value=\"shop\"") && page.contains("Tienda de Espa"),
        "{page}"
    );
    let (status, page) = http(listen, "POST", &path_of(manage), "service=shop");
    assert_eq!(status, 200, "{page}");
    let bob_now = subscribers(&w.db);
    let bob_now = bob_now
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"] == "bob@example.com")
        .unwrap();
    assert_eq!(
        bob_now["services"],
        serde_json::json!({"services": ["shop"]})
    );
    // One-click unsubscribe (RFC 8058) with the List-Unsubscribe address of a mail: eve's is
    // taken from dan's confirmation mail's header form, signed for eve by adding her again.
    let dan = parse(
        confirmations
            .iter()
            .find(|r| r.to == ["dan@example.com"])
            .unwrap(),
    );
    let unsubscribe = match dan.header("List-Unsubscribe") {
        Some(HeaderValue::Address(a)) => a
            .iter()
            .filter_map(|a| a.address())
            .find(|a| a.starts_with("http"))
            .unwrap()
            .to_string(),
        other => panic!("{other:?}"),
    };
    let (status, page) = http(
        listen,
        "POST",
        &path_of(&unsubscribe),
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("dan@example.com ya no recibirá avisos de Acme"),
        "in Spanish: {page}"
    );
    assert_eq!(state_of(&w.db, "dan@example.com"), "unsubscribed");
    interrupt(runner);

    // The outage.
    let before = smtp.received().len();
    let run_once = |f: &Path| {
        let (ok, out, err) = atalaya(&[
            "run",
            f.to_str().unwrap(),
            "--db",
            db,
            "--outbox",
            w.out.to_str().unwrap(),
            "--once",
        ]);
        assert!(ok, "{out}{err}");
        err
    };
    let said = run_once(&down_file);
    wait("the incident mails", || smtp.received().len() >= before + 3);
    let mails: Vec<Received> = smtp.received()[before..].to_vec();
    let to: Vec<&str> = mails.iter().map(|m| m.to[0].as_str()).collect();
    // ana (es) and bob (en) hear about both services' incidents... only confirmed subscribers
    // of the service: carol chose the blog; dan unsubscribed; bounce@ refused for good.
    for m in &mails {
        assert_eq!(m.from, "estado@acme.example");
        assert!(
            [
                "ana@example.com",
                "bob@example.com",
                "carol@example.com",
                "eve@example.com"
            ]
            .contains(&m.to[0].as_str()),
            "{to:?}"
        );
    }
    assert!(
        !to.contains(&"dan@example.com") && !to.contains(&"bounce@example.com"),
        "{to:?}"
    );
    assert_eq!(state_of(&w.db, "bounce@example.com"), "bounced", "{said}");
    // A refusal that is the sender's fault never marks the customer's subscriber.
    assert_eq!(state_of(&w.db, "denied@example.com"), "confirmed", "{said}");
    assert!(said.contains("relay access denied"), "{said}");
    let of = |who: &str| -> Vec<Message<'_>> {
        mails.iter().filter(|m| m.to[0] == who).map(parse).collect()
    };
    // Two services down: two opened incidents; carol hears about the blog only.
    assert_eq!(of("ana@example.com").len(), 2, "{to:?}");
    assert_eq!(of("carol@example.com").len(), 1, "{to:?}");
    assert_eq!(of("bob@example.com").len(), 1, "the shop only: {to:?}");
    let ana = of("ana@example.com");
    let shop = ana
        .iter()
        .find(|m| m.subject().unwrap().contains("Tienda de España"))
        .unwrap();
    assert_eq!(
        shop.subject(),
        Some("Tienda de España: nuevo problema, estamos trabajando en ello")
    );
    let from = shop.from().unwrap().first().unwrap();
    assert_eq!(
        (from.name(), from.address()),
        (Some("Estado de Acme"), Some("estado@acme.example"))
    );
    assert_eq!(
        shop.reply_to().unwrap().first().unwrap().address(),
        Some("soporte@acme.example")
    );
    assert!(
        shop.date().is_some()
            && shop
                .message_id()
                .is_some_and(|id| id.ends_with("@acme.example"))
    );
    assert!(
        shop.in_reply_to().as_text().is_some()
            && shop.references().as_text() == shop.in_reply_to().as_text()
    );
    assert!(
        matches!(shop.header("List-Unsubscribe-Post"), Some(HeaderValue::Text(t)) if t == "List-Unsubscribe=One-Click")
    );
    let text = shop.body_text(0).unwrap().to_string();
    let html = shop.body_html(0).unwrap().to_string();
    assert!(
        text.contains("Tienda de España") && html.contains("Tienda de España"),
        "{text}"
    );
    // bob reads English.
    let bob = of("bob@example.com");
    assert!(
        bob.iter()
            .all(|m| m.subject().unwrap().contains("new problem")),
        "{:?}",
        bob.iter().map(|m| m.subject()).collect::<Vec<_>>()
    );
    // Nothing technical reaches a subscriber.
    let target = format!("127.0.0.1:{closed}");
    for m in &mails {
        let p = parse(m);
        // What the reader sees, the links' signed tokens left out.
        let seen: String = [
            p.subject().unwrap_or_default().to_string(),
            p.body_text(0).unwrap().to_string(),
            p.body_html(0).unwrap().to_string(),
        ]
        .join("\n")
        .split("?t=")
        .map(|part| {
            part.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .collect::<Vec<_>>()
        .join("");
        for leak in [
            target.as_str(),
            "shop-tcp",
            "blog-tcp",
            "inc-",
            "refused",
            "tcp",
            "acme.example>",
        ] {
            assert!(!seen.contains(leak), "{leak} in a customer mail:\n{seen}");
        }
    }
    // busy@ was told "later": the messages stay pending for the email channel, and the next
    // run delivers them again — to busy@ only: nobody gets a mail twice.
    assert!(said.contains("try again later"), "{said}");
    let count = smtp.received().len();
    run_once(&down_file);
    std::thread::sleep(Duration::from_millis(500));
    let again: Vec<String> = smtp.received()[count..]
        .iter()
        .map(|m| m.to[0].clone())
        .collect();
    assert!(again.is_empty(), "sent twice: {again:?}");
}

/// An SMTP server that wants a login gets it (the password from the environment, never in the
/// file, never printed).
#[test]
fn mail_goes_through_an_smtp_server_that_requires_a_login() {
    let smtp = SmtpSink::start(None, Some("atalaya:s3cret-pw"));
    let w = workspace(&checks(
        &format!(
            "smtp://atalaya:${{env:SMTP_PASSWORD}}@127.0.0.1:{}",
            smtp.port
        ),
        smtp.port,
    ));
    let said = add_with_password(&w, "bob@example.com", "s3cret-pw");
    assert!(said.contains("a confirmation mail went out"), "{said}");
    assert!(!said.contains("s3cret"), "{said}");
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["bob@example.com"]);
}

/// A CSV import is checked whole first: a bad line is named with its line and nothing is added;
/// a good file adds everyone.
#[test]
fn subscribers_are_imported_from_csv_all_or_nothing() {
    let smtp = SmtpSink::start(None, None);
    let w = workspace(&checks(&smtp.url(), smtp.port));
    let (file, db) = (w.file.to_str().unwrap(), w.db.to_str().unwrap());
    let csv = w.file.with_file_name("subscribers.csv");
    std::fs::write(
        &csv,
        "customer,email,language,services\nacme,ana@example.com,es,\nacme,not-an-address,en,\nacme,bob@example.com,fr,shop\nacme,carol@example.com,,shop;blog\n",
    )
    .unwrap();
    let (ok, _, err) = atalaya(&[
        "subscribers",
        "import",
        csv.to_str().unwrap(),
        "--confirmed",
        "--checks",
        file,
        "--db",
        db,
    ]);
    assert!(!ok);
    assert!(
        err.contains("subscribers.csv:3: \"not-an-address\" is not an email address"),
        "{err}"
    );
    assert!(
        err.contains("subscribers.csv:4: \"fr\" is not a supported language"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(subscribers(&w.db).as_array().unwrap().len(), 0);
    std::fs::write(
        &csv,
        "customer,email,language,services\nacme,ana@example.com,es,\nacme,carol@example.com,,shop;blog\n",
    )
    .unwrap();
    let (ok, out, err) = atalaya(&[
        "subscribers",
        "import",
        csv.to_str().unwrap(),
        "--confirmed",
        "--db",
        db,
    ]);
    assert!(ok, "{out}{err}");
    let list = subscribers(&w.db);
    let carol = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"] == "carol@example.com")
        .unwrap();
    assert_eq!(
        carol["services"],
        serde_json::json!({"services": ["blog", "shop"]})
    );
    assert_eq!(carol["state"], "confirmed");
    assert!(
        smtp.received().is_empty(),
        "confirmed: no confirmation mail"
    );
}

/// A private relay: STARTTLS required, its certificate signed by the team's own authority
/// (settings.email.smtp_ca), a login; the mail arrives encrypted.
#[test]
fn mail_goes_through_a_private_relay_over_starttls() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = atalaya_tests::tls::pem_files(certs.path());
    let smtp = SmtpSink::start(Some((&cert, &key)), Some("atalaya:s3cret-pw"));
    let w = workspace(
        &checks(
            &format!(
                "smtp://atalaya:${{env:SMTP_PASSWORD}}@127.0.0.1:{}?tls=required",
                smtp.port
            ),
            smtp.port,
        )
        .replace(
            "  email: {",
            &format!("  email: {{ smtp_ca: \"{}\",", ca.display()),
        ),
    );
    let said = add_with_password(&w, "bob@example.com", "s3cret-pw");
    assert!(said.contains("a confirmation mail went out"), "{said}");
    let got = smtp.received();
    assert_eq!(got.len(), 1, "{said}");
    assert!(got[0].tls, "the conversation was encrypted");
    // Without the authority the relay's certificate is not trusted: nothing is sent.
    let w = workspace(&checks(
        &format!(
            "smtp://atalaya:${{env:SMTP_PASSWORD}}@127.0.0.1:{}?tls=required",
            smtp.port
        ),
        smtp.port,
    ));
    let said = add_with_password(&w, "carol@example.com", "s3cret-pw");
    assert!(said.contains("did not go out"), "{said}");
    assert!(!said.contains("s3cret"), "{said}");
    assert_eq!(smtp.received().len(), 1);
}
