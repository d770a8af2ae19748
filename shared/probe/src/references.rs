//! The values behind a check's references. `${env:NAME}` is read from the environment as the
//! check runs; `${ssm:…}` and `${secret:…}` are read by the shell from AWS (the probe function at
//! init and every [`REFRESH`] after, `atalaya probe`/`run` at start) and handed here, so a
//! probe never waits on AWS and a rotated secret is picked up within minutes.
//!
//! Values are never logged or shown: a check whose reference has no value fails as a check
//! error naming the reference, and every value a check uses is scrubbed from its result.

use atalaya_core::{Config, Reference, Source};
use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long values read from AWS are used before they are read again.
pub const REFRESH: Duration = Duration::from_secs(15 * 60);

/// After a read that did not finish or missed a value: when to try again.
pub const RETRY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct References {
    values: RwLock<HashMap<Reference, String>>,
    /// When the values are to be read next (`None`: at the next chance).
    due: RwLock<Option<Instant>>,
    /// Whether a read has ended, well or not.
    tried: std::sync::atomic::AtomicBool,
}

impl References {
    /// The value behind `r`, if there is one.
    pub fn value(&self, r: &Reference) -> Option<String> {
        match r.source {
            Source::Env => std::env::var(&r.name).ok(),
            Source::Var => None,
            Source::Ssm | Source::Secret => self
                .values
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(r)
                .cloned(),
        }
    }

    /// Keeps the values just read. A reference that could not be read this time keeps the value
    /// it had (a secret does not vanish because AWS did not answer once).
    ///
    /// `complete`: every reference was read; the next read is [`REFRESH`] from `now`. Otherwise
    /// (one could not be read, or the read ran out of time) it is [`RETRY`] from `now`.
    pub fn update(&self, read: HashMap<Reference, String>, complete: bool, now: Instant) {
        self.values
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(read);
        let after = if complete { REFRESH } else { RETRY };
        *self.due.write().unwrap_or_else(|p| p.into_inner()) = Some(now + after);
        self.tried.store(true, std::sync::atomic::Ordering::Release);
    }

    /// The values are to be read again at the next chance (the checks file changed).
    pub fn mark_stale(&self) {
        *self.due.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether the values should be read again (never read, read [`REFRESH`] ago, or a read
    /// that missed some [`RETRY`] ago).
    pub fn stale(&self, now: Instant) -> bool {
        self.due
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|due| now >= due)
    }

    /// Whether a read has ended yet (the first invocation waits for the first read, the
    /// others do not wait for a refresh).
    pub fn tried(&self) -> bool {
        self.tried.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// The `${ssm:…}` and `${secret:…}` references of a checks file: what the shell reads from AWS.
pub fn remote_references(config: &Config) -> BTreeSet<Reference> {
    config
        .checks
        .iter()
        .flat_map(|c| c.kind.templates())
        .flat_map(|(_, t)| t.references().cloned().collect::<Vec<_>>())
        .filter(|r| r.source.is_remote())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(source: Source, name: &str) -> Reference {
        Reference {
            source,
            name: name.into(),
        }
    }

    #[test]
    fn a_value_read_once_stays_when_a_later_read_misses_it() {
        let refs = References::default();
        let t0 = Instant::now();
        assert!(refs.stale(t0));
        let token = r(Source::Ssm, "/atalaya/token");
        assert!(!refs.tried());
        refs.update(HashMap::from([(token.clone(), "v1".into())]), true, t0);
        assert!(refs.tried());
        assert!(!refs.stale(t0 + Duration::from_secs(60)));
        assert!(refs.stale(t0 + REFRESH));
        // A read that missed it: the value stays, and the next read is a minute away.
        refs.update(HashMap::new(), false, t0 + REFRESH);
        assert_eq!(refs.value(&token).as_deref(), Some("v1"));
        assert!(!refs.stale(t0 + REFRESH + RETRY / 2));
        assert!(refs.stale(t0 + REFRESH + RETRY));
        refs.update(
            HashMap::from([(token.clone(), "v2".into())]),
            true,
            t0 + REFRESH,
        );
        assert_eq!(refs.value(&token).as_deref(), Some("v2"));
        assert_eq!(refs.value(&r(Source::Secret, "atalaya/none")), None);
    }
}
