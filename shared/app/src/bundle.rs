//! A checks file as the functions fetch it from S3: one gzip-compressed tar with `checks.yaml`
//! and each customer's template folder at the path the file names it by. `atalaya
//! publish-checks` packs it (after validating it as the functions will); the functions unpack
//! it into a fresh folder and load it from there exactly as they load the packaged file.

use crate::checks::{Checks, LoadError};
use atalaya_core::source::{MAX_CHECKS_FILE, MAX_TEMPLATE_FILE};
use atalaya_core::{Renderer, Target};
use std::io::Read;
use std::path::{Component, Path};

/// The checks file's name inside a bundle.
pub const CHECKS_NAME: &str = "checks.yaml";
/// A bundle's compressed size at most.
pub const MAX_BUNDLE: usize = 16 * 1024 * 1024;
/// A bundle's unpacked size at most (a checks file and templates; guards against gzip bombs).
const MAX_UNPACKED: u64 = MAX_CHECKS_FILE + 64 * 1024 * 1024;

fn problem(text: String) -> LoadError {
    LoadError::Templates(vec![text])
}

/// Validates the checks file at `path` for Lambda and packs it with its template folders.
pub fn pack(path: &Path) -> Result<(Checks, Vec<u8>), LoadError> {
    let checks = Checks::load(path, Target::Lambda)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let text = crate::checks::read(path)?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::best(),
    ));
    let mut add = |name: &str, data: &[u8]| -> Result<(), LoadError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data)
            .map_err(|e| problem(format!("packing {name}: {e}")))
    };
    add(CHECKS_NAME, text.as_bytes())?;
    for customer in &checks.config.customers {
        let Some(dir) = &customer.templates else {
            continue;
        };
        let relative = Path::new(dir);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
        {
            return Err(problem(format!(
                "customer {}: templates: {dir} must be a folder beside the checks file (no absolute path, no ..) to be published",
                customer.id
            )));
        }
        for kind in Renderer::kinds() {
            for part in ["subject", "body"] {
                let file = relative.join(format!("{kind}.{part}"));
                let full = base.join(&file);
                if !full.exists() {
                    continue;
                }
                let data = atalaya_core::source::read_text(&full, MAX_TEMPLATE_FILE)
                    .map_err(|e| problem(format!("{}: {e}", full.display())))?;
                add(&file.to_string_lossy(), data.as_bytes())?;
            }
        }
    }
    let bytes = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| problem(format!("packing: {e}")))?;
    if bytes.len() > MAX_BUNDLE {
        return Err(problem(format!(
            "the packed checks file is {} MB, over the {} MB a bundle may be",
            bytes.len() / (1024 * 1024),
            MAX_BUNDLE / (1024 * 1024)
        )));
    }
    Ok((checks, bytes))
}

/// Unpacks a bundle into `into` (an empty folder) and loads it for Lambda. `name` says where it
/// came from in every problem (`s3://bucket/key#version`).
pub fn unpack(bytes: &[u8], into: &Path, name: &str) -> Result<Checks, LoadError> {
    if bytes.len() > MAX_BUNDLE {
        return Err(problem(format!(
            "{name}: over {} MB",
            MAX_BUNDLE / (1024 * 1024)
        )));
    }
    let gz = flate2::read::GzDecoder::new(bytes).take(MAX_UNPACKED + 1);
    let mut archive = tar::Archive::new(gz);
    let mut total = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| problem(format!("{name}: not a bundle: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| problem(format!("{name}: not a bundle: {e}")))?;
        total += entry.size();
        if total > MAX_UNPACKED {
            return Err(problem(format!(
                "{name}: unpacks to more than a checks bundle may hold"
            )));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue; // only files: no links, devices or folders with modes of their own
        }
        // `unpack_in` refuses paths that would leave `into` (absolute, `..`).
        let inside = entry
            .unpack_in(into)
            .map_err(|e| problem(format!("{name}: cannot unpack: {e}")))?;
        if !inside {
            return Err(problem(format!(
                "{name}: an entry would land outside the bundle's folder"
            )));
        }
    }
    let checks = into.join(CHECKS_NAME);
    if !checks.is_file() {
        return Err(problem(format!("{name}: no {CHECKS_NAME} inside")));
    }
    let text = crate::checks::read(&checks)?;
    Checks::from_text(&text, name, into, Target::Lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap_or(dir)).unwrap_or_default();
        std::fs::write(p, text).unwrap_or_default();
    }

    #[test]
    fn a_bundle_carries_the_file_and_its_templates_and_loads_the_same() {
        let src = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        file(src.path(), "checks.yaml", "settings:\n  regions: [eu-west-1]\ncustomers:\n  - { id: acme, name: ACME, templates: templates/acme }\nservices:\n  - { id: shop, customer: acme, name: Shop }\nchecks:\n  - { id: home, service: shop, http: { url: 'https://shop.example/' } }\n");
        file(
            src.path(),
            "templates/acme/opened.subject",
            "ACME: {{ service_name }} is down",
        );
        let (checks, bytes) =
            pack(&src.path().join("checks.yaml")).unwrap_or_else(|e| panic!("{e}"));
        let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let back = unpack(&bytes, out.path(), "s3://b/k#v1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.config.checks.len(), checks.config.checks.len());
        assert!(out.path().join("templates/acme/opened.subject").is_file());
    }

    #[test]
    fn a_bundle_that_is_not_one_or_escapes_its_folder_is_refused() {
        let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let err = unpack(b"not gzip", out.path(), "s3://b/k#v2")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("s3://b/k#v2: not a bundle")));
        // A bundle whose only file tries to climb out (written by hand, not by `pack`).
        let mut raw = Vec::new();
        {
            let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
                &mut raw,
                flate2::Compression::fast(),
            ));
            let mut h = tar::Header::new_gnu();
            let data = b"x";
            h.set_size(1);
            h.set_mode(0o644);
            if let Some(g) = h.as_gnu_mut() {
                g.name[..13].copy_from_slice(b"../escape.txt");
            }
            h.set_cksum();
            b.append(&h, &data[..]).unwrap_or_default();
            b.into_inner()
                .and_then(|g| g.finish())
                .map(|_| ())
                .unwrap_or_default();
        }
        let err = unpack(&raw, out.path(), "s3://b/k#v3")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some(), "refused");
        assert!(!out
            .path()
            .parent()
            .map(|p| p.join("escape.txt").exists())
            .unwrap_or(false));
    }
}
