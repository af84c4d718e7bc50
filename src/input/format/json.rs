//! JSON Lines: Zeek JSON `conn.log` and Suricata EVE.
//!
//! A targeted scanner instead of a JSON library: it reads the few keys it
//! needs as borrowed byte slices, skips every other value without decoding
//! it, and stops as soon as it has them. Keys are compared as written (no
//! escapes: the keys these formats write have none). A host or time string
//! holding an escape (`\`) is malformed: addresses never need one, and
//! decoding it would cost an allocation for nothing.

use super::{host, Outcome, Parser, Skip};
use crate::input::format::{Field, LineError, Record};
use crate::timestamp::{parse_rfc3339, parse_ts};

/// A value as the scanner saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    /// A string's raw bytes between the quotes, and whether it held an escape.
    Str(&'a [u8], bool),
    /// A number's text.
    Num(&'a [u8]),
    /// An object, array, `true`, `false` or `null`.
    Other,
}

/// A position in one line.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    #[inline(always)]
    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }

    /// The string at the cursor (at its `"`).
    #[inline(always)]
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            let at = memchr::memchr2(b'"', b'\\', &self.s[self.i..])? + self.i;
            if self.s[at] == b'"' {
                self.i = at + 1;
                return Some((&self.s[start..at], escaped));
            }
            escaped = true;
            self.i = at + 2;
            if self.i > self.s.len() {
                return None;
            }
        }
    }

    /// The value at the cursor; objects and arrays are skipped whole.
    #[inline(always)]
    fn value(&mut self) -> Option<Value<'a>> {
        self.ws();
        match *self.s.get(self.i)? {
            b'"' => self.string().map(|(s, e)| Value::Str(s, e)),
            b'{' | b'[' => self.skip_nested().map(|()| Value::Other),
            _ => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r'))
                {
                    self.i += 1;
                }
                let text = &self.s[start..self.i];
                match text.first()? {
                    b'-' | b'0'..=b'9' => Some(Value::Num(text)),
                    _ if matches!(text, b"true" | b"false" | b"null") => Some(Value::Other),
                    _ => None,
                }
            }
        }
    }

    /// Skips the object or array at the cursor, strings and all.
    fn skip_nested(&mut self) -> Option<()> {
        let mut depth = 0usize;
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        self.i += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        None
    }

    /// Calls `f` with each key of the object at the cursor, the cursor at its
    /// value; `f` reads or skips the value and returns `Some(true)` to go on,
    /// `Some(false)` to stop early, `None` on a syntax error. Returns whether
    /// the object was read to its end (`Some(true)`) or stopped early.
    #[inline(always)]
    fn object(&mut self, mut f: impl FnMut(&'a [u8], &mut Self) -> Option<bool>) -> Option<bool> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(true);
        }
        loop {
            let (key, _) = self.string()?;
            self.eat(b':')?;
            if !f(key, self)? {
                return Some(false);
            }
            self.ws();
            match self.s.get(self.i)? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(true);
                }
                _ => return None,
            }
        }
    }
}

/// Which of the two JSON formats `line` is, if either.
pub(super) fn detect(line: &[u8]) -> Option<Parser> {
    let (mut orig, mut resp, mut event) = (false, false, false);
    let mut c = Cursor { s: line, i: 0 };
    c.object(|key, c| {
        match key {
            b"id.orig_h" => orig = true,
            b"id.resp_h" => resp = true,
            b"event_type" => event = true,
            b"id" if c.s[c.i..].trim_ascii_start().first() == Some(&b'{') => {
                return nested_id(c, &mut None, &mut None).map(|()| {
                    orig = true;
                    resp = true;
                    true
                });
            }
            _ => {}
        }
        c.value().map(|_| true)
    })?;
    if orig && resp {
        Some(Parser::ZeekJson)
    } else if event {
        Some(Parser::Suricata)
    } else {
        None
    }
}

/// Reads a nested `"id": {"orig_h": ..., "resp_h": ...}` object.
fn nested_id<'a>(
    c: &mut Cursor<'a>,
    from: &mut Option<Value<'a>>,
    to: &mut Option<Value<'a>>,
) -> Option<()> {
    c.object(|key, c| {
        let v = c.value()?;
        match key {
            b"orig_h" => *from = Some(v),
            b"resp_h" => *to = Some(v),
            _ => {}
        }
        Some(true)
    })
    .map(|_| ())
}

/// Whether the rest of the line after an early stop still looks like the end
/// of one object: a line cut short is malformed, not counted.
#[inline(always)]
fn ends_as_object(line: &[u8]) -> bool {
    line.trim_ascii_end().last() == Some(&b'}')
}

#[inline(always)]
fn string_of<'a>(v: Option<Value<'a>>, name: Field) -> Result<&'a [u8], LineError> {
    match v {
        None => Err(LineError::Missing(name)),
        Some(Value::Str(s, false)) => Ok(s),
        Some(_) => Err(LineError::BadValue(name)),
    }
}

/// One Zeek JSON line: `ts` (seconds, or an RFC 3339 string), `id.orig_h`,
/// `id.resp_h` (flat, as Zeek writes them, or nested under `id`).
#[inline]
pub(super) fn zeek_line(line: &[u8]) -> Outcome<'_> {
    if super::is_blank(line) {
        return Outcome::Blank;
    }
    match zeek_record(line) {
        Ok(rec) => Outcome::Record(rec),
        Err(e) => Outcome::Malformed(e),
    }
}

fn zeek_record(line: &[u8]) -> Result<Record<'_>, LineError> {
    let (mut ts, mut from, mut to) = (None, None, None);
    let mut c = Cursor { s: line, i: 0 };
    let whole = c
        .object(|key, c| {
            match key {
                b"ts" => ts = Some(c.value()?),
                b"id.orig_h" => from = Some(c.value()?),
                b"id.resp_h" => to = Some(c.value()?),
                b"id" if c.s[c.i..].trim_ascii_start().first() == Some(&b'{') => {
                    nested_id(c, &mut from, &mut to)?;
                }
                _ => {
                    c.value()?;
                }
            }
            Some(ts.is_none() || from.is_none() || to.is_none())
        })
        .ok_or(LineError::Json)?;
    if !whole && !ends_as_object(&line[c.i..]) {
        return Err(LineError::Json);
    }
    if whole && !line[c.i..].trim_ascii().is_empty() {
        return Err(LineError::Json);
    }
    let ts = match ts {
        None => return Err(LineError::Missing(Field::Ts)),
        Some(Value::Num(n)) => parse_ts(n).map_err(LineError::Timestamp)?,
        Some(Value::Str(s, false)) => parse_rfc3339(s).map_err(LineError::Timestamp)?,
        Some(_) => return Err(LineError::BadValue(Field::Ts)),
    };
    let from = host(string_of(from, Field::IdOrigH)?, Field::IdOrigH, &[b"-"])?;
    let to = host(string_of(to, Field::IdRespH)?, Field::IdRespH, &[b"-"])?;
    Ok(Record { ts, from, to })
}

/// One Suricata EVE line: `flow` events count, stamped with `flow.start`,
/// from `src_ip` to `dest_ip`; any other event is skipped.
#[inline]
pub(super) fn suricata_line(line: &[u8]) -> Outcome<'_> {
    if super::is_blank(line) {
        return Outcome::Blank;
    }
    match suricata_record(line) {
        Ok(Some(rec)) => Outcome::Record(rec),
        Ok(None) => Outcome::Skipped(Skip::NonFlowEvent),
        Err(e) => Outcome::Malformed(e),
    }
}

fn suricata_record(line: &[u8]) -> Result<Option<Record<'_>>, LineError> {
    let (mut event, mut from, mut to, mut start) = (None, None, None, None);
    let mut other_event = false;
    let mut c = Cursor { s: line, i: 0 };
    let whole = c
        .object(|key, c| {
            match key {
                b"event_type" => {
                    let v = c.value()?;
                    if v != Value::Str(b"flow", false) {
                        other_event = true;
                        return Some(false);
                    }
                    event = Some(v);
                }
                b"src_ip" => from = Some(c.value()?),
                b"dest_ip" => to = Some(c.value()?),
                b"flow" if c.s[c.i..].trim_ascii_start().first() == Some(&b'{') => {
                    c.object(|key, c| {
                        let v = c.value()?;
                        if key == b"start" {
                            start = Some(v);
                        }
                        Some(true)
                    })?;
                }
                _ => {
                    c.value()?;
                }
            }
            Some(event.is_none() || from.is_none() || to.is_none() || start.is_none())
        })
        .ok_or(LineError::Json)?;
    if !whole && !ends_as_object(&line[c.i..]) {
        return Err(LineError::Json);
    }
    if whole && !line[c.i..].trim_ascii().is_empty() {
        return Err(LineError::Json);
    }
    if other_event {
        return Ok(None);
    }
    if event.is_none() {
        return Err(LineError::Missing(Field::EventType));
    }
    let ts = parse_rfc3339(string_of(start, Field::FlowStart)?).map_err(LineError::Timestamp)?;
    let from = host(string_of(from, Field::SrcIp)?, Field::SrcIp, &[])?;
    let to = host(string_of(to, Field::DestIp)?, Field::DestIp, &[])?;
    Ok(Some(Record { ts, from, to }))
}
