//! Rate limits, in memory only (never stored): per license key on activation, per license
//! on pings, per API key on admin requests, and on failed admin authentication.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::Limits;

/// A request over its limit: try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests; retry in {retry_after_secs} s")]
pub struct Limited {
    pub retry_after_secs: u64,
}

/// The portal's rate limiters.
pub struct RateLimits {
    activations: DefaultKeyedRateLimiter<String>,
    pings: DefaultKeyedRateLimiter<String>,
    admin: DefaultKeyedRateLimiter<String>,
    auth_failures: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    pub fn new(limits: Limits) -> Self {
        let per_minute = |n| Quota::per_minute(nonzero(n)).allow_burst(nonzero(n));
        RateLimits {
            activations: DefaultKeyedRateLimiter::keyed(per_minute(limits.activations_per_minute)),
            pings: DefaultKeyedRateLimiter::keyed(per_minute(limits.pings_per_minute)),
            admin: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(nonzero(limits.admin_requests_per_second))
                    .allow_burst(nonzero(limits.admin_requests_per_second)),
            ),
            auth_failures: DefaultKeyedRateLimiter::keyed(per_minute(
                limits.auth_failures_per_minute,
            )),
            clock: DefaultClock::default(),
        }
    }

    fn check(&self, limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> Result<(), Limited> {
        limiter.check_key(&key.to_owned()).map_err(|not_until| Limited {
            retry_after_secs: not_until.wait_time_from(self.clock.now()).as_secs() + 1,
        })
    }

    /// Activations per license key (by its SHA-256, never the key itself).
    pub fn activation(&self, key_digest: &str) -> Result<(), Limited> {
        self.check(&self.activations, key_digest)
    }

    /// Pings per license.
    pub fn ping(&self, license_id: &str) -> Result<(), Limited> {
        self.check(&self.pings, license_id)
    }

    /// Admin requests per API key id.
    pub fn admin(&self, key_id: &str) -> Result<(), Limited> {
        self.check(&self.admin, key_id)
    }

    /// Counts a failed authentication for `key_id` (or for "malformed" keys); past the
    /// limit the answer is 429 instead of 401, so that guessing costs time and logs stay
    /// quiet. Secrets are 256 bits: the limit is about load, not about luck.
    pub fn auth_failure(&self, key_id: &str) -> Result<(), Limited> {
        self.check(&self.auth_failures, key_id)
    }

    /// Forgets keys whose limits have fully recovered, so memory stays bounded.
    pub fn shrink(&self) {
        for limiter in [&self.activations, &self.pings, &self.admin, &self.auth_failures] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
