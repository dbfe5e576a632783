//! The hub's standing for the vendor's hub application: asked of the local hub agent over
//! its Unix socket, then decided here from the signed license, receipt and delegation (or
//! offline activation) by the rule the agent and runners use (`tessera_core::standing`).
//! The agent's own word is shown beside, never trusted.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tessera_core::activation::{self, Bundle, LocalStatus};
use tessera_core::delegation::Delegation;
use tessera_core::license::{Claims, Expectations, ProductId};
use tessera_core::receipt;
pub use tessera_core::standing::Mode;
use tessera_core::standing::{self, Evidence};
use tessera_core::{Status, TrustSet, UnixTime};

use crate::{Error, License};

/// The most a status answer may be: a license, a receipt and a delegation are a few KB.
const MAX_ANSWER: u64 = 1024 * 1024;

/// How to reach the hub agent and what to expect.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HubOptions {
    /// The agent's status socket (`tessera-hub run --status-socket`; by default
    /// `status.sock` in the hub's state directory).
    pub socket: PathBuf,
    /// The product this application is; another product's license is `wrong_product`.
    pub product: Option<String>,
    /// How far the clock may fall behind the latest time the hub has seen.
    pub tolerance: Duration,
    /// How long to wait for the agent's answer.
    pub timeout: Duration,
}

impl HubOptions {
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        HubOptions {
            socket: socket.into(),
            product: None,
            tolerance: standing::DEFAULT_TOLERANCE,
            timeout: Duration::from_secs(5),
        }
    }

    /// The same, expecting a license for `product`.
    pub fn product(mut self, product: impl Into<String>) -> Self {
        self.product = Some(product.into());
        self
    }
}

/// The hub's standing, as this process decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HubStatus {
    /// `valid` and `grace` permit running; see docs/INTEGRATION.md for each word.
    pub status: Status,
    /// One sentence for people.
    pub reason: String,
    pub mode: Mode,
    /// Seconds of grace (or of the offline activation) left, when that applies.
    pub grace_left_secs: Option<u64>,
    /// The license's terms, when it verified.
    pub license: Option<License>,
    /// Runners holding a lease now (the agent's count).
    pub runners_leased: usize,
    /// What the agent itself said (informative).
    pub agent_status: Status,
}

/// Asks the hub agent at `options.socket` and decides the hub's standing at `now` from the
/// signed evidence it hands over, with the vendor's `trust` set (compiled into the
/// application, not read from the agent). Errors: the socket cannot be reached
/// (`hub_unreachable`: the agent is not running, or this user may not open it) or its
/// answer is not one (`bad_answer`); everything else is a status.
///
/// ```no_run
/// # let trust_text = "";
/// let trust = tessera::TrustSet::parse(trust_text.as_bytes())?;
/// let options = tessera::HubOptions::new("/var/lib/tessera-hub/status.sock").product("acme-ci");
/// let hub = tessera::hub_status(&options, &trust, tessera::now())?;
/// if !hub.status.permits_running() {
///     eprintln!("this hub is not licensed: {} ({})", hub.status, hub.reason);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hub_status(
    options: &HubOptions,
    trust: &TrustSet,
    now: UnixTime,
) -> Result<HubStatus, Error> {
    let product = options
        .product
        .as_deref()
        .map(str::parse::<ProductId>)
        .transpose()
        .map_err(|e| Error::BadArgument { what: "product", message: e.to_string() })?;
    let answer = ask(options)?;
    Ok(decide(&answer, trust, product, now, options.tolerance))
}

fn ask(options: &HubOptions) -> Result<LocalStatus, Error> {
    let unreachable = |e: std::io::Error| Error::HubUnreachable {
        path: options.socket.display().to_string(),
        message: e.to_string(),
    };
    let stream = UnixStream::connect(&options.socket).map_err(unreachable)?;
    stream.set_read_timeout(Some(options.timeout)).map_err(unreachable)?;
    let mut bytes = Vec::new();
    stream.take(MAX_ANSWER + 1).read_to_end(&mut bytes).map_err(unreachable)?;
    if bytes.len() as u64 > MAX_ANSWER {
        return Err(Error::BadAnswer(format!("longer than {MAX_ANSWER} bytes")));
    }
    let answer: LocalStatus =
        serde_json::from_slice(&bytes).map_err(|e| Error::BadAnswer(e.to_string()))?;
    if answer.version != LocalStatus::VERSION {
        return Err(Error::BadAnswer(format!(
            "format version {} (this library reads {}): update the library or the hub agent",
            answer.version,
            LocalStatus::VERSION
        )));
    }
    Ok(answer)
}

/// The decision from an answer: the license, then the evidence, then the standing rule.
fn decide(
    answer: &LocalStatus,
    trust: &TrustSet,
    product: Option<ProductId>,
    now: UnixTime,
    tolerance: Duration,
) -> HubStatus {
    let mut status = HubStatus {
        status: answer.status,
        reason: answer.reason.clone(),
        mode: Mode::None,
        grace_left_secs: None,
        license: None,
        runners_leased: answer.runners_leased,
        agent_status: answer.status,
    };
    let Some(bundle) = &answer.evidence else {
        // Without evidence nothing can be checked: only a "no" is believed.
        if answer.status.permits_running() {
            status.status = Status::Tampered;
            status.reason = format!("the hub agent says {} but shows no license", answer.status);
        }
        return status;
    };
    let verdict = tessera_core::verify(
        bundle.license.as_bytes(),
        trust,
        now,
        &Expectations { product, ..Default::default() },
    );
    status.license = verdict.claims().map(License::from);
    if verdict.status() != Status::Valid {
        status.status = verdict.status();
        status.reason = verdict.problem().map(ToString::to_string).unwrap_or_default();
        return status;
    }
    let Some(claims) = verdict.into_claims() else { return status };
    let standing =
        match judge(bundle, &claims, trust, now, answer.high_water, tolerance, &mut status.mode) {
            Ok(standing) => standing,
            Err((s, reason)) => standing::Standing { status: s, reason, left: None },
        };
    status.status = standing.status;
    status.reason = standing.reason;
    status.grace_left_secs = standing.left.map(|d| d.as_secs());
    status
}

/// The evidence verified and judged; a refusal as a status and reason.
fn judge(
    bundle: &Bundle,
    claims: &Claims,
    trust: &TrustSet,
    now: UnixTime,
    high_water: UnixTime,
    tolerance: Duration,
    mode: &mut Mode,
) -> Result<standing::Standing, (Status, String)> {
    let hub_key_id = bundle.hub_key.key_id();
    if let Some(text) = &bundle.activation {
        *mode = Mode::Offline;
        let a = activation::verify_activation(text.as_bytes(), trust, now)
            .map_err(|e| (e.status(), format!("offline activation: {e}")))?;
        if a.license_id != claims.id || a.hub_key_id != hub_key_id {
            return Err((
                Status::Tampered,
                "the offline activation is for another license or hub".into(),
            ));
        }
        return Ok(standing::judge(Evidence::Offline(&a), claims, now, high_water, tolerance));
    }
    let (Some(receipt_text), Some(delegation_text)) = (&bundle.receipt, &bundle.delegation) else {
        let mut standing = standing::judge(Evidence::None, claims, now, high_water, tolerance);
        if standing.status == Status::NoLicense {
            standing.reason = "the hub is not activated: run `tessera-hub activate`".into();
        }
        return Ok(standing);
    };
    *mode = Mode::Online;
    let delegation = Delegation::verify(delegation_text.as_bytes(), trust, now)
        .map_err(|e| (Status::Tampered, format!("the hub's delegation: {e}")))?;
    let r = receipt::verify(receipt_text.as_bytes(), &delegation)
        .map_err(|e| (Status::Tampered, format!("the hub's receipt: {e}")))?;
    if r.license_id != claims.id || r.hub_key_id != hub_key_id {
        return Err((Status::Tampered, "the receipt is for another license or hub".into()));
    }
    Ok(standing::judge(Evidence::Receipt(&r), claims, now, high_water, tolerance))
}
