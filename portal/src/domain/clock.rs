//! The clock check on hub calls: a hub's call carries its time, which must be near the
//! portal's (a hub should take its time from receipts).

use tessera_core::UnixTime;

/// A call whose hub time is too far from the portal's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the call's time is more than {skew_secs} s from the portal's time {} ({now}); \
     set the clock or take the time from the last receipt",
    now.as_unix()
)]
pub struct ClockSkew {
    /// The allowed skew in seconds.
    pub skew_secs: u64,
    /// The portal's time.
    pub now: UnixTime,
}

/// Refuses a hub time more than `skew_secs` from `now`.
pub fn check_clock(hub_time_ms: i64, now: UnixTime, skew_secs: u64) -> Result<(), ClockSkew> {
    let now_ms = now.as_unix().saturating_mul(1000);
    // unsigned_abs: the difference may be i64::MIN, whose abs() overflows.
    if hub_time_ms.saturating_sub(now_ms).unsigned_abs() > skew_secs.saturating_mul(1000) {
        return Err(ClockSkew { skew_secs, now });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_times_within_the_skew_pass() {
        let now = UnixTime::from_unix(1_000_000).expect("time");
        assert!(check_clock(1_000_000_000, now, 300).is_ok());
        assert!(check_clock(1_000_300_000, now, 300).is_ok());
        assert!(check_clock(1_000_300_001, now, 300).is_err());
        assert!(check_clock(999_699_999, now, 300).is_err());
        assert!(check_clock(i64::MIN, now, 300).is_err());
    }
}
