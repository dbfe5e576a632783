//! Random input never panics a parser, and random edits never make a license valid.

use proptest::prelude::*;
use tessera_core::armor::{Envelope, Kind};
use tessera_core::keyfile::KeyFile;
use tessera_core::license::{Expectations, LicenseFile, LicenseKey, sign};
use tessera_core::{Status, TrustSet};

use crate::helpers::{claims, time, vendor_key};

fn reference() -> Vec<u8> {
    sign(&claims(), &vendor_key()).expect("sign").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_any_parser(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let trust = TrustSet::single(vendor_key().public_key().clone());
        let verdict = tessera_core::verify(&bytes, &trust, time("2027-06-01T00:00:00Z"), &Expectations::default());
        prop_assert_ne!(verdict.status(), Status::Valid);
        for kind in Kind::ALL {
            let _ = Envelope::parse(kind, &bytes);
        }
        let _ = KeyFile::parse(&bytes);
        let _ = TrustSet::parse(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = LicenseKey::parse_lenient(text);
            let _ = text.parse::<tessera_core::keys::PublicKey>();
        }
    }

    #[test]
    fn armor_shaped_noise_never_panics(lines in proptest::collection::vec("[A-Za-z0-9+/=: -]{0,80}", 0..20)) {
        let text = format!("-----BEGIN TESSERA LICENSE-----\n{}\n-----END TESSERA LICENSE-----\n", lines.join("\n"));
        if let Ok(file) = LicenseFile::parse(text.as_bytes()) {
            let _ = file.unverified_claims();
        }
    }

    #[test]
    fn random_edits_never_make_a_license_valid(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)
    ) {
        let original = reference();
        let mut bytes = original.clone();
        for (at, value, op) in edits {
            let i = at % (bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] = value,
                1 => bytes.insert(i, value),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.push(value),
            }
        }
        let trust = TrustSet::single(vendor_key().public_key().clone());
        let status = tessera_core::verify(&bytes, &trust, time("2027-06-01T00:00:00Z"), &Expectations::default()).status();
        // The only edits allowed to stay valid are ones that changed nothing, or only
        // dropped the optional final newline.
        if status == Status::Valid {
            prop_assert!(bytes == original || bytes == original[..original.len() - 1]);
        }
    }
}
