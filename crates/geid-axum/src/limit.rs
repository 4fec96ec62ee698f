//! Per-client limit on failed logins.
//!
//! Each refused login counts against the client's address; after `max_failures` refusals within
//! `window` further attempts are answered `429 TOO_MANY_ATTEMPTS` without verifying anything,
//! until the oldest failure leaves the window. Kept in process memory: with several replicas
//! each enforces its own count, so the effective limit is at most `replicas × max_failures`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sliding-window counter of failures per client address.
pub struct FailureLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl FailureLimiter {
    /// At most `max_failures` refusals per `window` per client.
    pub fn new(max_failures: usize, window: Duration) -> FailureLimiter {
        FailureLimiter {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when `client` used up its failures.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let Some(q) = map.get_mut(&client) else {
            return Ok(());
        };
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.max_failures {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    /// Counts one refusal for `client`.
    pub fn record_failure(&self, client: IpAddr) {
        let now = Instant::now();
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = map.entry(client).or_default();
        q.push_back(now);
        while q.len() > self.max_failures {
            q.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_and_releases_after_the_window() {
        let l = FailureLimiter::new(2, Duration::from_millis(200));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.check(a).is_ok());
        l.record_failure(a);
        assert!(l.check(a).is_ok());
        l.record_failure(a);
        assert!(l.check(a).is_err());
        assert!(l.check(b).is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(l.check(a).is_ok());
    }
}
