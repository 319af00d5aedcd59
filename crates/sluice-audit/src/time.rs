//! RFC 3339 timestamps in UTC with milliseconds (`2026-04-14T09:30:05.123Z`), written and read
//! without a date crate: the log only needs the proleptic Gregorian calendar in UTC.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MILLIS_PER_SECOND: i64 = 1_000;
const MILLIS_PER_DAY: i64 = 86_400 * MILLIS_PER_SECOND;

/// A point in time with millisecond precision, serialized as an RFC 3339 UTC string with exactly
/// three fraction digits, so the log's timestamps sort as text and as time alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_millis: i64,
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
    pub reason: &'static str,
}

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// The time `unix_millis` milliseconds after 1970-01-01T00:00:00Z (negative: before).
    pub fn from_unix_millis(unix_millis: i64) -> Self {
        Self { unix_millis }
    }

    /// A `SystemTime`, truncated to the millisecond.
    pub fn from_system_time(time: SystemTime) -> Self {
        let unix_millis = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            // Truncate toward the past, so a time just before the epoch is -1 ms, not 0.
            Err(before) => {
                let before = before.duration();
                let millis = i64::try_from(before.as_millis()).unwrap_or(i64::MAX);
                let partial = i64::from(before.subsec_nanos() % 1_000_000 != 0);
                -(millis.saturating_add(partial))
            }
        };
        Self { unix_millis }
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn unix_millis(self) -> i64 {
        self.unix_millis
    }

    /// The same instant as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_millis(self.unix_millis.unsigned_abs());
        if self.unix_millis >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// This timestamp moved `millis` milliseconds back in time (saturating).
    pub fn minus_millis(self, millis: i64) -> Self {
        Self {
            unix_millis: self.unix_millis.saturating_sub(millis),
        }
    }

    /// Parse an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS`, an optional fraction (digits beyond
    /// milliseconds are dropped), then `Z` or an offset `+HH:MM` / `-HH:MM`. A space or a lowercase
    /// `t`/`z` is accepted too, as RFC 3339 allows.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let error = |reason| TimestampError {
            text: text.to_owned(),
            reason,
        };
        let bytes = text.as_bytes();
        let mut cursor = Cursor { bytes, position: 0 };

        let year = cursor
            .digits(4)
            .ok_or_else(|| error("expected a 4-digit year"))?;
        cursor
            .expect(b'-')
            .ok_or_else(|| error("expected `-` after the year"))?;
        let month = cursor
            .digits(2)
            .ok_or_else(|| error("expected a 2-digit month"))?;
        cursor
            .expect(b'-')
            .ok_or_else(|| error("expected `-` after the month"))?;
        let day = cursor
            .digits(2)
            .ok_or_else(|| error("expected a 2-digit day"))?;
        if !(1..=12).contains(&month) {
            return Err(error("the month is not between 01 and 12"));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(error("the day does not exist in that month"));
        }
        match cursor.next() {
            Some(b'T' | b't' | b' ') => {}
            _ => return Err(error("expected `T` between the date and the time")),
        }
        let hour = cursor
            .digits(2)
            .ok_or_else(|| error("expected a 2-digit hour"))?;
        cursor
            .expect(b':')
            .ok_or_else(|| error("expected `:` after the hour"))?;
        let minute = cursor
            .digits(2)
            .ok_or_else(|| error("expected 2-digit minutes"))?;
        cursor
            .expect(b':')
            .ok_or_else(|| error("expected `:` after the minutes"))?;
        let second = cursor
            .digits(2)
            .ok_or_else(|| error("expected 2-digit seconds"))?;
        // 60 is a leap second, which RFC 3339 allows; it simply counts into the next minute.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(error("the time of day is out of range"));
        }

        let mut millis = 0i64;
        if cursor.peek() == Some(b'.') {
            cursor.position += 1;
            let mut fraction_digits = 0;
            while let Some(digit) = cursor.peek().filter(u8::is_ascii_digit) {
                if fraction_digits < 3 {
                    millis = millis * 10 + i64::from(digit - b'0');
                }
                fraction_digits += 1;
                cursor.position += 1;
            }
            if fraction_digits == 0 {
                return Err(error("expected digits after the decimal point"));
            }
            for _ in fraction_digits..3 {
                millis *= 10;
            }
        }

        let offset_minutes = match cursor.next() {
            Some(b'Z' | b'z') => 0,
            Some(sign @ (b'+' | b'-')) => {
                let hours = cursor
                    .digits(2)
                    .ok_or_else(|| error("expected a 2-digit offset hour"))?;
                cursor
                    .expect(b':')
                    .ok_or_else(|| error("expected `:` in the offset"))?;
                let minutes = cursor
                    .digits(2)
                    .ok_or_else(|| error("expected 2-digit offset minutes"))?;
                if hours > 23 || minutes > 59 {
                    return Err(error("the offset is out of range"));
                }
                let magnitude = hours * 60 + minutes;
                if sign == b'-' { -magnitude } else { magnitude }
            }
            _ => {
                return Err(error(
                    "expected `Z` or an offset like +02:00 after the time",
                ));
            }
        };
        if cursor.position != bytes.len() {
            return Err(error("unexpected text after the offset"));
        }

        let days = days_from_civil(year, month, day);
        let seconds_of_day = hour * 3_600 + minute * 60 + second;
        let local_millis = days * MILLIS_PER_DAY + seconds_of_day * MILLIS_PER_SECOND + millis;
        Ok(Self {
            unix_millis: local_millis - offset_minutes * 60 * MILLIS_PER_SECOND,
        })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.unix_millis.div_euclid(MILLIS_PER_DAY);
        let millis_of_day = self.unix_millis.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let seconds_of_day = millis_of_day / MILLIS_PER_SECOND;
        write!(
            formatter,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            seconds_of_day / 3_600,
            seconds_of_day / 60 % 60,
            seconds_of_day % 60,
            millis_of_day % MILLIS_PER_SECOND,
        )
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

/// A byte cursor for the fixed-width fields of a timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    /// Exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<i64> {
        let field = self.bytes.get(self.position..self.position + count)?;
        let mut value = 0i64;
        for byte in field {
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(byte - b'0');
        }
        self.position += count;
        Some(value)
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Leap days from year 0 up to, not including, `year` (proleptic Gregorian).
fn leap_days_before(year: i64) -> i64 {
    let previous = year - 1;
    previous.div_euclid(4) - previous.div_euclid(100) + previous.div_euclid(400) + 1
}

/// Days from 1970-01-01 to the first of January of `year`.
fn days_to_year(year: i64) -> i64 {
    365 * (year - 1970) + leap_days_before(year) - leap_days_before(1970)
}

/// Days from 1970-01-01 to the given date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let days_in_earlier_months: i64 = (1..month).map(|earlier| days_in_month(year, earlier)).sum();
    days_to_year(year) + days_in_earlier_months + day - 1
}

/// The date `days` days after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Guess the year from the mean Gregorian year, then correct by at most a step or two.
    let mut year = 1970 + (days * 400).div_euclid(146_097);
    while days_to_year(year) > days {
        year -= 1;
    }
    while days_to_year(year + 1) <= days {
        year += 1;
    }
    let mut day_of_year = days - days_to_year(year);
    let mut month = 1;
    while day_of_year >= days_in_month(year, month) {
        day_of_year -= days_in_month(year, month);
        month += 1;
    }
    (year, month, day_of_year + 1)
}

#[cfg(test)]
mod tests {
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
            Timestamp::from_unix_millis(253_402_300_799_999).to_string(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn every_day_round_trips_through_the_calendar() {
        // Four centuries around the epoch cover every leap-year rule.
        for days in -80_000..80_000 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(
                days_from_civil(year, month, day),
                days,
                "{year}-{month}-{day}"
            );
        }
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
    }

    #[test]
    fn rejects_malformed_text_with_a_reason() {
        for (text, reason) in [
            ("", "expected a 4-digit year"),
            ("2026-4-14T09:30:05Z", "expected a 2-digit month"),
            ("2026-13-01T00:00:00Z", "the month is not between 01 and 12"),
            (
                "2025-02-29T00:00:00Z",
                "the day does not exist in that month",
            ),
            ("2026-04-14", "expected `T` between the date and the time"),
            ("2026-04-14T24:00:00Z", "the time of day is out of range"),
            (
                "2026-04-14T09:30:05",
                "expected `Z` or an offset like +02:00 after the time",
            ),
            (
                "2026-04-14T09:30:05.Z",
                "expected digits after the decimal point",
            ),
            (
                "2026-04-14T09:30:05Zjunk",
                "unexpected text after the offset",
            ),
            ("2026-04-14T09:30:05+2:00", "expected a 2-digit offset hour"),
            ("２０２６-04-14T09:30:05Z", "expected a 4-digit year"),
        ] {
            let error = Timestamp::parse(text).unwrap_err();
            assert_eq!(error.reason, reason, "{text}");
            assert!(
                error.to_string().contains("2026-04-14T09:30:05Z"),
                "{error}"
            );
        }
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
