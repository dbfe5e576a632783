//! The words a check answers, as JavaScript constants (`Status.Grace === 'grace'`) and, in
//! `index.d.ts`, as TypeScript unions that a product's `switch` can be checked against.

use napi_derive::napi;

/// Every status word a check answers (docs/INTEGRATION.md says what each means).
#[napi(string_enum = "snake_case")]
pub enum Status {
    Valid,
    Grace,
    Expired,
    Terminated,
    NotYetValid,
    BadSignature,
    UnknownKey,
    Malformed,
    FingerprintMismatch,
    Revoked,
    Suspended,
    RunnerLimitExceeded,
    GraceExpired,
    ClockRollback,
    Tampered,
    NoLicense,
    WrongProduct,
    Cloned,
    Unrecognized,
}

impl From<tessera::Status> for Status {
    fn from(status: tessera::Status) -> Self {
        use tessera::Status as S;
        match status {
            S::Valid => Status::Valid,
            S::Grace => Status::Grace,
            S::Expired => Status::Expired,
            S::Terminated => Status::Terminated,
            S::NotYetValid => Status::NotYetValid,
            S::BadSignature => Status::BadSignature,
            S::UnknownKey => Status::UnknownKey,
            S::Malformed => Status::Malformed,
            S::FingerprintMismatch => Status::FingerprintMismatch,
            S::Revoked => Status::Revoked,
            S::Suspended => Status::Suspended,
            S::RunnerLimitExceeded => Status::RunnerLimitExceeded,
            S::GraceExpired => Status::GraceExpired,
            S::ClockRollback => Status::ClockRollback,
            S::Tampered => Status::Tampered,
            S::NoLicense => Status::NoLicense,
            S::WrongProduct => Status::WrongProduct,
            S::Cloned => Status::Cloned,
            // A word newer than this addon never permits running.
            _ => Status::Unrecognized,
        }
    }
}

/// Where a hub's evidence comes from: pings to the portal, an offline activation, or none.
#[napi(string_enum = "lowercase")]
pub enum Mode {
    Online,
    Offline,
    None,
}

#[cfg(feature = "hub")]
impl From<tessera::Mode> for Mode {
    fn from(mode: tessera::Mode) -> Self {
        match mode {
            tessera::Mode::Online => Mode::Online,
            tessera::Mode::Offline => Mode::Offline,
            tessera::Mode::None => Mode::None,
        }
    }
}
