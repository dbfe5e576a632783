//! Verifying a license file (parse + signature + claims) against a raw ed25519-dalek
//! verification of the same signed bytes, in the same run. See BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::SigningKey;
use tessera_core::license::{Expectations, LicenseFile, LicenseTerms, sign};
use tessera_core::{Status, TrustSet, UnixTime};

fn license() -> (String, TrustSet, UnixTime) {
    let key = SigningKey::from_seed(&[0x42; 32]);
    let now: UnixTime = "2027-01-01T00:00:00Z".parse().expect("time");
    let mut terms = LicenseTerms::new(
        "Acme Corp".parse().expect("org"),
        "acme-hub".parse().expect("product"),
        25,
        "2028-01-01T00:00:00Z".parse().expect("time"),
    );
    terms.features = vec!["sso".parse().expect("f"), "audit-log".parse().expect("f")];
    terms.portal_url = Some("https://portal.example.com".parse().expect("url"));
    let claims = terms.issue(now).expect("issue");
    let text = sign(&claims, &key).expect("sign");
    (text, TrustSet::single(key.public_key().clone()), now)
}

fn verify(c: &mut Criterion) {
    let (text, trust, now) = license();
    let bytes = text.as_bytes();
    let expect = Expectations::default();
    assert_eq!(tessera_core::verify(bytes, &trust, now, &expect).status(), Status::Valid);

    // The raw baseline: the exact message and signature the license verification checks.
    let envelope = Envelope::parse(Kind::License, bytes).expect("parse");
    let public = trust.keys()[0].key.as_bytes();
    let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(public).expect("key");
    let signature = ed25519_dalek::Signature::from_bytes(envelope.signature());
    let message = envelope.signed_message().to_vec();

    let mut group = c.benchmark_group("license_verify");
    group.bench_function("raw_ed25519_verify_strict", |b| {
        b.iter(|| dalek_key.verify_strict(black_box(&message), black_box(&signature)).is_ok())
    });
    group.bench_function("raw_ed25519_verify", |b| {
        use ed25519_dalek::Verifier;
        b.iter(|| dalek_key.verify(black_box(&message), black_box(&signature)).is_ok())
    });
    group.bench_function("tessera_verify_file", |b| {
        b.iter(|| tessera_core::verify(black_box(bytes), &trust, now, &expect).status())
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| LicenseFile::parse(black_box(bytes)).map(|f| f.key_id()).ok())
    });
    group.bench_function("parse_and_claims_without_signature", |b| {
        b.iter(|| LicenseFile::parse(black_box(bytes)).and_then(|f| f.unverified_claims()).ok())
    });
    group.finish();
}

/// The portal's ping check: parsing a stored hub key, and batch verification per signature
/// at several round sizes against one-by-one verification.
fn batch(c: &mut Criterion) {
    use tessera_core::keys::{PublicKey, verify_many};
    let mut group = c.benchmark_group("ping_check");
    let keys: Vec<SigningKey> = (0..64u8).map(|i| SigningKey::from_seed(&[i; 32])).collect();
    let stored = keys[0].public_key().to_string();
    group.bench_function("parse_stored_hub_key", |b| {
        b.iter(|| black_box(&stored).parse::<PublicKey>().is_ok())
    });
    let message = vec![0x5a; 300];
    let signed: Vec<(PublicKey, [u8; 64])> =
        keys.iter().map(|k| (k.public_key().clone(), k.sign(&message))).collect();
    for n in [1usize, 4, 12, 32, 64] {
        let items: Vec<(&PublicKey, &[u8], &[u8; 64])> =
            signed[..n].iter().map(|(k, s)| (k, message.as_slice(), s)).collect();
        group.bench_function(format!("verify_many_{n}"), |b| {
            b.iter(|| verify_many(black_box(&items)))
        });
    }
    group.finish();
}

/// Verifying an audit ledger export of a million entries (one checkpoint at the end), as
/// `tessera audit verify` does after reading it: the target is at most 2 s, and no slower
/// than the hash chain it replaced (`benches/ledger-ab.sh` runs both). Then proofs for any
/// entry of the million: the target is at most 5 ms.
fn ledger(c: &mut Criterion) {
    use tessera_core::delegation::{self, DelegationClaims};
    use tessera_core::ledger::{Checkpoint, Entry, Export, Signed, origin_for, verify};
    use tessera_core::merkle::Frontier;
    use tessera_core::{TrustSet, UnixTime};
    let vendor = SigningKey::generate().expect("vendor");
    let portal = SigningKey::generate().expect("portal");
    let t = |s: i64| UnixTime::from_unix(1_800_000_000 + s).expect("t");
    let claims = DelegationClaims {
        portal_key: portal.public_key().clone(),
        issued_at: t(0),
        not_before: t(0),
        not_after: t(10_000_000),
    };
    let mut export = Export {
        delegations: vec![delegation::sign_for(delegation::Purpose::Ledger, &claims, &vendor)],
        ..Export::default()
    };
    let mut tree = Frontier::new();
    for seq in 1..=1_000_000u64 {
        let entry = Entry {
            seq,
            at: 1_800_000_000 + seq as i64,
            actor: "3f2a9c0e5b7d41e8a6c2f09b1d3e5a7c".into(),
            action: "license.suspended".into(),
            target: "01a21f71-a800-73b6-a526-5846d17e8f4b".into(),
            org: Some("7e595e9019d5123c2696424bac254b29".into()),
        };
        let leaf = entry.leaf_hash();
        tree.push(leaf);
        export.entries.push((entry, leaf));
    }
    let origin = origin_for(&export.delegations[0]);
    let note = Checkpoint { origin, size: tree.size(), root: tree.root() }.sign(&portal);
    export.checkpoints.push(Signed::parse(&note, t(2_000_000)).expect("checkpoint"));
    let trust = TrustSet::single(vendor.public_key().clone());
    // The same export as the portal writes it (JSON lines), for reading and checking.
    let mut text = String::new();
    for delegation in &export.delegations {
        text.push_str(&serde_json::json!({ "kind": "delegation", "text": delegation }).to_string());
        text.push('\n');
    }
    for (entry, hash) in &export.entries {
        let mut line = serde_json::to_value(entry).expect("entry");
        line["kind"] = "entry".into();
        line["hash"] = hex::encode(hash).into();
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text.push_str(&export.checkpoints[0].to_line());
    let mut group = c.benchmark_group("ledger");
    group.sample_size(10);
    group.bench_function("verify 1,000,000 entries", |b| {
        b.iter(|| verify(std::hint::black_box(&export), &trust, None).expect("sound"))
    });
    println!("export text: {:.0} MB", text.len() as f64 / 1e6);
    group.bench_function("read and verify 1,000,000 entries of JSON lines", |b| {
        b.iter(|| {
            let export = Export::from_lines(std::hint::black_box(text.lines())).expect("export");
            verify(&export, &trust, None).expect("sound")
        })
    });
    // Proofs from the tree the portal keeps: every perfect subtree's hash.
    let mut kept = tessera_core::merkle::Tree::new();
    for (_, leaf) in &export.entries {
        kept.push(*leaf);
    }
    let root = kept.root_at(kept.size()).expect("root");
    let size = kept.size();
    // Entries spread over the whole tree (a fixed stride, so every run asks the same).
    let mut pick = 0u64;
    let mut next = move || {
        pick = (pick + 617_237) % size;
        pick
    };
    group.sample_size(50);
    group.bench_function("inclusion proof of an entry in 1,000,000", |b| {
        b.iter(|| kept.inclusion(std::hint::black_box(next()), size).expect("proof"))
    });
    group.bench_function("consistency proof from any size to 1,000,000", |b| {
        b.iter(|| kept.consistency(std::hint::black_box(next()) + 1, size).expect("proof"))
    });
    let proof = kept.inclusion(123_456, size).expect("proof");
    let leaf = export.entries[123_456].1;
    group.bench_function("check an inclusion proof in 1,000,000", |b| {
        b.iter(|| {
            tessera_core::merkle::proof::verify_inclusion(123_456, size, &leaf, &proof, &root)
                .expect("holds")
        })
    });
    group.finish();
}

criterion_group!(benches, verify, batch, ledger);
criterion_main!(benches);
