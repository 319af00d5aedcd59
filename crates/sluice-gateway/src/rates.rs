//! Calls-per-second limits per downstream server (`sluice.limits.callsPerSecond`).
//!
//! A token bucket per server: it holds up to one second's worth of calls (at least one) and
//! refills continuously. A call that finds it empty is refused at once rather than queued: the
//! agent's code gets a retryable `rate_limited` error it can wait on, and a runaway loop cannot
//! build an unbounded queue in the gateway.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use sluice_config::LimitSettings;

/// Every server's bucket.
pub(crate) struct RateLimiter {
    settings: LimitSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    pub(crate) fn new(settings: &LimitSettings) -> RateLimiter {
        RateLimiter {
            settings: settings.clone(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one call's token for `server`; `Err(rate)` when the server is over its rate.
    pub(crate) fn try_acquire(&self, server: &str) -> Result<(), f64> {
        self.try_acquire_at(server, Instant::now())
    }

    fn try_acquire_at(&self, server: &str, now: Instant) -> Result<(), f64> {
        let Some(rate) = self.settings.rate_for(server) else {
            return Ok(());
        };
        let capacity = rate.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(server.to_owned()).or_insert(Bucket {
            tokens: capacity,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limiter(rates: &[(&str, f64)]) -> RateLimiter {
        let mut settings = LimitSettings::default();
        for (server, rate) in rates {
            settings
                .calls_per_second
                .insert((*server).to_owned(), *rate);
        }
        RateLimiter::new(&settings)
    }

    #[test]
    fn bursts_up_to_one_second_then_refuses_then_refills() {
        let limiter = limiter(&[("slow", 3.0)]);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.try_acquire_at("slow", start), Ok(()));
        }
        assert_eq!(limiter.try_acquire_at("slow", start), Err(3.0));
        // A third of a second later, one more call's worth has come back.
        let later = start + Duration::from_millis(340);
        assert_eq!(limiter.try_acquire_at("slow", later), Ok(()));
        assert_eq!(limiter.try_acquire_at("slow", later), Err(3.0));
        // Servers without a rate are never limited.
        for _ in 0..100 {
            assert_eq!(limiter.try_acquire_at("other", start), Ok(()));
        }
    }

    #[test]
    fn slow_rates_allow_one_call_then_wait() {
        let limiter = limiter(&[("*", 0.5)]);
        let start = Instant::now();
        assert_eq!(limiter.try_acquire_at("any", start), Ok(()));
        assert_eq!(
            limiter.try_acquire_at("any", start + Duration::from_secs(1)),
            Err(0.5)
        );
        assert_eq!(
            limiter.try_acquire_at("any", start + Duration::from_millis(2_100)),
            Ok(())
        );
    }
}
