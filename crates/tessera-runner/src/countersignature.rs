//! A runner's countersignature (a license with `runner_countersign`): which receipt names its
//! place, and whether that lets it run.
//!
//! A runner runs on a receipt whose portal countersignature names its place (its key on the
//! machine its lease names). The newest receipt may not name it though the portal still
//! counts it: a lease that lapsed before the hub's last ping drops the runner from that ping,
//! and when the portal is down at the runner's next lease, no newer receipt names it. The
//! portal keeps a place counted until the grace of the last receipt naming it ends
//! (`portal/src/domain/pings/countersign.rs`), so the runner keeps that receipt (its
//! `named_receipt`: from its own cache, or handed by the hub, which keeps one per runner place
//! for a runner restored from a backup), with the delegation it was signed under (one renewed
//! since need not cover it), and takes the countersignature from it while that receipt itself
//! still permits running. Standing (revoked, suspended, expired, cloned) is judged from the newest
//! receipt alone, and a place the newest receipt refuses is refused: the kept receipt only
//! ever says "counted", never "may run".

use std::time::Duration;

use tessera_core::activation::LeaseClaims;
use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::KeyId;
use tessera_core::license::Claims;
use tessera_core::machine::runner_place;
use tessera_core::receipt::ReceiptClaims;
use tessera_core::standing::{self, Evidence};
use tessera_core::trust::TrustSet;
use tessera_core::{Status, UnixTime};

use crate::cache::{Cache, KeptReceipt};
use crate::check::{Decision, verified_receipt};

/// What a receipt says of one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Said {
    Named,
    Refused,
    Silent,
}

fn said(receipt: &ReceiptClaims, place: &KeyId) -> Said {
    match &receipt.runners {
        Some(runners) if runners.names(place) => Said::Named,
        Some(runners) if runners.refused.contains(place) => Said::Refused,
        _ => Said::Silent,
    }
}

/// The claims of a receipt text, unverified: only to choose what the cache keeps (every
/// check verifies the receipt it relies on).
fn unverified(text: &str) -> Option<ReceiptClaims> {
    Envelope::parse(Kind::Receipt, text.as_bytes()).ok()?.open::<ReceiptClaims>().ok()
}

/// The receipt a new cache keeps as its `named_receipt`, beside its newest receipt
/// `receipt` (of the hub `hub_key_id`) and its lease `lease`: none when the newest names the
/// runner's place or refuses it; else the newest of the receipts that named it, with the
/// delegation each was signed under: those of `previous` (of the same hub, whose vendor key
/// `trust` still holds at `now`) and the one the hub `offered` with its bundle (verified).
pub(crate) fn kept(
    previous: Option<&Cache>,
    receipt: Option<&str>,
    lease: &LeaseClaims,
    hub_key_id: &KeyId,
    offered: Option<KeptReceipt>,
    trust: &TrustSet,
    now: UnixTime,
) -> Option<KeptReceipt> {
    let machine = lease.machine.as_ref()?;
    let place = runner_place(&lease.runner_key_id, Some(machine));
    if let Some(newest) = receipt.and_then(unverified)
        && said(&newest, &place) != Said::Silent
    {
        return None;
    }
    let previous = previous.filter(|p| p.hub_key_id == *hub_key_id);
    let held = previous.into_iter().flat_map(|p| {
        let newest = p.receipt.clone().zip(p.delegation.clone());
        let newest = newest.map(|(receipt, delegation)| KeptReceipt { receipt, delegation });
        newest.into_iter().chain(p.named_receipt.clone())
    });
    // What the cache held was verified with the trust set it held: a trust set given anew
    // (`refresh --trust`) must still hold the vendor key, as the bundle's delegation must.
    let held = held.filter(|k| trust.lookup(k.delegation.vendor_key_id, now).is_ok());
    held.chain(offered)
        .filter_map(|k| {
            let claims = unverified(&k.receipt)?;
            (said(&claims, &place) == Said::Named).then_some((claims.portal_time, k))
        })
        .max_by_key(|(portal_time, _)| *portal_time)
        .map(|(_, k)| k)
}

/// What a runner's countersignature allows ([`countersigned`]).
#[derive(Debug)]
pub(crate) enum Countersignature {
    /// Nothing to limit: not a `runner_countersign` license, an air-gapped hub, or the
    /// newest receipt names the place.
    Newest,
    /// The newest receipt is silent about the place: the runner runs on the kept receipt's
    /// countersignature, which ends when that receipt's grace does, `left` from now (the
    /// check reports no more grace than this).
    Kept { left: Duration, portal_time: UnixTime },
    /// Not countersigned: the runner may not run.
    Refused(Decision),
}

/// On a license with `runner_countersign`, a runner runs only on a receipt whose portal
/// countersignature names its place: a lease the hub signed alone (a patched hub's, past the
/// limit) is not enough. `newest` is the cache's receipt, already judged to permit running.
/// An air-gapped hub (offline activation) has no portal to ask: its leases stand alone,
/// bounded by the activation's window, as on any license.
pub(crate) fn countersigned(
    claims: &Claims,
    evidence: Evidence<'_>,
    cache: &Cache,
    now: UnixTime,
    tolerance: Duration,
) -> Countersignature {
    match not_countersigned(claims, evidence, cache, now, tolerance) {
        Ok(None) => Countersignature::Newest,
        Ok(Some((left, portal_time))) => Countersignature::Kept { left, portal_time },
        Err(decision) => Countersignature::Refused(decision),
    }
}

/// [`countersigned`]: `Ok(None)` when nothing limits the runner, `Ok(Some((left, at)))` when it
/// runs on the kept receipt of portal time `at`, for `left` more, else the refusal.
fn not_countersigned(
    claims: &Claims,
    evidence: Evidence<'_>,
    cache: &Cache,
    now: UnixTime,
    tolerance: Duration,
) -> Result<Option<(Duration, UnixTime)>, Decision> {
    let Evidence::Receipt(newest) = evidence else { return Ok(None) };
    if !claims.runner_countersign {
        return Ok(None);
    }
    let key = &cache.runner_key_id;
    // The place is this key on the machine the lease names (checked to be this one): a
    // lease naming no machine would make one place of every copy of the key.
    let Some(machine) = cache.lease.machine.as_ref() else {
        return Err(Decision::new(
            Status::RunnerLimitExceeded,
            "on a license whose runners the portal counts, a lease must name the machine it \
             was granted to, and this one names none: give this machine an id \
             (/etc/machine-id, unique per machine or container), then `tessera-runner request` \
             again",
        ));
    };
    let place = runner_place(key, Some(machine));
    let reason = match said(newest, &place) {
        Said::Named => return Ok(None),
        Said::Refused => format!(
            "the portal refused to countersign this runner's key {key}: the license's {} runner \
             places are held by keys it countersigned before, until the receipts that named \
             them end (`tessera-hub runners list` shows them); a runner replaced for good: \
             ask the vendor to free its place",
            newest.runners.as_ref().map_or(0, |r| r.limit)
        ),
        Said::Silent => match named_still_counts(claims, cache, &place, now, tolerance) {
            Some(kept) => return Ok(Some(kept)),
            None => format!(
                "the portal has not countersigned this runner's key {key} (the license counts \
             runners at the portal): the hub asks at once when the portal can be reached; \
             `tessera-runner refresh` after that"
            ),
        },
    };
    Err(Decision::new(Status::RunnerLimitExceeded, reason))
}

/// Whether the kept receipt verifies, names `place`, and itself still permits running (its
/// own grace): the portal counts the place that long. Returns the grace that receipt leaves
/// and its portal time.
fn named_still_counts(
    claims: &Claims,
    cache: &Cache,
    place: &KeyId,
    now: UnixTime,
    tolerance: Duration,
) -> Option<(Duration, UnixTime)> {
    let named = cache.named_receipt.as_ref()?;
    let kept = verified_receipt(&named.receipt, &named.delegation, cache, claims).ok()?;
    if said(&kept, place) != Said::Named {
        return None;
    }
    let standing =
        standing::judge(Evidence::Receipt(&kept), claims, now, cache.high_water, tolerance);
    standing
        .status
        .permits_running()
        .then(|| (standing.left.unwrap_or(Duration::ZERO), kept.portal_time))
}

#[cfg(test)]
mod tests;
