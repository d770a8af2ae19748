//! The round: what every evaluator does with a batch of results or a tick, written once and
//! called by the alert function (a stream batch or its one-minute tick) and the local runner
//! (each second) alike.
//!
//! 1. [`Lease::take`]: one evaluator at a time (the stream's shards and the tick run at once on
//!    AWS; SQLite always grants it).
//! 2. [`crate::evaluate_batch`]: the monitor's absence (read while the lease is taken), drift,
//!    every partition, the services' hours.
//! 3. [`Round::hand_off`], as the lease is given back: what was committed goes to the channels,
//!    in the round (the alert function: its invocation ends with it) or beside it (the runner's
//!    delivery task: a round never waits on a channel).
//! 4. [`Round::publish`]: the status pages whose services show something new (or whose hours
//!    were written) are rebuilt and published; all of them the first time a process publishes.
//!
//! The hourly rollup job (each check's time per region, latency) is not part of it: it runs on
//! a schedule of its own in both shells (`crate::rollup_job`).

use crate::evaluation::{away, evaluate_away, Batch, Evaluated};
use crate::status_site::{publish_scoped, site, Published, Site, SiteError};
use crate::transition::TransitionError;
use crate::{deliver, Checks, Delivered};
use atalaya_core::ProbeResult;
use atalaya_notify::Channel;
use atalaya_store::{Rollups, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

/// Where a round's messages go.
pub enum Handoff<'a> {
    /// Delivered in the round, to these channels.
    Now(&'a [&'a dyn Channel]),
    /// Delivered beside the rounds by whoever this wakes.
    Beside(&'a (dyn Fn() + Send + Sync)),
}

/// One evaluator's rounds: its store, its checks, where it publishes the status site (none:
/// no site) and where its messages go.
pub struct Round<'a, S, W> {
    pub store: &'a S,
    pub checks: &'a Checks,
    pub site: Option<&'a W>,
    pub handoff: Handoff<'a>,
    /// This process is the store's only evaluator (the local runner): see [`Batch::sole`].
    pub sole: bool,
}

/// What a round did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub evaluated: Evaluated,
    /// Delivered in the round ([`Handoff::Now`]); an outbox that could not be read.
    pub delivered: Option<Result<Delivered, String>>,
    /// The status pages rebuilt and published, if any were due.
    pub site: Option<Result<Published, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    /// Another evaluator held the lease all the while: the batch is to be tried again.
    #[error("another evaluation held the lease for {0:?}; the batch will be tried again")]
    Busy(Duration),
    #[error("cannot take the evaluation lease: {0}")]
    Lease(StoreError),
    #[error(transparent)]
    Evaluation(#[from] TransitionError<Infallible>),
}

/// The longest a round delivers in place ([`Handoff::Now`], the alert function) before it
/// leaves the rest to the next invocation: judging the next results never waits longer on a
/// channel that stalls.
pub const DELIVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);

impl RoundError {
    /// Whether trying the same batch again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            RoundError::Busy(_) => true,
            RoundError::Lease(e) => e.retryable(),
            RoundError::Evaluation(e) => e.retryable(),
        }
    }
}

impl<S: Store + Rollups, W: Site> Round<'_, S, W> {
    /// One round: `results` (none on the alert function's tick) evaluated at `now`; `tick`: a
    /// tick of the evaluator's own clock (it records the evaluator's pulse).
    pub async fn run(
        &self,
        results: &[ProbeResult],
        now: DateTime<Utc>,
        tick: bool,
    ) -> Result<Outcome, RoundError> {
        let batch = Batch {
            results,
            now,
            tick,
            sole: self.sole,
        };
        // The pulse is read (and on a tick written) while the lease is taken, and the lease
        // given back while the messages go out: two round trips fewer per round.
        let (lease, away) = tokio::join!(
            Lease::take(self.store),
            away(self.store, self.checks, &batch)
        );
        let lease = lease?;
        let evaluated = match evaluate_away(self.store, self.checks, batch, away).await {
            Ok(e) => e,
            Err(e) => {
                lease.release(self.store).await;
                return Err(e.into());
            }
        };
        let ((), delivered) = tokio::join!(lease.release(self.store), self.hand_off());
        let site = self.publish(&evaluated, now).await;
        Ok(Outcome {
            evaluated,
            delivered,
            site,
        })
    }

    async fn hand_off(&self) -> Option<Result<Delivered, String>> {
        match &self.handoff {
            // Within a budget: a vendor that does not answer must not hold the invocation (and
            // the stream shard's next batch of results behind it). What it had not sent stays
            // pending, claimed for that channel until the lease ends, and goes out later.
            Handoff::Now(channels) => Some(
                match tokio::time::timeout(DELIVERY_BUDGET, deliver(self.store, channels)).await {
                    Ok(done) => done.map_err(|e| e.to_string()),
                    Err(_) => Err(format!(
                        "delivery took over {} s and was left to the next invocation",
                        DELIVERY_BUDGET.as_secs()
                    )),
                },
            ),
            Handoff::Beside(wake) => {
                wake();
                None
            }
        }
    }

    /// Rebuilds the pages whose services changed since this process last published (all of
    /// them the first time), and remembers what they show once published.
    async fn publish(
        &self,
        e: &Evaluated,
        now: DateTime<Utc>,
    ) -> Option<Result<Published, String>> {
        let target = self.site?;
        let config = &self.checks.config;
        let changed: BTreeSet<String> = {
            let published = self
                .checks
                .published
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            e.pages
                .iter()
                .filter(|(s, sig)| published.get(*s) != Some(sig))
                .map(|(s, _)| s.clone())
                .chain(e.hours_of.iter().cloned())
                .collect()
        };
        if changed.is_empty() {
            return self.keep_live(target, e).await;
        }
        let first = self
            .checks
            .published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        let only: Option<BTreeSet<String>> = (!first).then(|| {
            changed
                .iter()
                .filter_map(|s| config.service(s).map(|s| s.customer.clone()))
                .collect()
        });
        let published = match site(self.store, config, now, only.as_ref()).await {
            Ok(objects) => publish_scoped(target, &objects, |p| {
                atalaya_status::in_scope(config, only.as_ref(), p)
            })
            .await
            .map_err(|e| e.to_string()),
            Err(SiteError::Store(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if published.is_ok() {
            let mut memo = self
                .checks
                .published
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            memo.extend(e.pages.clone());
            memo.insert(LIVE_MEMO.into(), live_key(e));
        }
        Some(published)
    }

    /// With no page to rebuild, keeps `live.json` (the monitor's last report, to the minute)
    /// current: one small object at most once a minute, so a page read during a long, quiet
    /// incident still shows the monitor is alive.
    async fn keep_live(&self, target: &W, e: &Evaluated) -> Option<Result<Published, String>> {
        let key = live_key(e);
        let memo = self
            .checks
            .published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(LIVE_MEMO)
            .copied();
        if e.seen_at.is_none() || memo == Some(key) {
            return None;
        }
        let object = atalaya_status::live(&self.checks.config, e.seen_at);
        // Bounded: a stalled site never holds the invocation (the next minute tries again).
        let put = match tokio::time::timeout(LIVE_BUDGET, target.put(&object)).await {
            Ok(done) => done.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "live.json not written within {} s",
                LIVE_BUDGET.as_secs()
            )),
        };
        if put.is_ok() {
            self.checks
                .published
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(LIVE_MEMO.into(), key);
        }
        Some(put.map(|()| Published {
            written: vec![object.path],
            ..Published::default()
        }))
    }
}

/// Where the round remembers the `live.json` it last put, among the services' fingerprints (no
/// service id holds `@`).
const LIVE_MEMO: &str = "@live";

/// How long a round waits for `live.json` to be written.
const LIVE_BUDGET: Duration = Duration::from_secs(5);

/// `live.json`'s content as a number: the minute of the last report.
fn live_key(e: &Evaluated) -> u64 {
    e.seen_at.map_or(0, |t| {
        u64::try_from(t.timestamp().div_euclid(60)).unwrap_or(0)
    })
}

/// How long a round waits for the evaluation lease before handing its batch back.
const LEASE_WAIT: Duration = Duration::from_secs(20);
/// How long a lease lasts if its holder dies (the alert function's timeout).
const LEASE_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The evaluation lease, held for one round.
struct Lease {
    owner: String,
}

impl Lease {
    /// Takes it, waiting up to [`LEASE_WAIT`] for another evaluation to finish.
    async fn take<S: Store>(store: &S) -> Result<Lease, RoundError> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let owner = format!(
            "{}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            // Real time, not the round's `now`: the lease is about evaluators running now.
            let wall = Utc::now();
            if store
                .lease(&owner, wall, wall + LEASE_FOR)
                .await
                .map_err(RoundError::Lease)?
            {
                return Ok(Lease { owner });
            }
            if started.elapsed() >= LEASE_WAIT {
                return Err(RoundError::Busy(LEASE_WAIT));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    async fn release<S: Store>(self, store: &S) {
        if let Err(e) = store.release_lease(&self.owner).await {
            tracing::warn!(error = %e, "the evaluation lease was not given back; it expires on its own");
        }
    }
}
