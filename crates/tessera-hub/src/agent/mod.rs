//! The hub agent: one [`Hub`] with its state directory, host and clock, and what every part
//! of it shares (loading the installed license, the host's fingerprint, the portal client).
//! Time is always the injected clock's. Each job is a file of its own:
//!
//! - `online`: activation at the portal and the hourly ping;
//! - `offline`: the offline activation request and the vendor's answer;
//! - `status`: whether the hub may run now;
//! - `evidence`: the signed evidence handed to runners and to the local status socket.
//!
//! Runner leases are the hub's [`crate::runners`].

mod evidence;
mod offline;
mod online;
mod status;

use std::sync::Arc;

use serde::Serialize;
pub use tessera_core::activation::Bundle;
use tessera_core::fingerprint::Fingerprint;
use tessera_core::keys::SigningKey;
use tessera_core::license::{Claims, Expectations, LicenseFile};
use tessera_core::receipt::Nonce;
pub use tessera_core::standing::Mode;
use tessera_core::time::Clock;
use tessera_core::trust::{MAX_TRUST_FILE_LEN, TrustSet};
use tessera_core::{Status, UnixTime};

use crate::host::HostComponents;
use crate::portal::{CallError, HubApiClient};
use crate::state::{HubState, StateDir, StateError};

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
    #[error("{what}: {status} (this hub's key id is {hub_key_id}: a vendor's reset may name it)")]
    Denied {
        /// What said no (the receipt, the activation).
        what: &'static str,
        /// The status it said.
        status: Status,
        /// This hub's key id, for the vendor (a reset naming the hub it admits).
        hub_key_id: String,
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
    /// This hub's key id: what a vendor's reset names to admit this hub alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub_key_id: Option<String>,
    /// Whether a refusal comes from the signed evidence itself (a receipt or activation
    /// that says no, a license past its end), which a runner handed that evidence reaches
    /// too, rather than from this host's own judgement (its clock, its fingerprint, a
    /// damaged kept receipt), which no bundle can carry.
    #[serde(skip)]
    pub refusal_signed: bool,
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
    /// This host's fingerprint secret, when given (`--host-secret`); else the one recorded
    /// at activation, else the default place.
    secret_path: Option<std::path::PathBuf>,
    /// Whether a missing secret may be made: only by the commands that start a hub's
    /// identity (fingerprint, activation, the daemon), never by `status` or `bundle`, which
    /// would otherwise leave a stray secret and judge the host by it.
    make_secret: std::sync::atomic::AtomicBool,
    clock: Arc<dyn Clock>,
    /// Kept between pings: building a client loads the system's root certificates.
    client: std::sync::Mutex<Option<HubApiClient>>,
    /// Whether a plain http:// portal on another machine may be used (`--insecure-http`).
    insecure_http: std::sync::atomic::AtomicBool,
    /// One ping at a time: the daemon's and a lease's asking for a countersignature would
    /// otherwise both hold the same receipt, and the second would look like a copy's.
    pub(crate) ping_turn: tokio::sync::Mutex<()>,
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
            secret_path: None,
            make_secret: std::sync::atomic::AtomicBool::new(false),
            clock,
            client: std::sync::Mutex::new(None),
            insecure_http: std::sync::atomic::AtomicBool::new(false),
            ping_turn: tokio::sync::Mutex::new(()),
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
        self.secret_path = Some(path);
        self
    }

    /// Lets this command make the host secret when there is none yet (activation, the
    /// daemon); without it a missing secret is an error naming the file.
    pub fn allow_new_host_secret(&self, allow: bool) {
        self.make_secret.store(allow, std::sync::atomic::Ordering::Relaxed);
    }

    /// The host secret's file: as given, else as recorded at activation, else the default
    /// for this user.
    pub fn secret_path(&self) -> std::path::PathBuf {
        if let Some(path) = &self.secret_path {
            return path.clone();
        }
        self.dir.recorded_host_secret().unwrap_or_else(|| {
            crate::host::default_secret_path(rustix::process::geteuid().is_root())
        })
    }

    /// Records the secret's file (as an absolute path) at activation.
    fn record_secret_path(&self) -> Result<(), HubError> {
        let path = self.secret_path();
        let path = std::path::absolute(&path).unwrap_or(path);
        Ok(self.dir.record_host_secret(&path)?)
    }

    /// The host this hub runs on, read with its secret the first time.
    pub fn host(&self) -> Result<&HostComponents, HubError> {
        if let Some(host) = self.host.get() {
            return Ok(host);
        }
        let path = self.secret_path();
        // The secret an activation recorded is never made again: a new one would be another
        // host's fingerprint, sent and kept as if it were this one's.
        let recorded = self
            .dir
            .recorded_host_secret()
            .is_some_and(|r| std::path::absolute(&path).is_ok_and(|p| p == r) || path == r);
        let secret = if self.make_secret.load(std::sync::atomic::Ordering::Relaxed) && !recorded {
            crate::host::load_or_create_secret(&path)
        } else {
            crate::host::load_secret(&path)
        }
        .map_err(|e| HubError::Input(e.to_string()))?;
        let _ = self.host.set(HostComponents::collect(secret));
        self.host.get().ok_or_else(|| HubError::Input("host components".into()))
    }

    /// The client for `base`, made once; `base` must be https, or http to this machine
    /// unless insecure http was allowed (now, or at the activation recorded in `state`).
    fn client(&self, base: &str, state: &HubState) -> Result<HubApiClient, HubError> {
        let insecure =
            self.insecure_http.load(std::sync::atomic::Ordering::Relaxed) || state.insecure_http;
        tessera_core::transport::check_portal_url(base, insecure)
            .map_err(|e| HubError::Input(e.to_string()))?;
        let mut slot = self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match slot.as_ref() {
            Some(client) if client.base() == base.trim_end_matches('/') => Ok(client.clone()),
            _ => {
                let client = HubApiClient::new(base)?;
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

    /// This host's fingerprint for the license's product.
    fn fingerprint(&self, claims: &Claims) -> Result<Fingerprint, HubError> {
        self.host()?
            .fingerprint(&claims.product)
            .map_err(|e| HubError::Input(format!("host fingerprint: {e}")))
    }

    /// This host's fingerprint, to check signed evidence against: a host that cannot be
    /// fingerprinted (its secret missing or unreadable) does not match, and says why.
    fn fingerprint_to_check(&self, claims: &Claims) -> Result<Fingerprint, HubError> {
        self.fingerprint(claims).map_err(|e| HubError::BadReceipt {
            status: Status::FingerprintMismatch,
            message: format!("this host cannot be fingerprinted: {e}"),
        })
    }

    /// The next call time: the clock in milliseconds, but always after the last call.
    fn call_time(&self, state: &HubState) -> i64 {
        self.clock.now_millis().max(state.last_call_ms.saturating_add(1))
    }
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
