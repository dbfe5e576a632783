//! The license parser and verifier on arbitrary bytes: never a panic. The trust key is the
//! test-vector key (seed 0x11), so a corpus of the vectors reaches past the signature check.
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
    // Claims are only ever handed out under a good signature.
    if verdict.claims().is_some() {
        assert!(!matches!(verdict.status(), Status::Malformed | Status::BadSignature | Status::UnknownKey));
    }
    if let Ok(file) = LicenseFile::parse(data) {
        let _ = file.unverified_claims();
    }
});
