//! The checks file a function runs with, kept current: published versions (`atalaya
//! publish-checks`) are picked up within [`EVERY`], a version that does not load is refused and
//! the last good one keeps running, and the function says so (a log line with every problem and
//! the `ChecksFileRejected` metric, which an alarm watches).

use crate::bundle;
use crate::checks::Checks;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often the source is asked whether a new version was published.
pub const EVERY: Duration = Duration::from_secs(60);

/// Where published checks files come from (S3 in production).
#[allow(async_fn_in_trait)]
pub trait Source {
    /// Where it is, for messages (`s3://bucket/key`).
    fn name(&self) -> String;
    /// The newest version's id, or `None` if nothing was published.
    async fn latest(&self) -> Result<Option<String>, String>;
    /// That version's bundle.
    async fn fetch(&self, version: &str) -> Result<Vec<u8>, String>;
}

/// What a refresh found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Not asked yet (asked less than [`EVERY`] ago), or nothing new.
    Unchanged,
    /// A new version is in use.
    Updated { version: String },
    /// A new version does not load; the last good one keeps running.
    Rejected {
        version: String,
        problems: Vec<String>,
    },
    /// The source could not be asked or read; the current one keeps running.
    Unavailable { why: String },
}

pub struct LiveChecks {
    current: RwLock<Arc<Checks>>,
    version: RwLock<Option<String>>,
    /// The last version refused (not tried again until another is published).
    refused: RwLock<Option<String>>,
    asked_at: RwLock<Option<Instant>>,
    /// Since when the source could not be asked (reset by the next answer).
    unreadable_since: RwLock<Option<Instant>>,
    /// Where versions are unpacked (one folder per version).
    scratch: std::path::PathBuf,
}

impl LiveChecks {
    /// Starts from `initial` (the packaged file); `scratch` is a folder to unpack versions in.
    pub fn new(initial: Checks, scratch: std::path::PathBuf) -> LiveChecks {
        LiveChecks {
            current: RwLock::new(Arc::new(initial)),
            version: RwLock::new(None),
            refused: RwLock::new(None),
            asked_at: RwLock::new(None),
            unreadable_since: RwLock::new(None),
            scratch,
        }
    }

    /// The checks to run with now.
    pub fn current(&self) -> Arc<Checks> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The published version in use (`None`: the packaged file).
    pub fn version(&self) -> Option<String> {
        self.version
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How long the source has not answered, at `now` (none while it answers).
    pub fn unreadable_for(&self, now: Instant) -> Option<std::time::Duration> {
        self.unreadable_since
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .map(|since| now.duration_since(since))
    }

    /// Asks `source` for a new version if it was last asked [`EVERY`] ago (or never), and
    /// switches to it if it loads.
    pub async fn refresh(&self, source: &impl Source, now: Instant) -> Refresh {
        {
            let mut asked = self.asked_at.write().unwrap_or_else(|p| p.into_inner());
            if asked.is_some_and(|at| now.duration_since(at) < EVERY) {
                return Refresh::Unchanged;
            }
            *asked = Some(now);
        }
        let asked = source.latest().await;
        {
            let mut since = self
                .unreadable_since
                .write()
                .unwrap_or_else(|p| p.into_inner());
            match &asked {
                Ok(_) => *since = None,
                Err(_) => *since = Some(since.unwrap_or(now)),
            }
        }
        let latest = match asked {
            Ok(Some(v)) => v,
            Ok(None) => return Refresh::Unchanged,
            Err(why) => return Refresh::Unavailable { why },
        };
        let known = |slot: &RwLock<Option<String>>| {
            slot.read().unwrap_or_else(|p| p.into_inner()).as_deref() == Some(latest.as_str())
        };
        if known(&self.version) || known(&self.refused) {
            return Refresh::Unchanged;
        }
        let bytes = match source.fetch(&latest).await {
            Ok(b) => b,
            Err(why) => return Refresh::Unavailable { why },
        };
        let name = format!("{}#{latest}", source.name());
        let dir = self.scratch.join(format!(
            "v{:016x}",
            atalaya_core::schedule::stable_hash(latest.as_bytes())
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let loaded = std::fs::create_dir_all(&dir)
            .map_err(|e| {
                crate::checks::LoadError::Templates(vec![format!(
                    "cannot unpack into {}: {e}",
                    dir.display()
                )])
            })
            .and_then(|()| bundle::unpack(&bytes, &dir, &name));
        match loaded {
            Ok(checks) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(checks);
                *self.version.write().unwrap_or_else(|p| p.into_inner()) = Some(latest.clone());
                Refresh::Updated { version: latest }
            }
            Err(e) => {
                *self.refused.write().unwrap_or_else(|p| p.into_inner()) = Some(latest.clone());
                Refresh::Rejected {
                    version: latest,
                    problems: e.problems(),
                }
            }
        }
    }
}

/// Logs what a refresh found and returns the value of the `ChecksFileRejected` metric (1 when
/// a version was refused).
pub fn report(refresh: &Refresh, source: &str) -> u8 {
    match refresh {
        Refresh::Unchanged => 0,
        Refresh::Updated { version } => {
            tracing::info!(source, version, "a new checks file is in use");
            0
        }
        Refresh::Rejected { version, problems } => {
            tracing::error!(source, version, problems = %problems.join("\n"), "a published checks file was refused: the last good one keeps running");
            1
        }
        Refresh::Unavailable { why } => {
            tracing::warn!(
                source,
                why,
                "cannot ask for a new checks file: the current one keeps running"
            );
            0
        }
    }
}

impl Source for atalaya_aws::checks::S3Checks {
    fn name(&self) -> String {
        self.url()
    }
    async fn latest(&self) -> Result<Option<String>, String> {
        atalaya_aws::checks::S3Checks::latest(self).await
    }
    async fn fetch(&self, version: &str) -> Result<Vec<u8>, String> {
        atalaya_aws::checks::S3Checks::fetch(self, version, bundle::MAX_BUNDLE).await
    }
}

/// How long the published checks file may be unreadable before it counts as refused.
pub const UNREADABLE_ALARM: std::time::Duration = std::time::Duration::from_secs(600);

/// A Lambda function's checks file: the one packaged with it (`ATALAYA_CHECKS`, default
/// `checks.yaml` beside the bootstrap, its templates beside it) and, when `ATALAYA_CHECKS_BUCKET`
/// is set, the published one (`atalaya publish-checks`), picked up within a minute.
pub struct FunctionChecks {
    live: LiveChecks,
    source: Option<atalaya_aws::checks::S3Checks>,
    /// Held while the source is asked: an invocation that comes while init's warm-up asks
    /// waits for that answer instead of running the packaged file.
    asking: tokio::sync::Mutex<()>,
}

impl FunctionChecks {
    /// The packaged file; a problem in it stops the function at init, with every problem.
    pub fn packaged() -> Result<Checks, String> {
        let path = atalaya_aws::env_or("ATALAYA_CHECKS", "checks.yaml");
        Checks::load(std::path::Path::new(&path), atalaya_core::Target::Lambda)
            .map_err(|e| format!("{path}: {e}"))
    }

    ///
    /// The published file is read with [`atalaya_aws::init::quick`]: an unreachable bucket costs
    /// one deadline (the packaged or last file runs meanwhile), not the SDK's retry schedule.
    pub fn new(packaged: Checks, sdk: &aws_config::SdkConfig) -> FunctionChecks {
        FunctionChecks {
            live: LiveChecks::new(packaged, std::env::temp_dir().join("atalaya-checks")),
            source: atalaya_aws::checks::S3Checks::from_env(&atalaya_aws::init::quick(sdk)),
            asking: tokio::sync::Mutex::new(()),
        }
    }

    /// The checks in use, without asking for a new version.
    pub fn current(&self) -> Arc<Checks> {
        self.live.current()
    }

    /// The published version in use (`None`: the packaged file).
    pub fn version(&self) -> Option<String> {
        self.live.version()
    }

    /// The checks for this invocation, after asking for a newly published version (at most once
    /// a minute); with 1 when a published version was refused (the `ChecksFileRejected` metric).
    ///
    /// A published file that cannot be read for [`UNREADABLE_ALARM`] counts as refused too: the
    /// functions run an old file, and nobody would know (the `checks-file-rejected` alarms).
    pub async fn now(&self) -> (Arc<Checks>, u8) {
        let rejected = match &self.source {
            Some(s) => {
                let _asking = self.asking.lock().await;
                let now = Instant::now();
                let refused = report(&self.live.refresh(s, now).await, &s.url());
                let unreadable = self
                    .live
                    .unreadable_for(now)
                    .filter(|d| *d >= UNREADABLE_ALARM);
                if let Some(d) = unreadable {
                    tracing::error!(source = %s.url(), minutes = d.as_secs() / 60, "the published checks file has not been readable for minutes: an old one keeps running");
                }
                refused.max(u8::from(unreadable.is_some()))
            }
            None => 0,
        };
        (self.live.current(), rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Versions published in memory.
    #[derive(Default)]
    struct Memory {
        versions: Mutex<Vec<(String, Vec<u8>)>>,
        down: Mutex<bool>,
    }

    impl Source for Memory {
        fn name(&self) -> String {
            "memory://checks".into()
        }
        async fn latest(&self) -> Result<Option<String>, String> {
            if *self.down.lock().unwrap_or_else(|p| p.into_inner()) {
                return Err("unreachable".into());
            }
            Ok(self
                .versions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .last()
                .map(|v| v.0.clone()))
        }
        async fn fetch(&self, version: &str) -> Result<Vec<u8>, String> {
            self.versions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .find(|v| v.0 == version)
                .map(|v| v.1.clone())
                .ok_or_else(|| "no such version".into())
        }
    }

    fn packed(checks: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("checks.yaml");
        std::fs::write(&path, checks).unwrap_or_else(|e| panic!("{e}"));
        bundle::pack(&path)
            .map(|(_, b)| b)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn file(n: usize) -> String {
        let mut s = "settings:\n  regions: [eu-west-1]\ncustomers:\n  - { id: a, name: A }\nservices:\n  - { id: s, customer: a, name: S }\nchecks:\n".to_string();
        for i in 0..n {
            s.push_str(&format!(
                "  - {{ id: c{i}, service: s, http: {{ url: 'https://s.example/{i}' }} }}\n"
            ));
        }
        s
    }

    #[tokio::test]
    async fn new_versions_are_taken_bad_ones_refused_and_the_last_good_one_keeps_running() {
        let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let initial = Checks::from_text(
            &file(1),
            "checks.yaml",
            std::path::Path::new("."),
            atalaya_core::Target::Lambda,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let live = LiveChecks::new(initial, scratch.path().to_path_buf());
        let source = Memory::default();
        let t0 = Instant::now();
        assert_eq!(
            live.refresh(&source, t0).await,
            Refresh::Unchanged,
            "nothing published"
        );
        source
            .versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(("v1".into(), packed(&file(2))));
        // Asked a moment ago: not asked again before EVERY.
        assert_eq!(
            live.refresh(&source, t0 + Duration::from_secs(5)).await,
            Refresh::Unchanged
        );
        let t1 = t0 + EVERY;
        assert_eq!(
            live.refresh(&source, t1).await,
            Refresh::Updated {
                version: "v1".into()
            }
        );
        assert_eq!(live.current().config.checks.len(), 2);
        assert_eq!(live.version().as_deref(), Some("v1"));
        // A broken version slips through: refused, v1 keeps running, refused once.
        let mut broken = packed(&file(3));
        broken.truncate(broken.len() / 2);
        source
            .versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(("v2".into(), broken));
        let t2 = t1 + EVERY;
        match live.refresh(&source, t2).await {
            Refresh::Rejected { version, problems } => {
                assert_eq!(version, "v2");
                assert!(
                    problems.iter().any(|p| p.contains("memory://checks#v2")),
                    "{problems:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(live.current().config.checks.len(), 2);
        assert_eq!(live.refresh(&source, t2 + EVERY).await, Refresh::Unchanged);
        // The source unreachable: the current one keeps running.
        *source.down.lock().unwrap_or_else(|p| p.into_inner()) = true;
        assert!(matches!(
            live.refresh(&source, t2 + EVERY * 2).await,
            Refresh::Unavailable { .. }
        ));
        assert_eq!(live.version().as_deref(), Some("v1"));
        // Unreadable since that ask, and still at the next; an answer ends it.
        assert_eq!(
            live.unreadable_for(t2 + EVERY * 2),
            Some(std::time::Duration::ZERO)
        );
        assert!(matches!(
            live.refresh(&source, t2 + EVERY * 3).await,
            Refresh::Unavailable { .. }
        ));
        assert_eq!(live.unreadable_for(t2 + EVERY * 13), Some(EVERY * 11));
        // A fixed version goes in.
        *source.down.lock().unwrap_or_else(|p| p.into_inner()) = false;
        source
            .versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(("v3".into(), packed(&file(4))));
        assert_eq!(
            live.refresh(&source, t2 + EVERY * 13).await,
            Refresh::Updated {
                version: "v3".into()
            }
        );
        assert_eq!(live.unreadable_for(t2 + EVERY * 13), None);
        assert_eq!(live.current().config.checks.len(), 4);
        assert_eq!(
            report(
                &Refresh::Rejected {
                    version: "x".into(),
                    problems: vec![]
                },
                "s3://b/k"
            ),
            1
        );
    }
}
