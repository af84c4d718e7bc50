//! JSON Lines: Zeek JSON `conn.log` and Suricata EVE.
//!
//! A targeted scanner instead of a JSON library: it reads the few keys it
//! needs as borrowed byte slices, skips every other value without decoding
//! it, and once it has them finds the end of the object without reading
//! keys ([`object_end`], eight bytes at a time): a line is one object with
//! nothing after it but whitespace, or it is malformed. Keys are compared as
//! written (no escapes: the keys these formats write have none). A host or
//! time string holding an escape (`\`) is malformed: addresses never need
//! one, and decoding it would cost an allocation for nothing.
//!
//! A field connspy reads (Zeek `ts`, `id.orig_h`, `id.resp_h`, flat or
//! under `id`; Suricata `event_type`, `src_ip`, `dest_ip`, `flow.start`)
//! given twice in a line is read from its first occurrence, wherever the
//! others are: the scanner stops reading keys once it has the first of each,
//! so a later one is never seen (reading every key of every line to refuse
//! duplicates cost Zeek JSON four fifths more time). A Suricata event whose
//! first `event_type` is not `flow` is skipped there, unread beyond it.

use super::{host, Outcome, Parser, Skip};
use crate::hosts::fold::{bytes_below, HIGHS, ONES};
use crate::input::format::record::{Count, NOT_A_COUNT};
use crate::input::format::{Field, Flow, LineError, Needs, Record};
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
            let at = quote_or_backslash(self.s, self.i)?;
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
    /// the object was read to its end (`Some(true)`) or stopped early, the
    /// cursor after the last value read.
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
            if self.after_member()? {
                return Some(true);
            }
        }
    }

    /// After a member's value: `Some(false)` past the `,` before the next
    /// one, `Some(true)` past the object's closing brace.
    #[inline(always)]
    fn after_member(&mut self) -> Option<bool> {
        self.ws();
        let end = match self.s.get(self.i)? {
            b',' => false,
            b'}' => true,
            _ => return None,
        };
        self.i += 1;
        Some(end)
    }

    /// After a member's value, stopped early: past the object's closing
    /// brace. Its other members are skipped eight bytes at a time
    /// ([`object_end`]); only where that cannot tell (a backslash, a line
    /// that ends first) are they read member by member.
    #[inline(always)]
    fn rest_of_object(&mut self) -> Option<()> {
        if let Some(end) = object_end(self.s, self.i) {
            self.i = end;
            return Some(());
        }
        self.rest_of_object_slowly()
    }

    #[cold]
    fn rest_of_object_slowly(&mut self) -> Option<()> {
        while !self.after_member()? {
            self.string()?;
            self.eat(b':')?;
            self.value()?;
        }
        Some(())
    }

    /// Whether the cursor is at the value of a key that holds an object.
    #[inline(always)]
    fn at_object(&self) -> bool {
        self.s[self.i..].trim_ascii_start().first() == Some(&b'{')
    }

    /// Whether nothing but whitespace follows the cursor: the object just
    /// read was the whole line.
    #[inline(always)]
    fn at_end(&self) -> bool {
        self.s[self.i..].trim_ascii().is_empty()
    }
}

/// The offset of the first `"` or `\` in `s` from `from` on.
///
/// The keys and values of these logs are a few bytes each, and `memchr2`
/// on a slice that short costs more in setup than in searching (it was a
/// quarter of a Zeek JSON parse): the first bytes are searched eight at a
/// time inline, and only a long string goes to `memchr2`.
#[inline(always)]
fn quote_or_backslash(s: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    for _ in 0..4 {
        let Some(word) = s.get(i..i + 8) else { break };
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // A zero byte of `x ^ QUOTES` is a quote; the lowest flag is always
        // the first match.
        let found = some_zero(x ^ QUOTES) | some_zero(x ^ BACKSLASHES);
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr2(b'"', b'\\', s.get(i..)?).map(|at| i + at)
}

/// Puts `v` in `slot` unless it holds a value already: a key given twice
/// is read from its first occurrence.
#[inline(always)]
fn first<'a>(slot: &mut Option<Value<'a>>, v: Value<'a>) {
    slot.get_or_insert(v);
}

/// From `from`, a position inside a line's top-level object outside any
/// string (just after a member's value), the position just past that
/// object's closing brace, found eight bytes at a time: only `"`, `{`, `}`,
/// `[` and `]` are looked at, a string being what lies between two quotes.
/// `None` when it cannot tell that cheaply (a backslash, which may escape a
/// quote) or the line ends first: the caller reads the members instead.
///
/// Nothing else is checked: what lies between is skipped as [`Cursor::value`]
/// skips nested objects, unvalidated.
fn object_end(s: &[u8], from: usize) -> Option<usize> {
    let mut depth = 1usize;
    // The quotes passed, each word's folded onto the last by XOR (a high bit
    // per byte): an odd number of bits set means inside a string.
    let mut quotes_before = 0u64;
    let mut i = from;
    loop {
        // Two words at a time while they last: most hold no bracket and no
        // backslash, and then only their quotes count.
        while let Some(pair) = s.get(i..).and_then(|r| r.first_chunk::<16>()) {
            let (a, b) = pair.split_at(8);
            let a = u64::from_le_bytes(a.try_into().expect("eight bytes"));
            let b = u64::from_le_bytes(b.try_into().expect("eight bytes"));
            if may_hold_structure(a) | may_hold_structure(b) != 0 {
                break;
            }
            quotes_before ^= zero(a ^ QUOTES) ^ zero(b ^ QUOTES);
            i += 16;
        }
        // Then a word at a time, up to one that holds a bracket.
        let rest = s.get(i..).filter(|r| !r.is_empty())?;
        let (x, n) = match rest.first_chunk::<8>() {
            Some(word) => (u64::from_le_bytes(*word), 8),
            None => {
                // Past the line's end, spaces: no structure.
                let mut word = [b' '; 8];
                word[..rest.len()].copy_from_slice(rest);
                (u64::from_le_bytes(word), rest.len())
            }
        };
        let quotes = zero(x ^ QUOTES);
        if may_hold_structure(x) != 0 {
            if zero(x ^ BACKSLASHES) != 0 {
                return None;
            }
            // One bit in each quote's byte, then in every byte the parity
            // of the quotes up to it, and of those before the word: which
            // bytes lie inside a string.
            let mut parity = quotes >> 7;
            parity ^= parity << 8;
            parity ^= parity << 16;
            parity ^= parity << 32;
            let mut odd = quotes_before >> 7;
            odd ^= odd >> 8;
            odd ^= odd >> 16;
            odd ^= odd >> 32;
            let in_string = ((parity ^ ((odd & 1) * ONES)) & ONES) * 0xff;
            let folded = x | (ONES * 0x20);
            let brackets = zero(folded ^ OPENS) | zero(folded ^ CLOSES);
            let mut structural = brackets & !in_string;
            while structural != 0 {
                let lane = (structural.trailing_zeros() / 8) as usize;
                structural &= structural - 1;
                if (x >> (8 * lane)) as u8 | 0x20 == b'{' {
                    depth += 1;
                } else {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + lane + 1);
                    }
                }
            }
        }
        quotes_before ^= quotes;
        if n < 8 {
            return None;
        }
        i += 8;
    }
}

const QUOTES: u64 = ONES * b'"' as u64;
const BACKSLASHES: u64 = ONES * b'\\' as u64;
/// `{` and `[` become `{`, `}` and `]` become `}`, with bit 5 set.
const OPENS: u64 = ONES * b'{' as u64;
const CLOSES: u64 = ONES * b'}' as u64;

/// The high bit of each byte of `v` that is zero, exactly (no carry crosses
/// bytes: each sum stays below 0x100).
#[inline(always)]
fn zero(v: u64) -> u64 {
    !(((v & !HIGHS) + !HIGHS) | v) & HIGHS
}

/// The high bit of each byte of `v` that is zero, and perhaps of bytes
/// above one: cheaper than [`zero`], and enough to say "none here" or to
/// find the first.
#[inline(always)]
fn some_zero(v: u64) -> u64 {
    bytes_below(v, 1)
}

/// Not zero when the eight bytes of `x` may hold a bracket or a backslash;
/// zero when they surely hold none.
#[inline(always)]
fn may_hold_structure(x: u64) -> u64 {
    let folded = x | (ONES * 0x20);
    some_zero(x ^ BACKSLASHES) | some_zero(folded ^ OPENS) | some_zero(folded ^ CLOSES)
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
            b"id" if c.at_object() => {
                return nested_id(c, &mut None, &mut None, &mut None).map(|()| {
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

/// Reads a nested `"id": {"orig_h": ..., "resp_h": ..., "resp_p": ...}`
/// object.
fn nested_id<'a>(
    c: &mut Cursor<'a>,
    from: &mut Option<Value<'a>>,
    to: &mut Option<Value<'a>>,
    port: &mut Option<Value<'a>>,
) -> Option<()> {
    c.object(|key, c| {
        let v = c.value()?;
        match key {
            b"orig_h" => first(from, v),
            b"resp_h" => first(to, v),
            b"resp_p" => first(port, v),
            _ => {}
        }
        Some(true)
    })
    .map(|_| ())
}

/// The flow values of a JSON line, as read (each `None` when absent or not
/// asked): port, protocol, bytes and packets each way.
#[derive(Default)]
struct FlowValues<'a> {
    port: Option<Value<'a>>,
    proto: Option<Value<'a>>,
    /// Initiator to responder, then back.
    bytes: [Option<Value<'a>>; 2],
    packets: [Option<Value<'a>>; 2],
}

impl<'a> FlowValues<'a> {
    /// Whether every value `needs` asks for has been read: the scanner reads
    /// no further key after that. Bytes and packets may be absent (0), so
    /// asking for them reads the whole line.
    fn have(&self, needs: Needs) -> bool {
        (!needs.to_port || self.port.is_some())
            && (!needs.proto || self.proto.is_some())
            && (!needs.bytes || self.bytes.iter().all(Option::is_some))
            && (!needs.packets || self.packets.iter().all(Option::is_some))
    }

    /// The [`Flow`] `needs` asks for: ports and protocols as numbers, or a
    /// protocol's name as a string; the count as its numbers' texts (absent
    /// ones unset, any other kind of value [`NOT_A_COUNT`]).
    fn flow(&self, needs: Needs) -> Flow<'a> {
        fn text<'a>(v: Option<Value<'a>>) -> &'a [u8] {
            match v {
                Some(Value::Num(t) | Value::Str(t, false)) => t,
                _ => &[],
            }
        }
        fn count<'a>(v: Option<Value<'a>>) -> Option<&'a [u8]> {
            match v {
                None => None,
                Some(Value::Num(t)) => Some(t),
                Some(_) => Some(NOT_A_COUNT),
            }
        }
        let counts = |[a, b]: [Option<Value<'a>>; 2]| Count::both(count(a), count(b));
        let count = needs.count_of(|| counts(self.bytes), || counts(self.packets));
        Flow::asked(needs, text(self.port), text(self.proto), count)
    }
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
/// `id.resp_h` (flat, as Zeek writes them, or nested under `id`), and the
/// flow fields `needs` asks for (`id.resp_p`, `proto`).
#[inline]
pub(super) fn zeek_line(line: &[u8], needs: Needs) -> Outcome<'_> {
    if super::is_blank(line) {
        return Outcome::Blank;
    }
    match zeek_record(line, needs) {
        Ok(rec) => Outcome::Record(rec),
        Err(e) => Outcome::Malformed(e),
    }
}

fn zeek_record(line: &[u8], needs: Needs) -> Result<Record<'_>, LineError> {
    let (mut ts, mut from, mut to) = (None, None, None);
    let mut f = FlowValues::default();
    let mut c = Cursor { s: line, i: 0 };
    let whole = c
        .object(|key, c| {
            match key {
                b"ts" => first(&mut ts, c.value()?),
                b"id.orig_h" => first(&mut from, c.value()?),
                b"id.resp_h" => first(&mut to, c.value()?),
                b"id.resp_p" => first(&mut f.port, c.value()?),
                b"proto" => first(&mut f.proto, c.value()?),
                b"orig_bytes" => first(&mut f.bytes[0], c.value()?),
                b"resp_bytes" => first(&mut f.bytes[1], c.value()?),
                b"orig_pkts" => first(&mut f.packets[0], c.value()?),
                b"resp_pkts" => first(&mut f.packets[1], c.value()?),
                b"id" if c.at_object() => nested_id(c, &mut from, &mut to, &mut f.port)?,
                _ => {
                    c.value()?;
                }
            }
            Some(ts.is_none() || from.is_none() || to.is_none() || !f.have(needs))
        })
        .ok_or(LineError::Json)?;
    if !whole {
        c.rest_of_object().ok_or(LineError::Json)?;
    }
    if !c.at_end() {
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
    let flow = f.flow(needs);
    Ok(Record { ts, from, to, flow })
}

/// One Suricata EVE line: `flow` events count, stamped with `flow.start`,
/// from `src_ip` to `dest_ip`, with the flow fields `needs` asks for
/// (`dest_port`, `proto`); any other event is skipped.
#[inline]
pub(super) fn suricata_line(line: &[u8], needs: Needs) -> Outcome<'_> {
    if super::is_blank(line) {
        return Outcome::Blank;
    }
    match suricata_record(line, needs) {
        Ok(Some(rec)) => Outcome::Record(rec),
        Ok(None) => Outcome::Skipped(Skip::NonFlowEvent),
        Err(e) => Outcome::Malformed(e),
    }
}

fn suricata_record(line: &[u8], needs: Needs) -> Result<Option<Record<'_>>, LineError> {
    let (mut event, mut from, mut to, mut start) = (None, None, None, None);
    let mut f = FlowValues::default();
    let mut c = Cursor { s: line, i: 0 };
    let whole = c
        .object(|key, c| {
            match key {
                b"event_type" if event.is_none() => {
                    let v = c.value()?;
                    event = Some(v);
                    if v != Value::Str(b"flow", false) {
                        return Some(false);
                    }
                }
                b"src_ip" => first(&mut from, c.value()?),
                b"dest_ip" => first(&mut to, c.value()?),
                b"dest_port" => first(&mut f.port, c.value()?),
                b"proto" => first(&mut f.proto, c.value()?),
                b"flow" if c.at_object() => {
                    c.object(|key, c| {
                        let v = c.value()?;
                        match key {
                            b"start" => first(&mut start, v),
                            b"bytes_toserver" => first(&mut f.bytes[0], v),
                            b"bytes_toclient" => first(&mut f.bytes[1], v),
                            b"pkts_toserver" => first(&mut f.packets[0], v),
                            b"pkts_toclient" => first(&mut f.packets[1], v),
                            _ => {}
                        }
                        Some(true)
                    })?;
                }
                _ => {
                    c.value()?;
                }
            }
            Some(
                event.is_none()
                    || from.is_none()
                    || to.is_none()
                    || start.is_none()
                    || !f.have(needs),
            )
        })
        .ok_or(LineError::Json)?;
    match event {
        Some(Value::Str(b"flow", false)) => {}
        // Skipped on its first event_type, unread beyond it.
        Some(_) => return Ok(None),
        None if c.at_end() => return Err(LineError::Missing(Field::EventType)),
        None => return Err(LineError::Json),
    }
    if !whole {
        c.rest_of_object().ok_or(LineError::Json)?;
    }
    if !c.at_end() {
        return Err(LineError::Json);
    }
    let ts = parse_rfc3339(string_of(start, Field::FlowStart)?).map_err(LineError::Timestamp)?;
    let from = host(string_of(from, Field::SrcIp)?, Field::SrcIp, &[])?;
    let to = host(string_of(to, Field::DestIp)?, Field::DestIp, &[])?;
    let flow = f.flow(needs);
    Ok(Some(Record { ts, from, to, flow }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A JSON value as these logs hold them: strings full of the bytes the
    /// skipper looks at (quotes among them, escaped), numbers, literals,
    /// and objects and arrays of those.
    fn value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            "[a-c{}\\[\\]:, ]{0,12}".prop_map(serde_json::Value::from),
            "[a\"\\\\{}]{0,6}".prop_map(serde_json::Value::from),
            any::<i32>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Bool(true)),
            Just(serde_json::Value::Null),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::vec(("[a-c}{]{1,4}", inner), 0..4)
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Wherever a member ends, the skipper finds the object's end
        /// where reading every member does, unless a backslash in the rest
        /// makes it hand over; and it never finds one in a line cut short.
        #[test]
        fn object_end_agrees_with_reading_every_member(
            members in prop::collection::vec(("[a-c\"{}]{1,4}", value()), 1..6),
            spaces in prop::collection::vec(prop::sample::select(vec!["", " ", "\t"]), 6),
            tail in prop::sample::select(vec!["", "  ", "}", "{}", " x", "{\"ts\":1}"]),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut line = String::from("{");
            let mut ends = Vec::new();
            for (n, (key, value)) in members.iter().enumerate() {
                if n > 0 {
                    line.push_str(spaces[n]);
                    line.push(',');
                }
                line.push_str(&serde_json::to_string(key).unwrap());
                line.push(':');
                line.push_str(&value.to_string());
                ends.push(line.len());
            }
            line.push_str(spaces[0]);
            line.push('}');
            let whole = line.len();
            line.push_str(tail);
            let s = line.as_bytes();
            for &from in &ends {
                let fast = object_end(s, from);
                let mut c = Cursor { s, i: from };
                let slow = c.rest_of_object_slowly().map(|()| c.i);
                prop_assert_eq!(slow, Some(whole));
                if !s[from..whole].contains(&b'\\') {
                    prop_assert_eq!(fast, Some(whole), "{}", line);
                } else {
                    prop_assert!(fast.is_none() || fast == Some(whole));
                }
                // Cut short inside the object: no end is found.
                let short = &s[..from + cut.index(whole - from)];
                prop_assert_eq!(object_end(short, from), None, "{:?}", short);
            }
        }
    }
}
