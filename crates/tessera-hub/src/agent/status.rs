//! Where the hub decides whether it may run: the license, then the offline activation or
//! the kept receipt, judged by the core's one standing rule.

use std::time::Duration;

use tessera_core::activation::ActivationClaims;
use tessera_core::delegation::Delegation;
use tessera_core::receipt::{self, ReceiptClaims};
use tessera_core::standing::{self, DEFAULT_TOLERANCE, Evidence, Mode, Standing};
use tessera_core::{Status, UnixTime};

use super::{Hub, HubError, Installed, Report};
use crate::state::{HubState, StateError};

impl Hub {
    /// Where the hub decides: the license offline, then the offline activation or the
    /// latest receipt, grace counted from the last good receipt's portal time.
    pub fn status(&self) -> Result<Report, HubError> {
        let state = self.dir.load()?;
        let installed = match self.installed() {
            Ok(installed) => installed,
            Err(e) => {
                let status = e.status().unwrap_or(Status::NoLicense);
                return Ok(Report::bare(status, e.to_string(), &state));
            }
        };
        Ok(self.judge(&installed, &state))
    }

    pub(crate) fn judge(&self, installed: &Installed, state: &HubState) -> Report {
        let now = self.now();
        let claims = &installed.claims;
        let leased = state.runners.values().filter(|r| r.holds_slot(now)).count();
        let mut report = Report {
            status: installed.verdict,
            reason: installed.verdict_message.clone(),
            mode: Mode::None,
            license_id: Some(claims.id.to_string()),
            org: Some(claims.org.to_string()),
            product: Some(claims.product.to_string()),
            portal: state.portal.clone(),
            last_good_receipt: None,
            grace_left_secs: None,
            last_failure: state.last_failure.as_ref().map(|f| format!("{}: {}", f.at, f.reason)),
            runners_leased: leased,
            runner_limit: Some(claims.runners),
        };
        let high_water = state.high_water.unwrap_or(UnixTime::EPOCH);
        if let Some(standing) = standing::rollback(now, high_water, DEFAULT_TOLERANCE) {
            report.status = standing.status;
            report.reason = standing.reason;
            return report;
        }
        if installed.verdict != Status::Valid {
            return report;
        }
        let judged = if let Some(text) = &state.activation {
            report.mode = Mode::Offline;
            self.check_activation(installed, text.as_bytes()).map(Verified::Offline)
        } else if let Some(text) = &state.receipt {
            report.mode = Mode::Online;
            self.check_kept_receipt(installed, state, text).map(Verified::Receipt)
        } else {
            Ok(Verified::Nothing)
        };
        let standing = match &judged {
            Ok(verified) => {
                if let Verified::Receipt(r) = verified
                    && r.status == Status::Valid
                {
                    report.last_good_receipt = Some(r.portal_time);
                }
                standing::judge(verified.evidence(), claims, now, high_water, DEFAULT_TOLERANCE)
            }
            Err(e) => Standing {
                status: e.status().unwrap_or(Status::Tampered),
                reason: e.to_string(),
                left: None,
            },
        };
        report.status = standing.status;
        report.reason = match (standing.status, &judged) {
            (Status::NoLicense, Ok(Verified::Nothing)) => {
                "not activated: run `tessera-hub activate`".to_owned()
            }
            (Status::Unrecognized, _) => format!(
                "{}: the portal answered a status this hub does not know; update the hub",
                standing.reason
            ),
            _ => standing.reason,
        };
        report.grace_left_secs = standing.left.map(|d| d.as_secs());
        report
    }

    /// The kept receipt, verified through the kept delegation, for this license and key.
    fn check_kept_receipt(
        &self,
        installed: &Installed,
        state: &HubState,
        text: &str,
    ) -> Result<ReceiptClaims, HubError> {
        let tampered = |message: String| HubError::BadReceipt { status: Status::Tampered, message };
        let delegation = state
            .delegation
            .as_deref()
            .ok_or_else(|| tampered("no delegation kept with the receipt".to_owned()))?;
        let delegation = Delegation::verify(delegation.as_bytes(), &installed.trust, self.now())
            .map_err(|e| tampered(format!("the kept delegation: {e}")))?;
        let receipt = receipt::verify(text.as_bytes(), &delegation)
            .map_err(|e| tampered(format!("the kept receipt: {e}")))?;
        if receipt.license_id != installed.claims.id || receipt.hub_key_id != installed.key.key_id()
        {
            return Err(tampered("the kept receipt is for another license or hub key".to_owned()));
        }
        Ok(receipt)
    }

    /// What the daemon needs each round: whether to ping (a valid license activated online)
    /// and the license's ping interval. Cheaper than [`Hub::status`]: no receipt is checked.
    pub fn schedule(&self) -> Result<(Mode, Duration), HubError> {
        let installed = self.installed()?;
        let state = match self.dir.load() {
            Ok(state) => state,
            // A damaged state file: the ping repairs it (and activates again).
            Err(StateError::Damaged { .. }) => {
                return Ok((Mode::Online, installed.claims.ping_interval()));
            }
            Err(e) => return Err(e.into()),
        };
        let mode = match (installed.verdict, &state.activation, &state.receipt) {
            (Status::Valid, Some(_), _) => Mode::Offline,
            (Status::Valid, None, Some(_)) => Mode::Online,
            _ => Mode::None,
        };
        Ok((mode, installed.claims.ping_interval()))
    }
}

impl Report {
    fn bare(status: Status, reason: String, state: &HubState) -> Self {
        Report {
            status,
            reason,
            mode: Mode::None,
            license_id: None,
            org: None,
            product: None,
            portal: state.portal.clone(),
            last_good_receipt: None,
            grace_left_secs: None,
            last_failure: None,
            runners_leased: 0,
            runner_limit: None,
        }
    }
}

/// The signed evidence of the hub's standing, verified.
enum Verified {
    Offline(ActivationClaims),
    Receipt(ReceiptClaims),
    Nothing,
}

impl Verified {
    fn evidence(&self) -> Evidence<'_> {
        match self {
            Verified::Offline(a) => Evidence::Offline(a),
            Verified::Receipt(r) => Evidence::Receipt(r),
            Verified::Nothing => Evidence::None,
        }
    }
}
