//! RFC 3339 timestamps in UTC with milliseconds (`2026-04-14T09:30:05.123Z`). The calendar,
//! formatting and parsing are `jiff`'s; this type only fixes the precision the log keeps and
//! writes.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::{RoundMode, SignedDuration, TimestampRound, Unit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with millisecond precision, serialized as an RFC 3339 UTC string with exactly
/// three fraction digits, so the log's timestamps sort as text and as time alike.
///
/// The range is `jiff`'s: from the year -9999 to the end of 9999 (less a few hours at each end);
/// values beyond it are clamped to its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Always a whole number of milliseconds.
    instant: jiff::Timestamp,
}

/// Why a text is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not an RFC 3339 timestamp ({reason}); write it like 2026-04-14T09:30:05Z or 2026-04-14T11:30:05.123+02:00"
)]
pub struct TimestampError {
    /// The text that was given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Timestamp {
    /// The earliest timestamp, the start of jiff's range.
    const MIN: Self = Self {
        instant: jiff::Timestamp::MIN,
    };

    /// The current time.
    pub fn now() -> Self {
        Self::floor(jiff::Timestamp::now())
    }

    /// The time `unix_millis` milliseconds after 1970-01-01T00:00:00Z (negative: before).
    pub fn from_unix_millis(unix_millis: i64) -> Self {
        match jiff::Timestamp::from_millisecond(unix_millis) {
            Ok(instant) => Self { instant },
            Err(_) => Self::clamped(unix_millis >= 0),
        }
    }

    /// A `SystemTime`, truncated to the millisecond (toward the past).
    pub fn from_system_time(time: SystemTime) -> Self {
        match jiff::Timestamp::try_from(time) {
            Ok(instant) => Self::floor(instant),
            Err(_) => Self::clamped(time >= UNIX_EPOCH),
        }
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn unix_millis(self) -> i64 {
        self.instant.as_millisecond()
    }

    /// The same instant as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        let since_epoch = self.instant.as_duration();
        let magnitude = since_epoch.unsigned_abs();
        if since_epoch.is_negative() {
            UNIX_EPOCH - magnitude
        } else {
            UNIX_EPOCH + magnitude
        }
    }

    /// This timestamp moved `millis` milliseconds back in time (saturating).
    pub fn minus_millis(self, millis: i64) -> Self {
        self.minus(SignedDuration::from_millis(millis))
    }

    /// This timestamp moved back in time by `duration` (saturating), truncated to the millisecond.
    pub(crate) fn minus(self, duration: SignedDuration) -> Self {
        match self.instant.checked_sub(duration) {
            Ok(instant) => Self::floor(instant),
            Err(_) => Self::clamped(duration.is_negative()),
        }
    }

    /// Parse an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS`, an optional fraction (digits beyond
    /// milliseconds are dropped), then `Z` or an offset `+HH:MM` / `-HH:MM`. A space or a lowercase
    /// `t`/`z` is accepted too, as RFC 3339 allows, and so is the rest of what `jiff` reads as an
    /// instant (an offset without a colon, minutes without seconds).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        text.parse::<jiff::Timestamp>()
            .map(Self::floor)
            .map_err(|error| TimestampError {
                text: text.to_owned(),
                reason: error.to_string(),
            })
    }

    /// `instant` truncated to the millisecond, toward the past.
    fn floor(instant: jiff::Timestamp) -> Self {
        let to_millis = TimestampRound::new()
            .smallest(Unit::Millisecond)
            .mode(RoundMode::Floor);
        // Rounding down cannot leave the range: its lower end is a whole millisecond.
        Self {
            instant: instant.round(to_millis).unwrap_or(instant),
        }
    }

    /// The end of the range: the latest one if `late`, else the earliest.
    fn clamped(late: bool) -> Self {
        if late {
            Self::floor(jiff::Timestamp::MAX)
        } else {
            Self::MIN
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // jiff writes UTC as `Z`; the precision makes it exactly three fraction digits.
        write!(formatter, "{:.3}", self.instant)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Self::from_system_time(time)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        // 2000-02-29 is a leap day of a century divisible by 400.
        assert_eq!(
            Timestamp::from_unix_millis(951_782_400_123).to_string(),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_776_159_005_123).to_string(),
            "2026-04-14T09:30:05.123Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(-1).to_string(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(253_402_207_200_999).to_string(),
            "9999-12-30T22:00:00.999Z"
        );
    }

    #[test]
    fn the_ends_of_the_range_saturate() {
        let latest = Timestamp::from_unix_millis(i64::MAX);
        assert_eq!(latest.to_string(), "9999-12-30T22:00:00.999Z");
        assert_eq!(Timestamp::from_unix_millis(i64::MIN), Timestamp::MIN);
        assert_eq!(Timestamp::MIN.minus_millis(1), Timestamp::MIN);
        assert_eq!(latest.minus_millis(-1), latest);
        assert_eq!(Timestamp::now().minus(SignedDuration::MAX), Timestamp::MIN);
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for millis in [0, 1, -1, 951_782_400_123, 1_776_159_005_123] {
            let timestamp = Timestamp::from_unix_millis(millis);
            assert_eq!(Timestamp::parse(&timestamp.to_string()), Ok(timestamp));
        }
        let utc = Timestamp::parse("2026-04-14T09:30:05Z").unwrap();
        assert_eq!(utc.unix_millis(), 1_776_159_005_000);
        assert_eq!(Timestamp::parse("2026-04-14T11:30:05+02:00"), Ok(utc));
        assert_eq!(Timestamp::parse("2026-04-14 04:30:05-05:00"), Ok(utc));
        assert_eq!(
            Timestamp::parse("2026-04-14t09:30:05.1z")
                .unwrap()
                .unix_millis(),
            1_776_159_005_100
        );
        assert_eq!(
            Timestamp::parse("2026-04-14T09:30:05.123456789Z")
                .unwrap()
                .unix_millis(),
            1_776_159_005_123
        );
        // Before the epoch, the dropped digits still round toward the past.
        assert_eq!(
            Timestamp::parse("1969-12-31T23:59:59.9995Z")
                .unwrap()
                .unix_millis(),
            -1
        );
    }

    #[test]
    fn rejects_malformed_text_with_a_reason() {
        for text in [
            "",
            "2026-4-14T09:30:05Z",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-04-14",
            "2026-04-14T24:00:00Z",
            "2026-04-14T09:30:05",
            "2026-04-14T09:30:05.Z",
            "2026-04-14T09:30:05Zjunk",
            "2026-04-14T09:30:05+2:00",
            "２０２６-04-14T09:30:05Z",
            "yesterday",
        ] {
            let error = Timestamp::parse(text).unwrap_err();
            assert!(!error.reason.is_empty(), "{text}");
            assert!(
                error.to_string().contains("2026-04-14T09:30:05Z"),
                "{error}"
            );
        }
        let error = Timestamp::parse("2025-02-29T00:00:00Z").unwrap_err();
        assert!(error.reason.contains("day"), "{error}");
        let error = Timestamp::parse("2026-04-14T09:30:05").unwrap_err();
        assert!(error.reason.contains("offset"), "{error}");
    }

    #[test]
    fn system_time_round_trips_at_millisecond_precision() {
        let time = UNIX_EPOCH + Duration::from_micros(1_776_159_005_123_456);
        let timestamp = Timestamp::from(time);
        assert_eq!(timestamp.unix_millis(), 1_776_159_005_123);
        assert_eq!(
            timestamp.to_system_time(),
            UNIX_EPOCH + Duration::from_millis(1_776_159_005_123)
        );
        let before = UNIX_EPOCH - Duration::from_micros(1_500);
        assert_eq!(Timestamp::from(before).unix_millis(), -2);
        assert_eq!(
            Timestamp::from_unix_millis(-2).to_system_time(),
            UNIX_EPOCH - Duration::from_millis(2)
        );
    }

    #[test]
    fn serializes_as_a_string() {
        let timestamp = Timestamp::from_unix_millis(1_776_159_005_123);
        let json = serde_json::to_string(&timestamp).unwrap();
        assert_eq!(json, "\"2026-04-14T09:30:05.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), timestamp);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}
