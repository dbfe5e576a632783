//! Rate limits, in memory only (never stored), shaped so that a stranger can never use up a
//! genuine hub's or admin's allowance:
//!
//! - pings: per license, counting only pings whose signature verified (only the bound hub
//!   can use up its license's allowance); pings that are refused (unknown license, wrong
//!   key, bad signature, no binding) share one global allowance, so a flood of forged pings
//!   is answered 429 without touching any genuine hub;
//! - activations: per license for licenses that exist (the caller proved it holds the
//!   license key), one global allowance for license keys the portal does not know;
//! - admin: per API key once authenticated; failed authentications share one global
//!   allowance, whatever key id they present (random ids would each get their own
//!   otherwise), and never block a key that authenticates;
//! - forgotten-password requests: per address asked for ([`RESETS_PER_ADDRESS_PER_HOUR`],
//!   known and unknown addresses alike, so the limit tells nothing), and all together
//!   ([`RESETS_PER_MINUTE`], which also bounds how many addresses are remembered). No client
//!   address is known to the portal behind its proxy, and none is kept;
//! - new passwords sent to a reset link: per link ([`RESET_TRIES_PER_LINK_PER_HOUR`], keyed
//!   by the SHA-256 of its token, never the token), and all together
//!   ([`RESET_TRIES_PER_MINUTE`]), so that neither guessing links nor hammering one is free.
//!
//! Keyed limiters are keyed only by things that exist (license ids that verified, API keys
//! that authenticated), so their memory is bounded by the store; idle keys are forgotten.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::config::Limits;

/// A request over its limit: try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests; retry in {retry_after_secs} s")]
pub struct Limited {
    /// When to try again.
    pub retry_after_secs: u64,
}

/// The portal's rate limiters.
pub struct RateLimits {
    activations: DefaultKeyedRateLimiter<String>,
    unknown_activations: DefaultDirectRateLimiter,
    pings: DefaultKeyedRateLimiter<String>,
    refused_pings: DefaultDirectRateLimiter,
    admin: DefaultKeyedRateLimiter<String>,
    auth_failures: DefaultDirectRateLimiter,
    resets_per_address: DefaultKeyedRateLimiter<String>,
    resets: DefaultDirectRateLimiter,
    reset_tries_per_link: DefaultKeyedRateLimiter<String>,
    reset_tries: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

/// Forgotten-password emails one address may be sent in an hour.
pub const RESETS_PER_ADDRESS_PER_HOUR: u32 = 3;
/// Forgotten-password requests the portal takes in a minute, all addresses together.
pub const RESETS_PER_MINUTE: u32 = 20;
/// New passwords one reset link may be sent in an hour (a person mistyping a few times).
pub const RESET_TRIES_PER_LINK_PER_HOUR: u32 = 10;
/// New passwords sent to reset links in a minute, all links together.
pub const RESET_TRIES_PER_MINUTE: u32 = 30;

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(nonzero(n)).allow_burst(nonzero(n))
}

fn per_second(n: u32) -> Quota {
    Quota::per_second(nonzero(n)).allow_burst(nonzero(n))
}

impl RateLimits {
    /// Rate limits at `limits`, with nothing counted yet.
    pub fn new(limits: Limits) -> Self {
        RateLimits {
            activations: DefaultKeyedRateLimiter::keyed(per_minute(limits.activations_per_minute)),
            unknown_activations: DefaultDirectRateLimiter::direct(per_minute(
                limits.unknown_activations_per_minute,
            )),
            pings: DefaultKeyedRateLimiter::keyed(per_minute(limits.pings_per_minute)),
            refused_pings: DefaultDirectRateLimiter::direct(per_second(
                limits.refused_pings_per_second,
            )),
            admin: DefaultKeyedRateLimiter::keyed(per_second(limits.admin_requests_per_second)),
            auth_failures: DefaultDirectRateLimiter::direct(per_minute(
                limits.auth_failures_per_minute,
            )),
            resets_per_address: DefaultKeyedRateLimiter::keyed(
                Quota::per_hour(nonzero(RESETS_PER_ADDRESS_PER_HOUR))
                    .allow_burst(nonzero(RESETS_PER_ADDRESS_PER_HOUR)),
            ),
            resets: DefaultDirectRateLimiter::direct(per_minute(RESETS_PER_MINUTE)),
            reset_tries_per_link: DefaultKeyedRateLimiter::keyed(
                Quota::per_hour(nonzero(RESET_TRIES_PER_LINK_PER_HOUR))
                    .allow_burst(nonzero(RESET_TRIES_PER_LINK_PER_HOUR)),
            ),
            reset_tries: DefaultDirectRateLimiter::direct(per_minute(RESET_TRIES_PER_MINUTE)),
            clock: DefaultClock::default(),
        }
    }

    fn limited(&self, not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> Limited {
        Limited { retry_after_secs: not_until.wait_time_from(self.clock.now()).as_secs() + 1 }
    }

    fn keyed(&self, limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> Result<(), Limited> {
        limiter.check_key(&key.to_owned()).map_err(|n| self.limited(n))
    }

    fn direct(&self, limiter: &DefaultDirectRateLimiter) -> Result<(), Limited> {
        limiter.check().map_err(|n| self.limited(n))
    }

    /// Activations of a registered license (by its id).
    pub fn activation(&self, license_id: &str) -> Result<(), Limited> {
        self.keyed(&self.activations, license_id)
    }

    /// Activations with a license key the portal does not know, all together.
    pub fn unknown_activation(&self) -> Result<(), Limited> {
        self.direct(&self.unknown_activations)
    }

    /// A ping whose signature verified, for its license.
    pub fn verified_ping(&self, license_id: &str) -> Result<(), Limited> {
        self.keyed(&self.pings, license_id)
    }

    /// A refused ping (it proved nothing), all together.
    pub fn refused_ping(&self) -> Result<(), Limited> {
        self.direct(&self.refused_pings)
    }

    /// Admin requests per authenticated API key id.
    pub fn admin(&self, key_id: &str) -> Result<(), Limited> {
        self.keyed(&self.admin, key_id)
    }

    /// Counts a failed authentication; past the limit the answer is 429 instead of 401, so
    /// that guessing costs time and logs stay quiet. Secrets are 256 bits: the limit is
    /// about load, not about luck.
    pub fn auth_failure(&self) -> Result<(), Limited> {
        self.direct(&self.auth_failures)
    }

    /// A forgotten-password request for `address` (as typed, lower-cased): the portal's
    /// overall allowance first, then the address's own.
    pub fn password_reset(&self, address: &str) -> Result<(), Limited> {
        self.direct(&self.resets)?;
        self.keyed(&self.resets_per_address, address)
    }

    /// A new password sent to the reset link of `token`: the portal's overall allowance
    /// first, then the link's own (kept under the token's SHA-256, not the token).
    pub fn reset_try(&self, token: &str) -> Result<(), Limited> {
        use sha2::Digest;
        self.direct(&self.reset_tries)?;
        self.keyed(&self.reset_tries_per_link, &hex::encode(sha2::Sha256::digest(token)))
    }

    /// Forgets keys whose limits have fully recovered, so memory stays bounded.
    pub fn shrink(&self) {
        let limiters = [
            &self.activations,
            &self.pings,
            &self.admin,
            &self.resets_per_address,
            &self.reset_tries_per_link,
        ];
        for limiter in limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
