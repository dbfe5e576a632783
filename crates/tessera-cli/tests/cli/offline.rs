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
    request_for(hub, "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"))
}

fn request_for(hub: &SigningKey, license_id: tessera_core::license::LicenseId) -> RequestClaims {
    let product = "acme-hub".parse().expect("product");
    let secret = tessera_core::fingerprint::HostSecret::from_bytes([3; 32]);
    let mut fingerprint = Fingerprint::new();
    for name in ["machine_id", "hostname", "cpu_model"] {
        fingerprint
            .insert(name, ComponentHash::keyed(&secret, &product, name, name.as_bytes()))
            .expect("insert");
    }
    RequestClaims {
        license_id,
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
            "--uncounted-runners",
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
            "--uncounted-runners",
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
        .run(&[
            "activate-offline",
            "stolen.txt",
            "--uncounted-runners",
            "--key",
            "keys/signing.key",
            "--out",
            "a.txt",
        ])
        .fails(5, "not signed by the hub key");
    sandbox.write("junk.txt", "hello\n");
    sandbox
        .run(&[
            "activate-offline",
            "junk.txt",
            "--uncounted-runners",
            "--key",
            "keys/signing.key",
            "--out",
            "a.txt",
        ])
        .fails(5, "junk.txt");
    // A license is not a request.
    sandbox.issue("acme.license", &[]);
    sandbox
        .run(&[
            "activate-offline",
            "acme.license",
            "--uncounted-runners",
            "--key",
            "keys/signing.key",
            "--out",
            "a.txt",
        ])
        .fails(5, "not a ACTIVATION REQUEST");
    assert!(!sandbox.exists("a.txt"));
}

/// A request of a new hub for the license the sandbox issued into `file`.
fn request_for_license(sandbox: &Sandbox, file: &str) -> SigningKey {
    let license = sandbox.read(file);
    let claims = tessera_core::license::LicenseFile::parse(license.as_bytes())
        .expect("license")
        .unverified_claims()
        .expect("claims");
    let hub = SigningKey::generate().expect("key");
    sandbox.write("request.txt", activation::sign_request(&request_for(&hub, claims.id), &hub));
    hub
}

#[test]
fn a_license_whose_runners_the_portal_counts_needs_uncounted_runners_said() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.issue("counted.license", &["--runner-countersign"]);
    request_for_license(&sandbox, "counted.license");
    let answer = |extra: &[&str]| {
        let mut args = vec!["activate-offline", "request.txt", "--license", "counted.license"];
        args.extend_from_slice(extra);
        args.extend(["--key", "keys/signing.key", "--out", "activation.txt", "--force"]);
        sandbox.run(&args)
    };
    // Without the flag: refused, saying why and what to do, and nothing written.
    let refused = answer(&[]).fails(42, "not counted by the portal");
    assert!(refused.stderr.contains("--uncounted-runners"), "{}", refused.stderr);
    assert!(!sandbox.exists("activation.txt"));
    // With it: answered, and stderr says the leases are not counted.
    let answered = answer(&["--uncounted-runners"]).ok();
    assert!(answered.stderr.contains("not counted by the portal"), "{}", answered.stderr);
    assert!(answered.stderr.contains("bounded by the activation's window"), "{}", answered.stderr);
    assert!(sandbox.exists("activation.txt"));
    // A license the answering key did not sign (a copy edited to drop the claim fails the
    // same way) says nothing: refused, whatever the flags.
    sandbox.run(&["keygen", "--out-dir", "other-keys", "--no-passphrase"]).ok();
    let other = sandbox.run(&[
        "activate-offline",
        "request.txt",
        "--license",
        "counted.license",
        "--uncounted-runners",
        "--key",
        "other-keys/signing.key",
        "--out",
        "other-activation.txt",
    ]);
    other.fails(5, "does not verify under the answering key");
    assert!(!sandbox.exists("other-activation.txt"));
}

#[test]
fn a_license_the_portal_does_not_count_is_answered_without_a_word() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.issue("plain.license", &[]);
    sandbox.issue("other.license", &[]);
    request_for_license(&sandbox, "plain.license");
    let run = |license: &str| {
        sandbox.run(&[
            "activate-offline",
            "request.txt",
            "--license",
            license,
            "--key",
            "keys/signing.key",
            "--out",
            "activation.txt",
        ])
    };
    // Another license than the request's: refused as bad input.
    run("other.license").fails(5, "the request is for license");
    assert!(!sandbox.exists("activation.txt"));
    let answered = run("plain.license").ok();
    assert!(!answered.stderr.contains("not counted"), "{}", answered.stderr);
    assert!(sandbox.exists("activation.txt"));
    // Neither the license nor the flag: a usage error, nothing written.
    let unsaid = sandbox.run(&[
        "activate-offline",
        "request.txt",
        "--key",
        "keys/signing.key",
        "--out",
        "b.txt",
    ]);
    assert_eq!(unsaid.code, 2, "{}", unsaid.stderr);
    assert!(unsaid.stderr.contains("--license"), "{}", unsaid.stderr);
    assert!(!sandbox.exists("b.txt"));
}
