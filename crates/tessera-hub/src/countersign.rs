//! The portal's countersignature of runner keys, on a license with `runner_countersign`:
//! the hub's pings name the runner keys that hold a slot (their ids only), and a runner runs
//! only while the receipt it holds countersigns its key. A runner leased a new slot must not
//! wait for the hourly ping: the lease call pings at once and answers with the new receipt.
//! For a runner whose place the latest receipt does not name (its lease lapsed before that
//! ping), the hub keeps the newest receipt that did and hands it with the lease
//! (`keep_named`, `named_for`): the runner runs on it through a portal outage, also when
//! it lost the copy in its own cache.

use tessera_core::UnixTime;
use tessera_core::activation::{Bundle, LeaseClaims, NamedReceipt};
use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::KeyId;
use tessera_core::license::Claims;
use tessera_core::machine::runner_place;
use tessera_core::receipt::ReceiptClaims;
use tessera_core::standing::grace_ends;

use crate::agent::{Hub, HubError};
use crate::slots::LeaseAnswer;
use crate::state::{HubState, RunnerRecord};

/// A failed ping this recent is not tried again at once for a lease: a portal that is down
/// is not asked once per runner call; the runner's next refresh asks again.
const RETRY_AFTER_SECS: u64 = 60;

/// What the portal said of one runner key, in the receipt the hub holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Countersign {
    /// Countersigned: the runner may run on this receipt.
    Countersigned,
    /// Refused: the license's runner places are held by keys countersigned before, until
    /// the receipts that named them end (at most the license's grace).
    Refused,
    /// Not answered yet: the next ping asks.
    Awaiting,
    /// The newest receipt does not name it (its lease lapsed before the last ping), but an
    /// earlier receipt did, whose countersignature the runner runs on until that receipt's
    /// grace ends.
    CountersignedEarlier,
}

impl Countersign {
    /// What the operator reads, with the license's `limit` and, for
    /// [`Countersign::CountersignedEarlier`], the end of that receipt's grace `until`.
    pub fn describe(self, limit: u32, until: Option<UnixTime>) -> String {
        match self {
            Countersign::Countersigned => "countersigned by the portal".to_owned(),
            Countersign::CountersignedEarlier => format!(
                "countersigned by the portal in an earlier receipt (the latest does not name \
                 it: its lease lapsed before the last ping), until {}; asked again at the next \
                 ping",
                until.map_or_else(|| "its grace ends".to_owned(), |t| t.to_string())
            ),
            Countersign::Refused => format!(
                "REFUSED by the portal: its {limit} runner places are held by keys it \
                 countersigned before, until the receipts that named them end (a runner \
                 replaced for good: the vendor can free its place at once)"
            ),
            Countersign::Awaiting => {
                "awaiting the portal's countersignature (asked at the next ping)".to_owned()
            }
        }
    }
}

/// The claims of a receipt text, unverified: only for the hub's own bookkeeping (whether to
/// ask now, what to show, what to keep); runners verify what they are given.
fn unverified(text: &str) -> Option<ReceiptClaims> {
    Envelope::parse(Kind::Receipt, text.as_bytes()).ok()?.open::<ReceiptClaims>().ok()
}

/// The claims of the receipt in `state`, unverified.
fn held_receipt(state: &HubState) -> Option<ReceiptClaims> {
    unverified(state.receipt.as_deref()?)
}

/// What `receipt` says of the runner place `place` ([`runner_place`]).
fn says(receipt: Option<&ReceiptClaims>, place: &KeyId) -> Countersign {
    match receipt.and_then(|r| r.runners.as_ref()) {
        Some(runners) if runners.names(place) => Countersign::Countersigned,
        Some(runners) if runners.refused.contains(place) => Countersign::Refused,
        _ => Countersign::Awaiting,
    }
}

/// What the receipt in `state` says of the runner place `place`.
pub(crate) fn countersign_of(state: &HubState, place: &KeyId) -> Countersign {
    says(held_receipt(state).as_ref(), place)
}

/// Most bytes of receipts kept for runner places ([`keep_named`]): far more than a site
/// needs (its runners' places are named by a receipt or two), and `state.json` never grows
/// past what it may hold; beyond it the oldest go first.
const MAX_NAMED_BYTES: usize = 1024 * 1024;

/// Whether a receipt kept for a place may still serve: of this license and hub key, and its
/// grace not ended at `now` (after that the portal no longer counts the places it named).
fn still_serves(
    receipt: &ReceiptClaims,
    license: &Claims,
    hub_key_id: &KeyId,
    now: UnixTime,
) -> bool {
    receipt.license_id == license.id
        && receipt.hub_key_id == *hub_key_id
        && now <= grace_ends(receipt.portal_time, license.ping_interval(), license.grace_period())
}

/// Called when the receipt in `state` was just replaced (a ping, an activation); `previous`
/// is the receipt it replaced with its delegation. Keeps, for the place of each runner holding
/// a lease (or whose lease lapsed) that the new receipt neither names nor refuses, the newest
/// receipt that named it, from `previous` and those kept before: a runner that lost its cache
/// (restored from a backup, its keystore entry gone) gets it with its next lease, and runs on
/// its countersignature while the portal still counts the place, through a portal outage.
/// Receipts whose grace has ended, of another hub key or license, or that no place needs, go.
pub(crate) fn keep_named(
    state: &mut HubState,
    previous: Option<NamedReceipt>,
    license: &Claims,
    hub_key_id: &KeyId,
    now: UnixTime,
) {
    if !license.runner_countersign || state.activation.is_some() {
        state.named_receipts.clear();
        state.refused_places.clear();
        return;
    }
    let newest = held_receipt(state);
    note_refusals(state, newest.as_ref(), license, now);
    let mut candidates: Vec<(ReceiptClaims, NamedReceipt)> = Vec::new();
    for named in std::mem::take(&mut state.named_receipts).into_iter().chain(previous) {
        if candidates.iter().any(|(_, n)| n.receipt == named.receipt) {
            continue;
        }
        if let Some(claims) = unverified(&named.receipt)
            && still_serves(&claims, license, hub_key_id, now)
        {
            candidates.push((claims, named));
        }
    }
    let mut keep: Vec<usize> = Vec::new();
    for record in state.runners.values().filter(|r| r.lease_until.is_some()) {
        let place = place_of(record);
        if says(newest.as_ref(), &place) != Countersign::Awaiting {
            continue;
        }
        let best = candidates
            .iter()
            .enumerate()
            .filter(|(_, (claims, _))| names_since_refusal(state, claims, &place))
            .max_by_key(|(_, (claims, _))| claims.portal_time)
            .map(|(i, _)| i);
        if let Some(i) = best
            && !keep.contains(&i)
        {
            keep.push(i);
        }
    }
    keep.sort_by_key(|i| std::cmp::Reverse(candidates[*i].0.portal_time));
    let mut bytes = 0;
    let mut kept = Vec::new();
    for i in keep {
        let named = &candidates[i].1;
        bytes += named.receipt.len() + named.delegation.len();
        if bytes > MAX_NAMED_BYTES {
            break;
        }
        kept.push(named.clone());
    }
    state.named_receipts = kept;
}

/// Records the places `newest` refuses, with its time, and forgets refusals older than any
/// receipt that still serves at `now`.
fn note_refusals(
    state: &mut HubState,
    newest: Option<&ReceiptClaims>,
    license: &Claims,
    now: UnixTime,
) {
    if let Some(receipt) = newest
        && let Some(runners) = &receipt.runners
    {
        for place in &runners.refused {
            let at = state.refused_places.entry(place.to_string()).or_insert(receipt.portal_time);
            *at = (*at).max(receipt.portal_time);
        }
    }
    state
        .refused_places
        .retain(|_, at| now <= grace_ends(*at, license.ping_interval(), license.grace_period()));
}

/// Whether `receipt` names `place` and is newer than the portal's last refusal of it: a
/// receipt from before a refusal, kept for another place, must not bring the refused place
/// back.
fn names_since_refusal(state: &HubState, receipt: &ReceiptClaims, place: &KeyId) -> bool {
    says(Some(receipt), place) == Countersign::Countersigned
        && state
            .refused_places
            .get(&place.to_string())
            .is_none_or(|refused| receipt.portal_time > *refused)
}

/// The receipt the hub hands the runner of place `place` beside its newest receipt, when
/// that one lets runners run (`valid`) and neither names nor refuses the place: the newest
/// kept receipt that named it and still serves ([`keep_named`]).
pub(crate) fn named_for(
    state: &HubState,
    place: &KeyId,
    license: &Claims,
    hub_key_id: &KeyId,
    now: UnixTime,
) -> Option<(NamedReceipt, ReceiptClaims)> {
    if !license.runner_countersign || state.activation.is_some() || state.receipt.is_none() {
        return None;
    }
    // The newest receipt must let runners run: one that says revoked, suspended or cloned
    // countersigns nothing, and an earlier countersignature lets no runner run under it (nor
    // may `runners list` say it does).
    let newest = held_receipt(state)?;
    if newest.status != tessera_core::Status::Valid
        || says(Some(&newest), place) != Countersign::Awaiting
    {
        return None;
    }
    state
        .named_receipts
        .iter()
        .filter_map(|named| Some((named.clone(), unverified(&named.receipt)?)))
        .filter(|(_, claims)| {
            still_serves(claims, license, hub_key_id, now)
                && names_since_refusal(state, claims, place)
        })
        .max_by_key(|(_, claims)| claims.portal_time)
}

/// The runner places a ping asks the portal to countersign: each runner holding a slot
/// now, its key on the machine its lease names.
pub(crate) fn asked(state: &HubState, now: tessera_core::UnixTime) -> Vec<KeyId> {
    state.runners.values().filter(|r| r.holds_slot(now)).map(place_of).collect()
}

/// A runner's place: its key on the machine its lease names.
pub(crate) fn place_of(record: &RunnerRecord) -> KeyId {
    runner_place(&record.key.key_id(), record.machine.as_ref())
}

impl Hub {
    /// The license's runner limit, if a license is installed.
    pub fn runner_limit(&self) -> Option<u32> {
        self.installed().ok().map(|i| i.claims.runners)
    }

    /// On a license with `runner_countersign`, a lease whose runner key the held receipt
    /// has not answered yet, or refused (asked again at most once a minute: the vendor may
    /// have freed places): pings now (so the portal countersigns it) and answers with the
    /// bundle of the new receipt; a receipt newer than the answer's is handed on in any case. A portal that cannot be reached leaves the answer as it
    /// was: the runner holds its lease, is not valid until a receipt countersigns it, and
    /// its next refresh asks again (the hub's grace is untouched).
    pub async fn countersigned(&self, answer: LeaseAnswer) -> LeaseAnswer {
        match self.ask_countersign(&answer).await {
            // A bundle for a request file carries the lease inside it: kept.
            Ok(Some(bundle)) => LeaseAnswer {
                bundle: Bundle { lease: answer.bundle.lease.clone(), ..bundle },
                ..answer
            },
            Ok(None) => answer,
            Err(e) => {
                tracing::warn!(error = %e, "a new runner's key could not be countersigned now: the runner is not valid until a ping reaches the portal");
                answer
            }
        }
    }

    async fn ask_countersign(&self, answer: &LeaseAnswer) -> Result<Option<Bundle>, HubError> {
        let Some(lease) = answer.lease.as_deref() else { return Ok(None) };
        let installed = self.installed()?;
        if !installed.claims.runner_countersign {
            return Ok(None);
        }
        let Ok(claims) = Envelope::parse(Kind::Lease, lease.as_bytes())
            .and_then(|envelope| envelope.open::<LeaseClaims>())
        else {
            return Ok(None);
        };
        let _turn = self.ping_turn.lock().await;
        let state = self.dir().load()?;
        // The answer was made before this turn: a ping in between may hold a newer receipt.
        let now = self.now();
        let place = runner_place(&claims.runner_key_id, claims.machine.as_ref());
        let bundle = |state: &HubState| {
            let report = self.judge(&installed, state);
            Hub::runner_bundle(&installed, state, report.status, &place, now)
        };
        let newer =
            |state: &HubState| (state.receipt != answer.bundle.receipt).then(|| bundle(state));
        if state.portal.is_none() {
            return Ok(None);
        }
        let asked_lately = |state: &HubState| {
            held_receipt(state).is_some_and(|r| {
                now.as_unix() < r.portal_time.as_unix().saturating_add(RETRY_AFTER_SECS as i64)
            })
        };
        match countersign_of(&state, &place) {
            Countersign::Countersigned => return Ok(newer(&state)),
            // Refused: asked again, at most once a minute (the vendor may have freed places).
            Countersign::Refused if asked_lately(&state) => return Ok(newer(&state)),
            Countersign::Refused | Countersign::Awaiting | Countersign::CountersignedEarlier => {}
        }
        if state
            .last_failure
            .as_ref()
            .is_some_and(|f| now.as_unix() < f.at.as_unix().saturating_add(RETRY_AFTER_SECS as i64))
        {
            return Ok(newer(&state));
        }
        self.ping_in_turn().await?;
        let state = self.dir().load()?;
        Ok(Some(bundle(&state)))
    }
}

#[cfg(test)]
mod tests;
