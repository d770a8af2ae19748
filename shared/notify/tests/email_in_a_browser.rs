//! A customer mail's HTML in a real browser (Debian's chromium, headless): a Spanish incident
//! mail at a phone's width (375 px) and a desktop's (1024 px) needs no horizontal scrolling,
//! keeps its words, and is kept as screenshots (target/email-screenshots/) to look at.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use atalaya_notify::email::{compose, Content, Links, Templates};
use mail_parser::MessageParser;
use std::path::{Path, PathBuf};
use std::process::Command;

const FILE: &str = r##"
settings:
  regions: [eu-west-1]
  brand: { name: Acme Iberia, from: "Estado de Acme <estado@acme.example>", reply_to: soporte@acme.example, footer: "Acme Iberia S.L. · Calle de Alcalá 123, 28009 Madrid · Tel. 910 000 000" }
customers:
  - { id: acme, name: Acme Iberia, language: es }
services:
  - { id: shop, customer: acme, name: Tienda online de España }
checks:
  - { id: shop-home, service: shop, http: { url: "https://shop.acme.example/" } }
"##;

fn run(args: &[&str], page: &Path, profile: &Path) -> String {
    let out = Command::new(atalaya_tests::browser::chromium())
        .args(atalaya_tests::browser::FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn a_spanish_incident_mail_fits_a_phone_and_a_desktop() {
    let config = atalaya_core::load_str(FILE, "checks.yaml", atalaya_core::Target::Local).unwrap();
    let templates = Templates::new(&config, Path::new(".")).unwrap();
    let brand = config.brand_for("acme").unwrap();
    let body = "Hola, Acme Iberia:\n\nDesde las 10:02 (hora de Madrid) del 30 de noviembre de 2026, Tienda online de España no funciona con normalidad. Nuestro equipo está al tanto y trabajando para solucionarlo.\n\nLe escribiremos de nuevo antes de las 10:35 (hora de Madrid), o antes si hay novedades.\n\nDisculpe las molestias.\n\nEl equipo de soporte de Acme Iberia";
    let token = "dW5zdWJzY3JpYmUuc3ViLTY5OTY3ODRlYzU4ZTE4MDA5ZGU2LjE3OTYwNDgxMTk.i6iYsOyto-HdRVh6bGnMTN0z3x_5o0ryUcLa9SmbIBw";
    let links = Links {
        unsubscribe: format!("https://estado.acme.example/email/unsubscribe?t={token}"),
        manage: format!("https://estado.acme.example/email/manage?t={token}"),
        unsubscribe_mailto: format!("mailto:estado@acme.example?subject=unsubscribe%20{token}"),
        confirm: None,
        status_page: Some("https://estado.acme.example/acme-iberia/".into()),
    };
    let mail = compose(
        &templates,
        &brand,
        &Content {
            id: "inc-p07-3/2/opened/shop",
            at: "2026-11-30T09:02:00Z".parse().unwrap(),
            subject: "Tienda online de España: nuevo problema, estamos trabajando en ello",
            body,
            language: atalaya_core::Language::Es,
            incident: Some("inc-p07-3"),
            customer: "acme",
        },
        "ana@example.com",
        "sub-1",
        &links,
    )
    .unwrap();
    let parsed = MessageParser::default().parse(&mail.bytes).unwrap();
    let html = parsed.body_html(0).unwrap().to_string();
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/email-screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let work = tempfile::tempdir().unwrap();
    // The mail as it is, for the screenshots; with a measuring script, for the widths (mail
    // carries no script: this one is the test's).
    let page = work.path().join("mail.html");
    std::fs::write(&page, &html).unwrap();
    let measured = work.path().join("measured.html");
    std::fs::write(
        &measured,
        html.replace(
            "</body>",
            "<script>document.body.setAttribute('data-fit', document.documentElement.scrollWidth + 'x' + window.innerWidth);</script></body>",
        ),
    )
    .unwrap();
    for width in [375, 1024] {
        let profile = tempfile::tempdir().unwrap();
        let size = format!("--window-size={width},900");
        let dom = run(
            &["--dump-dom", &size, "--virtual-time-budget=2000"],
            &measured,
            profile.path(),
        );
        let fit = dom
            .split("data-fit=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("no measurement in {dom}"));
        let (scroll, inner) = fit.split_once('x').unwrap();
        let (scroll, inner): (u32, u32) = (scroll.parse().unwrap(), inner.parse().unwrap());
        assert!(
            scroll <= inner,
            "{width} px: {scroll} px of content in {inner} px: it scrolls sideways"
        );
        assert!(
            dom.contains("Tienda online de España no funciona con normalidad"),
            "{dom}"
        );
        assert!(dom.contains("Darse de baja"));
        let shot = out.join(format!("incident-es-{width}.png"));
        let _ = std::fs::remove_file(&shot);
        let profile = tempfile::tempdir().unwrap();
        run(
            &[&format!("--screenshot={}", shot.display()), &size],
            &page,
            profile.path(),
        );
        let png = std::fs::read(&shot).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{}",
            shot.display()
        );
        eprintln!("screenshot: {}", shot.display());
    }
}
