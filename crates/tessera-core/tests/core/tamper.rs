//! Every single-byte change anywhere in a license file makes it not `valid`.

use tessera_core::license::{Expectations, sign};
use tessera_core::{Status, TrustSet};

use crate::helpers::{claims, time, vendor_key};

#[test]
fn every_single_byte_change_anywhere_makes_a_license_not_valid() {
    let text = sign(&claims(), &vendor_key()).expect("sign").into_bytes();
    let trust = TrustSet::single(vendor_key().public_key().clone());
    let at = time("2027-06-01T00:00:00Z");
    let expect = Expectations::default();
    assert_eq!(tessera_core::verify(&text, &trust, at, &expect).status(), Status::Valid);

    let mut tried = 0u64;
    let mut statuses = std::collections::HashMap::new();
    let mut mutated = text.clone();
    for position in 0..text.len() {
        for value in 0..=255u8 {
            if value == text[position] {
                continue;
            }
            mutated[position] = value;
            let status = tessera_core::verify(&mutated, &trust, at, &expect).status();
            assert_ne!(
                status,
                Status::Valid,
                "byte {position} changed from {:?} to {:?} still verifies",
                char::from(text[position]),
                char::from(value)
            );
            *statuses.entry(status).or_insert(0u64) += 1;
            tried += 1;
        }
        mutated[position] = text[position];
    }
    assert_eq!(tried, text.len() as u64 * 255);
    // The changes land in the header, the key id, the signature and the payload alike.
    for status in [Status::Malformed, Status::BadSignature, Status::UnknownKey] {
        assert!(statuses.contains_key(&status), "no change gave {status}: {statuses:?}");
    }
}

#[test]
fn removing_or_duplicating_any_line_makes_a_license_not_valid() {
    let text = sign(&claims(), &vendor_key()).expect("sign");
    let trust = TrustSet::single(vendor_key().public_key().clone());
    let at = time("2027-06-01T00:00:00Z");
    let lines: Vec<&str> = text.lines().collect();
    for i in 0..lines.len() {
        let mut removed = lines.clone();
        removed.remove(i);
        let mut doubled = lines.clone();
        doubled.insert(i, lines[i]);
        for variant in [removed, doubled] {
            let candidate = variant.join("\n") + "\n";
            let status =
                tessera_core::verify(candidate.as_bytes(), &trust, at, &Expectations::default())
                    .status();
            assert_ne!(status, Status::Valid, "line {i} edited:\n{candidate}");
        }
    }
}
