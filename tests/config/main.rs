//! The checks file: every invalid fixture fails with exactly the messages and positions in its
//! `.expected` file, every valid file and example loads.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_core::{load_str, CheckKind, Quorum, Target};
use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/configs")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn target_for(path: &Path) -> Target {
    if path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("lambda-")
    {
        Target::Lambda
    } else {
        Target::Local
    }
}

#[test]
fn every_invalid_fixture_reports_exactly_its_expected_errors() {
    let files = fixtures("invalid");
    assert!(files.len() >= 15, "the invalid corpus went missing");
    let mut mismatches = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        match load_str(&text, &name, target_for(&path)) {
            Ok(_) => mismatches.push(format!("{name}: loaded, but it is invalid")),
            Err(errors) => {
                let got = format!("{errors}\n");
                if got != expected {
                    mismatches.push(format!("{name}:\n--- expected\n{expected}--- got\n{got}"));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs/invalid/many-problems.yaml"),
    )
    .unwrap();
    let errors = load_str(&text, "many-problems.yaml", Target::Local)
        .unwrap_err()
        .0;
    // Settings, customer, service, and five checks, of every sort: references, durations,
    // duplicates, regions, expectations and an unknown field.
    assert_eq!(errors.len(), 10, "{errors:#?}");
    let subjects: std::collections::BTreeSet<&str> =
        errors.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects.len(), 7, "{subjects:?}");
}

#[test]
fn every_valid_fixture_and_example_loads() {
    let mut files = fixtures("valid");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for entry in std::fs::read_dir(examples).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            files.push(p);
        }
    }
    assert!(files.len() >= 4);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = load_str(&text, &path.display().to_string(), Target::Local) {
            panic!("{} should load:\n{e}", path.display());
        }
    }
}

#[test]
fn the_annotated_example_is_valid_for_lambda_and_uses_every_check_kind() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/checks.yaml");
    let config = load_str(
        &std::fs::read_to_string(path).unwrap(),
        "checks.yaml",
        Target::Lambda,
    )
    .unwrap();
    let kinds: std::collections::BTreeSet<&str> =
        config.checks.iter().map(|c| c.kind.name()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["dns", "heartbeat", "http", "steps", "tcp", "tls"]
    );
    assert_eq!(config.settings.quorum, Quorum::Majority);
    let api = config.check("shop-api-health").unwrap();
    assert_eq!(
        (
            api.interval.as_secs(),
            api.timeout.as_secs(),
            api.retries,
            api.recover_after
        ),
        (120, 5, 3, 1)
    );
    assert_eq!(api.regions, ["eu-west-1", "us-east-1"]);
    let CheckKind::Http(h) = &api.kind else {
        panic!("http")
    };
    assert_eq!(h.method, "POST");
    // The secret reference is kept as a reference: nothing is read from the environment at load.
    let (_, key) = h.headers.iter().find(|(n, _)| n == "X-Api-Key").unwrap();
    assert_eq!(key.to_string(), "${env:SHOP_API_KEY}");
}

#[test]
fn second_level_intervals_are_local_only() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs/valid/second-intervals.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(load_str(&text, "s.yaml", Target::Local).is_ok());
    let errors = load_str(&text, "s.yaml", Target::Lambda)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("interval 2s is below 1m"), "{errors}");
}

#[test]
fn input_that_is_not_a_checks_file_is_an_error_not_a_panic() {
    for text in [
        "",
        "[]",
        "42",
        "checks: 3",
        "checks: [1, two, {}]",
        "\u{0}\u{1}",
        "- - - -",
        "checks:\n  - &a [*a]",
        "{{{{",
    ] {
        // Empty input is an empty (valid) file; everything else must fail cleanly.
        let _ = load_str(text, "junk.yaml", Target::Local);
    }
    let e = load_str("checks: [1, two, {}]", "junk.yaml", Target::Local).unwrap_err();
    assert_eq!(e.0.len(), 3, "{e}");
}

#[test]
fn the_committed_json_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/atalaya.schema.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        committed,
        atalaya_core::json_schema(),
        "regenerate with: atalaya schema > docs/atalaya.schema.json"
    );
}

#[test]
fn names_per_language_are_read_in_each_language_and_a_missing_one_is_warned_of() {
    let text = "customers:
  - { id: acme, name: { en: ACME, es: ACME España }, greeting: { es: equipo de ACME }, language: es, status_page: { slug: acme-7f3k9q } }
  - { id: globex, name: Globex, status_page: { slug: globex-7f3k9q } }
services:
  - { id: shop, customer: acme, name: { en: Online shop, es: Tienda online } }
  - { id: mail, customer: acme, name: { en: Mail } }
  - { id: api, customer: globex, name: API }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
";
    let config = load_str(text, "names.yaml", Target::Local).unwrap_or_else(|e| panic!("{e}"));
    let shop = config.service("shop").unwrap();
    assert_eq!(shop.name, "Online shop", "operators read the English name");
    assert_eq!(shop.names.get(atalaya_core::Language::Es), "Tienda online");
    assert_eq!(
        config
            .service("api")
            .unwrap()
            .names
            .get(atalaya_core::Language::Es),
        "API"
    );
    let acme = config.customer("acme").unwrap();
    assert_eq!(acme.name, "ACME");
    assert_eq!(
        acme.greeting.get(atalaya_core::Language::Es),
        "equipo de ACME"
    );
    assert_eq!(
        config
            .customer("globex")
            .unwrap()
            .greeting
            .get(atalaya_core::Language::En),
        "Globex",
        "the greeting defaults to the name"
    );
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["names.yaml:6:39: service mail: name: has no Spanish name (es:), and its customer acme reads Spanish: their mail and page show \"Mail\""],
    );
}
