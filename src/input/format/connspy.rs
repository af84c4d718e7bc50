//! connspy's own format, `TS FROM_HOST TO_HOST`: bytes in, a borrowed
//! [`Record`] out.
//!
//! This is the per-line hot path, so it works on `&[u8]`, allocates nothing and
//! validates UTF-8 only for hosts that contain non-ASCII bytes.

use memchr::memchr;

use super::record::{Flow, LineError, Record};
use crate::hosts::fold::{bytes_below, HIGHS, ONES};
use crate::timestamp::{ms_from_parts, parse_ts};

/// ASCII whitespace as the log format defines it; `\n` ends lines before this is
/// consulted, so it never occurs inside a line.
const fn whitespace_table() -> [bool; 256] {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\r' as usize] = true;
    t[0x0b] = true;
    t[0x0c] = true;
    t
}
static IS_WS: [bool; 256] = whitespace_table();

/// Whether `b` separates fields in a log line (space, `\t`, `\r`, `\v`, `\f`).
#[inline(always)]
pub(crate) fn is_ws(b: u8) -> bool {
    IS_WS[b as usize]
}

/// The end of the field starting at `pos`: the next whitespace byte, or the
/// end of the line. ORs every byte it reads (and possibly a few after the
/// field) into `high_bits`, so the caller knows whether any was non-ASCII.
///
/// Every whitespace byte of the format is at most 0x20, so eight bytes at a
/// time are tested for "any byte below 0x21" with one subtraction; only such a
/// byte needs the exact check.
#[inline(always)]
fn field_end(line: &[u8], mut pos: usize, high_bits: &mut u64) -> usize {
    while let Some(word) = line.get(pos..pos + 8) {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        *high_bits |= x;
        // The lowest flagged byte is exactly the first byte below 0x21 (a
        // borrow can only flag bytes above it).
        let below = bytes_below(x, 0x21);
        if below == 0 {
            pos += 8;
            continue;
        }
        let at = pos + (below.trailing_zeros() / 8) as usize;
        if is_ws(line[at]) {
            return at;
        }
        // A control byte that is not whitespace belongs to the field.
        pos = at + 1;
    }
    while pos < line.len() && !is_ws(line[pos]) {
        *high_bits |= u64::from(line[pos]);
        pos += 1;
    }
    pos
}

/// Parses one line (without its `\n`).
///
/// Returns `Ok(None)` for a blank or whitespace-only line, which is skipped
/// silently.
///
/// # Errors
/// A [`LineError`] saying why the line is malformed.
#[inline]
pub fn parse_line(line: &[u8]) -> Result<Option<Record<'_>>, LineError> {
    let mut fields: [&[u8]; 3] = [&[]; 3];
    let mut count = 0usize;
    let mut high_bits = 0u64;
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_ws(line[i]) {
            i += 1;
        }
        if i == n {
            break;
        }
        if count == 3 {
            return Err(LineError::FieldCount(4));
        }
        let start = i;
        i = field_end(line, i, &mut high_bits);
        fields[count] = &line[start..i];
        count += 1;
    }
    match count {
        0 => return Ok(None),
        3 => {}
        n => return Err(LineError::FieldCount(n as u8)),
    }
    let ts = parse_ts(fields[0]).map_err(LineError::Timestamp)?;
    // Timestamps are ASCII digits, so a high bit anywhere is in a host.
    if high_bits & 0x8080_8080_8080_8080 != 0
        && (std::str::from_utf8(fields[1]).is_err() || std::str::from_utf8(fields[2]).is_err())
    {
        return Err(LineError::Utf8);
    }
    Ok(Some(Record {
        ts,
        from: fields[1],
        to: fields[2],
        flow: Flow::default(),
    }))
}

/// Parses the line starting at `pos` in `buf` and returns its outcome and the
/// start of the next line.
///
/// Most lines have the canonical shape `DIGITS SP HOST SP HOST LF` with ASCII
/// hosts; [`fast_line`] reads those in one pass that also finds the line end.
/// Anything else (tabs, `\r\n`, fractions, non-ASCII, errors) goes through
/// [`parse_line`], which gives the same result for every line.
#[inline(always)]
pub fn next_line(buf: &[u8], pos: usize) -> (Result<Option<Record<'_>>, LineError>, usize) {
    if let Some((rec, next)) = fast_line(buf, pos) {
        return (Ok(Some(rec)), next);
    }
    let rest = &buf[pos..];
    match memchr(b'\n', rest) {
        Some(i) => (parse_line(&rest[..i]), pos + i + 1),
        None => (parse_line(rest), buf.len()),
    }
}

#[inline(always)]
fn word_at(buf: &[u8], pos: usize) -> Option<u64> {
    let w = buf.get(pos..pos + 8)?;
    Some(u64::from_le_bytes(w.try_into().expect("eight bytes")))
}

/// The canonical-shape line at `pos`, or `None` to leave it to [`parse_line`].
#[inline(always)]
fn fast_line(buf: &[u8], pos: usize) -> Option<(Record<'_>, usize)> {
    let (int, digits) = fast_digits(buf, pos)?;
    let mut p = pos + digits;
    if buf.get(p) != Some(&b' ') {
        return None;
    }
    p += 1;
    let from_end = ascii_field_end(buf, p)?;
    if from_end == p || buf.get(from_end) != Some(&b' ') {
        return None;
    }
    let to_start = from_end + 1;
    let to_end = ascii_field_end(buf, to_start)?;
    let next = match buf.get(to_end) {
        Some(b'\n') => to_end + 1,
        None => to_end,
        Some(_) => return None,
    };
    if to_end == to_start {
        return None;
    }
    let ts = ms_from_parts(int, 0).ok()?;
    Some((
        Record {
            ts,
            from: &buf[p..from_end],
            to: &buf[to_start..to_end],
            flow: Flow::default(),
        },
        next,
    ))
}

/// Up to 15 leading digits at `pos`, read in at most two word loads.
#[inline(always)]
fn fast_digits(buf: &[u8], pos: usize) -> Option<(u64, usize)> {
    let x = word_at(buf, pos)?;
    let n = leading_digits(x);
    if n < 8 {
        return (n > 0).then(|| (digits_value(x, n), n));
    }
    let y = word_at(buf, pos + 8)?;
    let m = leading_digits(y);
    if m == 8 {
        return None;
    }
    Some((
        digits_value(x, 8) * 10u64.pow(m as u32) + digits_value(y, m),
        8 + m,
    ))
}

/// How many of the eight bytes of `x`, from the first, are ASCII digits.
#[inline(always)]
fn leading_digits(x: u64) -> usize {
    let t = x ^ (ONES * b'0' as u64);
    // A byte is not a digit when t > 9: adding 0x76 sets its high bit, or it
    // had one already. A carry can only corrupt bytes above a flagged one.
    let not_digit = (t.wrapping_add(ONES * 0x76) | t) & HIGHS;
    (not_digit.trailing_zeros() / 8) as usize
}

/// The value of the first `n` (0 to 8) digits of `x`.
#[inline(always)]
fn digits_value(x: u64, n: usize) -> u64 {
    // Shift the n digits to the top; the zero bytes below read as leading 0s.
    let x = match n {
        0 => return 0,
        8 => x,
        _ => x << (8 * (8 - n)),
    };
    let x = x & (ONES * 0x0f);
    let x = (x * 10 + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
    let x = (x * 100 + (x >> 16)) & 0x0000_ffff_0000_ffff;
    (x * 10_000 + (x >> 32)) & 0xffff_ffff
}

/// The end of an ASCII field at `pos` (the first byte below 0x21), or `None`
/// when a non-ASCII byte comes first.
#[inline(always)]
fn ascii_field_end(buf: &[u8], mut pos: usize) -> Option<usize> {
    while let Some(x) = word_at(buf, pos) {
        let stop = bytes_below(x, 0x21) | (x & HIGHS);
        if stop != 0 {
            let at = pos + (stop.trailing_zeros() / 8) as usize;
            return (buf[at] < 0x80).then_some(at);
        }
        pos += 8;
    }
    while let Some(&b) = buf.get(pos) {
        if b >= 0x80 {
            return None;
        }
        if b < 0x21 {
            break;
        }
        pos += 1;
    }
    Some(pos)
}

/// Iterates over the lines of a block: each `\n`-terminated line, and a final
/// line without its `\n` if the block does not end with one.
pub struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    /// Lines of `block`.
    pub fn new(block: &'a [u8]) -> Self {
        Lines { rest: block }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match memchr(b'\n', self.rest) {
            Some(end) => (&self.rest[..end], &self.rest[end + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::TsError;

    #[test]
    fn plain_line() {
        assert_eq!(
            parse_line(b"1565647204351 Aadvik Matina"),
            Ok(Some(Record::of(1_565_647_204_351, "Aadvik", "Matina")))
        );
    }

    #[test]
    fn whitespace_runs_and_crlf() {
        assert_eq!(
            parse_line(b" \t1565647204\x0b web-01.example.com \x0c 10.0.0.7 \r"),
            Ok(Some(Record::of(
                1_565_647_204_000,
                "web-01.example.com",
                "10.0.0.7"
            )))
        );
        assert_eq!(
            parse_line(b"1 db_02\tdb_03\r"),
            Ok(Some(Record::of(1000, "db_02", "db_03")))
        );
    }

    #[test]
    fn blank_lines_are_skipped() {
        assert_eq!(parse_line(b""), Ok(None));
        assert_eq!(parse_line(b" \t\r\x0b\x0c"), Ok(None));
    }

    #[test]
    fn wrong_field_counts() {
        assert_eq!(parse_line(b"1565647204"), Err(LineError::FieldCount(1)));
        assert_eq!(parse_line(b"1565647204 a"), Err(LineError::FieldCount(2)));
        assert_eq!(parse_line(b"1 a b c"), Err(LineError::FieldCount(4)));
        assert_eq!(parse_line(b"1 a b c d e"), Err(LineError::FieldCount(4)));
    }

    #[test]
    fn bad_timestamps() {
        assert_eq!(
            parse_line(b"-1 a b"),
            Err(LineError::Timestamp(TsError::Syntax))
        );
        assert_eq!(
            parse_line(b"abc a b"),
            Err(LineError::Timestamp(TsError::Syntax))
        );
        assert_eq!(
            parse_line(b"99999999999999999999 a b"),
            Err(LineError::Timestamp(TsError::Overflow))
        );
    }

    #[test]
    fn control_bytes_other_than_whitespace_belong_to_hosts() {
        assert_eq!(
            parse_line(b"1 a\x01bcdefghij\x00klm b"),
            Ok(Some(Record::of(1000, "a\x01bcdefghij\x00klm", "b")))
        );
        assert_eq!(
            parse_line(b"1\tlong-host-name-over-eight\x0bother-long-host\r"),
            Ok(Some(Record::of(
                1000,
                "long-host-name-over-eight",
                "other-long-host"
            )))
        );
    }

    #[test]
    fn utf8_hosts() {
        assert_eq!(
            parse_line("1 Zoë Ünal".as_bytes()),
            Ok(Some(Record::of(1000, "Zoë", "Ünal")))
        );
        assert_eq!(parse_line(b"1 a\xff b"), Err(LineError::Utf8));
        assert_eq!(parse_line(b"1 abcdefgh\xffijk b"), Err(LineError::Utf8));
        assert_eq!(
            parse_line("1 abcdefghijk Zoë-Ünal-long".as_bytes()),
            Ok(Some(Record::of(1000, "abcdefghijk", "Zoë-Ünal-long")))
        );
        assert_eq!(parse_line(b"1 a \xc3"), Err(LineError::Utf8));
    }

    /// Every line through `next_line`, as the engine reads a block.
    fn via_next_line(buf: &[u8]) -> Vec<Result<Option<Record<'_>>, LineError>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let (r, next) = next_line(buf, pos);
            assert!(next > pos);
            out.push(r);
            pos = next;
        }
        out
    }

    #[test]
    fn fast_and_general_paths_agree() {
        let block = "1565647204351 Aadvik Matina\n\
            1 a b\n\
            1565647204.5 a b\n\
            123456789012345 long-timestamp host\n\
            1234567890123456 sixteen digits\n\
            99999999999999999999 overflow x\n\
            12 a b \n\
            12 a  b\n\
            12  a b\n\
            \t12 a b\n\
            12 a b\r\n\
            12 Zoë b\n\
            12 a\n\
            12 a b c\n\
            x a b\n\
            \n\
            12 a\x01b c\n\
            12345678 a b\n\
            1234567 abcdefghijklmnopq rstuvwxyz0123456789\n\
            12 a b";
        let expected: Vec<_> = Lines::new(block.as_bytes()).map(parse_line).collect();
        assert_eq!(via_next_line(block.as_bytes()), expected);
        // Every prefix, so the word loads meet the end of the buffer everywhere.
        for cut in 0..block.len() {
            let buf = &block.as_bytes()[..cut];
            let expected: Vec<_> = Lines::new(buf).map(parse_line).collect();
            assert_eq!(via_next_line(buf), expected, "prefix {cut}");
        }
    }

    #[test]
    fn lines_iterator() {
        let v: Vec<&[u8]> = Lines::new(b"a\nb\n\nc").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"", b"c"]);
        assert_eq!(Lines::new(b"a\n").count(), 1);
        assert_eq!(Lines::new(b"").count(), 0);
    }
}
