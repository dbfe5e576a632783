//! Where the hub decides whether it may run: the license, then the offline activation or
//! the kept receipt, judged by the core's one standing rule.

use std::time::Duration;

use tessera_core::activation::ActivationClaims;
use tessera_core::delegation::Delegation;
use tessera_core::fingerprint::FingerprintBinding;
use tessera_core::receipt::{self, ReceiptClaims, fingerprint_digest};
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
                let mut report = Report::bare(status, e.to_string(), &state);
                // A refused hub still shows its key id (a vendor's reset may name it); a
                // key is never made just to show it.
                if self.dir.key_path().exists() {
                    report.hub_key_id = self.dir.hub_key().ok().map(|k| k.key_id().to_string());
                }
                return Ok(report);
            }
        };
        let report = self.judge(&installed, &state);
        self.keep_clock(&report, &state);
        Ok(report)
    }

    /// Keeps this reading of the clock as the high-water mark, so that a clock moved ahead
    /// and back again is noticed by every command that reads it (`status`, the daemon's
    /// rounds, runner calls). Only a clock the standing accepts moves it: past the evidence's
    /// horizon (grace or the offline window run out) the hub refuses anyway, so a clock run
    /// far ahead by mistake costs nothing more once set right, and a fresh receipt settles
    /// the mark at the signed present. A mark that cannot be written is logged, never turned
    /// into a refusal.
    fn keep_clock(&self, report: &Report, state: &HubState) {
        let now = self.now();
        if !report.status.permits_running() || state.high_water.is_some_and(|mark| mark >= now) {
            return;
        }
        // `status` run by another user (root, by `sudo`) reads; only the hub's own user,
        // whose daemon keeps the mark at each round anyway, writes the file it must read.
        if !self.dir.owned_by_this_user() {
            return;
        }
        if let Err(e) = self.dir.update(|s| s.raise_high_water([now])) {
            tracing::warn!(error = %e, "cannot keep the clock's high-water mark");
        }
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
            hub_key_id: Some(installed.key.key_id().to_string()),
            refusal_signed: false,
        };
        let high_water = state.high_water.unwrap_or(UnixTime::EPOCH);
        if let Some(standing) = standing::rollback(now, high_water, DEFAULT_TOLERANCE) {
            report.status = standing.status;
            report.reason = standing.reason;
            return report;
        }
        if installed.verdict != Status::Valid {
            // The license itself says no (expired, not yet valid): any runner reading it does.
            report.refusal_signed = !matches!(installed.verdict, Status::NoLicense);
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
        // A clock behind the evidence is this host's own finding, like a bad kept receipt.
        report.refusal_signed = !standing.status.permits_running()
            && standing.status != Status::ClockRollback
            && matches!(judged, Ok(Verified::Receipt(_) | Verified::Offline(_)));
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
        // A receipt is earned by one host: a state directory (key, receipt and all) copied
        // to a second machine must not lease runners there. The receipt names the digest of
        // the fingerprint its call sent; that fingerprint is kept beside it, and this host
        // must still match it as the portal's binding would (a majority of components), so
        // one changed component between pings is no refusal.
        let sent = state
            .fingerprint
            .as_ref()
            .ok_or_else(|| tampered("no fingerprint kept with the receipt".to_owned()))?;
        if fingerprint_digest(sent) != receipt.fingerprint {
            return Err(tampered(
                "the kept fingerprint is not the one the kept receipt names".to_owned(),
            ));
        }
        let binding = FingerprintBinding::new(sent.clone())
            .map_err(|e| tampered(format!("the kept fingerprint: {e}")))?;
        binding.check(&self.fingerprint_to_check(&installed.claims)?).map_err(|m| {
            HubError::BadReceipt {
                status: Status::FingerprintMismatch,
                message: format!(
                    "the kept receipt was earned on another host: this host matches {} of the {} \
                 components needed (a hub run with --host-secret needs the same here)",
                    m.matched, m.needed
                ),
            }
        })?;
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
            hub_key_id: None,
            refusal_signed: false,
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
