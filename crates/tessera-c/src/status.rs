//! The status words as a C `enum`, for a product's `switch`; the word itself stays
//! available as text (`tessera_check_status`).

use tessera::Status;

/// A check's status (docs/INTEGRATION.md says what each means). `VALID` and `GRACE` permit
/// running; a product treats any value it does not know as "no".
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TesseraStatus {
    Valid = 0,
    Grace = 1,
    Expired = 2,
    Terminated = 3,
    NotYetValid = 4,
    BadSignature = 5,
    UnknownKey = 6,
    Malformed = 7,
    FingerprintMismatch = 8,
    Revoked = 9,
    Suspended = 10,
    RunnerLimitExceeded = 11,
    GraceExpired = 12,
    ClockRollback = 13,
    Tampered = 14,
    NoLicense = 15,
    WrongProduct = 16,
    Cloned = 17,
    /// A word newer than this library (or no check at all): never runs.
    Unrecognized = 18,
}

impl From<Status> for TesseraStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Valid => TesseraStatus::Valid,
            Status::Grace => TesseraStatus::Grace,
            Status::Expired => TesseraStatus::Expired,
            Status::Terminated => TesseraStatus::Terminated,
            Status::NotYetValid => TesseraStatus::NotYetValid,
            Status::BadSignature => TesseraStatus::BadSignature,
            Status::UnknownKey => TesseraStatus::UnknownKey,
            Status::Malformed => TesseraStatus::Malformed,
            Status::FingerprintMismatch => TesseraStatus::FingerprintMismatch,
            Status::Revoked => TesseraStatus::Revoked,
            Status::Suspended => TesseraStatus::Suspended,
            Status::RunnerLimitExceeded => TesseraStatus::RunnerLimitExceeded,
            Status::GraceExpired => TesseraStatus::GraceExpired,
            Status::ClockRollback => TesseraStatus::ClockRollback,
            Status::Tampered => TesseraStatus::Tampered,
            Status::NoLicense => TesseraStatus::NoLicense,
            Status::WrongProduct => TesseraStatus::WrongProduct,
            Status::Cloned => TesseraStatus::Cloned,
            _ => TesseraStatus::Unrecognized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_value_named_as_its_word() {
        let values: Vec<TesseraStatus> = Status::ALL.iter().map(|s| (*s).into()).collect();
        for (i, (status, value)) in Status::ALL.iter().zip(&values).enumerate() {
            // The enum's names are the words in capitals (cbindgen: TESSERA_STATUS_<WORD>).
            let name = format!("{value:?}");
            let word: String = name
                .chars()
                .enumerate()
                .flat_map(|(j, c)| {
                    let lower = c.to_ascii_lowercase();
                    if c.is_ascii_uppercase() && j > 0 { vec!['_', lower] } else { vec![lower] }
                })
                .collect();
            assert_eq!(word, status.as_str(), "{name}");
            assert_eq!(*value as usize, i, "{name} keeps the order of Status::ALL");
        }
    }
}
