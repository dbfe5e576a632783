//! The fuzz targets' bodies, as plain functions: `fuzz_targets/NAME.rs` hands libFuzzer's
//! input to [`NAME`](TARGETS), and the workspace's stable test suite replays every stored
//! seed through the same functions (`tests/e2e/fuzz_seeds.rs`, which includes this file), so
//! a target cannot drift from what CI runs. Nothing here may need libFuzzer or nightly.
//!
//! The keys are fixed seeds, the same in the targets and in [`write_seeds`]: 0x11 the vendor
//! (the test vectors' key), 0x22 the portal, 0x33 the hub, 0x44 a runner; a runner cache is
//! sealed under `[7; 32]`. So the seeds reach past the signature checks.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use tessera_core::activation::{
    self, ActivationClaims, Bundle, LeaseClaims, RequestClaims, RunnerAction, RunnerCall,
};
use tessera_core::armor::{Compact, Envelope, Kind};
use tessera_core::delegation::{self, Delegation, DelegationClaims};
use tessera_core::fingerprint::{ComponentHash, Fingerprint};
use tessera_core::keyfile::KeyFile;
use tessera_core::keys::SigningKey;
use tessera_core::license::{Expectations, LicenseFile, LicenseKey, LicenseTerms};
use tessera_core::receipt::{self, ActivateCall, Answers, Nonce, PingCall, ReceiptClaims};
use tessera_core::{Status, TrustSet, UnixTime};

/// A target's body: libFuzzer's input in, a panic for a bug.
pub type Body = fn(&[u8]);

/// Every fuzz target by the name of its file in `fuzz_targets/`, with its body.
pub const TARGETS: [(&str, Body); 4] =
    [("license", license), ("key_files", key_files), ("signed", signed), ("bodies", bodies)];

/// The key of the runner cache the `bodies` target opens (and [`write_seeds`] seals).
const CACHE_KEY: [u8; 32] = [7; 32];

fn at(seconds: i64) -> UnixTime {
    UnixTime::from_unix(seconds).expect("a time in range")
}

/// The time every target checks at: inside the seeds' validity.
fn now() -> UnixTime {
    at(1_800_000_000)
}

fn vendor() -> SigningKey {
    SigningKey::from_seed(&[0x11; 32])
}

fn portal() -> SigningKey {
    SigningKey::from_seed(&[0x22; 32])
}

fn hub() -> SigningKey {
    SigningKey::from_seed(&[0x33; 32])
}

fn runner() -> SigningKey {
    SigningKey::from_seed(&[0x44; 32])
}

fn delegation_claims() -> DelegationClaims {
    DelegationClaims {
        portal_key: portal().public_key().clone(),
        issued_at: at(1_700_000_000),
        not_before: at(1_700_000_000),
        not_after: at(1_900_000_000),
    }
}

fn trust() -> &'static TrustSet {
    static TRUST: OnceLock<TrustSet> = OnceLock::new();
    TRUST.get_or_init(|| TrustSet::single(vendor().public_key().clone()))
}

/// The license parser and verifier: never a panic, and claims only under a good signature.
pub fn license(data: &[u8]) {
    let verdict = tessera_core::verify(data, trust(), now(), &Expectations::default());
    if verdict.claims().is_some() {
        assert!(
            !matches!(
                verdict.status(),
                Status::Malformed | Status::BadSignature | Status::UnknownKey
            ),
            "claims handed out with status {:?}",
            verdict.status()
        );
    }
    if let Ok(file) = LicenseFile::parse(data) {
        let _ = file.unverified_claims();
    }
}

/// Key files, trust files and license keys: never a panic. Encrypted key files are parsed but
/// not decrypted (argon2 is slow by design).
pub fn key_files(data: &[u8]) {
    let _ = KeyFile::parse(data);
    let _ = TrustSet::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = LicenseKey::parse_lenient(text);
        let _ = LicenseKey::parse_canonical(text);
    }
}

/// Every other signed kind: delegations, receipts (through a delegation), offline activation
/// requests and answers, leases, runner calls. Never a panic; a request opens only under the
/// key it carries.
pub fn signed(data: &[u8]) {
    struct Keys {
        delegation: Delegation,
        hub: SigningKey,
    }
    static KEYS: OnceLock<Keys> = OnceLock::new();
    let keys = KEYS.get_or_init(|| Keys {
        delegation: Delegation { claims: delegation_claims(), vendor_key_id: vendor().key_id() },
        hub: hub(),
    });
    let _ = Delegation::verify(data, trust(), now());
    let _ = receipt::verify(data, &keys.delegation);
    if let Ok(request) = activation::open_request(data) {
        let envelope =
            Envelope::parse(Kind::ActivationRequest, data).expect("a request that opened parses");
        assert_eq!(
            envelope.key_id(),
            request.hub_key.key_id(),
            "a request opened under another key"
        );
    }
    let _ = activation::verify_activation(data, trust(), now());
    let _ = activation::verify_lease(data, keys.hub.public_key());
    let _ = activation::open_runner_call(data);
}

/// What arrives over HTTP and from disk: the portal's activate and ping bodies, the body of a
/// runner's call to the hub, a hub's bundle as a runner reads it, a runner's sealed cache
/// file. Never a panic.
pub fn bodies(data: &[u8]) {
    // What the portal does with a body (portal/src/hub.rs): JSON envelope, then the call.
    if let Ok(compact) = serde_json::from_slice::<Compact>(data) {
        for kind in [Kind::Activate, Kind::Ping] {
            if let Ok(envelope) = Envelope::from_compact(kind, &compact) {
                let _ = envelope.open::<ActivateCall>();
                let _ = envelope.open::<PingCall>();
            }
        }
    }
    let _ = serde_json::from_slice::<Bundle>(data);
    if let Ok(call) = tessera_hub::runners::call_body(data) {
        let _ = activation::open_runner_call(call.as_bytes());
    }
    let _ = tessera_runner::cache::open(data, &CACHE_KEY);
}

/// Writes seed inputs for the `key_files`, `signed` and `bodies` targets into
/// `out/<target>/`, signed with the keys the targets trust. (The `license` target's seeds are
/// the license test vectors.)
pub fn write_seeds(out: &Path) -> std::io::Result<()> {
    let (vendor, portal, hub) = (vendor(), portal(), hub());
    let now = now();
    let product = "acme-hub".parse().expect("product");
    let mut fingerprint = Fingerprint::new();
    for name in ["machine_id", "hostname", "cpu_model"] {
        fingerprint.insert(name, ComponentHash::of(&product, name, name.as_bytes())).expect("fp");
    }
    let claims =
        LicenseTerms::new("Acme".parse().expect("org"), product.clone(), 2, at(1_900_000_000))
            .issue(at(1_700_000_000))
            .expect("issue");
    let license = tessera_core::license::sign(&claims, &vendor).expect("license");
    let delegation = delegation::sign(&delegation_claims(), &vendor);
    let receipt = receipt::sign(
        &ReceiptClaims {
            license_id: claims.id,
            answers: Answers::Ping,
            status: Status::Valid,
            portal_time: now,
            nonce: Nonce::from_bytes([1; 16]),
            next_ping_by: now.saturating_add(Duration::from_secs(3600)),
            fingerprint: "ab".repeat(32),
            hub_key_id: hub.key_id(),
            ledger_head: None,
            runners: None,
        },
        &portal,
    );
    let request = RequestClaims {
        license_id: claims.id,
        product,
        fingerprint: fingerprint.clone(),
        fingerprint_version: tessera_core::fingerprint::VERSION,
        hub_key: hub.public_key().clone(),
        nonce: Nonce::from_bytes([2; 16]),
        created_at: now,
    };
    let answer = ActivationClaims::answer(&request, now, Duration::from_secs(86_400));
    let runner = runner();
    let runner_call = activation::sign_runner_call(
        &RunnerCall {
            runner_key: runner.public_key().clone(),
            label: "r1".into(),
            action: RunnerAction::Lease,
            nonce: Nonce::from_bytes([4; 16]),
            holds: None,
            runner_time_ms: 1,
            machine: None,
        },
        &runner,
    );
    let lease_claims = LeaseClaims {
        license_id: claims.id,
        runner_key_id: runner.key_id(),
        label: "r1".into(),
        nonce: Nonce::from_bytes([4; 16]),
        issued_at: now,
        expires_at: now,
        machine: None,
    };
    let lease = activation::sign_lease(&lease_claims, &hub);
    let ping = Envelope::sign_body(
        Kind::Ping,
        &hub,
        &PingCall {
            license_id: claims.id,
            fingerprint,
            fingerprint_version: tessera_core::fingerprint::VERSION,
            previous_fingerprint: None,
            holds: None,
            held_receipt: None,
            nonce: Nonce::from_bytes([3; 16]),
            hub_time_ms: 1,
            runners: None,
        },
    );
    let bundle = Bundle {
        status: Status::Valid,
        license,
        receipt: Some(receipt.clone()),
        delegation: Some(delegation.clone()),
        activation: None,
        hub_key: hub.public_key().clone(),
        lease: Some(lease.clone()),
        named_receipt: None,
    };
    let cache = tessera_runner::cache::seal(
        &tessera_runner::cache::Cache {
            generation: 1,
            runner_key_id: runner.key_id(),
            label: "r1".into(),
            hub: Some("http://127.0.0.1:7480".into()),
            trust: tessera_core::keyfile::public(&vendor),
            license: bundle.license.clone(),
            receipt: bundle.receipt.clone(),
            named_receipt: None,
            delegation: None,
            activation: None,
            hub_key_id: hub.key_id(),
            lease: lease_claims,
            receipt_time: None,
            high_water: now,
            refreshed_at: now,
        },
        &CACHE_KEY,
    );
    let key_files: Vec<(&str, Vec<u8>)> = vec![
        ("public-key", tessera_core::keyfile::public(&vendor).into_bytes()),
        ("secret-key", tessera_core::keyfile::plain(&vendor).as_bytes().to_vec()),
        ("license-key", claims.key.expose().as_bytes().to_vec()),
        ("license-key-lower", claims.key.expose().to_lowercase().into_bytes()),
    ];
    let signed: Vec<(&str, Vec<u8>)> = vec![
        ("delegation", delegation.into_bytes()),
        ("receipt", receipt.into_bytes()),
        ("request", activation::sign_request(&request, &hub).into_bytes()),
        ("activation", activation::sign_activation(&answer, &vendor).into_bytes()),
        ("lease", lease.into_bytes()),
        ("runner-call", runner_call.clone().into_bytes()),
    ];
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("ping", serde_json::to_vec(&ping.to_compact()).map_err(std::io::Error::other)?),
        ("bundle", serde_json::to_vec(&bundle).map_err(std::io::Error::other)?),
        (
            "runner-call",
            serde_json::to_vec(&serde_json::json!({ "call": runner_call }))
                .map_err(std::io::Error::other)?,
        ),
        ("cache", cache),
    ];
    for (target, seeds) in [("key_files", key_files), ("signed", signed), ("bodies", bodies)] {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in seeds {
            std::fs::write(dir.join(name), bytes)?;
        }
    }
    Ok(())
}
