//! The mail relay as the channel has seen it. After the relay itself fails (no connection, no
//! answer in time), every other mail would wait as long for the same answer: mail waits a
//! back-off instead (15 s, doubling to 5 minutes), and then one mail tries the relay again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_secs(15);
const LONGEST: Duration = Duration::from_secs(300);

#[derive(Default)]
pub struct Breaker {
    /// Until when mail waits, the back-off that led there, and why.
    open: Mutex<Option<(Instant, Duration, String)>>,
}

impl Breaker {
    /// `Err` (why, and when it is tried again) while mail waits for the relay.
    pub fn check(&self, now: Instant) -> Result<(), String> {
        let open = self
            .open
            .lock()
            .map_err(|_| "the relay's state is unreadable")?;
        match &*open {
            Some((until, _, why)) if now < *until => Err(format!(
                "the mail relay failed ({why}); mail waits, and the relay is tried again in {} s",
                until.duration_since(now).as_secs().max(1)
            )),
            _ => Ok(()),
        }
    }

    /// The relay failed: mail waits, longer each time it fails again.
    pub fn failed(&self, now: Instant, why: &str) {
        if let Ok(mut open) = self.open.lock() {
            let backoff = match &*open {
                Some((_, last, _)) => (*last * 2).min(LONGEST),
                None => FIRST,
            };
            *open = Some((now + backoff, backoff, why.to_string()));
        }
    }

    /// The relay took a mail: nothing waits.
    pub fn ok(&self) {
        if let Ok(mut open) = self.open.lock() {
            *open = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_waits_longer_each_time_the_relay_fails_and_not_once_it_answers() {
        let b = Breaker::default();
        let t = Instant::now();
        assert!(b.check(t).is_ok());
        b.failed(t, "no answer within 30 s");
        let e = b.check(t + Duration::from_secs(1)).unwrap_err();
        assert!(
            e.contains("no answer within 30 s") && e.contains("in 14 s"),
            "{e}"
        );
        assert!(b.check(t + FIRST).is_ok(), "one mail tries again");
        b.failed(t + FIRST, "again");
        assert!(b.check(t + FIRST + Duration::from_secs(29)).is_err());
        assert!(b.check(t + FIRST + Duration::from_secs(30)).is_ok());
        for _ in 0..10 {
            b.failed(t, "still");
        }
        assert!(b.check(t + LONGEST - Duration::from_secs(1)).is_err());
        assert!(b.check(t + LONGEST).is_ok(), "at most five minutes");
        b.ok();
        assert!(b.check(t).is_ok());
    }
}
