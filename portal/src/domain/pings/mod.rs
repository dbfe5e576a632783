//! Where a ping is authenticated and stored, in rounds. Handlers hand their pings to the
//! ping path and wait; a round takes everything that queued up while the previous one ran,
//! looks it all up, checks every signature with one batch verification, records the
//! authenticated pings and makes them durable with one commit. A handler gets its ping's
//! outcome only after that commit, so a receipt is never sent for a ping that could still
//! be lost.
//!
//! Two pipelines behind one door ([`PingPath::judge`]), both over the store's one ping
//! vocabulary ([`PingRecord`] in, [`PingOutcome`] out) and this module's one signature check:
//! - SQLite (`sqlite.rs`): two threads with the store's own ping connections in a pipeline —
//!   a checker (lookups and the batch signature check) and a writer (one write transaction
//!   for every checked round that queued up). This skips the async driver's hand-offs per
//!   statement and per row, which cost more than the SQL.
//! - PostgreSQL (`pooled.rs`): two batching tasks over the connection pool (look up and
//!   verify, then record), so that several portal instances can share the database.

mod pooled;
mod sqlite;

use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use tessera_core::UnixTime;
use tessera_core::armor::Envelope;
use tessera_core::chain::Link;
use tessera_core::keys::{PublicKey, verify_many};
use tessera_core::receipt::{Nonce, resync_proof};
use tokio::sync::{mpsc, oneshot};

use crate::limits::{Limited, RateLimits};
use crate::store::sqlite_pings::Found;
use crate::store::{ActivationRow, LicenseRow, PingOutcome, PingRecord, Store, StoreError};

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
    /// chain would refuse the ping ([`resync_proof`]).
    pub held_receipt: Option<String>,
}

/// What a ping's record needs besides what its check found.
#[derive(Clone)]
struct Call {
    hub_time_ms: i64,
    at: UnixTime,
    holds: Option<Nonce>,
    answer: Nonce,
    held_receipt: Option<String>,
}

impl PingRequest {
    /// What the record needs of the request; takes the held receipt out of it.
    fn call(&mut self) -> Call {
        Call {
            hub_time_ms: self.hub_time_ms,
            at: self.at,
            holds: self.holds,
            answer: self.answer,
            held_receipt: self.held_receipt.take(),
        }
    }
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
    /// A round answered a different number of pings than it was given (a bug).
    #[error("a ping round answered {answered} of {asked} pings")]
    Miscounted {
        /// Pings given.
        asked: usize,
        /// Pings answered.
        answered: usize,
    },
    /// A thread of a ping pipeline could not be started, or failed.
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
    /// Signed by a key other than the bound hub key.
    WrongKey,
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
}

/// An authenticated ping's license, binding and hub key.
pub struct VerifiedPing {
    /// The license.
    pub license: LicenseRow,
    /// Its binding.
    pub activation: ActivationRow,
    /// The bound hub key, which signed the ping.
    pub hub_key: PublicKey,
}

impl VerifiedPing {
    /// What the store records for this ping: the write counts it only while the license is
    /// still bound to the key whose signature was checked. `receipt_key` is the portal's
    /// own receipt key, which the held receipt of a ping the chain would refuse is checked
    /// against.
    fn record(&self, call: Call, receipt_key: &PublicKey) -> PingRecord {
        PingRecord {
            license_id: self.license.id.clone(),
            hub_key: self.activation.hub_key.clone(),
            hub_time_ms: call.hub_time_ms,
            at: call.at,
            holds: call.holds,
            answer: call.answer,
            held_at: self.held_at(&call, receipt_key),
        }
    }

    /// The portal time of the receipt the hub holds, when that receipt proves the hub's
    /// place in a chain this portal has forgotten ([`resync_proof`]). Checked only when the
    /// binding as looked up would refuse the ping as a copy: one signature check more on a
    /// rare call, none on the others.
    fn held_at(&self, call: &Call, receipt_key: &PublicKey) -> Option<i64> {
        let (Some(held), Some(holds)) = (call.held_receipt.as_deref(), call.holds) else {
            return None;
        };
        if self.activation.chain.judge(Some(holds)) != Link::Forked {
            return None;
        }
        let license_id = self.license.id.parse().ok()?;
        match resync_proof(held, receipt_key, license_id, self.hub_key.key_id(), holds) {
            Ok(at) => Some(at.as_unix()),
            Err(error) => {
                tracing::info!(license = %self.license.id, %error, "a ping behind the chain holds no proof of a newer place in it");
                None
            }
        }
    }

    /// The judgement for this authentic ping, from what recording it found.
    fn judged(self, outcome: PingOutcome) -> Judged {
        match outcome {
            PingOutcome::Counted => Judged::Counted(Box::new(self)),
            PingOutcome::Resynced => Judged::Resynced(Box::new(self)),
            PingOutcome::Cloned => Judged::Cloned(Box::new(self)),
            PingOutcome::Stale => Judged::Stale,
            PingOutcome::WrongKey => Judged::WrongKey,
            _ => Judged::NotActivated,
        }
    }
}

/// The signature check of a round: each ping against the hub key its license is bound to,
/// all signatures in one batch verification (one by one only when the batch fails), then
/// the license's rate limit, which only authentic pings newer than the hub's last accepted
/// call count against (a replayed genuine ping is stale before it spends the genuine hub's
/// allowance; the write checks staleness again under its lock). `Ok(ping)` is authentic,
/// fresh and within its limit; `Err(judged)` says why not. `hub_time_ms` is each call's time.
fn authenticate(
    round: Vec<(Envelope, Found, i64)>,
    limits: &RateLimits,
) -> Result<Vec<Result<VerifiedPing, Judged>>, StoreError> {
    let mut answers = Vec::with_capacity(round.len());
    let mut envelopes = Vec::with_capacity(round.len());
    let mut times = Vec::with_capacity(round.len());
    for (envelope, found, hub_time_ms) in round {
        times.push(hub_time_ms);
        let answer = match found {
            None => Err(Judged::UnknownLicense),
            Some((_, None)) => Err(Judged::NotActivated),
            Some((license, Some(activation))) => {
                let hub_key: PublicKey = activation
                    .hub_key
                    .parse()
                    .map_err(|_| StoreError::Corrupt("a stored hub key does not parse".into()))?;
                if hub_key.key_id() == envelope.key_id() {
                    Ok(VerifiedPing { license, activation, hub_key })
                } else {
                    Err(Judged::WrongKey)
                }
            }
        };
        answers.push(answer);
        envelopes.push(envelope);
    }
    let items: Vec<(&PublicKey, &[u8], &[u8; 64])> = answers
        .iter()
        .zip(&envelopes)
        .filter_map(|(answer, envelope)| {
            answer
                .as_ref()
                .ok()
                .map(|ping| (&ping.hub_key, envelope.signed_message(), envelope.signature()))
        })
        .collect();
    let mut good = verify_many(&items).into_iter();
    drop(items);
    Ok(answers
        .into_iter()
        .zip(times)
        .map(|(answer, hub_time_ms)| match answer {
            Ok(ping) if good.next() == Some(true) => {
                if hub_time_ms <= ping.activation.last_hub_time_ms {
                    return Err(Judged::Stale);
                }
                limits.verified_ping(&ping.license.id).map_err(Judged::Limited)?;
                Ok(ping)
            }
            Ok(_) => Err(Judged::BadSignature),
            Err(judged) => Err(judged),
        })
        .collect())
}

/// Where a round's answer to one request goes.
type Reply<T> = oneshot::Sender<Result<T, PingPathError>>;

/// A request and where its answer goes, as queued for a round.
type Queued<Req, Resp> = (Req, Reply<Resp>);

/// The door in front of a stage that serves requests in rounds: a caller queues its request
/// with a reply slot and waits; closing the door lets the stage drain its queue and end.
struct Door<Req, Resp> {
    sender: Mutex<Option<mpsc::Sender<Queued<Req, Resp>>>>,
}

impl<Req, Resp> Door<Req, Resp> {
    /// A door and the queue behind it.
    fn open() -> (Self, mpsc::Receiver<Queued<Req, Resp>>) {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        (Door { sender: Mutex::new(Some(sender)) }, receiver)
    }

    /// Queues one request and waits for its round's answer.
    async fn call(&self, request: Req) -> Result<Resp, PingPathError> {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(PingPathError::ShuttingDown)?;
        let (reply, answer) = oneshot::channel();
        sender.send((request, reply)).await.map_err(|_| PingPathError::ShuttingDown)?;
        // Only the door's own sender may keep the queue open once it is closed.
        drop(sender);
        answer.await.map_err(|_| PingPathError::ShuttingDown)?
    }

    /// Takes no more requests; the stage ends once the queued ones are served.
    fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Answers every ping of a failed round with the failure (logged once, not per ping).
fn fail_all<T>(replies: Vec<Reply<T>>, error: PingPathError, what: &str) {
    tracing::error!(%error, size = replies.len(), "{what}");
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// The ping path of the store the portal was started on.
pub enum PingPath {
    /// SQLite: one connection on one thread.
    Sqlite(sqlite::Rounds),
    /// PostgreSQL: through the connection pool.
    Pooled(pooled::Rounds),
}

impl PingPath {
    /// Starts the rounds; `rounds` counts group commits; `limits` holds the per-license
    /// allowance that authentic pings count against; `receipt_key` is the portal's receipt
    /// key, which a hub's held receipt is checked against when it proves a re-sync.
    pub fn start(
        store: Store,
        rounds: Counter,
        limits: Arc<RateLimits>,
        receipt_key: PublicKey,
    ) -> Result<PingPath, PingPathError> {
        match store.sqlite_file() {
            Some(file) => {
                Ok(PingPath::Sqlite(sqlite::Rounds::start(file, rounds, limits, receipt_key)?))
            }
            None => Ok(PingPath::Pooled(pooled::Rounds::start(store, rounds, limits, receipt_key))),
        }
    }

    /// Authenticates and records one ping; answers after its round's commit.
    pub async fn judge(&self, ping: PingRequest) -> Result<Judged, PingPathError> {
        match self {
            PingPath::Sqlite(rounds) => rounds.judge(ping).await,
            PingPath::Pooled(rounds) => rounds.judge(ping).await,
        }
    }

    /// Stops taking pings and finishes every queued one.
    pub async fn close(&self) {
        match self {
            PingPath::Sqlite(rounds) => rounds.close().await,
            PingPath::Pooled(rounds) => rounds.close().await,
        }
    }
}
