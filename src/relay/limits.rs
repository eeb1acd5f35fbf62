//! Token-bucket rate limits: per IP in open mode, per friend in friends-only mode.

use std::collections::HashMap;
use std::time::Instant;

/// Token buckets keyed by who is asking.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    buckets: HashMap<String, (f64, Instant)>,
}

/// The most buckets kept; beyond it, full (idle) buckets are forgotten first.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// Creates a limiter allowing `burst` requests at once and `per_sec` sustained.
    pub fn new(burst: u32, per_sec: u32) -> Self {
        RateLimiter {
            burst: f64::from(burst),
            per_sec: f64::from(per_sec),
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `who`; false if the bucket is empty.
    pub fn allow(&mut self, who: &str, now: Instant) -> bool {
        if self.buckets.len() >= MAX_BUCKETS {
            let (burst, per_sec) = (self.burst, self.per_sec);
            self.buckets.retain(|_, (tokens, last)| {
                *tokens + now.duration_since(*last).as_secs_f64() * per_sec < burst
            });
        }
        let (burst, per_sec) = (self.burst, self.per_sec);
        let (tokens, last) = self.buckets.entry(who.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * per_sec).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills() {
        let mut l = RateLimiter::new(2, 1);
        let t = Instant::now();
        assert!(l.allow("a", t));
        assert!(l.allow("a", t));
        assert!(!l.allow("a", t));
        assert!(l.allow("b", t));
        assert!(l.allow("a", t + Duration::from_secs(1)));
    }
}
