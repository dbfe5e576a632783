//! The license parser and verifier on arbitrary bytes: never a panic, and never `valid`
//! for input the vendor key did not sign.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_core::keys::SigningKey;
use tessera_core::license::{Expectations, LicenseFile};
use tessera_core::{Status, TrustSet, UnixTime};

fn trust() -> &'static TrustSet {
    static TRUST: OnceLock<TrustSet> = OnceLock::new();
    TRUST.get_or_init(|| TrustSet::single(SigningKey::from_seed(&[0x11; 32]).public_key().clone()))
}

fuzz_target!(|data: &[u8]| {
    let now = UnixTime::from_unix(1_800_000_000).expect("time");
    let verdict = tessera_core::verify(data, trust(), now, &Expectations::default());
    // The fuzzer cannot forge an Ed25519 signature; a valid verdict would mean a bug.
    assert_ne!(verdict.status(), Status::Valid);
    if let Ok(file) = LicenseFile::parse(data) {
        let _ = file.unverified_claims();
    }
});
