//! What an evaluation asks of DynamoDB, and what it would take on AWS rather than on moto.
//!
//! Moto answers one request at a time in Python, so the bench's wall time says more about moto
//! than about the alert function. Every DynamoDB call the bench's store makes goes through an
//! SDK interceptor that notes its operation and when it started and ended (client side). From
//! those: the calls per evaluation, how many of them must wait for one another (the longest
//! chain of calls each starting after the one before ended: calls sent together count once),
//! and a modelled time: the evaluator's own CPU, stretched to the share of a core Lambda gives
//! its memory, plus that chain at DynamoDB's published latency.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// DynamoDB's latency per call, p99, as modelled: AWS publishes "single-digit millisecond"
/// latency for single-item reads and writes and batches; the model takes the top of that
/// range, 10 ms, for every call, and twice that for a transaction (prepared, then committed).
pub const CALL_P99_MS: f64 = 10.0;
pub const TRANSACTION_P99_MS: f64 = 20.0;

/// Lambda gives a function one vCPU at 1,769 MB and a share in proportion below that.
pub const FULL_CORE_MB: f64 = 1769.0;

#[derive(Clone, Debug)]
pub struct Call {
    pub op: String,
    start: Instant,
    end: Instant,
}

/// The calls made since the last [`Calls::take`].
#[derive(Clone, Debug, Default)]
pub struct Calls(Arc<Mutex<Vec<Call>>>);

#[derive(Clone, Debug)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

impl Calls {
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "bench-calls"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let end = Instant::now();
        let start = cfg.load::<Started>().map_or(end, |s| s.0);
        let op = cfg
            .load::<Metadata>()
            .map_or_else(|| "?".to_string(), |m| m.name().to_string());
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Call { op, start, end });
        Ok(())
    }
}

fn p99_ms(call: &Call) -> f64 {
    if call.op == "TransactWriteItems" {
        TRANSACTION_P99_MS
    } else {
        CALL_P99_MS
    }
}

/// The longest chain of calls each started after the one before it ended: (how many calls,
/// their modelled latency in ms, their operations in order). Calls sent together (overlapping)
/// are one step of it.
pub fn chain(calls: &[Call]) -> (usize, f64, Vec<String>) {
    let mut calls: Vec<&Call> = calls.iter().collect();
    calls.sort_by_key(|c| c.start);
    // best[i]: the heaviest chain ending with call i (length, ms, the call before it).
    let mut best: Vec<(usize, f64, Option<usize>)> = Vec::with_capacity(calls.len());
    for (i, c) in calls.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| calls[j].end <= c.start)
            .max_by(|&a, &b| best[a].1.total_cmp(&best[b].1));
        let (n, ms) = before.map_or((0, 0.0), |j| (best[j].0, best[j].1));
        best.push((n + 1, ms + p99_ms(c), before));
    }
    let last = (0..best.len()).max_by(|&a, &b| best[a].1.total_cmp(&best[b].1));
    let mut ops = Vec::new();
    let mut at = last;
    while let Some(i) = at {
        ops.push(calls[i].op.clone());
        at = best[i].2;
    }
    ops.reverse();
    last.map_or((0, 0.0, ops.clone()), |i| (best[i].0, best[i].1, ops))
}

/// Operations in order, repeats counted: "GetItem, BatchWriteItem x3".
pub fn runs(ops: &[String]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for op in ops {
        match out.last_mut() {
            Some((last, n)) if last == op => *n += 1,
            _ => out.push((op.clone(), 1)),
        }
    }
    out.iter()
        .map(|(op, n)| {
            if *n > 1 {
                format!("{op} x{n}")
            } else {
                op.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// This process's CPU time (all its threads, nanosecond resolution), in seconds: the sum of
/// each thread's time on a CPU (`/proc/self/task/*/schedstat`, first field).
pub fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let ns: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn call(op: &str, t0: Instant, from_ms: u64, to_ms: u64) -> Call {
        Call {
            op: op.into(),
            start: t0 + Duration::from_millis(from_ms),
            end: t0 + Duration::from_millis(to_ms),
        }
    }

    #[test]
    fn calls_sent_together_are_one_step_and_a_transaction_weighs_two() {
        let t0 = Instant::now();
        let calls = [
            call("BatchGetItem", t0, 0, 5),
            call("BatchGetItem", t0, 0, 9),
            call("PutItem", t0, 9, 12),
            call("PutItem", t0, 10, 14),
            call("TransactWriteItems", t0, 14, 20),
        ];
        let (steps, ms, ops) = chain(&calls);
        assert_eq!((steps, ms), (3, 40.0));
        assert_eq!(runs(&ops), "BatchGetItem, PutItem, TransactWriteItems");
        assert_eq!(chain(&[]), (0, 0.0, Vec::new()));
        assert_eq!(runs(&["A".into(), "A".into(), "B".into()]), "A x2, B");
    }
}
