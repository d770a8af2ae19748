//! Which checks are due, the probes under way, and what came back.

use atalaya_core::{Check, ProbeResult};
use atalaya_probe::{CheckError, Engine};
use chrono::Utc;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::time::Instant;

/// A probe's result as it lands: the check's index and what the engine said.
pub type Landed = (usize, Result<ProbeResult, CheckError>);

pub struct Schedule {
    probes: Arc<[Check]>,
    once: bool,
    next_due: Vec<Instant>,
    in_flight: HashSet<usize>,
    ran_once: HashSet<usize>,
    /// Checks whose "cannot run" was said (once each).
    reported: HashSet<usize>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Schedule {
    /// Every check due now; at most `concurrency` probes at once; `once`: each check once.
    pub fn new(probes: Arc<[Check]>, concurrency: usize, once: bool) -> Schedule {
        let start = Instant::now();
        Schedule {
            next_due: vec![start; probes.len()],
            probes,
            once,
            in_flight: HashSet::new(),
            ran_once: HashSet::new(),
            reported: HashSet::new(),
            permits: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
        }
    }

    /// Starts the probes that are due, each on its own task, their results sent to `tx`; the
    /// heartbeats due are returned (judged from their pings, not probed).
    pub fn dispatch(
        &mut self,
        engine: &Arc<Engine>,
        tx: &tokio::sync::mpsc::UnboundedSender<Landed>,
    ) -> Vec<Check> {
        let now = Instant::now();
        let mut judge = Vec::new();
        for (i, check) in self.probes.iter().enumerate() {
            if self.in_flight.contains(&i)
                || self.next_due[i] > now
                || (self.once && self.ran_once.contains(&i))
            {
                continue;
            }
            self.next_due[i] = (self.next_due[i] + check.interval).max(now);
            if check.kind.is_passive() {
                self.ran_once.insert(i);
                judge.push(check.clone());
                continue;
            }
            self.in_flight.insert(i);
            let (engine, probes, tx, permits) = (
                engine.clone(),
                self.probes.clone(),
                tx.clone(),
                self.permits.clone(),
            );
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let result = engine.probe(&probes[i]).await;
                let _ = tx.send((i, result));
            });
        }
        judge
    }

    /// Takes what landed into `results`. A check that cannot run is a monitoring fault: the
    /// operators hear of it through the engine, and it is said here once.
    pub fn landed(&mut self, batch: Vec<Landed>, results: &mut Vec<ProbeResult>) {
        for (i, r) in batch {
            self.in_flight.remove(&i);
            self.ran_once.insert(i);
            match r {
                Ok(result) => results.push(result),
                Err(e) => {
                    if self.reported.insert(i) {
                        eprintln!("error: check {}: {e}", self.probes[i].id);
                    }
                    results.push(e.to_result(
                        &self.probes[i],
                        atalaya_core::LOCAL_REGION,
                        Utc::now(),
                    ));
                }
            }
        }
    }

    /// No probe is under way.
    pub fn idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// With `--once`: every check ran and came back.
    pub fn finished(&self) -> bool {
        self.once && self.ran_once.len() == self.probes.len() && self.idle()
    }
}
