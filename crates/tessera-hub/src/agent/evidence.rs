//! What the hub hands out of its signed evidence: the bundle a runner gets with its lease,
//! and the signed answer of the local status socket.

use tessera_core::activation::Bundle;
use tessera_core::keys::KeyId;
use tessera_core::local_status::{BootId, LocalAnswer, LocalStatus};
use tessera_core::receipt::Nonce;
use tessera_core::{Status, UnixTime};

use super::{Hub, HubError, Installed};
use crate::state::HubState;

impl Hub {
    /// What runners are handed with their lease: everything they need to decide offline.
    pub(crate) fn bundle_of(installed: &Installed, state: &HubState, status: Status) -> Bundle {
        Bundle {
            status,
            license: installed.license_text.clone(),
            receipt: state.receipt.clone(),
            delegation: state.delegation.clone(),
            activation: state.activation.clone(),
            hub_key: installed.key.public_key().clone(),
            lease: None,
            named_receipt: None,
        }
    }

    /// [`Hub::bundle_of`] for the runner of place `place` (its key on the machine its lease
    /// names), at `now`: with the newest receipt that named the place, when the latest
    /// neither names nor refuses it ([`crate::countersign::named_for`]).
    pub(crate) fn runner_bundle(
        installed: &Installed,
        state: &HubState,
        status: Status,
        place: &KeyId,
        now: UnixTime,
    ) -> Bundle {
        let named = crate::countersign::named_for(
            state,
            place,
            &installed.claims,
            &installed.key.key_id(),
            now,
        );
        Bundle { named_receipt: named.map(|(n, _)| n), ..Hub::bundle_of(installed, state, status) }
    }

    /// What the local status socket answers the request with `nonce`: the agent's verdict
    /// with the signed evidence behind it, signed with the hub key together with the nonce
    /// and this machine's boot id, for the vendor's hub application to check for itself.
    /// Without a license there is nothing to sign: the answer is unsigned (a "no").
    pub fn local_answer(&self, nonce: Nonce) -> LocalAnswer {
        let state = match self.dir.load() {
            Ok(state) => state,
            Err(e) => {
                let e = HubError::from(e);
                return LocalAnswer::unsigned(
                    e.status().unwrap_or(Status::NoLicense),
                    e.to_string(),
                );
            }
        };
        let installed = match self.installed() {
            Ok(installed) => installed,
            Err(e) => {
                let status = e.status().unwrap_or(Status::NoLicense);
                return LocalAnswer::unsigned(status, e.to_string());
            }
        };
        let report = self.judge(&installed, &state);
        let status = LocalStatus {
            nonce,
            // Read once when the socket starts serving (local.rs), so no later shortage
            // of descriptors can change it.
            boot_id: BootId::of_this_machine().unwrap_or(None),
            status: report.status,
            reason: report.reason,
            evidence: Hub::bundle_of(&installed, &state, report.status),
            high_water: state.high_water.unwrap_or(UnixTime::EPOCH),
            runners_leased: report.runners_leased,
        };
        LocalAnswer::signed(&status, &installed.key)
    }
}
