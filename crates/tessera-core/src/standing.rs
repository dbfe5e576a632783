//! The one rule for "may this hub, or a runner of it, run now?". The hub (`tessera-hub
//! status`, the leases it grants) and every runner (`tessera-runner check`) decide through
//! [`judge`], from signed evidence only: a license verified against the trust set, and
//! either a vendor-signed offline activation or the portal's latest receipt, each verified
//! by the caller. Nothing unsigned decides, except the high-water mark, which can only make
//! the answer stricter.
//!
//! In order: a clock behind what was already seen (`clock_rollback`), then the offline
//! activation's window, or the receipt's own status and then its age (`valid` for one ping
//! interval plus a slack, `grace` until the license's grace period runs out, then
//! `grace_expired`).

use std::time::Duration;

use crate::activation::ActivationClaims;
use crate::license::Claims;
use crate::receipt::ReceiptClaims;
use crate::status::Status;
use crate::time::UnixTime;

/// How far the clock may fall behind the high-water mark before `clock_rollback`: daylight
/// saving mistakes and drift, not days.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(3600);

/// What vouches for the hub, verified by the caller.
#[derive(Debug, Clone, Copy)]
pub enum Evidence<'a> {
    /// A vendor-signed offline activation for this license and hub.
    Offline(&'a ActivationClaims),
    /// The latest receipt from the portal for this license and hub.
    Receipt(&'a ReceiptClaims),
    /// Nothing yet: not activated.
    None,
}

impl Evidence<'_> {
    /// The latest time the evidence proves has passed: a receipt's portal time, an offline
    /// activation's issue time.
    pub fn seen(&self) -> Option<UnixTime> {
        match self {
            Evidence::Offline(a) => Some(a.issued_at),
            Evidence::Receipt(r) => Some(r.portal_time),
            Evidence::None => None,
        }
    }
}

/// The answer, with what led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The status word.
    pub status: Status,
    /// One sentence for people.
    pub reason: String,
    /// Grace left (online) or the offline activation's time left, where that applies.
    pub left: Option<Duration>,
}

impl Standing {
    fn new(status: Status, reason: impl Into<String>, left: Option<Duration>) -> Self {
        Standing { status, reason: reason.into(), left }
    }
}

/// Whether `now` is behind `high_water` by more than `tolerance`.
pub fn rolled_back(now: UnixTime, high_water: UnixTime, tolerance: Duration) -> bool {
    now.saturating_add(tolerance) < high_water
}

/// `clock_rollback` when `now` is behind `high_water` by more than `tolerance`. Deciders
/// ask this first, before verifying anything: a clock set back must not turn an expired
/// license into a not-yet-expired one, nor a running one into `not_yet_valid`.
pub fn rollback(now: UnixTime, high_water: UnixTime, tolerance: Duration) -> Option<Standing> {
    rolled_back(now, high_water, tolerance).then(|| {
        Standing::new(
            Status::ClockRollback,
            format!("the clock says {now}, but {high_water} was already seen: set the clock right"),
            None,
        )
    })
}

/// The standing of a hub whose license `license` (verified, and valid at `now`) is vouched
/// for by `evidence`. `high_water` is the latest time already seen by whoever decides
/// (stored by it; the evidence's own time counts too).
pub fn judge(
    evidence: Evidence<'_>,
    license: &Claims,
    now: UnixTime,
    high_water: UnixTime,
    tolerance: Duration,
) -> Standing {
    let seen = evidence.seen().map_or(high_water, |t| t.max(high_water));
    if let Some(standing) = rollback(now, seen, tolerance) {
        return standing;
    }
    match evidence {
        Evidence::None => Standing::new(Status::NoLicense, "not activated yet", None),
        Evidence::Offline(a) if now < a.not_before => Standing::new(
            Status::NotYetValid,
            format!("the offline activation starts {}", a.not_before),
            None,
        ),
        Evidence::Offline(a) if now > a.not_after => Standing::new(
            Status::GraceExpired,
            format!("the offline activation ended {}; a new activation is needed", a.not_after),
            Some(Duration::ZERO),
        ),
        Evidence::Offline(a) => Standing::new(
            Status::Valid,
            format!("offline activation valid through {}", a.not_after),
            Some(a.not_after.since(now)),
        ),
        Evidence::Receipt(r) if r.status != Status::Valid => Standing::new(
            r.status,
            format!("the portal said {} at {}", r.status, r.portal_time),
            None,
        ),
        Evidence::Receipt(r) => {
            let (status, left) =
                freshness(r.portal_time, now, license.ping_interval(), license.grace_period());
            let reason = match status {
                Status::Valid => format!("the portal confirmed the license at {}", r.portal_time),
                Status::Grace => format!(
                    "the portal has not confirmed since {}; grace ends {}",
                    r.portal_time,
                    now.saturating_add(left)
                ),
                _ => format!("no confirmation since {}; grace has run out", r.portal_time),
            };
            Standing::new(status, reason, Some(left))
        }
    }
}

/// How a hub is licensed: the evidence its standing rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Not activated.
    None,
    /// Confirmed by the vendor's portal (pings and receipts).
    Online,
    /// A vendor-signed offline activation.
    Offline,
}

impl Mode {
    /// The word used in JSON and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Online => "online",
            Mode::Offline => "offline",
        }
    }
}

/// The slack allowed past a ping deadline before a hub counts as late: retries take time.
pub fn ping_slack(interval: Duration) -> Duration {
    (interval / 4).min(Duration::from_secs(15 * 60))
}

/// When a receipt of `portal_time` stops permitting running by its age: the later of its
/// freshness (one ping interval and its slack) and the grace period ([`freshness`]).
pub fn grace_ends(
    portal_time: UnixTime,
    ping_interval: Duration,
    grace_period: Duration,
) -> UnixTime {
    let fresh = ping_interval + ping_slack(ping_interval);
    portal_time.saturating_add(grace_period.max(fresh))
}

/// The freshness of the last good receipt: `valid` while it is at most one ping interval
/// (plus [`ping_slack`]) old, then `grace` until the grace period runs out, then
/// `grace_expired`. Returns the status and the grace left.
pub fn freshness(
    last_good: UnixTime,
    now: UnixTime,
    ping_interval: Duration,
    grace_period: Duration,
) -> (Status, Duration) {
    // A clock behind the receipt counts as the receipt's own time: it can only shorten grace.
    let age = now.since(last_good);
    let fresh = ping_interval + ping_slack(ping_interval);
    let grace = grace_period.max(fresh);
    let left = grace.saturating_sub(age);
    if age <= fresh {
        (Status::Valid, left)
    } else if age <= grace {
        (Status::Grace, left)
    } else {
        (Status::GraceExpired, Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use crate::license::LicenseTerms;
    use crate::receipt::{Answers, Nonce};

    fn t(s: &str) -> UnixTime {
        s.parse().expect("time")
    }

    fn license() -> Claims {
        let mut terms = LicenseTerms::new(
            "Acme".parse().expect("org"),
            "acme-hub".parse().expect("product"),
            2,
            t("2030-01-01"),
        );
        terms.ping_interval = Duration::from_secs(3600);
        terms.grace_period = Duration::from_secs(86_400);
        terms.issue(t("2027-01-01")).expect("issue")
    }

    fn receipt(status: Status, portal_time: UnixTime) -> ReceiptClaims {
        ReceiptClaims {
            license_id: license().id,
            answers: Answers::Ping,
            status,
            portal_time,
            nonce: Nonce::from_bytes([1; 16]),
            next_ping_by: portal_time,
            fingerprint: String::new(),
            hub_key_id: SigningKey::from_seed(&[1; 32]).key_id(),
            ledger_head: None,
            runners: None,
        }
    }

    #[test]
    fn freshness_is_valid_then_grace_then_grace_expired() {
        let hour = Duration::from_secs(3600);
        let day = Duration::from_secs(86_400);
        let t0 = t("2027-01-01T00:00:00Z");
        let at = |secs: u64| t0.saturating_add(Duration::from_secs(secs));
        assert_eq!(freshness(t0, t0, hour, day), (Status::Valid, day));
        assert_eq!(freshness(t0, at(3600 + 900), hour, day).0, Status::Valid);
        assert_eq!(freshness(t0, at(3600 + 901), hour, day).0, Status::Grace);
        assert_eq!(freshness(t0, at(86_400), hour, day), (Status::Grace, Duration::ZERO));
        assert_eq!(freshness(t0, at(86_401), hour, day).0, Status::GraceExpired);
        assert_eq!(grace_ends(t0, hour, day), at(86_400));
        assert_eq!(grace_ends(t0, hour, Duration::ZERO), at(3600 + 900));
        // A clock behind the receipt: age zero, never more grace.
        assert_eq!(freshness(at(100), t0, hour, day), (Status::Valid, day));
    }

    #[test]
    fn a_receipt_decides_by_its_status_then_its_age() {
        let license = license();
        let t0 = t("2027-06-01T00:00:00Z");
        let hour = Duration::from_secs(3600);
        let judge_at = |r: &ReceiptClaims, now: UnixTime| {
            judge(Evidence::Receipt(r), &license, now, t0, DEFAULT_TOLERANCE).status
        };
        let good = receipt(Status::Valid, t0);
        assert_eq!(judge_at(&good, t0), Status::Valid);
        assert_eq!(judge_at(&good, t0.saturating_add(hour * 2)), Status::Grace);
        assert_eq!(judge_at(&good, t0.saturating_add(hour * 25)), Status::GraceExpired);
        assert_eq!(judge_at(&receipt(Status::Revoked, t0), t0), Status::Revoked);
        assert_eq!(
            judge(Evidence::None, &license, t0, t0, DEFAULT_TOLERANCE).status,
            Status::NoLicense
        );
    }

    #[test]
    fn a_clock_behind_what_was_seen_is_a_rollback() {
        let license = license();
        let t0 = t("2027-06-01T00:00:00Z");
        let good = receipt(Status::Valid, t0);
        let back = |secs: u64| t0.saturating_sub(Duration::from_secs(secs));
        // Within the tolerance of the receipt's own time: fine.
        let within =
            judge(Evidence::Receipt(&good), &license, back(1800), back(1800), DEFAULT_TOLERANCE);
        assert_eq!(within.status, Status::Valid);
        // The receipt alone proves its portal time has passed, whatever the stored mark says.
        let before_receipt =
            judge(Evidence::Receipt(&good), &license, back(7200), back(9999), DEFAULT_TOLERANCE);
        assert_eq!(before_receipt.status, Status::ClockRollback);
        // The stored mark counts too.
        let later = t0.saturating_add(Duration::from_secs(86_400));
        let behind_mark = judge(Evidence::Receipt(&good), &license, t0, later, DEFAULT_TOLERANCE);
        assert_eq!(behind_mark.status, Status::ClockRollback);
    }

    #[test]
    fn an_offline_activation_decides_by_its_window() {
        let license = license();
        let t0 = t("2027-06-01T00:00:00Z");
        let activation = ActivationClaims {
            license_id: license.id,
            fingerprint: crate::fingerprint::Fingerprint::new(),
            fingerprint_version: crate::fingerprint::VERSION,
            hub_key_id: SigningKey::from_seed(&[1; 32]).key_id(),
            nonce: Nonce::from_bytes([2; 16]),
            issued_at: t0,
            not_before: t0,
            not_after: t0.saturating_add(Duration::from_secs(30 * 86_400)),
        };
        let at = |days: u64| t0.saturating_add(Duration::from_secs(days * 86_400));
        let status = |now| {
            judge(Evidence::Offline(&activation), &license, now, t0, DEFAULT_TOLERANCE).status
        };
        assert_eq!(status(at(1)), Status::Valid);
        assert_eq!(status(at(31)), Status::GraceExpired);
    }
}
