//! Fixed test keys and claims, so that test vectors are byte-for-byte repeatable.
//! These keys are test keys made from public seeds: never use them for anything else.

use std::path::PathBuf;

use tessera_core::keys::SigningKey;
use tessera_core::license::{Claims, LicenseKey};
use tessera_core::time::UnixTime;

pub fn vendor_key() -> SigningKey {
    SigningKey::from_seed(&[0x11; 32])
}

pub fn other_key() -> SigningKey {
    SigningKey::from_seed(&[0x22; 32])
}

pub fn time(text: &str) -> UnixTime {
    text.parse().expect("test time")
}

/// The claims of the reference license: valid from 2027-01-01 through 2027-12-31,
/// terminated after 2028-03-31.
pub fn claims() -> Claims {
    Claims {
        id: "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("id"),
        key: LicenseKey::from_entropy(*b"tessera test vectors!"),
        org: "Acme Corp".parse().expect("org"),
        product: "acme-hub".parse().expect("product"),
        runners: 5,
        issued_at: time("2026-12-15T09:30:00Z"),
        not_before: time("2027-01-01T00:00:00Z"),
        expires_at: time("2027-12-31T23:59:59Z"),
        terminates_at: Some(time("2028-03-31T23:59:59Z")),
        features: vec!["audit-log".parse().expect("feature"), "sso".parse().expect("feature")],
        grace_period_secs: 7 * 86_400,
        ping_interval_secs: 3600,
        portal_url: Some("https://portal.example.com".parse().expect("url")),
        fingerprint: None,
        runner_countersign: false,
    }
}

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}
