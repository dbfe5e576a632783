//! Verifying a license file in process: the same rule as `tessera verify`.

use serde::Serialize;
use tessera_core::license::{Claims, Expectations, ProductId};
use tessera_core::{Status, TrustSet, UnixTime};

use crate::Error;

/// A license's terms as a product needs them. The license key is left out: it is a secret
/// the product has no use for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct License {
    /// The license's id.
    pub id: String,
    /// The licensed organization.
    pub org: String,
    /// The licensed product.
    pub product: String,
    /// The features the license grants, as the vendor named them.
    pub features: Vec<String>,
    /// How many runners may hold a lease at once.
    pub runner_limit: u32,
    /// When the vendor issued it.
    pub issued_at: UnixTime,
    /// It is `not_yet_valid` before then.
    pub not_before: UnixTime,
    /// Valid through this second, `expired` after it.
    pub expires_at: UnixTime,
    /// `terminated` after this second, when set.
    pub terminates_at: Option<UnixTime>,
    /// How long a hub keeps working without a fresh receipt, in seconds.
    pub grace_period_secs: u32,
    /// How often the hub pings the portal, in seconds.
    pub ping_interval_secs: u32,
}

impl License {
    /// Whether the license grants `feature`.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

impl From<&Claims> for License {
    fn from(claims: &Claims) -> Self {
        License {
            id: claims.id.to_string(),
            org: claims.org.to_string(),
            product: claims.product.to_string(),
            features: claims.features.iter().map(ToString::to_string).collect(),
            runner_limit: claims.runners,
            issued_at: claims.issued_at,
            not_before: claims.not_before,
            expires_at: claims.expires_at,
            terminates_at: claims.terminates_at,
            grace_period_secs: claims.grace_period_secs,
            ping_interval_secs: claims.ping_interval_secs,
        }
    }
}

/// A license file's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LicenseCheck {
    /// `valid`, or why not: `bad_signature`, `unknown_key`, `expired`, `not_yet_valid`,
    /// `wrong_product`, `malformed`…
    pub status: Status,
    /// One sentence for people.
    pub reason: String,
    /// The terms, whenever a trusted key's signature over them verified (also when the
    /// license is expired or for another product); never for a forged or damaged file.
    pub license: Option<License>,
}

/// Verifies a license file (its armored text) against the vendor's trust set at `now`, for
/// `product` when given (another product's license is `wrong_product`). Only the product
/// id's spelling can make this an error; every other problem is a status.
///
/// ```
/// # let vendor = tessera_testkit::Vendor::new();
/// # let (_, text) = vendor.license(3, None);
/// let trust = tessera::TrustSet::parse(vendor.trust_text().as_bytes())?;
/// let mut forged = text.clone().into_bytes();
/// let at = forged.len() / 2;
/// forged[at] ^= 1;
/// let check = tessera::verify_license(&forged, &trust, None, tessera::now())?;
/// assert!(!check.status.permits_running());
/// assert!(check.license.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_license(
    text: &[u8],
    trust: &TrustSet,
    product: Option<&str>,
    now: UnixTime,
) -> Result<LicenseCheck, Error> {
    let product = product
        .map(|p| p.parse::<ProductId>())
        .transpose()
        .map_err(|e| Error::BadArgument { what: "product", message: e.to_string() })?;
    let verdict =
        tessera_core::verify(text, trust, now, &Expectations { product, ..Default::default() });
    let status = verdict.status();
    let reason = match verdict.problem() {
        Some(problem) => problem.to_string(),
        None => "the license verifies with the trust set".to_owned(),
    };
    Ok(LicenseCheck { status, reason, license: verdict.claims().map(License::from) })
}
