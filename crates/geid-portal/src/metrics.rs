//! A small Prometheus text exporter: login attempts by method and result, and a histogram of
//! token verification time. Hand-rolled: two metric families do not warrant a metrics stack.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds, seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The portal's counters.
#[derive(Default)]
pub struct Metrics {
    logins: Mutex<BTreeMap<(String, String), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    /// Counts one login attempt.
    pub fn login(&self, method: &str, result: &str) {
        if let Ok(mut m) = self.logins.lock() {
            *m.entry((method.to_owned(), result.to_owned())).or_default() += 1;
        }
    }

    /// Records one token verification's duration.
    pub fn verification(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP geid_portal_logins_total Login attempts by method and result code.\n");
        out.push_str("# TYPE geid_portal_logins_total counter\n");
        if let Ok(m) = self.logins.lock() {
            for ((method, result), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "geid_portal_logins_total{{method=\"{method}\",result=\"{result}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP geid_portal_verification_seconds Time to verify an ID-card login token.\n",
        );
        out.push_str("# TYPE geid_portal_verification_seconds histogram\n");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "geid_portal_verification_seconds_bucket{{le=\"{bound}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "geid_portal_verification_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "geid_portal_verification_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "geid_portal_verification_seconds_count {count}");
        out
    }
}
