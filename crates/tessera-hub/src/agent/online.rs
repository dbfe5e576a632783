//! The hub online: activation at the portal, the hourly ping, and the check of every
//! receipt the portal answers with.

use tessera_core::activation::NamedReceipt;
use tessera_core::armor::{Envelope, Kind};
use tessera_core::delegation::Delegation;
use tessera_core::fingerprint::{Fingerprint, VERSION as FINGERPRINT_VERSION};
use tessera_core::keys::{PublicKey, SigningKey};
use tessera_core::ledger::LedgerHead;
use tessera_core::license::Claims;
use tessera_core::receipt::{
    self, ActivateCall, Answers, Nonce, PingCall, ReceiptClaims, fingerprint_digest,
};
use tessera_core::standing::DEFAULT_TOLERANCE;
use tessera_core::trust::TrustSet;
use tessera_core::{Status, UnixTime};

use super::{Hub, HubError, nonce};
use crate::countersign::keep_named;
use crate::heads::Kept;
use crate::portal::{CallError, HubApiClient, ReceiptResponse};
use crate::state::{HubState, PingFailure, bounded};

impl Hub {
    /// Online activation: check the license offline, make the hub key, ask the portal, check
    /// its receipt, keep everything. Returns the receipt's claims.
    pub async fn activate(
        &self,
        license: &[u8],
        trust_text: &[u8],
        portal: Option<&str>,
    ) -> Result<ReceiptClaims, HubError> {
        self.activate_keeping(license, trust_text, portal, false).await
    }

    /// [`Hub::activate`]; with `keep_refusal`, a refusal is kept as the receipt the hub
    /// holds (a re-activation: the hub was bound before), so that the hub goes on asking at
    /// each ping instead of falling silent.
    async fn activate_keeping(
        &self,
        license: &[u8],
        trust_text: &[u8],
        portal: Option<&str>,
        keep_refusal: bool,
    ) -> Result<ReceiptClaims, HubError> {
        let (claims, trust) = self.install_license(license, trust_text)?;
        let portal = match portal {
            Some(url) => url.to_owned(),
            None => claims.portal_url.as_ref().map(|u| u.to_string()).ok_or(HubError::NoPortal)?,
        };
        let state = self.dir.load()?;
        let client = self.client(&portal, &state)?;
        let key = self.dir.hub_key()?;
        let fingerprint = self.fingerprint(&claims)?;
        let call = ActivateCall {
            license_key: claims.key.clone(),
            fingerprint: fingerprint.clone(),
            fingerprint_version: FINGERPRINT_VERSION,
            previous_fingerprint: None,
            hub_key: key.public_key().clone(),
            nonce: nonce()?,
            hub_time_ms: self.call_time(&state),
        };
        let (receipt, response) =
            self.send_activation(&client, &call, &trust, &claims, &key).await?;
        let now = self.now();
        if receipt.status != Status::Valid {
            if keep_refusal {
                self.dir.update(|s| {
                    s.last_call_ms = s.last_call_ms.max(call.hub_time_ms);
                    s.portal = Some(client.base().to_owned());
                    let previous = replaced(s);
                    s.delegation = Some(response.delegation.clone());
                    s.receipt = Some(response.receipt.clone());
                    keep_named(s, previous, &claims, &key.key_id(), now);
                    s.fingerprint = Some(fingerprint.clone());
                    s.settle_high_water(now, receipt.portal_time, DEFAULT_TOLERANCE);
                    s.last_failure = None;
                })?;
            }
            return Err(HubError::Denied {
                what: "the portal refused the activation",
                status: receipt.status,
                hub_key_id: key.key_id().to_string(),
            });
        }
        let insecure = self.insecure_http.load(std::sync::atomic::Ordering::Relaxed);
        self.record_secret_path()?;
        self.dir.update(|s| {
            s.last_call_ms = s.last_call_ms.max(call.hub_time_ms);
            s.portal = Some(client.base().to_owned());
            s.insecure_http = insecure
                && tessera_core::transport::check_portal_url(client.base(), false).is_err();
            let previous = replaced(s);
            s.delegation = Some(response.delegation.clone());
            s.receipt = Some(response.receipt.clone());
            s.fingerprint = Some(fingerprint);
            s.settle_high_water(now, receipt.portal_time, DEFAULT_TOLERANCE);
            s.last_failure = None;
            s.activation = None;
            s.pending_request = None;
            keep_named(s, previous, &claims, &key.key_id(), now);
        })?;
        tracing::info!(license = %claims.id, hub_key = %key.key_id(), "activated");
        Ok(receipt)
    }

    /// Sends one activation call and checks its receipt.
    async fn send_activation(
        &self,
        client: &HubApiClient,
        call: &ActivateCall,
        trust: &TrustSet,
        claims: &Claims,
        key: &SigningKey,
    ) -> Result<(ReceiptClaims, ReceiptResponse), HubError> {
        let envelope = Envelope::sign_body(Kind::Activate, key, call);
        let response = client.activate(&envelope.to_compact()).await?;
        let expected = Expected { claims, key, nonce: call.nonce, fingerprint: &call.fingerprint };
        let receipt = self.check_receipt(&response, trust, expected, Answers::Activate)?;
        Ok((receipt, response))
    }

    /// Checks a receipt against what the hub asked: the delegation chains to the trust set,
    /// the receipt is signed by the delegated key, and it answers this call about this host.
    fn check_receipt(
        &self,
        response: &ReceiptResponse,
        trust: &TrustSet,
        expected: Expected<'_>,
        answers: Answers,
    ) -> Result<ReceiptClaims, HubError> {
        let bad = |status: Status, message: String| HubError::BadReceipt { status, message };
        let now = self.now();
        let delegation = Delegation::verify(response.delegation.as_bytes(), trust, now)
            .map_err(|e| bad(e.status(), e.to_string()))?;
        let claims = receipt::verify(response.receipt.as_bytes(), &delegation)
            .map_err(|e| bad(e.status(), e.to_string()))?;
        if claims.nonce != expected.nonce {
            return Err(bad(
                Status::BadSignature,
                "the receipt answers another call (nonce)".into(),
            ));
        }
        if claims.answers != answers
            || claims.license_id != expected.claims.id
            || claims.hub_key_id != expected.key.key_id()
            || claims.fingerprint != fingerprint_digest(expected.fingerprint)
        {
            return Err(bad(
                Status::BadSignature,
                "the receipt is about another call, license, hub key or host".into(),
            ));
        }
        if let Some(head) = &claims.ledger_head {
            self.keep_ledger_head(head, &delegation.claims.portal_key, claims.portal_time);
        }
        Ok(claims)
    }

    /// Keeps the audit ledger head a receipt carried ([`crate::heads`]); a head that cannot
    /// be kept is logged and does not change what the receipt says.
    fn keep_ledger_head(&self, head: &LedgerHead, portal_key: &PublicKey, received_at: UnixTime) {
        let path = self.dir.ledger_heads_path();
        match crate::heads::keep(&path, head, portal_key, received_at) {
            Ok(Kept::New | Kept::Known) => {}
            Ok(Kept::Older) => tracing::info!(
                "the portal's audit ledger head is older than one it showed before (an instance that lags?)"
            ),
            Ok(Kept::Conflicting) => tracing::warn!(
                path = %path.display(),
                "the portal's audit ledger head has another root than one of the same size it showed before: two histories; kept as evidence, tell the vendor"
            ),
            Err(e) => tracing::warn!(error = %e, "the receipt's audit ledger head is not kept"),
        }
    }

    /// One ping: sign, send, check the receipt, remember it. A portal that cannot be reached
    /// is remembered as a failure and returned as an error; grace covers it. When the vendor
    /// has reset this license's binding (`not_activated`), the hub activates again with the
    /// license it holds: on the same host that restores the binding, on a new host it binds
    /// the new one.
    ///
    /// A damaged state file never stops the pings: it is moved aside and the hub activates
    /// again with the license and key it holds (the same host re-binds), saying so in the
    /// log.
    pub async fn ping(&self) -> Result<ReceiptClaims, HubError> {
        let _turn = self.ping_turn.lock().await;
        self.ping_in_turn().await
    }

    /// [`Hub::ping`], by a caller that holds `ping_turn`.
    pub(crate) async fn ping_in_turn(&self) -> Result<ReceiptClaims, HubError> {
        if let Some(moved) = self.dir.set_aside_if_damaged()? {
            tracing::warn!(moved = %moved.display(), "the state file was damaged: set aside; activating again with the license this hub holds");
            return self.activate_again(None).await;
        }
        // A re-activation the portal refused (sooner than it allows, say): asked again at
        // each ping, so that the hub binds again once the portal allows it.
        let state = self.dir.load()?;
        let refused = state.receipt.as_deref().and_then(|text| {
            Envelope::parse(Kind::Receipt, text.as_bytes()).ok()?.open::<ReceiptClaims>().ok()
        });
        if let Some(refused) = refused
            && refused.answers == Answers::Activate
            && refused.status != Status::Valid
        {
            tracing::warn!(status = %refused.status, "the last activation was refused: asking again");
            return self.activate_again(state.portal).await;
        }
        match self.ping_once().await {
            Err(HubError::Portal(CallError::Refused { code, .. })) if code == "not_activated" => {
                tracing::warn!(
                    "the portal has no binding for this hub (reset by the vendor): activating again"
                );
                let portal = self.dir.load()?.portal;
                self.activate_again(portal).await
            }
            other => other,
        }
    }

    /// Activates again with the license and trust set kept at activation, at `portal` or
    /// the license's portal.
    async fn activate_again(&self, portal: Option<String>) -> Result<ReceiptClaims, HubError> {
        let license = self.dir.license()?;
        let trust = self.dir.trust()?;
        self.activate_keeping(&license, &trust, portal.as_deref(), true).await
    }

    async fn ping_once(&self) -> Result<ReceiptClaims, HubError> {
        let installed = self.installed()?;
        let state = self.dir.load()?;
        let portal = state.portal.clone().ok_or_else(|| {
            HubError::Input("this hub was activated offline: it does not ping a portal".into())
        })?;
        let client = self.client(&portal, &state)?;
        let fingerprint = self.fingerprint(&installed.claims)?;
        let nonce = nonce()?;
        // What the hub holds: the latest receipt's nonce chains this ping to it, so that a
        // copy of this hub that falls behind is noticed; the receipt itself goes along, the
        // proof a portal restored from a backup takes to re-sync its older chain.
        let held = state.receipt.as_deref().and_then(|text| {
            let claims = Envelope::parse(Kind::Receipt, text.as_bytes())
                .ok()?
                .open::<ReceiptClaims>()
                .ok()?;
            Some((claims.nonce, text.to_owned()))
        });
        let (holds, held_receipt) = held.unzip();
        let call = PingCall {
            license_id: installed.claims.id,
            fingerprint: fingerprint.clone(),
            fingerprint_version: FINGERPRINT_VERSION,
            previous_fingerprint: None,
            holds,
            held_receipt,
            nonce,
            hub_time_ms: self.call_time(&state),
            runners: installed
                .claims
                .runner_countersign
                .then(|| crate::countersign::asked(&state, self.now())),
        };
        // The call time is saved with the receipt, one durable write per ping.
        let call_ms = call.hub_time_ms;
        let envelope = Envelope::sign_body(Kind::Ping, &installed.key, &call);
        let result = client.ping(&envelope.to_compact()).await.map_err(HubError::from).and_then(
            |response| {
                let expected = Expected {
                    claims: &installed.claims,
                    key: &installed.key,
                    nonce,
                    fingerprint: &fingerprint,
                };
                let claims =
                    self.check_receipt(&response, &installed.trust, expected, Answers::Ping)?;
                Ok((claims, response))
            },
        );
        let now = self.now();
        match result {
            Ok((claims, response)) => {
                let hub_key_id = installed.key.key_id();
                self.dir.update(|s| {
                    s.last_call_ms = s.last_call_ms.max(call_ms);
                    let previous = replaced(s);
                    s.receipt = Some(response.receipt);
                    s.fingerprint = Some(fingerprint);
                    s.delegation = Some(response.delegation);
                    keep_named(s, previous, &installed.claims, &hub_key_id, now);
                    s.settle_high_water(now, claims.portal_time, DEFAULT_TOLERANCE);
                    s.last_failure = None;
                })?;
                Ok(claims)
            }
            Err(e) => {
                let reason = bounded(&e.to_string());
                // The call time is not kept: a call the portal never saw (down, or this
                // hub's clock ahead) must not push the next calls' times.
                self.dir.update(|s| s.last_failure = Some(PingFailure { at: now, reason }))?;
                Err(e)
            }
        }
    }
}

/// The receipt `state` holds, with the delegation it came with, as it is replaced: a runner
/// place it named may need it still ([`keep_named`]).
fn replaced(state: &HubState) -> Option<NamedReceipt> {
    let receipt = state.receipt.clone()?;
    let delegation = state.delegation.clone()?;
    Some(NamedReceipt { receipt, delegation })
}

struct Expected<'a> {
    claims: &'a Claims,
    key: &'a SigningKey,
    nonce: Nonce,
    fingerprint: &'a Fingerprint,
}
