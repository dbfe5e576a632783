//! Time as an argument: every check takes a [`UnixTime`]; only binaries ask a [`Clock`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Seconds since the Unix epoch, UTC, between 1970-01-01 and 9999-12-31.
///
/// Signed formats carry plain integers: one canonical encoding, trivial to parse strictly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UnixTime(i64);

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Outside 1970-01-01 to 9999-12-31.
    #[error("time {0} is outside 1970-01-01..9999-12-31")]
    OutOfRange(i64),
    /// Neither a date nor an RFC 3339 time.
    #[error("{input:?} is not a date (YYYY-MM-DD) or an RFC 3339 time (2027-01-31T12:00:00Z)")]
    Unparsable {
        /// The text given.
        input: String,
    },
}

impl UnixTime {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: UnixTime = UnixTime(0);

    /// 9999-12-31T23:59:59Z: the last second every formatter can print.
    pub const MAX_SECONDS: i64 = 253_402_300_799;

    /// The time `seconds` after the Unix epoch, if in range.
    pub fn from_unix(seconds: i64) -> Result<Self, TimeError> {
        if (0..=Self::MAX_SECONDS).contains(&seconds) {
            Ok(UnixTime(seconds))
        } else {
            Err(TimeError::OutOfRange(seconds))
        }
    }

    /// Seconds since the Unix epoch.
    pub fn as_unix(self) -> i64 {
        self.0
    }

    /// This time plus `d`, saturating at the end of the representable range.
    pub fn saturating_add(self, d: Duration) -> Self {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        UnixTime(self.0.saturating_add(secs).min(Self::MAX_SECONDS))
    }

    /// This time minus `d`, saturating at the epoch.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        UnixTime(self.0.saturating_sub(secs).max(0))
    }

    /// How long after `earlier` this is, or zero if it is not after it.
    pub fn since(self, earlier: UnixTime) -> Duration {
        Duration::from_secs(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// Midnight UTC at the start of `date`.
    pub fn start_of_day(date: Date) -> Result<Self, TimeError> {
        Self::from_unix(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc().unix_timestamp())
    }

    /// The last second (23:59:59 UTC) of `date`: a license that "expires 2027-01-31" is valid
    /// through that whole day.
    pub fn end_of_day(date: Date) -> Result<Self, TimeError> {
        let start = Self::start_of_day(date)?;
        Self::from_unix(start.0 + 86_399)
    }

    /// Reads `YYYY-MM-DD` as the start of that day, or an RFC 3339 time.
    pub fn parse_start(input: &str) -> Result<Self, TimeError> {
        Self::parse_with(input, Self::start_of_day)
    }

    /// Reads `YYYY-MM-DD` as the last second of that day, or an RFC 3339 time.
    pub fn parse_end(input: &str) -> Result<Self, TimeError> {
        Self::parse_with(input, Self::end_of_day)
    }

    fn parse_with(
        input: &str,
        from_date: fn(Date) -> Result<Self, TimeError>,
    ) -> Result<Self, TimeError> {
        let unparsable = || TimeError::Unparsable { input: input.to_owned() };
        let input_trimmed = input.trim();
        if input_trimmed.len() == 10 {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let date = Date::parse(input_trimmed, &format).map_err(|_| unparsable())?;
            return from_date(date);
        }
        let parsed = OffsetDateTime::parse(input_trimmed, &Rfc3339).map_err(|_| unparsable())?;
        Self::from_unix(parsed.unix_timestamp())
    }

    /// RFC 3339 in UTC, e.g. `2027-01-31T23:59:59Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_offset_date_time().format(&Rfc3339).unwrap_or_else(|_| self.0.to_string())
    }

    fn to_offset_date_time(self) -> OffsetDateTime {
        // In range by construction; the fallback is unreachable but keeps this total.
        OffsetDateTime::from_unix_timestamp(self.0)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(UtcOffset::UTC)
    }

    /// The calendar date (UTC) of this time.
    pub fn date(self) -> Date {
        self.to_offset_date_time().date()
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl FromStr for UnixTime {
    type Err = TimeError;

    /// Reads an RFC 3339 time, or a bare date as the start of that day.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_start(s)
    }
}

impl<'de> Deserialize<'de> for UnixTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = i64::deserialize(deserializer)?;
        UnixTime::from_unix(seconds).map_err(serde::de::Error::custom)
    }
}

/// The one place a binary asks what time it is. Libraries take a [`UnixTime`] instead.
pub trait Clock: Send + Sync {
    /// The time now.
    fn now(&self) -> UnixTime;

    /// The time in milliseconds, for call timestamps that must grow between two calls in
    /// the same second. Clocks that only know seconds answer whole seconds.
    fn now_millis(&self) -> i64 {
        self.now().as_unix().saturating_mul(1000)
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let seconds = OffsetDateTime::now_utc().unix_timestamp();
        UnixTime(seconds.clamp(0, UnixTime::MAX_SECONDS))
    }

    fn now_millis(&self) -> i64 {
        let now = OffsetDateTime::now_utc();
        let seconds = now.unix_timestamp().clamp(0, UnixTime::MAX_SECONDS);
        seconds * 1000 + i64::from(now.millisecond())
    }
}

/// A clock that answers what it is told: for tests and for `--at`.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_mean_whole_days() {
        let start = UnixTime::parse_start("2027-01-31").expect("date");
        let end = UnixTime::parse_end("2027-01-31").expect("date");
        assert_eq!(start.to_rfc3339(), "2027-01-31T00:00:00Z");
        assert_eq!(end.to_rfc3339(), "2027-01-31T23:59:59Z");
    }

    #[test]
    fn rfc3339_with_offsets_is_normalised_to_utc() {
        let t: UnixTime = "2027-01-31T12:00:00+02:00".parse().expect("rfc3339");
        assert_eq!(t.to_rfc3339(), "2027-01-31T10:00:00Z");
    }

    #[test]
    fn nonsense_and_out_of_range_are_errors() {
        for bad in ["", "tomorrow", "2027-02-30", "31/01/2027", "1969-12-31T00:00:00Z"] {
            assert!(UnixTime::parse_start(bad).is_err(), "{bad}");
        }
        assert!(UnixTime::from_unix(-1).is_err());
        assert!(UnixTime::from_unix(UnixTime::MAX_SECONDS + 1).is_err());
        let json: Result<UnixTime, _> = serde_json::from_str("1.5");
        assert!(json.is_err());
    }
}
