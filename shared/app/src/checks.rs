//! A checks file with its customers' template folders (`customers[].templates`, beside the
//! file): the one place that reads both.

use atalaya_core::source::{read_text, ReadError, MAX_CHECKS_FILE, MAX_TEMPLATE_FILE};
use atalaya_core::{Config, ConfigErrors, Renderer, Target};
use std::fmt;
use std::path::{Path, PathBuf};

/// What a shell needs from the checks file: the validated configuration and the renderer with
/// every customer's templates.
pub struct Checks {
    pub config: Config,
    pub renderer: Renderer,
    /// The folder the file and its customers' template folders were read from (a published
    /// file: where its bundle was unpacked).
    pub base: PathBuf,
    /// The file split into partitions of the engine's state, made on first use.
    plan: std::sync::OnceLock<(u32, std::sync::Arc<atalaya_core::partition::Plan>)>,
    /// When this process last evaluated each partition (the evaluation's time): a tick leaves
    /// out a partition a batch evaluated moments ago (`crate::evaluation`).
    pub(crate) evaluated:
        std::sync::Mutex<std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>>,
    /// Completed hours this process wrote to the rollups, by partition, not yet let go of: the
    /// partition's next evaluation lets go of them in its own commit (`crate::hours`).
    pub(crate) flushed: std::sync::Mutex<
        std::collections::HashMap<
            String,
            std::collections::BTreeMap<String, atalaya_core::rollup::Hours>,
        >,
    >,
    /// The last hour this process judged for latency drift (`crate::drift`).
    pub(crate) drift_hour: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// This process evaluated with these checks already (`crate::evaluation::away`).
    started: std::sync::atomic::AtomicBool,
    /// What each service's status page showed when the site was last published
    /// (`crate::round`): a page is rebuilt when it changes.
    pub(crate) published: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

/// Why a checks file cannot be used; every problem is listed.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be opened or read (an I/O error, not a problem in the file).
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    Invalid(ConfigErrors),
    Templates(Vec<String>),
}

impl LoadError {
    /// Every problem, one per line.
    pub fn problems(&self) -> Vec<String> {
        match self {
            LoadError::Read { path, error } => {
                vec![format!(
                    "{}: the checks file: cannot read it: {error}",
                    path.display()
                )]
            }
            LoadError::Invalid(errors) => errors.0.iter().map(ToString::to_string).collect(),
            LoadError::Templates(problems) => problems.clone(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems().join("\n"))
    }
}

impl std::error::Error for LoadError {}

impl Checks {
    /// Reads and validates `path` for `target`, with the template folders beside it.
    pub fn load(path: &Path, target: Target) -> Result<Checks, LoadError> {
        let text = read(path)?;
        Checks::from_text(
            &text,
            &path.display().to_string(),
            path.parent().unwrap_or(Path::new(".")),
            target,
        )
    }

    /// Validates checks-file text named `name`, with the template folders in `base`.
    pub fn from_text(
        text: &str,
        name: &str,
        base: &Path,
        target: Target,
    ) -> Result<Checks, LoadError> {
        let mut config = atalaya_core::load_str(text, name, target).map_err(LoadError::Invalid)?;
        read_pem_files(&mut config, name, base).map_err(LoadError::Invalid)?;
        let renderer = renderer(&config, base).map_err(LoadError::Templates)?;
        Ok(Checks {
            base: base.to_path_buf(),
            ..Checks::new(config, renderer)
        })
    }

    pub fn new(config: Config, renderer: Renderer) -> Checks {
        Checks {
            config,
            renderer,
            base: PathBuf::from("."),
            plan: Default::default(),
            evaluated: Default::default(),
            flushed: Default::default(),
            drift_hour: Default::default(),
            started: Default::default(),
            published: Default::default(),
        }
    }

    /// The same file as the local runner sees it (one region, `local`).
    pub fn localized(self) -> Checks {
        Checks {
            base: self.base,
            ..Checks::new(self.config.localized(), self.renderer)
        }
    }

    /// Whether this is the first evaluation of this process with these checks (asked once per
    /// evaluation).
    pub(crate) fn first_round(&self) -> bool {
        !self
            .started
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    }

    /// The file split into `n` partitions (made once; a store always asks for the same `n`).
    pub fn plan(&self, n: u32) -> std::sync::Arc<atalaya_core::partition::Plan> {
        let (made_for, plan) = self.plan.get_or_init(|| {
            (
                n,
                std::sync::Arc::new(atalaya_core::partition::Plan::of(&self.config, n)),
            )
        });
        if *made_for == n {
            plan.clone()
        } else {
            std::sync::Arc::new(atalaya_core::partition::Plan::of(&self.config, n))
        }
    }
}

/// The most a PEM file may hold (a CA bundle of a few hundred certificates).
const MAX_PEM_FILE: u64 = 1 << 20;

/// Reads the PEM files the checks' TLS options name (`ca`, `client_cert`, `client_key`, beside
/// the checks file), each checked to hold what its field needs; a problem names the file, the
/// place of the field, the check and the field. A key's content is never shown.
pub fn read_pem_files(config: &mut Config, name: &str, base: &Path) -> Result<(), ConfigErrors> {
    use atalaya_core::kinds::tls_client::Pem;
    let mut problems = Vec::new();
    for check in &mut config.checks {
        let id = check.id.clone();
        for (prefix, client) in check.kind.tls_clients_mut() {
            for (field, pem) in client.pems_mut() {
                let Pem::File { path, pos, text } = pem else {
                    continue;
                };
                let (label, wanted): (&str, &[&str]) = match field {
                    "client_key" => ("private key", &["PRIVATE KEY-----"]),
                    _ => ("certificate", &["-----BEGIN CERTIFICATE-----"]),
                };
                let full = base.join(&*path);
                let problem = match inside(base, &full).and_then(|_| {
                    read_text(&full, MAX_PEM_FILE).map_err(|e| format!("{}: {e}", full.display()))
                }) {
                    Ok(t) if wanted.iter().all(|w| t.contains(w)) && t.contains("-----BEGIN") => {
                        *text = Some(t);
                        None
                    }
                    Ok(_) => Some(format!("{} holds no {label} in PEM form", full.display())),
                    Err(e) => Some(e),
                };
                if let Some(message) = problem {
                    problems.push(atalaya_core::ConfigError {
                        file: name.to_string(),
                        pos: *pos,
                        subject: format!("check {id}"),
                        field: format!("{prefix}{field}"),
                        message,
                    });
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(problems))
    }
}

/// `file` is in `base` or under it once links are followed (validation already refused `..`
/// and absolute paths; a link in the folder must not lead out of it either).
fn inside(base: &Path, file: &Path) -> Result<(), String> {
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let (Ok(base), Ok(real)) = (std::fs::canonicalize(base), std::fs::canonicalize(file)) else {
        return Ok(()); // read_text says what is missing
    };
    if real.starts_with(&base) {
        Ok(())
    } else {
        Err(format!(
            "{} leads to {}, outside the checks file's folder: a PEM file must be in it or under it",
            file.display(),
            real.display()
        ))
    }
}

/// Reads a checks file as text (at most [`MAX_CHECKS_FILE`]): an I/O error is `Read`; a file
/// too large or not UTF-8 is a problem with the file, with its place.
pub fn read(path: &Path) -> Result<String, LoadError> {
    read_text(path, MAX_CHECKS_FILE).map_err(|e| match e {
        ReadError::Io(error) => LoadError::Read {
            path: path.to_path_buf(),
            error,
        },
        other => LoadError::Invalid(ConfigErrors(vec![atalaya_core::unreadable(
            &path.display().to_string(),
            &other,
        )])),
    })
}

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
                match read_text(&path, MAX_TEMPLATE_FILE) {
                    Ok(text) => {
                        if let Err(e) =
                            renderer.add_override(&format!("{}/{kind}.{part}", customer.id), &text)
                        {
                            problems.push(format!("{}: {e}", path.display()));
                        }
                    }
                    Err(e) => problems.push(match e.pos() {
                        Some(pos) => format!("{}:{pos}: {e}", path.display()),
                        None => format!("{}: {e}", path.display()),
                    }),
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
