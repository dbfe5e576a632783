//! Runs one kind of verification N times, for counting instructions under callgrind, which
//! (unlike wall time on a shared machine) repeats exactly. See `benches/verify-instructions.sh`
//! and BENCHMARKS.md.
//!
//! Usage: verify_cost (raw|raw-strict|tessera) N

use std::hint::black_box;

use ed25519_dalek::Verifier;
use tessera_core::armor::{Envelope, Kind};
use tessera_core::keys::SigningKey;
use tessera_core::license::{Expectations, LicenseTerms, sign};
use tessera_core::{Status, TrustSet, UnixTime};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!("usage: verify_cost (raw|raw-strict|tessera) N");
        std::process::exit(2);
    };
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
    let text = sign(&terms.issue(now).expect("issue"), &key).expect("sign");
    let trust = TrustSet::single(key.public_key().clone());
    let envelope = Envelope::parse(Kind::License, text.as_bytes()).expect("parse");
    let dalek = ed25519_dalek::VerifyingKey::from_bytes(key.public_key().as_bytes()).expect("key");
    let signature = ed25519_dalek::Signature::from_bytes(envelope.signature());
    let message = envelope.signed_message().to_vec();
    let expect = Expectations::default();
    if mode == "compare" {
        // Alternate blocks of each, so that drift on a shared machine hits both alike.
        let mut raw = Vec::new();
        let mut ours = Vec::new();
        for _ in 0..n {
            let t = std::time::Instant::now();
            for _ in 0..500 {
                black_box(dalek.verify(black_box(&message), &signature).is_ok());
            }
            raw.push(t.elapsed().as_nanos() as f64 / 500.0);
            let t = std::time::Instant::now();
            for _ in 0..500 {
                black_box(
                    tessera_core::verify(black_box(text.as_bytes()), &trust, now, &expect).status(),
                );
            }
            ours.push(t.elapsed().as_nanos() as f64 / 500.0);
        }
        raw.sort_by(f64::total_cmp);
        ours.sort_by(f64::total_cmp);
        let (r, o) = (raw[raw.len() / 2], ours[ours.len() / 2]);
        println!("median ns per verification: raw {r:.0}, tessera {o:.0}, ratio {:.3}", o / r);
        return;
    }
    let mut ok = 0u64;
    for _ in 0..n {
        let good = match mode.as_str() {
            "raw" => dalek.verify(black_box(&message), &signature).is_ok(),
            "raw-strict" => dalek.verify_strict(black_box(&message), &signature).is_ok(),
            "tessera" => {
                tessera_core::verify(black_box(text.as_bytes()), &trust, now, &expect).status()
                    == Status::Valid
            }
            other => {
                eprintln!("unknown mode {other}");
                std::process::exit(2);
            }
        };
        ok += u64::from(good);
    }
    assert_eq!(ok, n);
}
