//! What the receipt of a ping the pipeline let through says: the license's standing, then
//! the host. A copy (`cloned`) says so whatever else holds; a valid license from a host
//! that no longer matches its binding is `fingerprint_mismatch`; a hub that showed its older
//! fingerprint beside a newer one moves the binding to the newer.

use tessera_core::Status;
use tessera_core::UnixTime;
use tessera_core::receipt::PingCall;

use super::VerifiedPing;
use crate::domain::binding::{Presented, same_host};
use crate::domain::standing::license_status;
use crate::store::{Store, StoreError};

/// A ping's answer.
#[derive(Debug)]
pub struct PingAnswer {
    /// The status the receipt says.
    pub status: Status,
    /// The fingerprint as the call presented it (its digest goes in the receipt).
    pub fingerprint_json: String,
}

/// The answer to `call`, let through as `ping` (`cloned` when the pipeline found a copy).
pub async fn answer(
    store: &Store,
    ping: &VerifiedPing,
    cloned: bool,
    call: &PingCall,
    now: UnixTime,
) -> Result<PingAnswer, StoreError> {
    let activation = &ping.activation;
    // Usually the host has not changed at all: the same canonical JSON as stored needs no
    // parsing; only a changed fingerprint goes through the matching rule.
    let presented = serde_json::to_string(&call.fingerprint)
        .map_err(|e| StoreError::Corrupt(format!("a fingerprint as JSON: {e}")))?;
    let mut status = license_status(&ping.license, now);
    if cloned {
        status = Status::Cloned;
    } else if status == Status::Valid && presented != activation.fingerprint {
        let host = Presented {
            fingerprint: &call.fingerprint,
            version: call.fingerprint_version,
            previous: call.previous_fingerprint.as_ref(),
        };
        match same_host(&activation.fingerprint, activation.fingerprint_version, host) {
            Err(_) => status = Status::FingerprintMismatch,
            Ok(()) if activation.fingerprint_version < i64::from(call.fingerprint_version) => {
                // The hub showed its older fingerprint, which matched: keep only the newer.
                let key = ping.hub_key.to_string();
                let version = call.fingerprint_version;
                store.move_fingerprint(&activation.license_id, &key, &presented, version).await?;
                tracing::info!(license = %activation.license_id, version, "the binding's fingerprint moved to a newer version");
            }
            Ok(()) => {}
        }
    }
    Ok(PingAnswer { status, fingerprint_json: presented })
}
