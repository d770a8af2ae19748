//! The runner's loop: probes started as they fall due, results gathered into rounds, each
//! round run through the application's round (`atalaya_app::Round`, as the alert function runs
//! it), a line per round, until Ctrl-C (or, with `--once`, every check once).

use super::schedule::{Landed, Schedule};
use super::setup::Setup;
use super::RunOptions;
use atalaya_app::status_site::Folder;
use atalaya_app::{Handoff, Round};
use atalaya_core::evaluate::{State, Verdict};
use atalaya_core::{Config, ProbeResult};
use atalaya_store::{SqliteStore, Store};
use chrono::Utc;
use std::time::Duration;
use tokio::time::Instant;

/// A round's results wait this long at most for the rest of their round.
const GATHER: Duration = Duration::from_millis(900);

pub struct Runner<'a> {
    opts: &'a RunOptions,
    setup: Setup,
    schedule: Schedule,
    /// The results gathered for the next round.
    results: Vec<ProbeResult>,
    /// Since when results wait.
    pending_since: Option<Instant>,
}

/// What woke the loop.
enum Woken {
    Stop,
    Tick,
    Results,
}

impl<'a> Runner<'a> {
    pub fn new(opts: &'a RunOptions, setup: Setup) -> Runner<'a> {
        let probes = setup.checks.config.checks.clone().into();
        Runner {
            schedule: Schedule::new(probes, opts.concurrency, opts.once),
            opts,
            setup,
            results: Vec::new(),
            pending_since: None,
        }
    }

    /// Runs until Ctrl-C (or, with `--once`, until every check ran once and what it said went
    /// out).
    pub async fn go(mut self) -> anyhow::Result<()> {
        let db = &self.opts.db;
        // Deliveries, and the hourly rollups and retention, beside the rounds.
        let delivery =
            crate::delivery::Delivery::start(SqliteStore::open(db)?, self.setup.channels.clone());
        let housekeeping =
            crate::housekeeping::start(SqliteStore::open(db)?, self.setup.checks.clone());
        let waker = delivery.waker();
        let wake = move || waker.notify_one();
        let site = self.opts.status_page.clone().map(|root| Folder { root });
        let checks = self.setup.checks.clone();
        let store = SqliteStore::open(db)?;
        let round = Round {
            store: &store,
            checks: &checks,
            site: site.as_ref(),
            handoff: Handoff::Beside(&wake),
            sole: true,
        };
        let mut remote = crate::references::Remote::of(&checks.config);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Landed>();
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = Box::pin(super::shutdown());
        loop {
            // Secret references are read again when they are older than REFRESH.
            remote.refresh(&self.setup.engine).await;
            let judge = self.schedule.dispatch(&self.setup.engine, &tx);
            self.judge_heartbeats(&judge).await;
            let woken = tokio::select! {
                _ = &mut stop => Woken::Stop,
                _ = ticker.tick() => Woken::Tick,
                Some(pinged) = self.setup.pings.recv() => {
                    self.results.push(pinged);
                    Woken::Results
                }
                Some(first) = rx.recv() => {
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    self.schedule.landed(batch, &mut self.results);
                    Woken::Results
                }
            };
            if self.round_due(&woken) {
                self.round(&round, &store).await?;
            }
            if matches!(woken, Woken::Stop) {
                delivery.stop_soon().await;
                housekeeping.abort();
                eprintln!(
                    "atalaya: stopped; state and messages are saved in {}",
                    db.display()
                );
                return Ok(());
            }
            if self.schedule.finished() {
                // Everything this run recorded goes out before it ends, unless Ctrl-C.
                delivery.stop(super::shutdown()).await;
                housekeeping.abort();
                return Ok(());
            }
        }
    }

    /// The results of a round are evaluated together: once the probes started together are
    /// all back, or at the next tick (at most a second) when rounds overlap; with `--once`
    /// always the whole round (every probe is bounded by its timeout). Evaluating a round
    /// piecemeal would let the order probes finish in decide which service's incident opens.
    fn round_due(&mut self, woken: &Woken) -> bool {
        if self.results.is_empty() {
            self.pending_since = None;
        } else {
            self.pending_since.get_or_insert_with(Instant::now);
        }
        let gathered = !self.results.is_empty() && self.schedule.idle();
        let waited = !self.opts.once && self.pending_since.is_some_and(|t| t.elapsed() >= GATHER);
        match woken {
            Woken::Stop => true,
            Woken::Tick => gathered || self.results.is_empty() || waited,
            Woken::Results => gathered,
        }
    }

    async fn judge_heartbeats(&mut self, due: &[atalaya_core::Check]) {
        if due.is_empty() {
            return;
        }
        let s = &self.setup;
        match atalaya_app::heartbeat::judge_all(&s.store, due, &s.tokens, Utc::now(), s.endpoint)
            .await
        {
            Ok(judged) => self.results.extend(judged),
            Err(e) => eprintln!("warning: heartbeats not judged: {e} (tried again next round)"),
        }
    }

    /// Stores the results and runs the round on them; a line says how the checks stand.
    async fn round(
        &mut self,
        round: &Round<'_, SqliteStore, Folder>,
        store: &SqliteStore,
    ) -> anyhow::Result<()> {
        store
            .put_results(
                &self.results,
                std::time::Instant::now() + Duration::from_secs(30),
            )
            .await?;
        let outcome = round.run(&self.results, Utc::now(), true).await?;
        // The site is what customers look at: a failure is said, and the runner goes on
        // watching; the pages are tried again next round.
        if let Some(Err(e)) = outcome.site {
            eprintln!("warning: status site: {e} (tried again next round)");
        }
        if !self.results.is_empty() && (self.schedule.idle() || !self.opts.once) {
            let state = store.load_state().await?.state;
            println!(
                "{}",
                round_line(&state, &self.setup.checks.config, Utc::now())
            );
        }
        self.results.clear();
        Ok(())
    }
}

/// One line per round: `12:00:04  10 checks: 8 up, 1 degraded, 1 down, 0 unknown · 1 open
/// incident`. A check failing where it has not yet failed `retries` times is counted apart
/// (`1 failing, not yet confirmed`), not as degraded: it may be an outage on its way.
pub fn round_line(state: &State, config: &Config, at: chrono::DateTime<Utc>) -> String {
    let mut counts = [0usize; 5];
    for c in &config.checks {
        let s = state.checks.get(&c.id);
        let i = match s.map_or(Verdict::Unknown, |s| s.verdict) {
            Verdict::Up => 0,
            Verdict::Degraded
                if s.is_some_and(|s| {
                    s.regions
                        .values()
                        .any(|r| r.outcome == atalaya_core::Outcome::Down && !r.hard_down)
                }) =>
            {
                2
            }
            Verdict::Degraded => 1,
            Verdict::Down => 3,
            Verdict::Unknown => 4,
        };
        counts[i] += 1;
    }
    let failing = if counts[2] > 0 {
        format!(" {} failing, not yet confirmed,", counts[2])
    } else {
        String::new()
    };
    let open = state.incidents.values().filter(|i| i.is_open()).count();
    format!(
        "{}  {}: {} up, {} degraded,{failing} {} down, {} unknown · {}",
        at.format("%H:%M:%S"),
        crate::plural(config.checks.len(), "check", "checks"),
        counts[0],
        counts[1],
        counts[3],
        counts[4],
        crate::plural(open, "open incident", "open incidents")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_failing_before_its_retries_is_counted_apart_from_degraded() {
        let config = atalaya_core::load_str(
            "settings:\n  defaults: { interval: 1s, timeout: 500ms, retries: 3 }\ncustomers:\n  - { id: acme, name: ACME }\nservices:\n  - { id: shop, customer: acme, name: Shop }\nchecks:\n  - { id: a, service: shop, tcp: { host: example.com, port: 1 } }\n  - { id: b, service: shop, tcp: { host: example.com, port: 2 } }\n",
            "t.yaml",
            atalaya_core::Target::Local,
        )
        .unwrap();
        let at: chrono::DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let result = |check: &str, outcome| atalaya_core::ProbeResult {
            check: check.into(),
            region: atalaya_core::LOCAL_REGION.into(),
            at,
            outcome,
            reason: atalaya_core::Reason::Refused,
            detail: "connection refused".into(),
            latency_ms: 1.0,
            phases: Default::default(),
            http_status: None,
            cert_days_left: None,
        };
        let (state, _) = atalaya_core::evaluate::evaluate(
            &State::default(),
            &[
                result("a", atalaya_core::Outcome::Down),
                result("b", atalaya_core::Outcome::Up),
            ],
            at + chrono::TimeDelta::milliseconds(100),
            &config,
        );
        let line = round_line(&state, &config, at);
        assert!(
            line.ends_with("2 checks: 1 up, 0 degraded, 1 failing, not yet confirmed, 0 down, 0 unknown · 0 open incidents"),
            "{line}"
        );
    }
}
