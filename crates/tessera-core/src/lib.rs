//! Tessera's core: the license format, keys, trust sets, fingerprints and verification.
//!
//! Where things are:
//! - a license is signed in [`license::sign`] and judged in [`license::verify`];
//! - the signed envelope shared by every file kind is [`armor`];
//! - the portal signs receipts and hubs and runners check them in [`receipt`], through the
//!   vendor-signed [`delegation`] of the portal's key;
//! - offline activation (request, vendor answer) and runner leases are [`activation`];
//! - the hub agent's signed answer to the vendor's hub application is [`local_status`];
//! - whether a hub or runner may run now is decided once, in [`standing`]; a copy of a hub
//!   or runner is noticed through the [`chain`] of its calls;
//! - keys and key files are [`keys`] and [`keyfile`]; the trust set is [`trust`];
//! - the portal's audit ledger (a signed hash chain) is checked by one rule, [`ledger`];
//! - the status words every check answers are [`status::Status`];
//! - time is always an argument ([`time::UnixTime`]); only binaries read a [`time::Clock`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Serializes a type as its `Display` text and deserializes it through `FromStr`, so the
/// strict parser is the only way in.
macro_rules! serde_via_str {
    ($type:ty) => {
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The one spelling of "absent" in Tessera's signed formats: an optional field is left
/// out; `null` is not a value and is `malformed`. For `#[serde(default, deserialize_with =
/// "crate::present")]` on an `Option` field.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

pub mod activation;
pub mod armor;
pub mod chain;
pub mod claim;
pub mod delegation;
pub mod fingerprint;
pub mod fsutil;
pub mod keyfile;
pub mod keys;
pub mod ledger;
pub mod license;
pub mod local_status;
pub mod machine;
pub mod merkle;
pub mod receipt;
pub mod standing;
pub mod status;
pub mod time;
pub mod transport;
pub mod trust;
pub mod wire;

pub use license::{Claims, Expectations, LicenseFile, LicenseTerms, Verdict, verify};
pub use status::Status;
pub use time::UnixTime;
pub use trust::TrustSet;
