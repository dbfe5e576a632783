//! The hub's standing for the vendor's hub application: asked of the local hub agent over
//! its Unix socket, then decided here from the signed license, receipt and delegation (or
//! offline activation) by the rule the agent and runners use (`tessera_core::standing`).
//! The agent's own word is shown beside, never trusted. The answer must be signed by the hub
//! key the receipt (or activation) names, over this request's fresh nonce and this machine's
//! boot id: an old answer, another hub's, or one relayed from another machine is `tampered`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tessera_core::activation::{self, Bundle};
use tessera_core::delegation::Delegation;
use tessera_core::license::{Claims, Expectations, ProductId};
use tessera_core::local_status::{
    self, BootId, LocalAnswer, LocalRequest, LocalStatus, LocalStatusError,
};
use tessera_core::receipt::{self, Nonce};
pub use tessera_core::standing::Mode;
use tessera_core::standing::{self, Evidence};
use tessera_core::{Status, TrustSet, UnixTime};

use crate::hub_socket;
use crate::{Error, License};

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
    /// The whole call's deadline: connecting, sending the request and reading the answer
    /// all end within it, whatever the agent (or whatever serves the socket) does; past it
    /// the call is `hub_unreachable`. Must be above zero; `Duration::MAX` waits as long as
    /// it takes.
    pub timeout: Duration,
}

impl HubOptions {
    /// Options to ask the hub agent at `socket`: any product, the default clock tolerance and
    /// a 5-second deadline.
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
    /// How the hub is licensed: online (receipts), offline (an activation), or not yet.
    pub mode: Mode,
    /// Seconds of grace (or of the offline activation) left, when that applies.
    pub grace_left_secs: Option<u64>,
    /// The license's terms, when it verified.
    pub license: Option<License>,
    /// Runners holding a lease now (the agent's count).
    pub runners_leased: usize,
    /// What the agent itself said (informative); `tampered` or `malformed` when its signed
    /// answer could not be opened.
    pub agent_status: Status,
}

/// Asks the hub agent at `options.socket` and decides the hub's standing at `now` from the
/// signed evidence it hands over, with the vendor's `trust` set (compiled into the
/// application, not read from the agent). The call ends within `options.timeout`. Errors:
/// the socket cannot be reached or does not answer in time (`hub_unreachable`: the agent is
/// not running, this user may not open it, or it stalls) or its answer is not one
/// (`bad_answer`); everything else is a status.
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
    let asked = Asked {
        nonce: Nonce::generate().map_err(|e| Error::Io(format!("a random nonce: {e}")))?,
        // A boot id that cannot be read now is an error, not a "no" for another machine.
        boot_id: BootId::of_this_machine()
            .map_err(|e| Error::Io(format!("this machine's boot id: {e}")))?,
    };
    let answer = ask(options, asked.nonce)?;
    Ok(decide(&answer, &asked, trust, product, now, options.tolerance))
}

/// What this call binds the answer to.
struct Asked {
    nonce: Nonce,
    /// This machine's; `None` where the kernel shows none.
    boot_id: Option<BootId>,
}

fn ask(options: &HubOptions, nonce: Nonce) -> Result<LocalAnswer, Error> {
    let request = LocalRequest { version: LocalStatus::VERSION, nonce };
    let mut line = serde_json::to_vec(&request).map_err(|e| Error::Io(e.to_string()))?;
    line.push(b'\n');
    let bytes = hub_socket::exchange(&options.socket, &line, options.timeout)?;
    // The version first, so that another format says "update", not "unknown field".
    #[derive(serde::Deserialize)]
    struct Version {
        version: u32,
    }
    let version: Version =
        serde_json::from_slice(&bytes).map_err(|e| Error::BadAnswer(e.to_string()))?;
    if version.version != LocalStatus::VERSION {
        return Err(Error::BadAnswer(format!(
            "format version {} (this library reads {}): update the library or the hub agent",
            version.version,
            LocalStatus::VERSION
        )));
    }
    let answer: LocalAnswer =
        serde_json::from_slice(&bytes).map_err(|e| Error::BadAnswer(e.to_string()))?;
    if answer.signed.is_some() == answer.unsigned.is_some() {
        return Err(Error::BadAnswer("not exactly one of `signed` and `unsigned`".into()));
    }
    Ok(answer)
}

/// The decision from an answer: whose answer it is, then the license, then the evidence,
/// then the standing rule.
fn decide(
    answer: &LocalAnswer,
    asked: &Asked,
    trust: &TrustSet,
    product: Option<ProductId>,
    now: UnixTime,
    tolerance: Duration,
) -> HubStatus {
    let refused = |agent_status: Status, reason: String| HubStatus {
        status: Status::Tampered,
        reason,
        mode: Mode::None,
        grace_left_secs: None,
        license: None,
        runners_leased: 0,
        agent_status,
    };
    let compact = match (&answer.signed, &answer.unsigned) {
        (Some(compact), _) => compact,
        // Without evidence nothing can be checked: only a "no" is believed.
        (None, Some(unsigned)) if !unsigned.status.permits_running() => {
            let said = unsigned.status;
            return HubStatus { status: said, ..refused(said, unsigned.reason.clone()) };
        }
        (None, Some(unsigned)) => {
            let said = unsigned.status;
            return refused(said, format!("the hub agent says {said} but shows no license"));
        }
        (None, None) => return refused(Status::Malformed, "an empty answer".into()),
    };
    let status = match local_status::open_signed(compact) {
        Ok(status) => status,
        Err(LocalStatusError::Malformed(e)) => {
            return refused(Status::Malformed, format!("the hub agent's signed answer: {e}"));
        }
        Err(e) => return refused(Status::Tampered, format!("a forged answer: {e}")),
    };
    if status.nonce != asked.nonce {
        return refused(
            status.status,
            "the answer is not to this request (an old answer, replayed)".into(),
        );
    }
    if status.boot_id != asked.boot_id {
        let shown = |id: Option<BootId>| id.map_or_else(|| "none".to_owned(), |id| id.to_string());
        return refused(
            status.status,
            format!(
                "the answer comes from another machine (boot id {}, this machine's {}): \
                 relayed from another host",
                shown(status.boot_id),
                shown(asked.boot_id)
            ),
        );
    }
    judge_evidence(&status, trust, product, now, tolerance)
}

/// The decision from a signed answer that answers this request: the license, then the
/// evidence, then the standing rule.
fn judge_evidence(
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
    let bundle = &answer.evidence;
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

#[cfg(test)]
mod tests {
    use tessera_core::keys::SigningKey;

    use super::*;

    /// A signed answer to `nonce` from an agent that shows `boot_id`, holding a valid license
    /// that was never activated.
    fn answer(nonce: Nonce, boot_id: Option<BootId>) -> (LocalAnswer, TrustSet) {
        let vendor = tessera_testkit::Vendor::new();
        let (_, license) = vendor.license(2, None);
        let hub = SigningKey::from_seed(&[7; 32]);
        let status = LocalStatus {
            nonce,
            boot_id,
            status: Status::NoLicense,
            reason: String::new(),
            evidence: Bundle {
                status: Status::NoLicense,
                license,
                receipt: None,
                delegation: None,
                activation: None,
                hub_key: hub.public_key().clone(),
                lease: None,
                named_receipt: None,
            },
            high_water: UnixTime::EPOCH,
            runners_leased: 0,
        };
        let trust = TrustSet::parse(vendor.trust_text().as_bytes()).expect("trust");
        (LocalAnswer::signed(&status, &hub), trust)
    }

    fn decided(answer: &LocalAnswer, asked: &Asked, trust: &TrustSet) -> HubStatus {
        decide(answer, asked, trust, None, crate::now(), Duration::ZERO)
    }

    #[test]
    fn a_boot_id_shown_on_one_side_only_is_not_this_machine() {
        let nonce = Nonce::from_bytes([1; 16]);
        let id: BootId = "d27147c2-e28a-432d-b2a8-d9b5da9570c8".parse().expect("boot id");
        let cases = [
            (Some(id), Some(id), Status::NoLicense),
            (None, None, Status::NoLicense),
            (Some(id), None, Status::Tampered),
            (None, Some(id), Status::Tampered),
        ];
        for (agent, here, expected) in cases {
            let (answer, trust) = answer(nonce, agent);
            let status = decided(&answer, &Asked { nonce, boot_id: here }, &trust);
            assert_eq!(
                status.status, expected,
                "agent {agent:?}, here {here:?}: {}",
                status.reason
            );
        }
    }
}
