//! Time values: the log's `TS` field, the `--time_init`/`--time_end` arguments,
//! and the RFC 3339 form printed in reports.
//!
//! Everything inside connspy is an integer count of Unix milliseconds (`i64`), so
//! seconds and milliseconds can be mixed in one file and compared without floats.

use std::fmt;

use crate::digits::{all_digits, eight_digits};

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// Integer parts at or above this are milliseconds; below it, seconds.
///
/// 10^11 seconds is the year 5138, while 10^11 milliseconds is March 1973, so the
/// two ranges that occur in real logs never overlap.
pub(crate) const MILLIS_THRESHOLD: u64 = 100_000_000_000;

/// Milliseconds in one hour, the width of an hourly window.
pub const HOUR_MS: i64 = 3_600_000;

/// The last millisecond whose hour still ends in the year 9999
/// (9999-12-31T22:59:59.999Z).
///
/// RFC 3339 has four-digit years, so a later timestamp could not have its
/// hourly window printed; it counts as out of range like any other overflow.
pub(crate) const MAX_MS: i64 = 253_402_297_199_999;

/// The first millisecond of the year 0000 (0000-01-01T00:00:00Z): an earlier
/// time has no RFC 3339 form.
pub(crate) const MIN_MS: i64 = -62_167_219_200_000;

/// Why a timestamp field was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsError {
    /// Not `digits` or `digits.digits`.
    Syntax,
    /// Digits that do not fit, or a time past the year 9999.
    Overflow,
}

impl fmt::Display for TsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TsError::Syntax => "timestamp is not digits with an optional .fraction",
            TsError::Overflow => "timestamp is out of range",
        })
    }
}

/// Parses a log timestamp (`1565647264`, `1565647264.445`, `1565647264445`) into
/// Unix milliseconds.
///
/// An integer part of at least [`MILLIS_THRESHOLD`] is milliseconds and any
/// fraction is dropped; otherwise it is seconds and the fraction is kept to the
/// millisecond, truncated.
///
/// # Errors
/// [`TsError::Syntax`] for anything but `digits` or `digits.digits` (no sign, no
/// exponent, no empty part); [`TsError::Overflow`] when the value does not fit.
#[inline]
pub fn parse_ts(field: &[u8]) -> Result<i64, TsError> {
    match ten_dot_six(field) {
        Some(ms) => Ok(ms),
        None => parse_any(field),
    }
}

/// Zeek's form, `dddddddddd.dddddd` (seconds and microseconds), read with
/// two word loads: the general reading took a tenth of a Zeek run. `None`
/// for any other field, which the general reading then reads.
#[inline(always)]
fn ten_dot_six(field: &[u8]) -> Option<i64> {
    let field: &[u8; 17] = field.try_into().ok()?;
    let (high, rest) = field.split_first_chunk::<8>()?;
    let (low, last) = rest.split_first_chunk::<8>()?;
    let high = u64::from_le_bytes(*high);
    // The last two digits of the seconds, the dot, five fraction digits.
    let low = u64::from_le_bytes(*low);
    if (low >> 16) as u8 != b'.' || !last[0].is_ascii_digit() {
        return None;
    }
    // The dot read as a 0 digit: the word is then the seconds' last two
    // digits times 10^6 plus the fraction's first five.
    let low = low & !(0xff << 16) | u64::from(b'0') << 16;
    if !all_digits(high) || !all_digits(low) {
        return None;
    }
    let low = eight_digits(low);
    let secs = eight_digits(high) * 100 + low / 1_000_000;
    ms_from_parts(secs, low % 1_000_000 / 100).ok()
}

/// [`parse_ts`] for any form.
#[inline]
fn parse_any(field: &[u8]) -> Result<i64, TsError> {
    let (int, i) = parse_digits(field)?;
    if i == 0 {
        return Err(TsError::Syntax);
    }
    let mut millis_frac: u64 = 0;
    if i < field.len() {
        if field[i] != b'.' || i + 1 == field.len() {
            return Err(TsError::Syntax);
        }
        let frac = &field[i + 1..];
        if let Some(word) = padded_digits(frac) {
            // Up to eight digits in one word (Zeek writes six): the first
            // three, as a number of 10^-8 seconds divided down.
            if !all_digits(word) {
                return Err(TsError::Syntax);
            }
            millis_frac = eight_digits(word) / 100_000;
        } else {
            if !frac.iter().all(u8::is_ascii_digit) {
                return Err(TsError::Syntax);
            }
            for k in 0..3 {
                millis_frac = millis_frac * 10 + frac.get(k).map_or(0, |b| u64::from(b - b'0'));
            }
        }
    }
    ms_from_parts(int, millis_frac)
}

/// Unix milliseconds from a timestamp's integer part and the first three
/// digits of its fraction (used only when the integer part is seconds).
///
/// # Errors
/// [`TsError::Overflow`] past [`MAX_MS`].
#[inline(always)]
pub(crate) fn ms_from_parts(int: u64, millis_frac: u64) -> Result<i64, TsError> {
    let ms = if int >= MILLIS_THRESHOLD {
        int
    } else {
        int * 1000 + millis_frac
    };
    if ms > MAX_MS as u64 {
        return Err(TsError::Overflow);
    }
    Ok(ms as i64)
}

/// The value of the leading run of ASCII digits of `field`, and its length.
///
/// Eight digits at a time where it can (one word load, three multiplies), since
/// a 13-digit millisecond timestamp is otherwise a long chain of dependent
/// multiply-adds on every line.
#[inline(always)]
fn parse_digits(field: &[u8]) -> Result<(u64, usize), TsError> {
    let mut int: u64 = 0;
    let mut i = 0;
    // Two words are at most 16 digits, which cannot overflow a u64.
    while i < 16 {
        let Some(word) = field.get(i..i + 8) else {
            break;
        };
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        if !all_digits(x) {
            break;
        }
        int = int * 100_000_000 + eight_digits(x);
        i += 8;
    }
    while let Some(&b) = field.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        int = int
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(TsError::Overflow)?;
        i += 1;
    }
    Ok((int, i))
}

/// `digits` (at most eight bytes) as a word padded on the right with `0`
/// digits, which leave a fraction's value unchanged; `None` when longer.
#[inline(always)]
fn padded_digits(digits: &[u8]) -> Option<u64> {
    let mut word = [b'0'; 8];
    word.get_mut(..digits.len())?.copy_from_slice(digits);
    Some(u64::from_le_bytes(word))
}

/// Parses a `--time_init`/`--time_end` value into Unix milliseconds.
///
/// Accepts what a log line may hold (see [`parse_ts`]), an RFC 3339 time
/// (`2019-08-13T03:30:00Z`, `2019-08-13T05:30:00+02:00`) or a date (`2019-08-13`,
/// meaning UTC midnight).
///
/// # Errors
/// A message saying which forms are accepted.
pub fn parse_time_arg(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        match parse_ts(s.as_bytes()) {
            Ok(ms) => return Ok(ms),
            Err(TsError::Overflow) => {
                return Err(format!(
                    "'{s}' is out of range (the latest time is {})",
                    Rfc3339Ms(MAX_MS)
                ))
            }
            Err(TsError::Syntax) => {}
        }
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return from_datetime(t, s);
    }
    if let Ok(d) = Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return from_datetime(d.midnight().assume_utc(), s);
    }
    Err(format!(
        "'{s}' is not a time: use Unix seconds (1565647264 or 1565647264.445), \
         Unix milliseconds (1565647264445), RFC 3339 (2019-08-13T03:30:00Z) or a date (2019-08-13)"
    ))
}

/// `t` in Unix milliseconds; `typed` is what the user wrote, echoed as
/// written when it is out of range.
fn from_datetime(t: OffsetDateTime, typed: &str) -> Result<i64, String> {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms)
        .ok()
        .filter(|ms| (MIN_MS..=MAX_MS).contains(ms))
        .ok_or_else(|| {
            format!(
                "'{typed}' is out of range (times run from {} to {})",
                Rfc3339Ms(MIN_MS),
                Rfc3339Ms(MAX_MS)
            )
        })
}

/// Parses an RFC 3339 time as flow logs write it into Unix milliseconds:
/// `2017-04-07T22:24:37.251547+0100` (Suricata: an offset without a colon),
/// `2020-06-05T14:39:59.305988Z` (Zeek JSON with ISO 8601 times), or with
/// `+01:00`. The fraction is truncated to the millisecond; a space may stand for
/// the `T`.
///
/// Hand-written rather than `time`'s parser: it runs once per line, must
/// accept the colon-less offset, and allocates nothing.
///
/// # Errors
/// [`TsError::Syntax`] for anything else or an impossible date or time;
/// [`TsError::Overflow`] past [`MAX_MS`] or before 1970.
pub(crate) fn parse_rfc3339(s: &[u8]) -> Result<i64, TsError> {
    let num = |at: usize, len: usize| -> Result<i64, TsError> {
        let digits = s.get(at..at + len).ok_or(TsError::Syntax)?;
        digits.iter().try_fold(0i64, |v, &b| {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return Err(TsError::Syntax);
            }
            Ok(v * 10 + i64::from(d))
        })
    };
    let sep = |at: usize, want: &[u8]| -> Result<(), TsError> {
        match s.get(at) {
            Some(b) if want.contains(b) => Ok(()),
            _ => Err(TsError::Syntax),
        }
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    sep(4, b"-")?;
    sep(7, b"-")?;
    sep(10, b"Tt ")?;
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    sep(13, b":")?;
    sep(16, b":")?;
    // Second 60 is a leap second: it reads as the last millisecond before the next.
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(TsError::Syntax);
    }
    let mut i = 19;
    let mut millis = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(s[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(TsError::Syntax);
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_min = match s.get(i) {
        Some(b'Z' | b'z') if i + 1 == s.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let h = num(i + 1, 2)?;
            let m = match s.len() - (i + 3) {
                0 => 0,
                2 => num(i + 3, 2)?,
                3 if s[i + 3] == b':' => num(i + 4, 2)?,
                _ => return Err(TsError::Syntax),
            };
            if h > 23 || m > 59 {
                return Err(TsError::Syntax);
            }
            if sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return Err(TsError::Syntax),
    };
    let (second, leap) = if second == 60 { (59, 999) } else { (second, 0) };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_min * 60;
    let ms = secs * 1000 + if leap > 0 { leap } else { millis };
    if !(0..=MAX_MS).contains(&ms) {
        return Err(TsError::Overflow);
    }
    Ok(ms)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Writes `ms` as RFC 3339 in UTC (`2019-08-13T00:00:00Z`), with milliseconds only
/// when they are not zero (`2019-08-12T22:01:04.445Z`).
pub struct Rfc3339Ms(pub i64);

impl fmt::Display for Rfc3339Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400_000);
        let in_day = self.0.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let (secs, millis) = (in_day / 1000, in_day % 1000);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        if millis != 0 {
            write!(f, ".{millis:03}")?;
        }
        f.write_str("Z")
    }
}

/// The proleptic Gregorian date of a count of days since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`: total over all of `i64`'s days that
/// connspy can hold, so printing a time can never fail.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_fractions() {
        assert_eq!(parse_ts(b"1565647264"), Ok(1_565_647_264_000));
        assert_eq!(parse_ts(b"1565647264.445"), Ok(1_565_647_264_445));
        assert_eq!(parse_ts(b"1565647264.4"), Ok(1_565_647_264_400));
        assert_eq!(parse_ts(b"1565647264.4459999"), Ok(1_565_647_264_445));
        assert_eq!(parse_ts(b"0"), Ok(0));
        assert_eq!(parse_ts(b"0.001"), Ok(1));
        assert_eq!(parse_ts(b"0001565647264"), Ok(1_565_647_264_000));
    }

    #[test]
    fn millisecond_threshold() {
        assert_eq!(parse_ts(b"99999999999"), Ok(99_999_999_999_000));
        assert_eq!(parse_ts(b"99999999999.9999"), Ok(99_999_999_999_999));
        assert_eq!(parse_ts(b"100000000000"), Ok(100_000_000_000));
        assert_eq!(parse_ts(b"1565647264445"), Ok(1_565_647_264_445));
        assert_eq!(parse_ts(b"1565647264445.9"), Ok(1_565_647_264_445));
    }

    #[test]
    fn word_at_a_time_digits_match_the_plain_value() {
        for v in [
            0u64,
            7,
            12_345_678,
            99_999_999,
            100_000_000,
            1_565_647_264_445,
            9_999_999_999_999_999,
        ] {
            let s = v.to_string();
            assert_eq!(parse_digits(s.as_bytes()), Ok((v, s.len())), "{s}");
            let padded = format!("{s}.5 x");
            assert_eq!(
                parse_digits(padded.as_bytes()),
                Ok((v, s.len())),
                "{padded}"
            );
        }
        assert_eq!(parse_digits(b"12345678:1"), Ok((12_345_678, 8)));
        assert_eq!(parse_digits(b"1234567/9"), Ok((1_234_567, 7)));
        assert_eq!(parse_digits(b"18446744073709551615"), Ok((u64::MAX, 20)));
        assert_eq!(
            parse_digits(b"18446744073709551616"),
            Err(TsError::Overflow)
        );
    }

    proptest::proptest! {
        /// Fractions of any length, digits or not in any place, read as the
        /// plain byte-by-byte reading does: the first three digits, after a
        /// check that every byte is one.
        #[test]
        fn fractions_read_as_digit_by_digit(
            secs in 0u64..10_000_000_000,
            frac in proptest::collection::vec(proptest::sample::select(b"0123456789/:a. ".to_vec()), 1..12),
        ) {
            let field = [secs.to_string().as_bytes(), b".", &frac].concat();
            let plain = if frac.iter().all(u8::is_ascii_digit) {
                let ms = (0..3).fold(0, |m, k| m * 10 + frac.get(k).map_or(0, |b| u64::from(b - b'0')));
                ms_from_parts(secs, ms)
            } else {
                Err(TsError::Syntax)
            };
            proptest::prop_assert_eq!(parse_ts(&field), plain);
        }

        /// Fields of Zeek's length, digits or not in any place: the word
        /// reading of `dddddddddd.dddddd` gives what the general one gives.
        #[test]
        fn zeek_form_reads_as_any_form(
            field in proptest::collection::vec(
                proptest::prop_oneof![
                    19 => proptest::sample::select(b"0123456789".to_vec()),
                    1 => proptest::sample::select(b".a/: ".to_vec()),
                ],
                17,
            ),
            dot_at_ten: bool,
        ) {
            let mut field = field;
            if dot_at_ten {
                field[10] = b'.';
            }
            proptest::prop_assert_eq!(parse_ts(&field), parse_any(&field));
        }
    }

    #[test]
    fn reads_zeeks_form() {
        assert_eq!(parse_ts(b"1565647200.000535"), Ok(1_565_647_200_000));
        assert_eq!(parse_ts(b"1565647667.774855"), Ok(1_565_647_667_774));
        assert_eq!(parse_ts(b"9999999999.999999"), Ok(9_999_999_999_999));
        assert_eq!(ten_dot_six(b"1565647200.00053a"), None);
        assert_eq!(ten_dot_six(b"156564720a.000535"), None);
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"1e9",
            b"abc",
            b"12a",
            b".5",
            b"5.",
            b"1.2.3",
            b"1..2",
            b"0x10",
            b"1.-2",
        ] {
            assert_eq!(parse_ts(bad), Err(TsError::Syntax), "{:?}", bad);
        }
    }

    #[test]
    fn rejects_overflow() {
        assert_eq!(parse_ts(b"18446744073709551616"), Err(TsError::Overflow));
        assert_eq!(parse_ts(b"99999999999999999999999"), Err(TsError::Overflow));
        assert_eq!(parse_ts(b"253402297200000"), Err(TsError::Overflow));
        assert_eq!(parse_ts(b"253402297199999"), Ok(MAX_MS));
    }

    #[test]
    fn time_arguments() {
        assert_eq!(parse_time_arg("1565647264"), Ok(1_565_647_264_000));
        assert_eq!(parse_time_arg("1565647264.445"), Ok(1_565_647_264_445));
        assert_eq!(parse_time_arg("1565647264445"), Ok(1_565_647_264_445));
        assert_eq!(
            parse_time_arg("2019-08-13T03:30:00Z"),
            Ok(1_565_667_000_000)
        );
        assert_eq!(
            parse_time_arg("2019-08-13T05:30:00+02:00"),
            Ok(1_565_667_000_000)
        );
        assert_eq!(
            parse_time_arg("2019-08-13T03:30:00.25Z"),
            Ok(1_565_667_000_250)
        );
        assert_eq!(parse_time_arg("2019-08-13"), Ok(1_565_654_400_000));
        for bad in [
            "",
            "yesterday",
            "-5",
            "2019-13-01",
            "2019-08-13T03:30:00",
            "1e9",
        ] {
            assert!(parse_time_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_as_flow_logs_write_it() {
        let t = |s: &str| parse_rfc3339(s.as_bytes());
        // 2017-04-07T21:24:37.251Z
        assert_eq!(t("2017-04-07T22:24:37.251547+0100"), Ok(1_491_600_277_251));
        assert_eq!(t("2017-04-07T22:24:37.251547+01:00"), Ok(1_491_600_277_251));
        assert_eq!(t("2017-04-07T21:24:37.251547Z"), Ok(1_491_600_277_251));
        assert_eq!(t("2017-04-07T16:24:37.2515-0500"), Ok(1_491_600_277_251));
        assert_eq!(t("2017-04-07 21:24:37Z"), Ok(1_491_600_277_000));
        assert_eq!(t("2017-04-07T21:24:37.5+00"), Ok(1_491_600_277_500));
        assert_eq!(t("2016-12-31T23:59:60Z"), Ok(1_483_228_799_999));
        assert_eq!(t("2000-02-29T00:00:00Z"), Ok(951_782_400_000));
        assert_eq!(t("1970-01-01T00:00:00Z"), Ok(0));
        for bad in [
            "",
            "2017-04-07",
            "2017-04-07T22:24:37",
            "2017-04-07T22:24:37.Z",
            "2017-04-07T22:24:37+1",
            "2017-04-07T22:24:37+0100x",
            "2017-04-07T22:24:37Zx",
            "2017-13-07T22:24:37Z",
            "2017-02-29T22:24:37Z",
            "2017-04-07T24:00:00Z",
            "2017/04/07T22:24:37Z",
            "1491600277",
        ] {
            assert_eq!(t(bad), Err(TsError::Syntax), "{bad}");
        }
        assert_eq!(t("1969-12-31T23:59:59Z"), Err(TsError::Overflow));
        // Agrees with the printer over many days.
        for days in (0..200_000).step_by(997) {
            let ms = days * 86_400_000 + 12_345_678;
            assert_eq!(t(&Rfc3339Ms(ms).to_string()), Ok(ms));
        }
    }

    #[test]
    fn rfc3339_output() {
        assert_eq!(
            Rfc3339Ms(1_565_654_400_000).to_string(),
            "2019-08-13T00:00:00Z"
        );
        assert_eq!(
            Rfc3339Ms(1_565_647_264_445).to_string(),
            "2019-08-12T22:01:04.445Z"
        );
        assert_eq!(Rfc3339Ms(5).to_string(), "1970-01-01T00:00:00.005Z");
        assert_eq!(Rfc3339Ms(MAX_MS).to_string(), "9999-12-31T22:59:59.999Z");
        assert_eq!(
            Rfc3339Ms(MAX_MS.div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS).to_string(),
            "9999-12-31T23:00:00Z"
        );
        assert_eq!(
            Rfc3339Ms(951_782_400_000).to_string(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(Rfc3339Ms(-1).to_string(), "1969-12-31T23:59:59.999Z");
    }
}
