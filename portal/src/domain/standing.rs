//! A license's standing on the portal: what a ping or an activation answers, and what the
//! admin API shows.

use tessera_core::{Status, UnixTime};

use crate::store::{LicenseRow, LicenseState};

/// The license's own status at `now`: its state on the portal, then its dates.
pub fn license_status(license: &LicenseRow, now: UnixTime) -> Status {
    let t = now.as_unix();
    match license.state {
        LicenseState::Revoked => Status::Revoked,
        LicenseState::Suspended => Status::Suspended,
        LicenseState::Active if t < license.not_before => Status::NotYetValid,
        LicenseState::Active if license.terminates_at.is_some_and(|end| t > end) => {
            Status::Terminated
        }
        LicenseState::Active if t > license.expires_at => Status::Expired,
        LicenseState::Active => Status::Valid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn license(state: LicenseState) -> LicenseRow {
        LicenseRow {
            id: "l".into(),
            key_sha256: String::new(),
            org: "Acme".into(),
            product: "acme-hub".into(),
            runners: 1,
            runner_countersign: false,
            not_before: 100,
            expires_at: 1_000,
            terminates_at: Some(2_000),
            grace_period_secs: 0,
            ping_interval_secs: 3600,
            state,
            registered_at: 0,
            status_changed_at: 0,
        }
    }

    fn at(t: i64) -> UnixTime {
        UnixTime::from_unix(t).expect("time")
    }

    #[test]
    fn the_portal_state_comes_before_the_dates() {
        assert_eq!(license_status(&license(LicenseState::Active), at(500)), Status::Valid);
        assert_eq!(license_status(&license(LicenseState::Active), at(50)), Status::NotYetValid);
        assert_eq!(license_status(&license(LicenseState::Active), at(1_500)), Status::Expired);
        assert_eq!(license_status(&license(LicenseState::Active), at(2_500)), Status::Terminated);
        assert_eq!(license_status(&license(LicenseState::Suspended), at(50)), Status::Suspended);
        assert_eq!(license_status(&license(LicenseState::Revoked), at(500)), Status::Revoked);
    }
}
