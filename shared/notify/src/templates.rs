//! Per-customer template folders (`customers[].templates`), read from disk by the shell.

use atalaya_core::{Config, Renderer};
use std::path::Path;

/// A renderer with every customer's template overrides; `base` is the checks file's folder.
/// Every problem is reported: a missing folder, an unreadable file, a template that does not parse.
pub fn renderer(config: &Config, base: &Path) -> Result<Renderer, Vec<String>> {
    let mut renderer = Renderer::new();
    let mut problems = Vec::new();
    for customer in &config.customers {
        let Some(dir) = &customer.templates else {
            continue;
        };
        let dir = base.join(dir);
        if !dir.is_dir() {
            problems.push(format!(
                "customer {}: templates: {} is not a folder",
                customer.id,
                dir.display()
            ));
            continue;
        }
        for kind in Renderer::kinds() {
            for part in ["subject", "body"] {
                let path = dir.join(format!("{kind}.{part}"));
                if !path.exists() {
                    continue;
                }
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        if let Err(e) =
                            renderer.add_override(&format!("{}/{kind}.{part}", customer.id), &text)
                        {
                            problems.push(format!("{}: {e}", path.display()));
                        }
                    }
                    Err(e) => problems.push(format!("{}: {e}", path.display())),
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(renderer)
    } else {
        Err(problems)
    }
}
