//! The listener serves the status site's folder: only what the site's build wrote there, with
//! redirects that stay within the site; and a folder that holds the runner's own files is
//! refused before anything is served.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILE: &str = "customers:
  - { id: acme, name: ACME, status_page: { slug: acme-7f3k9q } }
services:
  - { id: shop, customer: acme, name: Shop, public: true }
checks:
  - { id: shop-beat, service: shop, heartbeat: { every: 1m } }
";

/// (status, head lower-cased) of a GET with `target` as the request target, as sent.
fn get(port: u16, target: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let head = out
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head)
}

fn runner(w: &Workspace, site: &std::path::Path, port: u16) -> Running {
    Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args([
                "run",
                w.file.to_str().unwrap(),
                "--db",
                w.db.to_str().unwrap(),
            ])
            .args([
                "--outbox",
                w.out.to_str().unwrap(),
                "--status-page",
                site.to_str().unwrap(),
            ])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
}

#[test]
fn only_what_the_site_wrote_is_served_and_redirects_stay_in_the_site() {
    let w = workspace(FILE);
    let site = w.db.parent().unwrap().join("site");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _runner = runner(&w, &site, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_ok(port, "/acme-7f3k9q/") != 200 {
        assert!(
            Instant::now() < deadline,
            "the customer's page was never served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Files someone left in the folder are not the site's.
    std::fs::write(site.join("secret.txt"), "s3cret").unwrap();
    std::fs::write(site.join("acme-7f3k9q/notes.html"), "<p>notes</p>").unwrap();
    std::fs::create_dir_all(site.join("backup")).unwrap();
    std::fs::write(site.join("backup/index.html"), "<p>old</p>").unwrap();
    for target in [
        "/secret.txt",
        "/acme-7f3k9q/notes.html",
        "/backup/",
        "/.atalaya-site.json",
    ] {
        assert_eq!(get(port, target).0, 404, "{target}");
    }
    // A folder without its slash goes to it, on this site only.
    let (status, head) = get(port, "/acme-7f3k9q");
    assert_eq!(status, 301);
    assert!(head.contains("\r\nlocation: /acme-7f3k9q/\r\n"), "{head}");
    for target in [
        "//evil.example",
        "//acme-7f3k9q",
        "///acme-7f3k9q",
        "/acme-7f3k9q//",
        "/backup",
    ] {
        let (status, head) = get(port, target);
        assert_eq!(status, 404, "{target}: {head}");
        assert!(!head.contains("location:"), "{target}: {head}");
    }
    assert_eq!(get(port, "/").0, 200);
}

fn get_ok(port: u16, target: &str) -> u16 {
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => get(port, target).0,
        Err(_) => 0,
    }
}

#[test]
fn a_site_folder_holding_the_database_or_the_checks_file_is_refused() {
    let w = workspace(FILE);
    let here = w.db.parent().unwrap().to_path_buf();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for site in [here.clone(), here.join(".")] {
        let mut r = runner(&w, &site, port);
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = r.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the runner started with the site in {}",
                site.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        r.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(!status.success(), "{err}");
        assert!(
            err.contains("the folder holds the database")
                && err.contains("give it a folder of its own"),
            "{err}"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "it listened"
        );
    }
    // The checks file alone in the folder is refused too.
    let site = here.join("site");
    std::fs::create_dir_all(&site).unwrap();
    let file = site.join("checks.yaml");
    std::fs::write(&file, FILE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--once",
            "--db",
            w.db.to_str().unwrap(),
        ])
        .args([
            "--outbox",
            w.out.to_str().unwrap(),
            "--status-page",
            site.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("the folder holds the checks file"),
        "{err}"
    );
}
