//! One loader for every command: `atalaya probe`, `validate`, `run` and `heartbeat url` read
//! the checks file with its PEM files alike, and a PEM path never leads out of the file's folder.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use std::process::Command;

fn atalaya(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn probe_reads_a_ca_file_beside_the_checks_file_as_run_and_validate_do() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pki = atalaya_tests::tls::private_pki(400, false);
    let addr = rt.block_on(atalaya_tests::http::server_with_tls(pki.server.clone()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    std::fs::write(dir.path().join("certs/root.pem"), &pki.ca_pem).unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(
        &file,
        format!(
            "settings: {{ allow_networks: [127.0.0.0/8] }}
customers: [ {{ id: acme, name: ACME }} ]
services: [ {{ id: api, customer: acme, name: API }} ]
checks:
  - {{ id: internal, service: api, http: {{ url: 'https://{addr}/ok', tls: {{ ca: certs/root.pem }} }} }}
"
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = atalaya(&["validate", file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = atalaya(&["probe", file, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["outcome"].as_str(), r["reason"].as_str()),
        (Some("up"), Some("ok")),
        "{r}"
    );
}

#[test]
fn a_pem_path_that_leaves_the_folder_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    // A link inside the folder to a file outside it.
    std::os::unix::fs::symlink(
        outside.path().join("secret.pem"),
        dir.path().join("linked.pem"),
    )
    .unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(
        &file,
        "customers: [ { id: acme, name: ACME } ]
services: [ { id: api, customer: acme, name: API } ]
checks:
  - { id: up-and-out, service: api, tls: { host: db.acme.example, ca: ../../etc/shadow } }
  - { id: linked, service: api, tls: { host: db.acme.example, ca: linked.pem } }
",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let db = dir.path().join("atalaya.db");
    let db = db.to_str().unwrap();
    for args in [
        vec!["validate", file],
        vec!["probe", file],
        vec!["run", file, "--once", "--db", db],
    ] {
        let out = atalaya(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("checks.yaml:4:") && err.contains("check up-and-out: tls.ca: \"../../etc/shadow\": a PEM file must be in the checks file's folder"),
            "{args:?}: {err}"
        );
    }
    // Once the path itself is fine, the link is followed and refused.
    let text_of = std::fs::read_to_string(file)
        .unwrap()
        .replace("ca: ../../etc/shadow", "ca: linked.pem");
    std::fs::write(file, text_of).unwrap();
    let out = atalaya(&["probe", file]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("outside the checks file's folder"), "{err}");
    assert!(!err.contains("MIIB"), "{err}");
}
