//! Every fuzz target over its seeds (`fuzz/seeds/<target>/`, plus the checks files in
//! `tests/fixtures` and `examples` for `checks_file`) and over every input that once made it
//! fail (`fuzz/regressions/<target>/`): what fuzzing found stays fixed.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn every_target_keeps_its_properties_on_its_seeds_and_past_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut ran = 0;
    for (name, target) in atalaya_fuzzing::TARGETS {
        let mut inputs = files(&root.join("fuzz/seeds").join(name));
        inputs.extend(files(&root.join("fuzz/regressions").join(name)));
        if name == "checks_file" {
            inputs.extend(files(&root.join("tests/fixtures/configs")));
            inputs.extend(
                files(&root.join("examples"))
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "yaml")),
            );
        }
        assert!(!inputs.is_empty(), "no seeds for {name}");
        for input in inputs {
            let data = std::fs::read(&input).unwrap_or_default();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name} fails on {}", input.display());
            ran += 1;
        }
    }
    assert!(ran > 40, "{ran}");
}
