//! Writes seed inputs for the `signed` and `bodies` targets, signed with the keys the targets
//! trust (seeds 0x11 vendor, 0x22 portal, 0x33 hub), so fuzzing starts past the signature
//! checks: `cargo run --manifest-path fuzz/Cargo.toml --bin seeds -- /tmp/corpus`.

use std::path::PathBuf;
use std::time::Duration;

use tessera_core::activation::{self, ActivationClaims, Bundle, LeaseClaims, RequestClaims};
use tessera_core::armor::{Envelope, Kind};
use tessera_core::delegation::{self, DelegationClaims};
use tessera_core::fingerprint::{ComponentHash, Fingerprint};
use tessera_core::keys::SigningKey;
use tessera_core::license::LicenseTerms;
use tessera_core::receipt::{self, Answers, Nonce, PingCall, ReceiptClaims};
use tessera_core::{Status, UnixTime};

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("output directory"));
    let (signed, bodies) = (out.join("signed"), out.join("bodies"));
    std::fs::create_dir_all(&signed).expect("dir");
    std::fs::create_dir_all(&bodies).expect("dir");
    let vendor = SigningKey::from_seed(&[0x11; 32]);
    let portal = SigningKey::from_seed(&[0x22; 32]);
    let hub = SigningKey::from_seed(&[0x33; 32]);
    let t = |s: i64| UnixTime::from_unix(s).expect("time");
    let now = t(1_800_000_000);
    let product = "acme-hub".parse().expect("product");
    let mut fingerprint = Fingerprint::new();
    for name in ["machine_id", "hostname", "cpu_model"] {
        fingerprint.insert(name, ComponentHash::of(&product, name, name.as_bytes())).expect("fp");
    }
    let claims = LicenseTerms::new("Acme".parse().expect("org"), product.clone(), 2, t(1_900_000_000))
        .issue(t(1_700_000_000))
        .expect("issue");
    let license = tessera_core::license::sign(&claims, &vendor).expect("license");
    let delegation = delegation::sign(
        &DelegationClaims {
            portal_key: portal.public_key().clone(),
            issued_at: t(1_700_000_000),
            not_before: t(1_700_000_000),
            not_after: t(1_900_000_000),
        },
        &vendor,
    );
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
        },
        &portal,
    );
    let request = RequestClaims {
        license_id: claims.id,
        product,
        fingerprint: fingerprint.clone(),
        hub_key: hub.public_key().clone(),
        nonce: Nonce::from_bytes([2; 16]),
        created_at: now,
    };
    let answer = ActivationClaims::answer(&request, now, Duration::from_secs(86_400));
    let lease = activation::sign_lease(
        &LeaseClaims { license_id: claims.id, runner: "r1".into(), issued_at: now, expires_at: now },
        &hub,
    );
    for (name, text) in [
        ("delegation", delegation.clone()),
        ("receipt", receipt.clone()),
        ("request", activation::sign_request(&request, &hub)),
        ("activation", activation::sign_activation(&answer, &vendor)),
        ("lease", lease.clone()),
    ] {
        std::fs::write(signed.join(name), text).expect("write");
    }
    let ping = Envelope::sign_body(
        Kind::Ping,
        &hub,
        &PingCall { license_id: claims.id, fingerprint, nonce: Nonce::from_bytes([3; 16]), hub_time_ms: 1 },
    );
    let bundle = Bundle {
        status: Status::Valid,
        license,
        receipt: Some(receipt),
        delegation: Some(delegation),
        activation: None,
        hub_key: hub.public_key().clone(),
        lease: Some(lease),
    };
    let cache = tessera_runner::cache::seal(
        &tessera_runner::cache::Cache {
            generation: 1,
            runner: "r1".into(),
            hub: Some("http://127.0.0.1:7480".into()),
            trust: tessera_core::keyfile::public(&vendor),
            license: bundle.license.clone(),
            receipt: bundle.receipt.clone(),
            delegation: None,
            activation: None,
            hub_key_id: hub.key_id(),
            lease: LeaseClaims { license_id: claims.id, runner: "r1".into(), issued_at: now, expires_at: now },
            high_water: now,
            refreshed_at: now,
        },
        &[7u8; 32],
    );
    for (name, bytes) in [
        ("ping", serde_json::to_vec(&ping.to_compact()).expect("json")),
        ("bundle", serde_json::to_vec(&bundle).expect("json")),
        ("lease-request", br#"{"runner":"r1"}"#.to_vec()),
        ("cache", cache),
    ] {
        std::fs::write(bodies.join(name), bytes).expect("write");
    }
    println!("seeds written to {}", out.display());
}
