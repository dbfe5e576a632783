//! The portal's countersignature of runner keys, on a license with `runner_countersign`:
//! the hub's pings name the runner keys that hold a slot (their ids only), and a runner runs
//! only while the receipt it holds countersigns its key. A runner leased a new slot must not
//! wait for the hourly ping: the lease call pings at once and answers with the new receipt.

use tessera_core::activation::{Bundle, LeaseClaims};
use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::KeyId;
use tessera_core::machine::runner_place;
use tessera_core::receipt::ReceiptClaims;

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
}

impl Countersign {
    /// What the operator reads, with the license's `limit`.
    pub fn describe(self, limit: u32) -> String {
        match self {
            Countersign::Countersigned => "countersigned by the portal".to_owned(),
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

/// The claims of the receipt in `state`, unverified: only for the hub's own bookkeeping
/// (whether to ask now, what to show); runners verify what they are given.
fn held_receipt(state: &HubState) -> Option<ReceiptClaims> {
    let text = state.receipt.as_deref()?;
    Envelope::parse(Kind::Receipt, text.as_bytes()).ok()?.open::<ReceiptClaims>().ok()
}

/// What the receipt in `state` says of the runner place `place` ([`runner_place`]).
pub(crate) fn countersign_of(state: &HubState, place: &KeyId) -> Countersign {
    match held_receipt(state).and_then(|r| r.runners) {
        Some(runners) if runners.names(place) => Countersign::Countersigned,
        Some(runners) if runners.refused.contains(place) => Countersign::Refused,
        _ => Countersign::Awaiting,
    }
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
        let newer = |state: &HubState| {
            let report = self.judge(&installed, state);
            (state.receipt != answer.bundle.receipt)
                .then(|| Hub::bundle_of(&installed, state, report.status))
        };
        if state.portal.is_none() {
            return Ok(None);
        }
        let now = self.now();
        let place = runner_place(&claims.runner_key_id, claims.machine.as_ref());
        let asked_lately = |state: &HubState| {
            held_receipt(state).is_some_and(|r| {
                now.as_unix() < r.portal_time.as_unix().saturating_add(RETRY_AFTER_SECS as i64)
            })
        };
        match countersign_of(&state, &place) {
            Countersign::Countersigned => return Ok(newer(&state)),
            // Refused: asked again, at most once a minute (the vendor may have freed places).
            Countersign::Refused if asked_lately(&state) => return Ok(newer(&state)),
            Countersign::Refused | Countersign::Awaiting => {}
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
        let report = self.judge(&installed, &state);
        Ok(Some(Hub::bundle_of(&installed, &state, report.status)))
    }
}
