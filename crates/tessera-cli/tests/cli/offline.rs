//! `tessera activate-offline`: answering an air-gapped hub's request.

use tessera_core::activation::{self, RequestClaims};
use tessera_core::armor::{Envelope, Kind};
use tessera_core::fingerprint::{ComponentHash, Fingerprint};
use tessera_core::keys::SigningKey;
use tessera_core::receipt::Nonce;
use tessera_core::time::{Clock, SystemClock};
use tessera_core::trust::TrustSet;

use crate::helpers::Sandbox;

fn request(hub: &SigningKey) -> RequestClaims {
    let product = "acme-hub".parse().expect("product");
    let secret = tessera_core::fingerprint::HostSecret::from_bytes([3; 32]);
    let mut fingerprint = Fingerprint::new();
    for name in ["machine_id", "hostname", "cpu_model"] {
        fingerprint
            .insert(name, ComponentHash::keyed(&secret, &product, name, name.as_bytes()))
            .expect("insert");
    }
    RequestClaims {
        license_id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"),
        product,
        fingerprint,
        fingerprint_version: tessera_core::fingerprint::VERSION,
        hub_key: hub.public_key().clone(),
        nonce: Nonce::generate().expect("nonce"),
        created_at: SystemClock.now(),
    }
}

#[test]
fn a_request_is_answered_with_an_activation_for_that_hub_and_host() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    let hub = SigningKey::generate().expect("key");
    let claims = request(&hub);
    sandbox.write("request.txt", activation::sign_request(&claims, &hub));

    let run = sandbox
        .run(&[
            "activate-offline",
            "request.txt",
            "--key",
            "keys/signing.key",
            "--out",
            "activation.txt",
            "--valid-days",
            "30",
            "--json",
        ])
        .ok();
    let report = run.json();
    assert_eq!(report["hub_key_id"], hub.key_id().to_string());
    assert_eq!(report["components"], 3);

    let trust = TrustSet::parse(sandbox.read("keys/signing.pub").as_bytes()).expect("trust");
    let answer = activation::verify_activation(
        sandbox.read("activation.txt").as_bytes(),
        &trust,
        SystemClock.now(),
    )
    .expect("the activation verifies with the vendor key");
    assert_eq!(
        (answer.nonce, answer.hub_key_id, answer.license_id),
        (claims.nonce, hub.key_id(), claims.license_id)
    );
    assert_eq!(answer.not_after.as_unix() - answer.not_before.as_unix(), 30 * 86_400);

    // Never clobbers an earlier answer.
    sandbox
        .run(&[
            "activate-offline",
            "request.txt",
            "--key",
            "keys/signing.key",
            "--out",
            "activation.txt",
        ])
        .fails(6, "already exists");
}

#[test]
fn requests_that_are_not_genuine_are_refused() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    let hub = SigningKey::generate().expect("key");
    let other = SigningKey::generate().expect("key");
    // Claims another hub's key but signed by this one.
    sandbox.write("stolen.txt", Envelope::seal(Kind::ActivationRequest, &other, &request(&hub)));
    sandbox
        .run(&["activate-offline", "stolen.txt", "--key", "keys/signing.key", "--out", "a.txt"])
        .fails(5, "not signed by the hub key");
    sandbox.write("junk.txt", "hello\n");
    sandbox
        .run(&["activate-offline", "junk.txt", "--key", "keys/signing.key", "--out", "a.txt"])
        .fails(5, "junk.txt");
    // A license is not a request.
    sandbox.issue("acme.license", &[]);
    sandbox
        .run(&["activate-offline", "acme.license", "--key", "keys/signing.key", "--out", "a.txt"])
        .fails(5, "not a ACTIVATION REQUEST");
    assert!(!sandbox.exists("a.txt"));
}
