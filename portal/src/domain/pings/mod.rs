//! Where a ping is judged: one pipeline for both databases. A handler opens the envelope
//! and hands the ping to [`PingPath::judge`]; the pipeline's two threads, each with a
//! connection of its own from the store ([`crate::store::pings`]), take it in rounds:
//!
//! 1. **check** (`check.rs`, on the checker thread): every ping that queued up while the
//!    previous round ran is looked up with one read, each is matched with the hub key its
//!    license is bound to (or the key a re-activation replaced: a fork), all signatures are
//!    verified in one batch, then replays and the license's rate limit are judged;
//! 2. **record** (`write.rs`, on the writer thread): every checked round that queued up
//!    meanwhile is judged against the bindings as the write transaction reads them (the
//!    chain, re-syncs, copies) and recorded with one commit, while the checker already
//!    works on the next round.
//!
//! A handler gets its ping's judgement only after that commit, so a receipt (signed by the
//! handler) is never sent for a ping that could still be lost.

mod answer;
mod check;
mod countersign;
mod pipeline;
mod proof;
mod write;

use std::sync::Arc;

use tessera_core::UnixTime;
use tessera_core::armor::Envelope;
use tessera_core::keys::PublicKey;
use tessera_core::receipt::Nonce;

pub use answer::{PingAnswer, answer};
pub use countersign::countersign;
pub use pipeline::PingPath;
pub use proof::ReceiptKeys;
pub use write::record;

use crate::limits::Limited;
use crate::store::{ActivationRow, LicenseRow, StoreError};

/// Most pings judged in one round.
const MAX_BATCH: usize = 512;

/// A ping to judge: whose it claims to be, its signed envelope and when it was made.
pub struct PingRequest {
    /// The license the ping claims to be for.
    pub license_id: String,
    /// The signed ping.
    pub envelope: Envelope,
    /// The hub's time in the call: it must be newer than the hub's last accepted call.
    pub hub_time_ms: i64,
    /// The portal's time now (the day it is counted on, the last-ping time).
    pub at: UnixTime,
    /// The nonce of the receipt the hub holds, and of this call (the chain).
    pub holds: Option<Nonce>,
    /// The nonce of this call, which its receipt will echo.
    pub answer: Nonce,
    /// The receipt the hub holds (whose nonce is `holds`), armored: looked at only when the
    /// chain would refuse the ping ([`tessera_core::receipt::resync_proof`]).
    pub held_receipt: Option<String>,
}

/// Why the ping path could not judge a ping.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PingPathError {
    /// The portal is stopping and takes no more pings.
    #[error("the portal is shutting down")]
    ShuttingDown,
    /// The round the ping was in failed (the database, most likely); every ping of the
    /// round gets the same error.
    #[error("a ping round failed: {0}")]
    Round(Arc<StoreError>),
    /// A thread of the ping pipeline could not be started.
    #[error("cannot start the {name} thread: {reason}")]
    Thread {
        /// The thread.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

impl From<StoreError> for PingPathError {
    fn from(e: StoreError) -> Self {
        PingPathError::Round(Arc::new(e))
    }
}

/// What happened to a ping.
#[non_exhaustive]
pub enum Judged {
    /// No license with this id is registered.
    UnknownLicense,
    /// No activation (or its binding was reset).
    NotActivated,
    /// Signed by a key other than the bound hub key (and not a fork).
    WrongKey,
    /// Signed by a key the binding does not know, by a hub that holds a receipt this portal
    /// signed for that key after the binding's last ping: the hub re-activated after the
    /// backup this portal was restored from. Not counted; the hub is to activate again.
    BoundSince,
    /// The signature does not verify.
    BadSignature,
    /// Authentic but not newer than the hub's last accepted call: a replay, not counted.
    Stale,
    /// Authentic and counted, durably.
    Counted(Box<VerifiedPing>),
    /// Authentic and counted, durably, though the chain had forgotten the receipt the hub
    /// holds: the receipt proved to be this portal's own answer, signed after the latest
    /// call the portal remembers (it was restored from a backup). The chain goes on from it.
    Resynced(Box<VerifiedPing>),
    /// Authentic, but its license pinged more often than the limit allows: not counted.
    Limited(Limited),
    /// Authentic, but from a copy of the bound hub that fell behind the chain: answered
    /// with a signed `cloned` receipt, not counted.
    Cloned(Box<VerifiedPing>),
    /// Signed by the hub key the binding's last re-activation replaced, and made after that
    /// re-activation: the old hub still runs beside the new one. Recorded (`cloned_at`,
    /// `forks`), answered with a signed `cloned` for the old key (`hub_key`), not counted.
    Forked(Box<VerifiedPing>),
}

/// An authenticated ping's license, binding and the hub key that signed it.
pub struct VerifiedPing {
    /// The license.
    pub license: LicenseRow,
    /// Its binding.
    pub activation: ActivationRow,
    /// The key that signed the ping: the bound one, or for a fork the replaced one.
    pub hub_key: PublicKey,
}
