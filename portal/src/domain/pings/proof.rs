//! The receipt keys whose receipts a hub may show as proof of its place in a chain this
//! portal forgot (a restore from a backup): the portal's own receipt key, and every key a
//! vendor delegation the portal has served covers (kept in the database, so a portal
//! restored with a new receipt key still knows the key its hubs' receipts were signed with).

use tessera_core::UnixTime;
use tessera_core::armor::{Envelope, Kind};
use tessera_core::delegation::Delegation;
use tessera_core::keys::{KeyId, PublicKey};
use tessera_core::license::LicenseId;
use tessera_core::receipt::{Nonce, resync_proof};
use tessera_core::trust::TrustSet;

/// The receipt keys this portal signs or signed with.
#[derive(Clone)]
pub struct ReceiptKeys {
    /// The current key, whatever its delegation.
    current: PublicKey,
    /// Earlier keys, with the window their vendor delegation covers.
    delegated: Vec<Delegation>,
}

impl ReceiptKeys {
    /// The current key and the keys of the stored delegations (armored) that `trust`
    /// verifies; one that does not verify is left out and logged.
    pub fn new(
        current: PublicKey,
        delegations: &[String],
        trust: Option<&TrustSet>,
        now: UnixTime,
    ) -> ReceiptKeys {
        let mut delegated = Vec::new();
        if let Some(trust) = trust {
            for text in delegations {
                match Delegation::verify(text.as_bytes(), trust, now) {
                    Ok(delegation) if delegation.claims.portal_key != current => {
                        delegated.push(delegation);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "a stored delegation does not verify: its receipts prove nothing");
                    }
                }
            }
        }
        ReceiptKeys { current, delegated }
    }

    /// The portal time of `held`, when it is a receipt signed by one of these keys (in its
    /// delegation's window) that proves a hub's place in a chain ([`resync_proof`]: for this
    /// license and hub key, answering the call `holds`, an answer that moved the chain).
    pub fn proof(
        &self,
        held: &str,
        license_id: LicenseId,
        hub_key_id: KeyId,
        holds: Nonce,
    ) -> Option<UnixTime> {
        let signer = Envelope::parse(Kind::Receipt, held.as_bytes()).ok()?.key_id();
        let (key, window) = if signer == self.current.key_id() {
            (&self.current, None)
        } else {
            let delegation =
                self.delegated.iter().find(|d| d.claims.portal_key.key_id() == signer)?;
            (&delegation.claims.portal_key, Some(delegation))
        };
        match resync_proof(held, key, license_id, hub_key_id, holds) {
            Ok(at) if window.is_none_or(|d| d.covers(at)) => Some(at),
            Ok(at) => {
                tracing::info!(
                    at = at.as_unix(),
                    "a held receipt signed outside its key's delegation proves nothing"
                );
                None
            }
            Err(error) => {
                tracing::info!(%error, "a ping behind the chain holds no proof of a newer place in it");
                None
            }
        }
    }
}
