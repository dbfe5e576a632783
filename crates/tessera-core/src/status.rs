//! The shared status vocabulary: every check in Tessera answers exactly one of these words,
//! the same in the library, in JSON (`"status"`), in exit codes and in the docs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The answer of a check. See `docs/FORMAT.md` ("Statuses") for what each means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Everything checks out.
    Valid,
    /// The portal has not been reached lately, but the grace period has not run out.
    Grace,
    /// After `expires_at`.
    Expired,
    /// After `terminates_at`.
    Terminated,
    /// Before `not_before`.
    NotYetValid,
    /// The signature does not verify: the file was altered.
    BadSignature,
    /// The signing key is not trusted (unknown, distrusted, outside its window).
    UnknownKey,
    /// Not a well-formed Tessera file of the expected kind.
    Malformed,
    /// Bound to another host.
    FingerprintMismatch,
    /// Revoked on the portal.
    Revoked,
    /// Suspended on the portal.
    Suspended,
    /// All runner slots are leased.
    RunnerLimitExceeded,
    /// The portal was unreachable for longer than the grace period.
    GraceExpired,
    /// The clock went back by more than the tolerance.
    ClockRollback,
    /// A sealed cache was altered, or a hub's status answer is not its own answer to this call.
    Tampered,
    /// No license installed.
    NoLicense,
    /// A license for another product.
    WrongProduct,
    /// Two hubs (or runners) share one identity: the copy that is behind is refused.
    Cloned,
    /// A word from a newer portal or hub that this version does not know: never runs.
    Unrecognized,
}

impl Status {
    /// Every status, in the order of their exit codes.
    pub const ALL: [Status; 19] = [
        Status::Valid,
        Status::Grace,
        Status::Expired,
        Status::Terminated,
        Status::NotYetValid,
        Status::BadSignature,
        Status::UnknownKey,
        Status::Malformed,
        Status::FingerprintMismatch,
        Status::Revoked,
        Status::Suspended,
        Status::RunnerLimitExceeded,
        Status::GraceExpired,
        Status::ClockRollback,
        Status::Tampered,
        Status::NoLicense,
        Status::WrongProduct,
        Status::Cloned,
        Status::Unrecognized,
    ];

    /// The word used in JSON, logs and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Grace => "grace",
            Status::Expired => "expired",
            Status::Terminated => "terminated",
            Status::NotYetValid => "not_yet_valid",
            Status::BadSignature => "bad_signature",
            Status::UnknownKey => "unknown_key",
            Status::Malformed => "malformed",
            Status::FingerprintMismatch => "fingerprint_mismatch",
            Status::Revoked => "revoked",
            Status::Suspended => "suspended",
            Status::RunnerLimitExceeded => "runner_limit_exceeded",
            Status::GraceExpired => "grace_expired",
            Status::ClockRollback => "clock_rollback",
            Status::Tampered => "tampered",
            Status::NoLicense => "no_license",
            Status::WrongProduct => "wrong_product",
            Status::Cloned => "cloned",
            Status::Unrecognized => "unrecognized",
        }
    }

    /// Whether the software may run: only `valid` and `grace` allow it.
    pub fn permits_running(self) -> bool {
        matches!(self, Status::Valid | Status::Grace)
    }

    /// The process exit code every Tessera binary uses for this status: 0 for `valid` and
    /// `grace`, and a distinct code from 10 upwards for each other status. Codes 1–9 are
    /// reserved for operational errors (usage, I/O, keys), see `docs/CLI.md`.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Valid | Status::Grace => 0,
            Status::Expired => 10,
            Status::Terminated => 11,
            Status::NotYetValid => 12,
            Status::BadSignature => 13,
            Status::UnknownKey => 14,
            Status::Malformed => 15,
            Status::FingerprintMismatch => 16,
            Status::Revoked => 17,
            Status::Suspended => 18,
            Status::RunnerLimitExceeded => 19,
            Status::GraceExpired => 20,
            Status::ClockRollback => 21,
            Status::Tampered => 22,
            Status::NoLicense => 23,
            Status::WrongProduct => 24,
            Status::Cloned => 25,
            Status::Unrecognized => 26,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not in the status vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status word {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// Reads a status word sent by another program, which may be newer than this one: a word
/// this version does not know becomes [`Status::Unrecognized`] (a refusal with a clear
/// message), never a parse failure. For `#[serde(deserialize_with = "…")]`.
pub fn tolerant<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Status, D::Error> {
    let word = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    Ok(word.parse().unwrap_or(Status::Unrecognized))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_text_and_json() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            let json = serde_json::to_string(&status).expect("serialize");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert!("VALID".parse::<Status>().is_err());
    }

    #[test]
    fn a_word_from_a_newer_version_is_unrecognized_not_an_error() {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(deserialize_with = "tolerant")]
            status: Status,
        }
        let parse = |json: &str| serde_json::from_str::<Answer>(json).map(|a| a.status);
        assert_eq!(parse(r#"{"status":"revoked"}"#).ok(), Some(Status::Revoked));
        assert_eq!(parse(r#"{"status":"quarantined"}"#).ok(), Some(Status::Unrecognized));
        assert!(parse(r#"{"status":7}"#).is_err());
        assert!(!Status::Unrecognized.permits_running());
    }

    #[test]
    fn exit_codes_are_zero_only_for_running_statuses_and_otherwise_distinct() {
        let mut seen = std::collections::HashSet::new();
        for status in Status::ALL {
            let code = status.exit_code();
            assert_eq!(code == 0, status.permits_running(), "{status}");
            if code != 0 {
                assert!(code >= 10, "{status} uses a reserved code");
                assert!(seen.insert(code), "{status} reuses exit code {code}");
            }
        }
    }
}
