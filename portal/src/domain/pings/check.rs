//! The check of a round, before anything is written: each ping matched with the key that
//! must have signed it, every signature verified in one batch, then the judgements that
//! need no write lock: a replay, the license's rate limit, a fork, and the proof a ping
//! behind the chain may carry.

use tessera_core::chain::Link;
use tessera_core::keys::{PublicKey, verify_many};

use super::proof::ReceiptKeys;
use super::{Judged, PingRequest, VerifiedPing};
use crate::limits::RateLimits;
use crate::store::pings::{Found, Replaced};
use crate::store::{PingRecord, StoreError};

/// What the writer records for an authentic ping.
pub(super) enum Recorded {
    /// A ping of the bound key: counted, or refused by the chain, under the write lock.
    Ping(PingRecord),
    /// A fork: the replaced key that pinged.
    Fork {
        /// The license.
        license_id: String,
        /// The replaced key, as stored.
        replaced: String,
        /// The portal's time (Unix seconds).
        at: i64,
    },
}

/// A checked ping on its way to the writer: what to record, or the judgement already made.
pub(super) type Checked = Result<(VerifiedPing, Recorded), Judged>;

/// A ping matched with the key whose signature it must carry.
struct Candidate {
    ping: VerifiedPing,
    /// The replaced key, when the ping is signed by it (a fork if made after the rebind).
    replaced: Option<Replaced>,
}

/// Checks a round: `found` is the lookup of each ping's license, in order.
pub(super) fn check(
    pings: Vec<PingRequest>,
    found: Vec<Option<Found>>,
    limits: &RateLimits,
    receipt_keys: &ReceiptKeys,
) -> Result<Vec<Checked>, StoreError> {
    let mut candidates = Vec::with_capacity(pings.len());
    for (ping, found) in pings.iter().zip(found) {
        candidates.push(match_key(ping, found, receipt_keys)?);
    }
    let items: Vec<(&PublicKey, &[u8], &[u8; 64])> = candidates
        .iter()
        .zip(&pings)
        .filter_map(|(candidate, ping)| {
            let key = &candidate.as_ref().ok()?.ping.hub_key;
            Some((key, ping.envelope.signed_message(), ping.envelope.signature()))
        })
        .collect();
    let mut good = verify_many(&items).into_iter();
    drop(items);
    Ok(candidates
        .into_iter()
        .zip(pings)
        .map(|(candidate, ping)| {
            let candidate = candidate?;
            if good.next() != Some(true) {
                // Not the replaced key's signature after all: just another key.
                return Err(match candidate.replaced {
                    Some(_) => Judged::WrongKey,
                    None => Judged::BadSignature,
                });
            }
            judge(candidate, ping, limits, receipt_keys)
        })
        .collect())
}

/// The key a ping must be signed by: the bound hub key, or the key the binding's last
/// re-activation replaced. A stored key that does not parse is a corrupt round.
fn match_key(
    ping: &PingRequest,
    found: Option<Found>,
    receipt_keys: &ReceiptKeys,
) -> Result<Result<Candidate, Judged>, StoreError> {
    let Some(found) = found else { return Ok(Err(Judged::UnknownLicense)) };
    let Some(activation) = found.activation else { return Ok(Err(Judged::NotActivated)) };
    let signer = ping.envelope.key_id();
    let bound = parse_key(&activation.hub_key)?;
    if bound.key_id() == signer {
        let ping = VerifiedPing { license: found.license, activation, hub_key: bound };
        return Ok(Ok(Candidate { ping, replaced: None }));
    }
    // A replaced key is not trusted to be well formed: it only ever proves a fork.
    let replaced_key = found.replaced.as_ref().and_then(|r| r.hub_key.parse::<PublicKey>().ok());
    match (replaced_key, found.replaced) {
        (Some(key), Some(replaced)) if key.key_id() == signer => {
            let ping = VerifiedPing { license: found.license, activation, hub_key: key };
            Ok(Ok(Candidate { ping, replaced: Some(replaced) }))
        }
        _ if bound_since(ping, &found.license.id, activation.last_ping_at, receipt_keys) => {
            Ok(Err(Judged::BoundSince))
        }
        _ => Ok(Err(Judged::WrongKey)),
    }
}

/// Whether a ping signed by a key the binding does not know holds a receipt this portal
/// signed for that key after the binding's last ping: the same evidence a re-sync takes
/// (a copy left behind cannot show a receipt newer than the ping that moved the chain past
/// it), here for a hub that re-activated with a new key after the backup this portal was
/// restored from. Its public key is not in a ping, so it cannot be adopted here: the hub is
/// told to activate again, which it does by itself.
fn bound_since(
    ping: &PingRequest,
    license_id: &str,
    last_ping_at: Option<i64>,
    receipt_keys: &ReceiptKeys,
) -> bool {
    let (Some(held), Some(holds), Some(last)) =
        (ping.held_receipt.as_deref(), ping.holds, last_ping_at)
    else {
        return false;
    };
    let Ok(license_id) = license_id.parse() else { return false };
    receipt_keys
        .proof(held, license_id, ping.envelope.key_id(), holds)
        .is_some_and(|at| at.as_unix() > last)
}

fn parse_key(stored: &str) -> Result<PublicKey, StoreError> {
    stored.parse().map_err(|_| StoreError::Corrupt("a stored hub key does not parse".into()))
}

/// An authentic ping judged before the write: a fork, a replay, over its limit, or on its
/// way to be recorded (with the proof of its place when the chain looks like refusing it).
fn judge(
    candidate: Candidate,
    ping: PingRequest,
    limits: &RateLimits,
    receipt_keys: &ReceiptKeys,
) -> Checked {
    let Candidate { ping: verified, replaced } = candidate;
    if let Some(replaced) = replaced {
        return if made_after_rebind(&replaced, ping.hub_time_ms) {
            let record = Recorded::Fork {
                license_id: verified.license.id.clone(),
                replaced: replaced.hub_key,
                at: ping.at.as_unix(),
            };
            Ok((verified, record))
        } else {
            Err(Judged::WrongKey)
        };
    }
    // A replayed genuine ping is stale before it spends the genuine hub's allowance; the
    // write checks staleness again under its lock.
    if ping.hub_time_ms <= verified.activation.last_hub_time_ms {
        return Err(Judged::Stale);
    }
    limits.verified_ping(&verified.license.id).map_err(Judged::Limited)?;
    let held_at = held_at(&verified, &ping, receipt_keys);
    let record = PingRecord {
        license_id: verified.license.id.clone(),
        hub_key: verified.activation.hub_key.clone(),
        hub_time_ms: ping.hub_time_ms,
        at: ping.at,
        holds: ping.holds,
        answer: ping.answer,
        held_at,
    };
    Ok((verified, Recorded::Ping(record)))
}

/// Whether a ping signed by a replaced key was made after the re-activation that replaced
/// it, in the order the portal recorded: its hub time is later than the re-activation
/// call's. Both are the hub's clock when a hub is reinstalled on its host, so the old hub's
/// last ping still in flight is never a fork, however far that clock is from the portal's;
/// two copies on two hosts are ordered by clocks that both stay within the allowed skew of
/// the portal's. A re-activation whose call time was not recorded proves no fork.
fn made_after_rebind(replaced: &Replaced, hub_time_ms: i64) -> bool {
    replaced.rebound_hub_time_ms.is_some_and(|rebound| hub_time_ms > rebound)
}

/// The portal time of the receipt the hub holds, when that receipt proves the hub's place
/// in a chain this portal has forgotten. Checked only when the binding as looked up would
/// refuse the ping as a copy: one signature check more on a rare call, none on the others.
fn held_at(verified: &VerifiedPing, ping: &PingRequest, receipt_keys: &ReceiptKeys) -> Option<i64> {
    let (Some(held), Some(holds)) = (ping.held_receipt.as_deref(), ping.holds) else {
        return None;
    };
    if verified.activation.chain.judge(Some(holds)) != Link::Forked {
        return None;
    }
    let license_id = verified.license.id.parse().ok()?;
    receipt_keys.proof(held, license_id, verified.hub_key.key_id(), holds).map(|at| at.as_unix())
}
