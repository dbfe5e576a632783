//! The hub API: where a hub activates and where its hourly ping is judged, stored and
//! answered with a signed receipt.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tessera_core::Status;
use tessera_core::UnixTime;
use tessera_core::armor::{Compact, Envelope, FormatError, Kind};
use tessera_core::receipt::{
    self, ActivateCall, Answers, PingCall, ReceiptClaims, fingerprint_json_digest,
};

use super::error::ApiError;
use super::extract::ApiJson;
use crate::app::Portal;
use crate::domain::activation::{self, Activated, ActivationRefused, ActivationRules};
use crate::domain::clock::check_clock;
use crate::domain::licenses::LicenseRow;
use crate::domain::pings::{self, Judged, PingAnswer, PingRequest};
use crate::domain::rebinding::Bound;
use crate::metrics::StatusLabel;

/// The answer to an activation or a ping.
#[derive(Debug, Serialize)]
pub struct ReceiptResponse {
    /// The status the receipt carries, for convenience; the receipt is what counts.
    pub status: Status,
    /// The armored, signed receipt.
    pub receipt: String,
    /// The vendor-signed delegation of the portal's receipt key.
    pub delegation: String,
}

fn malformed(e: FormatError) -> ApiError {
    ApiError::bad_request("malformed_call", e.to_string())
}

fn sign_receipt(portal: &Portal, claims: &ReceiptClaims, delegation: &str) -> ReceiptResponse {
    let receipt = receipt::sign(claims, &portal.receipt_key);
    portal.metrics.receipts.get_or_create(&StatusLabel { status: claims.status.as_str() }).inc();
    ReceiptResponse { status: claims.status, receipt, delegation: delegation.to_owned() }
}

/// An activation refused without a receipt, as the hub API answers it.
fn refused_activation(refused: ActivationRefused) -> ApiError {
    let message = refused.to_string();
    match refused {
        ActivationRefused::UnknownLicense => ApiError::not_found("unknown_license", message),
        ActivationRefused::NotAdmitted { .. } => ApiError::forbidden("not_admitted", message),
        ActivationRefused::Stale => ApiError::conflict("stale_call", message),
        ActivationRefused::Limited(limited) => limited.into(),
        ActivationRefused::Store(e) => e.into(),
        ActivationRefused::Fingerprint(e) => ApiError::Internal(e),
    }
}

fn next_ping_by(license: &LicenseRow, now: UnixTime) -> UnixTime {
    now.saturating_add(Duration::from_secs(
        u64::try_from(license.ping_interval_secs).unwrap_or(3600),
    ))
}

/// `POST /v1/activate`: bind a license to the calling hub.
pub async fn activate(
    State(portal): State<Arc<Portal>>,
    ApiJson(compact): ApiJson<Compact>,
) -> Result<Json<ReceiptResponse>, ApiError> {
    let (_, delegation) = portal.hub_ready()?;
    let envelope = Envelope::from_compact(Kind::Activate, &compact).map_err(malformed)?;
    let call: ActivateCall = envelope.open().map_err(malformed)?;
    if envelope.key_id() != call.hub_key.key_id() {
        return Err(ApiError::bad_request("malformed_call", "key_id is not the id of hub_key"));
    }
    // Possession of the hub key: the hub signs its own activation.
    envelope.verify_signature(&call.hub_key).map_err(|_| {
        ApiError::unprocessable("bad_signature", "the activation is not signed by hub_key")
    })?;
    let now = portal.now();
    check_clock(call.hub_time_ms, now, portal.settings.clock_skew_secs)?;
    let rules = ActivationRules {
        rebind_every_secs: portal.settings.rebind_every_secs,
        repairs_per_year: portal.settings.repairs_per_year,
    };
    let Activated { license, status, bound, fingerprint_json } =
        activation::activate(portal.records(), &portal.limits, rules, &call, now)
            .await
            .map_err(refused_activation)?;
    let hub_key = call.hub_key.key_id();
    match bound {
        None => {}
        Some(Bound::New) => tracing::info!(license = %license.id, %hub_key, "activated"),
        Some(Bound::Again) => {
            portal.metrics.rebinds.inc();
            tracing::warn!(license = %license.id, %hub_key, "activated again on the same host (counted: see rebinds)");
        }
        Some(Bound::Repaired { repairs }) => {
            portal.metrics.rebinds.inc();
            portal.metrics.repairs.inc();
            tracing::warn!(license = %license.id, %hub_key, repairs, allowed = portal.settings.repairs_per_year, "activated again on the same host sooner than rebind_every_secs: a self-service repair (counted: see repairs)");
        }
        Some(Bound::TooSoon { rebound_at }) => {
            portal.metrics.pings.get_or_create(&StatusLabel { status: "cloned" }).inc();
            tracing::warn!(license = %license.id, rebound_at, "a re-activation too soon after the last one, past the repair allowance: refused as cloned");
        }
        Some(Bound::OtherHost { matched, needed }) => {
            tracing::info!(license = %license.id, matched, needed, "activation from another host refused");
        }
        Some(Bound::Stale) => {}
    }
    let claims = ReceiptClaims {
        license_id: license.id.parse().map_err(|_| ApiError::Internal("bad stored id".into()))?,
        answers: Answers::Activate,
        status,
        portal_time: now,
        nonce: call.nonce,
        next_ping_by: next_ping_by(&license, now),
        fingerprint: fingerprint_json_digest(&fingerprint_json),
        hub_key_id: call.hub_key.key_id(),
        ledger_head: portal.ledger_head(),
        runners: None,
    };
    Ok(Json(sign_receipt(&portal, &claims, delegation)))
}

/// `POST /v1/ping`: the hourly validation.
pub async fn ping(
    State(portal): State<Arc<Portal>>,
    ApiJson(compact): ApiJson<Compact>,
) -> Result<Json<ReceiptResponse>, ApiError> {
    let (_, delegation) = portal.hub_ready()?;
    let envelope = Envelope::from_compact(Kind::Ping, &compact).map_err(malformed)?;
    let mut call: PingCall = envelope.open().map_err(malformed)?;
    let license_id = call.license_id.to_string();
    let now = portal.now();
    check_clock(call.hub_time_ms, now, portal.settings.clock_skew_secs)?;
    let request = PingRequest {
        license_id,
        envelope,
        hub_time_ms: call.hub_time_ms,
        at: now,
        holds: call.holds,
        answer: call.nonce,
        held_receipt: call.held_receipt.take(),
    };
    let judged = portal.pings.judge(request).await?;
    let label = match &judged {
        Judged::Counted(_) => "counted",
        Judged::Resynced(_) => "resynced",
        Judged::Cloned(_) | Judged::Forked(_) => "cloned",
        Judged::Stale => "stale",
        Judged::Limited(_) => "limited",
        Judged::NotActivated | Judged::BoundSince => "not_activated",
        Judged::UnknownLicense | Judged::WrongKey | Judged::BadSignature => "refused",
    };
    portal.metrics.pings.get_or_create(&StatusLabel { status: label }).inc();
    if matches!(
        judged,
        Judged::NotActivated
            | Judged::BoundSince
            | Judged::UnknownLicense
            | Judged::WrongKey
            | Judged::BadSignature
            | Judged::Forked(_)
    ) {
        // A ping that proved nothing: refused pings share one allowance, so a flood of
        // forged pings is answered 429 and never uses up a genuine hub's.
        portal.limits.refused_ping()?;
    }
    let (ping, cloned) = match judged {
        Judged::Counted(ping) => (ping, false),
        Judged::Resynced(ping) => {
            tracing::info!(license = %ping.license.id, hub_key = %ping.hub_key.key_id(), "a hub ahead of the chain this portal remembers (restored from a backup?) proved its place with a receipt signed since: re-synced, counted");
            (ping, false)
        }
        Judged::Cloned(ping) => {
            tracing::warn!(license = %ping.license.id, hub_key = %ping.hub_key.key_id(), "a copy of the bound hub pinged with an old receipt: refused as cloned");
            (ping, true)
        }
        Judged::UnknownLicense => {
            return Err(ApiError::not_found(
                "unknown_license",
                "no license with this id is registered here",
            ));
        }
        Judged::NotActivated => {
            return Err(ApiError::conflict(
                "not_activated",
                "this license is not activated (or its binding was reset): activate again",
            ));
        }
        Judged::Forked(ping) => {
            tracing::warn!(license = %ping.license.id, hub_key = %ping.hub_key.key_id(), "the hub a re-activation replaced pinged again: a fork (recorded as cloned_at), answered cloned");
            (ping, true)
        }
        Judged::BoundSince => {
            return Err(ApiError::conflict(
                "not_activated",
                "this portal's binding predates this hub's key (it was restored from a backup): activate again",
            ));
        }
        Judged::WrongKey => {
            return Err(ApiError::unprocessable(
                "wrong_hub_key",
                "this license is bound to another hub key: activate again",
            ));
        }
        Judged::BadSignature => {
            return Err(ApiError::unprocessable(
                "bad_signature",
                "the ping is not signed by the bound hub key",
            ));
        }
        Judged::Stale => {
            return Err(ApiError::conflict(
                "stale_call",
                "this ping is not newer than the hub's last call (a replay?)",
            ));
        }
        Judged::Limited(limited) => return Err(limited.into()),
    };
    let PingAnswer { status, fingerprint_json } =
        pings::answer(portal.records(), &ping, cloned, &call, now).await?;
    // Runner keys are countersigned only for a hub that may run: a refusal lets no runner run.
    let runners = match call.runners.as_deref() {
        Some(asked) if status == Status::Valid => {
            let license = &ping.license;
            let limit = u32::try_from(license.runners).unwrap_or(0);
            let terms = (limit, license.grace_period_secs, license.ping_interval_secs);
            Some(pings::countersign(portal.records(), &license.id, asked, terms, now).await?)
        }
        _ => None,
    };
    let claims = ReceiptClaims {
        license_id: call.license_id,
        answers: Answers::Ping,
        status,
        portal_time: now,
        nonce: call.nonce,
        next_ping_by: next_ping_by(&ping.license, now),
        fingerprint: fingerprint_json_digest(&fingerprint_json),
        hub_key_id: ping.hub_key.key_id(),
        ledger_head: portal.ledger_head(),
        runners,
    };
    Ok(Json(sign_receipt(&portal, &claims, delegation)))
}
