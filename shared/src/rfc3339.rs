//! Instants in the one form OmniLab sends and we answer, `2024-12-10T12:30:00Z`, read and written
//! without jiff's general machinery; anything else goes to jiff, which gives the same results.
//!
//! # Why
//!
//! A 50-booking page holds a hundred instants to read and two hundred to write (the start, the
//! booking time, the end, the start in local time). Through jiff's parser and its `Display`
//! (a `fmt` call chain per instant) that was a visible share of a warm page's instructions; here
//! it is less (the figures: docs/performance.md). Whole seconds between the years 1000 and 9999
//! are plain arithmetic; the tests check both directions against jiff for any instant and
//! offset, and that every other form still reads and writes as jiff has it.

use jiff::Timestamp;
use jiff::tz::Offset;
use serde::{Deserializer, de};

/// The longest text written here: `2024-12-10T12:30:00+01:00`.
const LONGEST: usize = 25;

/// `instant` as jiff's `Display` writes it, handed to `with` without a `String` of its own
/// in the common case.
pub fn with_text<R>(instant: Timestamp, with: impl FnOnce(&str) -> R) -> R {
    match Text::of(instant, None) {
        Some(text) => with(text.as_str()),
        None => with(&instant.to_string()),
    }
}

/// An instant as jiff's `Deserialize` reads it, for `#[serde(deserialize_with)]`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    struct Visitor;

    impl de::Visitor<'_> for Visitor {
        type Value = Timestamp;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a timestamp string")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
            match parse_utc_seconds(text.as_bytes()) {
                Some(instant) => Ok(instant),
                None => text.parse().map_err(E::custom),
            }
        }
    }

    deserializer.deserialize_str(Visitor)
}

/// `instant` with `offset`, as jiff's `display_with_offset` writes it:
/// `2024-07-10T13:30:00+01:00`.
pub fn with_offset(instant: Timestamp, offset: Offset) -> String {
    match Text::of(instant, Some(offset)) {
        Some(text) => text.as_str().to_owned(),
        None => instant.display_with_offset(offset).to_string(),
    }
}

/// An instant written into a buffer of its own.
struct Text {
    bytes: [u8; LONGEST],
    len: usize,
}

impl Text {
    /// The common case only: whole seconds, an offset of whole minutes, a local year of four
    /// digits. `None` for the rest, which jiff writes. Without an offset: UTC, written `Z`.
    fn of(instant: Timestamp, offset: Option<Offset>) -> Option<Self> {
        let offset_seconds = offset.map_or(0, Offset::seconds);
        if instant.subsec_nanosecond() != 0 || offset_seconds % 60 != 0 {
            return None;
        }
        let local = instant.as_second() + i64::from(offset_seconds);
        let (days, second_of_day) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        let year = u32::try_from(year)
            .ok()
            .filter(|y| (1000..=9999).contains(y))?;
        // Below 86,400, so it fits.
        let second_of_day = second_of_day as u32;
        let mut bytes = *b"0000-00-00T00:00:00Z00:00";
        [bytes[0], bytes[1]] = two_digits(year / 100);
        [bytes[2], bytes[3]] = two_digits(year % 100);
        [bytes[5], bytes[6]] = two_digits(u32::from(month));
        [bytes[8], bytes[9]] = two_digits(u32::from(day));
        [bytes[11], bytes[12]] = two_digits(second_of_day / 3600);
        [bytes[14], bytes[15]] = two_digits(second_of_day / 60 % 60);
        [bytes[17], bytes[18]] = two_digits(second_of_day % 60);
        let Some(_) = offset else {
            return Some(Self { bytes, len: 20 });
        };
        let minutes = offset_seconds.unsigned_abs() / 60;
        bytes[19] = if offset_seconds < 0 { b'-' } else { b'+' };
        [bytes[20], bytes[21]] = two_digits(minutes / 60);
        [bytes[23], bytes[24]] = two_digits(minutes % 60);
        Some(Self { bytes, len: 25 })
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation went in.
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

/// `value`'s last two decimal digits.
fn two_digits(value: u32) -> [u8; 2] {
    [b'0' + (value / 10 % 10) as u8, b'0' + (value % 10) as u8]
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly, a date that exists and a time of day without a leap second;
/// `None` for any other text, valid or not.
fn parse_utc_seconds(text: &[u8]) -> Option<Timestamp> {
    let &[
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        n0,
        n1,
        b':',
        s0,
        s1,
        b'Z',
    ] = text
    else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0_i64, |sum, &digit| {
            digit
                .is_ascii_digit()
                .then(|| sum * 10 + i64::from(digit - b'0'))
        })
    };
    let year = number(&[y0, y1, y2, y3])?;
    let month = number(&[m0, m1])?;
    let day = number(&[d0, d1])?;
    let (hour, minute, second) = (number(&[h0, h1])?, number(&[n0, n1])?, number(&[s0, s1])?);
    if !(1000..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Timestamp::from_second(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn written(instant: Timestamp) -> String {
        with_text(instant, str::to_owned)
    }

    fn read(text: &str) -> Result<Timestamp, serde_json::Error> {
        deserialize(serde_json::Value::String(text.to_owned()))
    }

    #[test]
    fn the_reference_pages_instants_read_and_write_back() {
        for text in ["2024-12-10T12:30:00Z", "2024-12-01T09:15:00Z"] {
            assert_eq!(written(read(text).unwrap()), text);
        }
        let summer = read("2024-07-10T12:30:00Z").unwrap();
        let london = Offset::from_seconds(3600).unwrap();
        assert_eq!(with_offset(summer, london), "2024-07-10T13:30:00+01:00");
        let new_york = Offset::from_seconds(-5 * 3600).unwrap();
        assert_eq!(with_offset(summer, new_york), "2024-07-10T07:30:00-05:00");
        assert_eq!(
            with_offset(summer, Offset::UTC),
            "2024-07-10T12:30:00+00:00"
        );
    }

    /// The forms the fast path leaves to jiff: still read and written as jiff does.
    #[test]
    fn every_other_form_is_jiffs() {
        for text in [
            "2024-12-10T12:30:00.5Z",
            "2024-12-10T13:30:00+01:00",
            "2024-12-10t12:30:00z",
            "2024-12-10 12:30:00Z",
            "0999-12-31T23:59:59Z",
            "-000001-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2024-02-29T00:00:00Z",
        ] {
            let ours = read(text).map(written).map_err(|e| e.to_string());
            let jiffs = text
                .parse::<Timestamp>()
                .map(|t| t.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(ours, jiffs, "{text}");
        }
        for text in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-12-10T24:00:00Z",
            "2024-12-1OT12:30:00Z",
            "",
        ] {
            assert!(read(text).is_err(), "{text}");
            assert!(text.parse::<Timestamp>().is_err(), "{text}");
        }
        let historic = Offset::from_seconds(-75).unwrap();
        let instant = read("1800-01-01T00:00:00Z").unwrap();
        assert_eq!(
            with_offset(instant, historic),
            instant.display_with_offset(historic).to_string()
        );
    }

    proptest! {
        /// Any instant jiff can hold, whole seconds or not, in any offset.
        #[test]
        fn any_instant_is_written_and_read_as_jiff_does(
            second in Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
            nanosecond in prop_oneof![Just(0), 0..1_000_000_000_i32],
            offset in prop_oneof![Just(0), (-25 * 60..=25 * 60).prop_map(|m| m * 60), -93_599..=93_599_i32],
        ) {
            let instant = Timestamp::new(second, nanosecond).unwrap_or(Timestamp::MAX);
            let offset = Offset::from_seconds(offset).unwrap();
            let text = written(instant);
            prop_assert_eq!(&text, &instant.to_string());
            prop_assert_eq!(read(&text).unwrap(), instant);
            prop_assert_eq!(with_offset(instant, offset), instant.display_with_offset(offset).to_string());
        }

        /// Any text of the fast path's shape, valid or not, reads as jiff reads it.
        #[test]
        fn any_text_of_that_shape_reads_as_jiff_does(
            date in (0..=9999_i64, 0..=13_i64, 0..=32_i64),
            time in (0..=24_i64, 0..=60_i64, 0..=60_i64),
        ) {
            let text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                date.0, date.1, date.2, time.0, time.1, time.2
            );
            let ours = read(&text).ok();
            let jiffs = text.parse::<Timestamp>().ok();
            prop_assert_eq!(ours, jiffs, "{}", text);
        }
    }
}
