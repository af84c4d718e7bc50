//! Time-range seek: binary search in a mapped file for the bytes that can hold
//! lines of the range, so that a one-hour question over a 72-hour file reads
//! about one hour of it.
//!
//! It relies on the original tool's ordering assumption: no line is more than
//! `late` older than the newest line before it. Then
//! - every line before a line with `ts < init - late` has `ts < init`, since the
//!   newest of them is at most that line's `ts + late`; and
//! - every line from a line with `ts >= end + late` on has `ts >= end`, since each
//!   is at least that line's `ts - late`.
//!
//! So any such lines are safe places to start and stop, whether or not the
//! search lands on the best one; on logs that break the assumption the search
//! still returns one of them, but lines it skips may have counted.

use std::ops::Range;

use memchr::memchr;

use super::format::{Outcome, ParserMap};
use crate::input::format::connspy::Lines;

/// Below this many bytes the search stops and the rest is scanned.
const SCAN_BELOW: usize = 64 * 1024;

/// How many lines a probe may skip past malformed ones before giving up.
const PROBE_LINES: usize = 64;

/// The part of `data` to scan for lines with `init <= ts < end`.
///
/// Probes read each line with the parser in force there (`parsers`: a Zeek
/// header block may change the columns mid-file).
pub fn seek(
    data: &[u8],
    init: Option<i64>,
    end: Option<i64>,
    late_ms: i64,
    parsers: &ParserMap,
) -> Range<usize> {
    let start = init.map_or(0, |init| {
        find_start(data, init.saturating_sub(late_ms), parsers)
    });
    let stop = end.map_or(data.len(), |end| {
        find_stop(data, start, end.saturating_add(late_ms), parsers)
    });
    start..stop.max(start)
}

/// A line start whose line has `ts < bound` (or 0), as late in `data` as the
/// search finds.
fn find_start(data: &[u8], bound: i64, parsers: &ParserMap) -> usize {
    let (mut lo, mut hi) = (0, data.len());
    while hi - lo > SCAN_BELOW {
        let mid = lo + (hi - lo) / 2;
        match probe(data, mid, hi, parsers) {
            Some((line_start, ts)) if ts < bound => lo = line_start,
            _ => hi = mid,
        }
    }
    lo
}

/// A line start at or after `from` whose line has `ts >= bound` (or the end of
/// `data`), as early as the search finds.
fn find_stop(data: &[u8], from: usize, bound: i64, parsers: &ParserMap) -> usize {
    let (mut lo, mut hi) = (from, data.len());
    while hi - lo > SCAN_BELOW {
        let mid = lo + (hi - lo) / 2;
        match probe(data, mid, hi, parsers) {
            Some((line_start, ts)) if ts >= bound => hi = line_start,
            _ => lo = mid,
        }
    }
    hi
}

/// The start and timestamp of the first well-formed line that starts at or
/// after `pos` and before `limit`.
fn probe(data: &[u8], pos: usize, limit: usize, parsers: &ParserMap) -> Option<(usize, i64)> {
    let mut start = if pos == 0 {
        0
    } else {
        pos + memchr(b'\n', &data[pos - 1..limit])?
    };
    for line in Lines::new(&data[start..limit]).take(PROBE_LINES) {
        if let Outcome::Record(rec) = parsers.at(start).clone().parse_line(line) {
            return Some((start, rec.ts));
        }
        start += line.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: i64) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("{} a b\n", 1_000_000 + i).into_bytes())
            .collect()
    }

    use super::super::format::Parser;
    use crate::input::format::connspy::parse_line;

    fn ts_at(data: &[u8], pos: usize) -> i64 {
        parse_line(Lines::new(&data[pos..]).next().unwrap())
            .unwrap()
            .unwrap()
            .ts
    }

    #[test]
    fn narrows_a_sorted_log_to_the_range() {
        let data = log(100_000);
        let r = seek(
            &data,
            Some(1_050_000_000),
            Some(1_060_000_000),
            0,
            &Parser::Connspy.map(&data, &|_| {}),
        );
        assert!(r.start > 0 && r.end < data.len());
        assert!(r.end - r.start < 10_000 * 16 + 2 * SCAN_BELOW);
        assert!(ts_at(&data, r.start) < 1_050_000_000);
        assert!(ts_at(&data, r.end) >= 1_060_000_000);
    }

    #[test]
    fn open_bounds_keep_the_ends() {
        let data = log(100_000);
        assert_eq!(
            seek(&data, None, None, 0, &Parser::Connspy.map(&data, &|_| {})),
            0..data.len()
        );
        assert_eq!(
            seek(
                &data,
                Some(0),
                None,
                0,
                &Parser::Connspy.map(&data, &|_| {})
            ),
            0..data.len()
        );
        assert_eq!(
            seek(
                &data,
                None,
                Some(i64::MAX),
                0,
                &Parser::Connspy.map(&data, &|_| {})
            ),
            0..data.len()
        );
        let r = seek(
            &data,
            Some(i64::MAX),
            None,
            0,
            &Parser::Connspy.map(&data, &|_| {}),
        );
        assert!(r.start > 0 && r.end == data.len());
    }

    #[test]
    fn small_or_empty_data_is_scanned_whole() {
        assert_eq!(
            seek(b"", Some(5), Some(6), 0, &Parser::Connspy.map(b"", &|_| {})),
            0..0
        );
        let data = log(10);
        assert_eq!(
            seek(
                &data,
                Some(1_000_005_000),
                Some(1_000_006_000),
                0,
                &Parser::Connspy.map(&data, &|_| {})
            ),
            0..data.len()
        );
    }
}
