//! Key files, trust files and license keys on arbitrary bytes: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::keyfile::KeyFile;
use tessera_core::license::LicenseKey;
use tessera_core::trust::TrustSet;

fuzz_target!(|data: &[u8]| {
    // Encrypted files are parsed but not decrypted: argon2 is slow by design.
    let _ = KeyFile::parse(data);
    let _ = TrustSet::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = LicenseKey::parse_lenient(text);
        let _ = LicenseKey::parse_canonical(text);
    }
});
