//! A function's init: what it does before it first asks Lambda for an event, timed step by
//! step, and the one deadline its reads from AWS get on the way to the first event.
//!
//! Init does only what the first event cannot do without (the packaged checks file, the
//! clients); reads from AWS (a published checks file, `${ssm:…}`/`${secret:…}` references,
//! keys) start beside the runtime loop and the first invocation waits for them at most
//! [`FIRST_READ_DEADLINE`] from when they started.

use std::time::{Duration, Instant};

/// How long the reads a function needs before it can work (references, a published checks
/// file, keys) may take, all attempts included: an unreachable secret store costs this once,
/// not the SDK's whole retry schedule. What could not be read is a monitoring fault of the
/// checks that need it, and is tried again a minute later (`atalaya_probe::references::RETRY`).
pub const FIRST_READ_DEADLINE: Duration = Duration::from_secs(3);

/// The SDK configuration for those reads: `sdk`'s, with the whole operation (every attempt and
/// the waits between) bounded by [`FIRST_READ_DEADLINE`].
pub fn quick(sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    sdk.to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(
                    FIRST_READ_DEADLINE.saturating_sub(Duration::from_secs(1)),
                )
                .operation_timeout(FIRST_READ_DEADLINE)
                .build(),
        )
        .build()
}

/// The steps of a function's init and what each took: logged once, as the function is about to
/// ask for its first event (one line, `initialised`, with every step in milliseconds; the cold
/// start benchmark reads it).
pub struct InitTimes {
    start: Instant,
    last: Instant,
    steps: Vec<(&'static str, Duration)>,
}

impl Default for InitTimes {
    fn default() -> Self {
        Self::new()
    }
}

impl InitTimes {
    /// Starts the clock: the first thing `main` does.
    pub fn new() -> InitTimes {
        let now = Instant::now();
        InitTimes {
            start: now,
            last: now,
            steps: Vec::new(),
        }
    }

    /// The step just done, named: the time since the one before.
    pub fn step(&mut self, name: &'static str) {
        let now = Instant::now();
        self.steps.push((name, now - self.last));
        self.last = now;
    }

    /// The steps as one text: `logging 0.05 ms, checks file 1.20 ms, …`.
    pub fn text(&self) -> String {
        self.steps
            .iter()
            .map(|(name, d)| format!("{name} {:.2} ms", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Logs the steps and the total (from [`InitTimes::new`] to now).
    pub fn log(&self) {
        tracing::info!(
            steps = %self.text(),
            total_ms = self.start.elapsed().as_secs_f64() * 1000.0,
            "initialised"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps_are_named_in_order_with_their_times() {
        let mut t = super::InitTimes::new();
        t.step("logging");
        std::thread::sleep(std::time::Duration::from_millis(2));
        t.step("checks file");
        let text = t.text();
        let (first, second) = text.split_once(", ").unwrap();
        assert!(
            first.starts_with("logging ") && first.ends_with(" ms"),
            "{text}"
        );
        let ms: f64 = second
            .strip_prefix("checks file ")
            .and_then(|s| s.strip_suffix(" ms"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(ms >= 2.0, "{text}");
    }

    #[test]
    fn the_quick_configuration_bounds_the_whole_operation() {
        let sdk = aws_config::SdkConfig::builder().build();
        let quick = super::quick(&sdk);
        let t = quick.timeout_config().unwrap();
        assert_eq!(t.operation_timeout(), Some(super::FIRST_READ_DEADLINE));
        assert!(t.operation_attempt_timeout().unwrap() < super::FIRST_READ_DEADLINE);
    }
}
