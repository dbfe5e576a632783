//! The hub agent: where a hub activates, pings, installs an offline activation, decides its
//! own status, and grants runner leases. Time is always the injected clock's.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
pub use tessera_core::activation::Bundle;
use tessera_core::activation::{self, ActivationClaims, RequestClaims, sign_request};
use tessera_core::armor::{Envelope, Kind};
use tessera_core::delegation::Delegation;
use tessera_core::fingerprint::{
    Fingerprint, FingerprintBinding, VERSION as FINGERPRINT_VERSION, VERSION_1,
};
use tessera_core::keys::SigningKey;
use tessera_core::license::{Claims, Expectations, LicenseFile};
use tessera_core::local_status::{BootId, LocalAnswer, LocalStatus};
use tessera_core::receipt::{
    self, ActivateCall, Answers, Nonce, PingCall, ReceiptClaims, fingerprint_digest,
};
pub use tessera_core::standing::Mode;
use tessera_core::standing::{self, DEFAULT_TOLERANCE, Evidence, Standing};
use tessera_core::time::Clock;
use tessera_core::trust::{MAX_TRUST_FILE_LEN, TrustSet};
use tessera_core::{Status, UnixTime};

use crate::host::HostComponents;
use crate::portal::{CallError, PortalClient, ReceiptResponse};
use crate::state::{Failure, HubState, StateDir, StateError, bounded};

/// Why a hub operation failed. Each maps to one exit code in the binary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The state directory could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The trust set is not usable.
    #[error("trust set: {0}")]
    Trust(String),
    /// The license itself is not usable here (checked offline, before any call).
    #[error("license is {status}: {message}")]
    License {
        /// The license's status here.
        status: Status,
        /// Why, for people.
        message: String,
    },
    /// The portal gave no receipt.
    #[error(transparent)]
    Portal(#[from] CallError),
    /// The portal answered, but its answer does not hold up.
    #[error("the portal's receipt is not accepted ({status}): {message}")]
    BadReceipt {
        /// The status the receipt is refused with.
        status: Status,
        /// Why, for people.
        message: String,
    },
    /// A signed answer said no.
    #[error("{what}: {status}")]
    Denied {
        /// What said no (the receipt, the activation).
        what: &'static str,
        /// The status it said.
        status: Status,
    },
    /// Neither the command line nor the license names a portal.
    #[error("no portal URL: give --portal or issue the license with a portal URL")]
    NoPortal,
    /// The offline activation or its request is not usable.
    #[error("offline activation: {message}")]
    Offline {
        /// The status it is refused with.
        status: Status,
        /// Why, for people.
        message: String,
    },
    /// An argument or a file given by the caller is not usable.
    #[error("{0}")]
    Input(String),
}

impl HubError {
    /// The status word this error amounts to, when there is one.
    pub fn status(&self) -> Option<Status> {
        match self {
            HubError::License { status, .. }
            | HubError::BadReceipt { status, .. }
            | HubError::Denied { status, .. }
            | HubError::Offline { status, .. } => Some(*status),
            HubError::State(StateError::NotActivated { .. }) => Some(Status::NoLicense),
            _ => None,
        }
    }
}

/// The hub's answer to "may we run?", with what led to it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The hub's status word.
    pub status: Status,
    /// One sentence for people.
    pub reason: String,
    /// How the hub is licensed: online (receipts), offline (an activation), or not yet.
    pub mode: Mode,
    /// The license's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    /// The licensed organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The licensed product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The portal the hub pings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,
    /// The portal time of the last receipt that said `valid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_good_receipt: Option<UnixTime>,
    /// Seconds of grace left (online) or of the offline activation left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_left_secs: Option<u64>,
    /// Why the last ping failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// How many runners hold a slot now.
    pub runners_leased: usize,
    /// How many runners the license allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_limit: Option<u32>,
}

/// A license, trust set and hub key loaded from the state directory.
pub(crate) struct Installed {
    pub(crate) license_text: String,
    pub(crate) claims: Claims,
    pub(crate) verdict: Status,
    pub(crate) verdict_message: String,
    pub(crate) trust: TrustSet,
    pub(crate) key: SigningKey,
}

/// One hub: its state directory, its host, its clock.
pub struct Hub {
    dir: StateDir,
    /// Read when first needed: `status` or `runner-token` need not read the host.
    host: std::sync::OnceLock<HostComponents>,
    /// This host's fingerprint secret (made there the first time).
    secret_path: std::path::PathBuf,
    clock: Arc<dyn Clock>,
    /// Kept between pings: building a client loads the system's root certificates.
    client: std::sync::Mutex<Option<PortalClient>>,
    /// Whether a plain http:// portal on another machine may be used (`--insecure-http`).
    insecure_http: std::sync::atomic::AtomicBool,
}

impl Hub {
    /// A hub on the given host (tests, and hosts described by hand).
    pub fn new(dir: StateDir, host: HostComponents, clock: Arc<dyn Clock>) -> Self {
        let hub = Hub::on_this_host(dir, clock);
        let _ = hub.host.set(host);
        hub
    }

    /// A hub on this machine, read with [`HostComponents::collect`] when first needed.
    pub fn on_this_host(dir: StateDir, clock: Arc<dyn Clock>) -> Self {
        Hub {
            dir,
            host: std::sync::OnceLock::new(),
            secret_path: crate::host::default_secret_path(rustix::process::geteuid().is_root()),
            clock,
            client: std::sync::Mutex::new(None),
            insecure_http: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Allows a plain http:// portal on another machine (the operator's `--insecure-http`);
    /// an activation made so remembers it for its pings.
    pub fn allow_insecure_http(&self, allow: bool) {
        self.insecure_http.store(allow, std::sync::atomic::Ordering::Relaxed);
    }

    /// Reads (or makes) the host's fingerprint secret at `path` instead of the default
    /// place.
    pub fn with_host_secret(mut self, path: std::path::PathBuf) -> Self {
        self.secret_path = path;
        self
    }

    /// The host this hub runs on, read with its secret the first time.
    pub fn host(&self) -> Result<&HostComponents, HubError> {
        if let Some(host) = self.host.get() {
            return Ok(host);
        }
        let secret = crate::host::load_or_create_secret(&self.secret_path)
            .map_err(|e| HubError::Input(e.to_string()))?;
        let _ = self.host.set(HostComponents::collect(secret));
        self.host.get().ok_or_else(|| HubError::Input("host components".into()))
    }

    /// The client for `base`, made once; `base` must be https, or http to this machine
    /// unless insecure http was allowed (now, or at the activation recorded in `state`).
    fn client(&self, base: &str, state: &HubState) -> Result<PortalClient, HubError> {
        let insecure =
            self.insecure_http.load(std::sync::atomic::Ordering::Relaxed) || state.insecure_http;
        tessera_core::transport::check_portal_url(base, insecure)
            .map_err(|e| HubError::Input(e.to_string()))?;
        let mut slot = self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match slot.as_ref() {
            Some(client) if client.base() == base.trim_end_matches('/') => Ok(client.clone()),
            _ => {
                let client = PortalClient::new(base)?;
                *slot = Some(client.clone());
                Ok(client)
            }
        }
    }

    /// The hub's state directory.
    pub fn dir(&self) -> &StateDir {
        &self.dir
    }

    /// The time now, by the hub's clock.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Checks a license offline and keeps it, with the trust set, in the state directory.
    fn install_license(
        &self,
        license: &[u8],
        trust_text: &[u8],
    ) -> Result<(Claims, TrustSet), HubError> {
        let trust = parse_trust(trust_text)?;
        let verdict = tessera_core::verify(license, &trust, self.now(), &Expectations::default());
        let status = verdict.status();
        let message = verdict.problem().map(ToString::to_string).unwrap_or_default();
        match verdict.into_claims() {
            Some(claims) if status == Status::Valid => {
                self.dir.put(&self.dir.license_path(), license)?;
                self.dir.put(&self.dir.trust_path(), trust_text)?;
                Ok((claims, trust))
            }
            _ => Err(HubError::License { status, message }),
        }
    }

    pub(crate) fn installed(&self) -> Result<Installed, HubError> {
        let license = self.dir.license()?;
        let trust = parse_trust(&self.dir.trust()?)?;
        let file = LicenseFile::parse(&license)
            .map_err(|e| HubError::License { status: Status::Malformed, message: e.to_string() })?;
        let verdict = file.verify(&trust, self.now(), &Expectations::default());
        let verdict_status = verdict.status();
        let verdict_message = verdict.problem().map(ToString::to_string).unwrap_or_default();
        let claims = verdict.into_claims().ok_or_else(|| HubError::License {
            status: verdict_status,
            message: verdict_message.clone(),
        })?;
        Ok(Installed {
            license_text: String::from_utf8_lossy(&license).into_owned(),
            claims,
            verdict: verdict_status,
            verdict_message,
            trust,
            key: self.dir.hub_key()?,
        })
    }

    /// This host's fingerprint of `version` for the license's product.
    fn fingerprint(&self, claims: &Claims, version: u8) -> Result<Fingerprint, HubError> {
        self.host()?
            .fingerprint_of_version(&claims.product, version)
            .map_err(|e| HubError::Input(format!("host fingerprint: {e}")))
    }

    /// The next call time: the clock in milliseconds, but always after the last call.
    fn call_time(&self, state: &HubState) -> i64 {
        self.clock.now_millis().max(state.last_call_ms.saturating_add(1))
    }

    /// Online activation: check the license offline, make the hub key, ask the portal, check
    /// its receipt, keep everything. Returns the receipt's claims.
    pub async fn activate(
        &self,
        license: &[u8],
        trust_text: &[u8],
        portal: Option<&str>,
    ) -> Result<ReceiptClaims, HubError> {
        let (claims, trust) = self.install_license(license, trust_text)?;
        let portal = match portal {
            Some(url) => url.to_owned(),
            None => claims.portal_url.as_ref().map(|u| u.to_string()).ok_or(HubError::NoPortal)?,
        };
        let state = self.dir.load()?;
        let client = self.client(&portal, &state)?;
        let key = self.dir.hub_key()?;
        let fingerprint = self.fingerprint(&claims, FINGERPRINT_VERSION)?;
        let mut call = ActivateCall {
            license_key: claims.key.clone(),
            fingerprint: fingerprint.clone(),
            fingerprint_version: FINGERPRINT_VERSION,
            previous_fingerprint: None,
            hub_key: key.public_key().clone(),
            nonce: nonce()?,
            hub_time_ms: self.call_time(&state),
        };
        let mut outcome = self.send_activation(&client, &call, &trust, &claims, &key).await?;
        if outcome.0.status == Status::FingerprintMismatch {
            // Perhaps the portal holds this host's version 1 fingerprint (bound before version
            // 2): show it once, so that the binding moves over instead of being refused.
            call.previous_fingerprint = Some(self.fingerprint(&claims, VERSION_1)?);
            call.nonce = nonce()?;
            call.hub_time_ms += 1;
            outcome = self.send_activation(&client, &call, &trust, &claims, &key).await?;
        }
        let (receipt, response) = outcome;
        if receipt.status != Status::Valid {
            return Err(HubError::Denied {
                what: "the portal refused the activation",
                status: receipt.status,
            });
        }
        let now = self.now();
        let insecure = self.insecure_http.load(std::sync::atomic::Ordering::Relaxed);
        self.dir.update(|s| {
            s.last_call_ms = s.last_call_ms.max(call.hub_time_ms);
            s.portal = Some(client.base().to_owned());
            s.insecure_http = insecure
                && tessera_core::transport::check_portal_url(client.base(), false).is_err();
            s.delegation = Some(response.delegation.clone());
            s.receipt = Some(response.receipt.clone());
            s.raise_high_water([now, receipt.portal_time]);
            s.last_failure = None;
            s.activation = None;
            s.pending_request = None;
        })?;
        tracing::info!(license = %claims.id, hub_key = %key.key_id(), "activated");
        Ok(receipt)
    }

    /// Sends one activation call and checks its receipt.
    async fn send_activation(
        &self,
        client: &PortalClient,
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
        Ok(claims)
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
        if let Some(moved) = self.dir.set_aside_if_damaged()? {
            tracing::warn!(moved = %moved.display(), "the state file was damaged: set aside; activating again with the license this hub holds");
            return self.activate_again(None).await;
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
        self.activate(&license, &trust, portal.as_deref()).await
    }

    async fn ping_once(&self) -> Result<ReceiptClaims, HubError> {
        let installed = self.installed()?;
        let state = self.dir.load()?;
        let portal = state.portal.clone().ok_or_else(|| {
            HubError::Input("this hub was activated offline: it does not ping a portal".into())
        })?;
        let client = self.client(&portal, &state)?;
        let fingerprint = self.fingerprint(&installed.claims, FINGERPRINT_VERSION)?;
        let nonce = nonce()?;
        // What the hub holds: the latest receipt's nonce chains this ping to it (a copy of
        // this hub that falls behind is noticed), and its fingerprint digest says whether the
        // portal still holds this host's version 1 fingerprint (then it is shown once more,
        // to move the binding over).
        let held = state.receipt.as_deref().and_then(|text| {
            Envelope::parse(Kind::Receipt, text.as_bytes()).ok()?.open::<ReceiptClaims>().ok()
        });
        let legacy = self.fingerprint(&installed.claims, VERSION_1)?;
        let previous_fingerprint =
            held.as_ref().filter(|r| r.fingerprint == fingerprint_digest(&legacy)).map(|_| legacy);
        let call = PingCall {
            license_id: installed.claims.id,
            fingerprint: fingerprint.clone(),
            fingerprint_version: FINGERPRINT_VERSION,
            previous_fingerprint,
            holds: held.map(|r| r.nonce),
            nonce,
            hub_time_ms: self.call_time(&state),
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
                self.dir.update(|s| {
                    s.last_call_ms = s.last_call_ms.max(call_ms);
                    s.receipt = Some(response.receipt);
                    s.delegation = Some(response.delegation);
                    s.raise_high_water([now, claims.portal_time]);
                    s.last_failure = None;
                })?;
                Ok(claims)
            }
            Err(e) => {
                let reason = bounded(&e.to_string());
                // The call time is not kept: a call the portal never saw (down, or this
                // hub's clock ahead) must not push the next calls' times.
                self.dir.update(|s| s.last_failure = Some(Failure { at: now, reason }))?;
                Err(e)
            }
        }
    }

    /// Where the hub decides: the license offline, then the offline activation or the
    /// latest receipt, grace counted from the last good receipt's portal time.
    pub fn status(&self) -> Result<Report, HubError> {
        let state = self.dir.load()?;
        let installed = match self.installed() {
            Ok(installed) => installed,
            Err(e) => {
                let status = e.status().unwrap_or(Status::NoLicense);
                return Ok(Report::bare(status, e.to_string(), &state));
            }
        };
        Ok(self.judge(&installed, &state))
    }

    pub(crate) fn judge(&self, installed: &Installed, state: &HubState) -> Report {
        let now = self.now();
        let claims = &installed.claims;
        let leased = state.runners.values().filter(|r| r.holds_slot(now)).count();
        let mut report = Report {
            status: installed.verdict,
            reason: installed.verdict_message.clone(),
            mode: Mode::None,
            license_id: Some(claims.id.to_string()),
            org: Some(claims.org.to_string()),
            product: Some(claims.product.to_string()),
            portal: state.portal.clone(),
            last_good_receipt: None,
            grace_left_secs: None,
            last_failure: state.last_failure.as_ref().map(|f| format!("{}: {}", f.at, f.reason)),
            runners_leased: leased,
            runner_limit: Some(claims.runners),
        };
        let high_water = state.high_water.unwrap_or(UnixTime::EPOCH);
        if let Some(standing) = standing::rollback(now, high_water, DEFAULT_TOLERANCE) {
            report.status = standing.status;
            report.reason = standing.reason;
            return report;
        }
        if installed.verdict != Status::Valid {
            return report;
        }
        let judged = if let Some(text) = &state.activation {
            report.mode = Mode::Offline;
            self.check_activation(installed, text.as_bytes()).map(Verified::Offline)
        } else if let Some(text) = &state.receipt {
            report.mode = Mode::Online;
            self.check_kept_receipt(installed, state, text).map(Verified::Receipt)
        } else {
            Ok(Verified::Nothing)
        };
        let standing = match &judged {
            Ok(verified) => {
                if let Verified::Receipt(r) = verified
                    && r.status == Status::Valid
                {
                    report.last_good_receipt = Some(r.portal_time);
                }
                standing::judge(verified.evidence(), claims, now, high_water, DEFAULT_TOLERANCE)
            }
            Err(e) => Standing {
                status: e.status().unwrap_or(Status::Tampered),
                reason: e.to_string(),
                left: None,
            },
        };
        report.status = standing.status;
        report.reason = match (standing.status, &judged) {
            (Status::NoLicense, Ok(Verified::Nothing)) => {
                "not activated: run `tessera-hub activate`".to_owned()
            }
            (Status::Unrecognized, _) => format!(
                "{}: the portal answered a status this hub does not know; update the hub",
                standing.reason
            ),
            _ => standing.reason,
        };
        report.grace_left_secs = standing.left.map(|d| d.as_secs());
        report
    }

    /// The kept receipt, verified through the kept delegation, for this license and key.
    fn check_kept_receipt(
        &self,
        installed: &Installed,
        state: &HubState,
        text: &str,
    ) -> Result<ReceiptClaims, HubError> {
        let tampered = |message: String| HubError::BadReceipt { status: Status::Tampered, message };
        let delegation = state
            .delegation
            .as_deref()
            .ok_or_else(|| tampered("no delegation kept with the receipt".to_owned()))?;
        let delegation = Delegation::verify(delegation.as_bytes(), &installed.trust, self.now())
            .map_err(|e| tampered(format!("the kept delegation: {e}")))?;
        let receipt = receipt::verify(text.as_bytes(), &delegation)
            .map_err(|e| tampered(format!("the kept receipt: {e}")))?;
        if receipt.license_id != installed.claims.id || receipt.hub_key_id != installed.key.key_id()
        {
            return Err(tampered("the kept receipt is for another license or hub key".to_owned()));
        }
        Ok(receipt)
    }

    fn check_activation(
        &self,
        installed: &Installed,
        text: &[u8],
    ) -> Result<ActivationClaims, HubError> {
        let offline = |status: Status, message: &str| HubError::Offline {
            status,
            message: message.to_owned(),
        };
        let claims = activation::verify_activation(text, &installed.trust, self.now())
            .map_err(|e| offline(e.status(), &e.to_string()))?;
        if claims.license_id != installed.claims.id {
            return Err(offline(Status::Malformed, "the activation is for another license"));
        }
        if claims.hub_key_id != installed.key.key_id() {
            return Err(offline(
                Status::FingerprintMismatch,
                "the activation is for another hub key",
            ));
        }
        let binding = FingerprintBinding::new(claims.fingerprint.clone())
            .map_err(|e| offline(Status::Malformed, &e.to_string()))?;
        binding.check(&self.fingerprint(&installed.claims, claims.fingerprint_version)?).map_err(
            |m| {
                offline(
                    Status::FingerprintMismatch,
                    &format!(
                        "this host matches {} of the {} components needed",
                        m.matched, m.needed
                    ),
                )
            },
        )?;
        Ok(claims)
    }

    /// Writes an offline activation request for `license` and remembers its nonce.
    pub fn activation_request(
        &self,
        license: &[u8],
        trust_text: &[u8],
    ) -> Result<String, HubError> {
        let (claims, _) = self.install_license(license, trust_text)?;
        let key = self.dir.hub_key()?;
        let request = RequestClaims {
            license_id: claims.id,
            product: claims.product.clone(),
            fingerprint: self.fingerprint(&claims, FINGERPRINT_VERSION)?,
            fingerprint_version: FINGERPRINT_VERSION,
            hub_key: key.public_key().clone(),
            nonce: nonce()?,
            created_at: self.now(),
        };
        self.dir.update(|s| s.pending_request = Some(request.nonce))?;
        Ok(sign_request(&request, &key))
    }

    /// Installs the vendor's answer to this hub's outstanding request, once.
    pub fn install_offline(&self, text: &[u8]) -> Result<ActivationClaims, HubError> {
        let installed = self.installed()?;
        let _lock = self.dir.lock()?;
        let mut state = self.dir.load()?;
        let claims = self.check_activation(&installed, text)?;
        if state.pending_request != Some(claims.nonce) {
            return Err(HubError::Offline {
                status: Status::BadSignature,
                message: "this is not the answer to this hub's outstanding request (already \
                          installed, or made for another request)"
                    .into(),
            });
        }
        if self.now() > claims.not_after {
            return Err(HubError::Offline {
                status: Status::Expired,
                message: format!("the activation ended {}", claims.not_after),
            });
        }
        state.activation = Some(String::from_utf8_lossy(text).into_owned());
        state.pending_request = None;
        state.portal = None;
        state.receipt = None;
        state.delegation = None;
        state.raise_high_water([self.now(), claims.issued_at]);
        self.dir.save(&_lock, &state)?;
        Ok(claims)
    }

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
        }
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

    /// What the daemon needs each round: whether to ping (a valid license activated online)
    /// and the license's ping interval. Cheaper than [`Hub::status`]: no receipt is checked.
    pub fn schedule(&self) -> Result<(Mode, Duration), HubError> {
        let installed = self.installed()?;
        let state = match self.dir.load() {
            Ok(state) => state,
            // A damaged state file: the ping repairs it (and activates again).
            Err(StateError::Damaged { .. }) => {
                return Ok((Mode::Online, installed.claims.ping_interval()));
            }
            Err(e) => return Err(e.into()),
        };
        let mode = match (installed.verdict, &state.activation, &state.receipt) {
            (Status::Valid, Some(_), _) => Mode::Offline,
            (Status::Valid, None, Some(_)) => Mode::Online,
            _ => Mode::None,
        };
        Ok((mode, installed.claims.ping_interval()))
    }
}

impl Report {
    fn bare(status: Status, reason: String, state: &HubState) -> Self {
        Report {
            status,
            reason,
            mode: Mode::None,
            license_id: None,
            org: None,
            product: None,
            portal: state.portal.clone(),
            last_good_receipt: None,
            grace_left_secs: None,
            last_failure: None,
            runners_leased: 0,
            runner_limit: None,
        }
    }
}

/// The signed evidence of the hub's standing, verified.
enum Verified {
    Offline(ActivationClaims),
    Receipt(ReceiptClaims),
    Nothing,
}

impl Verified {
    fn evidence(&self) -> Evidence<'_> {
        match self {
            Verified::Offline(a) => Evidence::Offline(a),
            Verified::Receipt(r) => Evidence::Receipt(r),
            Verified::Nothing => Evidence::None,
        }
    }
}

struct Expected<'a> {
    claims: &'a Claims,
    key: &'a SigningKey,
    nonce: Nonce,
    fingerprint: &'a Fingerprint,
}

fn nonce() -> Result<Nonce, HubError> {
    Nonce::generate().map_err(|e| HubError::Input(e.to_string()))
}

/// Parses a trust file's bytes; an empty set is an error, not "trust nothing silently".
pub fn parse_trust(bytes: &[u8]) -> Result<TrustSet, HubError> {
    if bytes.len() > MAX_TRUST_FILE_LEN {
        return Err(HubError::Trust("trust file too large".into()));
    }
    let trust = TrustSet::parse(bytes).map_err(|e| HubError::Trust(e.to_string()))?;
    if trust.is_empty() {
        return Err(HubError::Trust("the trust set holds no key".into()));
    }
    Ok(trust)
}
