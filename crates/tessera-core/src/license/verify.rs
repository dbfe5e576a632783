//! Where a license is judged: license text + trust set + time → one status.

use crate::armor::{Envelope, FormatError, Kind};
use crate::fingerprint::{Fingerprint, FingerprintMismatch};
use crate::keys::KeyId;
use crate::license::{Claims, ProductId};
use crate::status::Status;
use crate::time::UnixTime;
use crate::trust::{TrustSet, Untrusted};

/// What the verifier expects of the license besides a good signature and dates.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// The product this software is; another product's license is `wrong_product`.
    pub product: Option<ProductId>,
    /// This host's fingerprint; checked against a license bound to a host.
    pub fingerprint: Option<Fingerprint>,
}

/// Why a license is not `valid`, with the context to say so in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// Not a well-formed license file.
    #[error("malformed license: {0}")]
    Malformed(#[from] FormatError),
    /// The signing key is not trusted.
    #[error(transparent)]
    Untrusted(#[from] Untrusted),
    /// The signature does not verify.
    #[error("signature by key {key_id} does not verify: the license was altered")]
    BadSignature {
        /// The key it names.
        key_id: KeyId,
    },
    /// A license for another product.
    #[error("license is for product {found}, not {expected}")]
    WrongProduct {
        /// The product asked for.
        expected: ProductId,
        /// The license's product.
        found: ProductId,
    },
    /// Checked before `not_before`.
    #[error("license is valid only from {not_before} (checked at {at})")]
    NotYetValid {
        /// When it was checked.
        at: UnixTime,
        /// When it starts.
        not_before: UnixTime,
    },
    /// Checked after `expires_at`.
    #[error("license expired at {expires_at} (checked at {at})")]
    Expired {
        /// When it was checked.
        at: UnixTime,
        /// When it expired.
        expires_at: UnixTime,
    },
    /// Checked after `terminates_at`.
    #[error("license terminated at {terminates_at} (checked at {at})")]
    Terminated {
        /// When it was checked.
        at: UnixTime,
        /// When it terminated.
        terminates_at: UnixTime,
    },
    /// The license is bound to another host.
    #[error("license is bound to another host: {0}")]
    FingerprintMismatch(FingerprintMismatch),
}

impl Problem {
    /// The status word this problem is reported as.
    pub fn status(&self) -> Status {
        match self {
            Problem::Malformed(_) => Status::Malformed,
            Problem::Untrusted(_) => Status::UnknownKey,
            Problem::BadSignature { .. } => Status::BadSignature,
            Problem::WrongProduct { .. } => Status::WrongProduct,
            Problem::NotYetValid { .. } => Status::NotYetValid,
            Problem::Expired { .. } => Status::Expired,
            Problem::Terminated { .. } => Status::Terminated,
            Problem::FingerprintMismatch(_) => Status::FingerprintMismatch,
        }
    }
}

/// The outcome of a verification: one status, the claims once the signature is known good,
/// and the problem if the status is not `valid`.
#[derive(Debug, Clone)]
pub struct Verdict {
    claims: Option<Claims>,
    key_id: Option<KeyId>,
    problem: Option<Problem>,
}

impl Verdict {
    fn rejected(key_id: Option<KeyId>, problem: impl Into<Problem>) -> Self {
        Verdict { claims: None, key_id, problem: Some(problem.into()) }
    }

    /// The status: `valid`, or the problem's.
    pub fn status(&self) -> Status {
        self.problem.as_ref().map_or(Status::Valid, Problem::status)
    }

    /// Whether the license is valid.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }

    /// The claims, present only when a trusted key's signature over them verified (even if
    /// the license is expired or for another host).
    pub fn claims(&self) -> Option<&Claims> {
        self.claims.as_ref()
    }

    /// The claims, owned (see [`Verdict::claims`]).
    pub fn into_claims(self) -> Option<Claims> {
        self.claims
    }

    /// The signing key's id, when the file was well formed enough to name one.
    pub fn key_id(&self) -> Option<KeyId> {
        self.key_id
    }

    /// Why the license is not valid, if it is not.
    pub fn problem(&self) -> Option<&Problem> {
        self.problem.as_ref()
    }
}

/// A parsed license file whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct LicenseFile {
    envelope: Envelope,
}

impl LicenseFile {
    /// Parses license text strictly (see `docs/FORMAT.md`).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        Ok(LicenseFile { envelope: Envelope::parse(Kind::License, bytes)? })
    }

    /// The key id in the header.
    pub fn key_id(&self) -> KeyId {
        self.envelope.key_id()
    }

    /// The parsed envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The claims without checking the signature: for display only, always marked
    /// unverified. Never base a decision on them.
    pub fn unverified_claims(&self) -> Result<Claims, FormatError> {
        let claims: Claims = self.envelope.open()?;
        claims.validate().map_err(|e| FormatError::Payload(e.to_string()))?;
        Ok(claims)
    }

    /// Verifies against `trust` at time `now`.
    ///
    /// Order: trusted key, signature, then (only over signed bytes) claims, product, dates
    /// and host. The signature is checked before any JSON is read, so unsigned input never
    /// reaches the claims parser.
    pub fn verify(&self, trust: &TrustSet, now: UnixTime, expect: &Expectations) -> Verdict {
        let key_id = Some(self.key_id());
        let key = match trust.lookup(self.key_id(), now) {
            Ok(key) => key,
            Err(untrusted) => return Verdict::rejected(key_id, untrusted),
        };
        if self.envelope.verify_signature(key).is_err() {
            return Verdict::rejected(key_id, Problem::BadSignature { key_id: self.key_id() });
        }
        self.signed_verdict(now, expect)
    }

    /// Verifies many files against `trust` at `now`: the verdict of [`LicenseFile::verify`]
    /// for each, in order, with their signatures checked in one batch (about half the CPU
    /// of checking them one by one; a batch that fails is checked one by one).
    pub fn verify_many(
        files: &[LicenseFile],
        trust: &TrustSet,
        now: UnixTime,
        expect: &Expectations,
    ) -> Vec<Verdict> {
        let keys: Vec<_> = files.iter().map(|file| trust.lookup(file.key_id(), now)).collect();
        let items: Vec<_> = files
            .iter()
            .zip(&keys)
            .filter_map(|(file, key)| {
                let key = key.as_ref().ok()?;
                Some((*key, file.envelope.signed_message(), file.envelope.signature()))
            })
            .collect();
        let mut good = crate::keys::verify_many(&items).into_iter();
        files
            .iter()
            .zip(keys)
            .map(|(file, key)| {
                let key_id = Some(file.key_id());
                match key {
                    Err(untrusted) => Verdict::rejected(key_id, untrusted),
                    Ok(_) if good.next() == Some(true) => file.signed_verdict(now, expect),
                    Ok(_) => {
                        Verdict::rejected(key_id, Problem::BadSignature { key_id: file.key_id() })
                    }
                }
            })
            .collect()
    }

    /// The verdict on a file whose signature by a trusted key was checked: only now are
    /// its claims read.
    fn signed_verdict(&self, now: UnixTime, expect: &Expectations) -> Verdict {
        let key_id = Some(self.key_id());
        let claims = match self.unverified_claims() {
            Ok(claims) => claims,
            Err(e) => return Verdict::rejected(key_id, e),
        };
        let problem = judge(&claims, now, expect).err();
        Verdict { claims: Some(claims), key_id, problem }
    }
}

/// The checks on verified claims.
fn judge(claims: &Claims, now: UnixTime, expect: &Expectations) -> Result<(), Problem> {
    if let Some(expected) = expect.product.as_ref().filter(|p| **p != claims.product) {
        return Err(Problem::WrongProduct {
            expected: expected.clone(),
            found: claims.product.clone(),
        });
    }
    if now < claims.not_before {
        return Err(Problem::NotYetValid { at: now, not_before: claims.not_before });
    }
    if let Some(terminates_at) = claims.terminates_at.filter(|t| now > *t) {
        return Err(Problem::Terminated { at: now, terminates_at });
    }
    if now > claims.expires_at {
        return Err(Problem::Expired { at: now, expires_at: claims.expires_at });
    }
    if let (Some(binding), Some(host)) = (&claims.fingerprint, &expect.fingerprint) {
        binding.check(host).map_err(Problem::FingerprintMismatch)?;
    }
    Ok(())
}

/// Parses and verifies license text in one step.
pub fn verify(bytes: &[u8], trust: &TrustSet, now: UnixTime, expect: &Expectations) -> Verdict {
    match LicenseFile::parse(bytes) {
        Ok(file) => file.verify(trust, now, expect),
        Err(e) => Verdict::rejected(None, e),
    }
}
