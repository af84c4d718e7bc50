//! Zeek TSV logs (`conn.log`): `#` header lines, then one record per line
//! with the fields the `#fields` header names, in its order.

use memchr::memchr;

use super::split::{Byte, Mark, Marks, Separators};
use super::{host, Outcome};
use crate::input::format::record::{port_number, Count};
use crate::input::format::{proto_number, Each, Field, Flow, LineError, Needs, Record};
use crate::timestamp::parse_ts;

/// The header state of a Zeek TSV log: separator, unset and empty markers,
/// and where `ts`, `id.orig_h` and `id.resp_h` are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeekTsv {
    sep: Vec<u8>,
    unset: Vec<u8>,
    empty: Vec<u8>,
    /// Field indices of ts, id.orig_h, id.resp_h; `None` before a usable
    /// `#fields` line.
    cols: Option<[usize; 3]>,
    /// Field indices of [`FLOW_FIELDS`], [`NONE`] where the `#fields` line
    /// has none.
    flow_cols: [usize; 6],
    /// The last field a record is split to: for the time and hosts, then
    /// for each flow flag (the port, the protocol, both bytes fields, both
    /// packets fields), 0 where the `#fields` line lacks one.
    last: [usize; 5],
    /// For each field of a record up to the last one read, its place in
    /// [`FIELDS`] ([`NO_SLOT`] for the others): one lookup a field, where
    /// comparing each field's index with every wanted one cost a sixth of
    /// a Zeek run that read flow fields.
    slots: Vec<u8>,
}

impl Default for ZeekTsv {
    /// Zeek's defaults, before any header: tab, `-`, `(empty)`, no fields.
    fn default() -> Self {
        ZeekTsv {
            sep: b"\t".to_vec(),
            unset: b"-".to_vec(),
            empty: b"(empty)".to_vec(),
            cols: None,
            flow_cols: [NONE; 6],
            last: [0; 5],
            slots: Vec::new(),
        }
    }
}

const NAMES: [Field; 3] = [Field::Ts, Field::IdOrigH, Field::IdRespH];
/// The fields [`Flow`] is read from.
const FLOW_FIELDS: [&[u8]; 6] = [
    b"id.resp_p",
    b"proto",
    b"orig_bytes",
    b"resp_bytes",
    b"orig_pkts",
    b"resp_pkts",
];
/// The fields read: those of every record, then [`FLOW_FIELDS`].
const FIELDS: [&[u8]; 9] = [
    b"ts",
    b"id.orig_h",
    b"id.resp_h",
    FLOW_FIELDS[0],
    FLOW_FIELDS[1],
    FLOW_FIELDS[2],
    FLOW_FIELDS[3],
    FLOW_FIELDS[4],
    FLOW_FIELDS[5],
];
/// A field the `#fields` line does not have, or one not asked for.
const NONE: usize = usize::MAX;
/// Records split further than this go through `parse_line` (a `#fields`
/// line that puts a field connspy reads past its 32nd column).
const SPLIT_MOST: usize = 32;
/// A field of a record that connspy does not read.
const NO_SLOT: u8 = u8::MAX;

/// Fills `ends` with the offsets of the next separators: the offset of the
/// line's end instead when the line has fewer.
#[inline(always)]
fn split(marks: &mut Marks<'_>, ends: &mut [usize]) -> Option<usize> {
    for end in ends {
        match marks.next() {
            Mark::Sep(at) => *end = at,
            Mark::End(at) => return Some(at),
        }
    }
    None
}

impl ZeekTsv {
    /// Parses one line (without `\n` or `\r`), updating the header state on
    /// a header line, reading the flow fields `needs` asks for.
    #[inline]
    pub fn parse_line<'a>(&mut self, line: &'a [u8], needs: Needs) -> Outcome<'a> {
        if line.first() == Some(&b'#') {
            return self.header(line);
        }
        self.parse_record_line(line, needs)
    }

    /// The first flow field `needs` asks for that the `#fields` line in
    /// force lacks (its index in [`Needs::flags`]), with what is missing;
    /// before any `#fields` line, nothing is known to be missing.
    pub(crate) fn lacks(&self, needs: Needs) -> Option<(usize, &'static str)> {
        self.cols?;
        let c = &self.flow_cols;
        [
            (needs.to_port && c[0] == NONE, "no id.resp_p in its #fields"),
            (needs.proto && c[1] == NONE, "no proto in its #fields"),
            (
                needs.bytes && (c[2] == NONE || c[3] == NONE),
                "no orig_bytes and resp_bytes in its #fields",
            ),
            (
                needs.packets && (c[4] == NONE || c[5] == NONE),
                "no orig_pkts and resp_pkts in its #fields",
            ),
        ]
        .into_iter()
        .enumerate()
        .find(|&(_, (lacking, _))| lacking)
        .map(|(k, (_, what))| (k, what))
    }

    /// Parses every line of `data` (whole lines; the last may lack its
    /// `\n`) as [`Self::parse_line`] does, handing each outcome to `each`,
    /// which returns `false` to stop. Returns whether every line was handed
    /// over.
    ///
    /// Records are split in one pass over the chunk's separators and line
    /// ends ([`Marks`]). A line that pass does not read (a header, a line
    /// short of a field, one whose fields are bad, and every line under a
    /// separator of more than one byte or a `#fields` line that puts a field
    /// read past [`SPLIT_MOST`]) goes through `parse_line`, so the outcome
    /// of every line is `parse_line`'s.
    pub(crate) fn scan(&mut self, data: &[u8], needs: Needs, each: &mut impl Each) -> bool {
        let mut pos = 0;
        while pos < data.len() {
            if let Some(sep) = self.single_sep() {
                if data[pos] != b'#' {
                    let next = if each.skips_counts() && needs.count().is_some() {
                        self.scan_records::<true>(data, pos, sep, needs, each)
                    } else {
                        self.scan_records::<false>(data, pos, sep, needs, each)
                    };
                    match next {
                        Some(next) => pos = next,
                        None => return false,
                    }
                    continue;
                }
            }
            // A header (which may change the separator or the fields), or a
            // line under a separator the pass does not handle.
            let end = memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
            let line = super::trim_cr(&data[pos..end]);
            pos = end + 1;
            if !each.line(self.parse_line(line, needs)) {
                return false;
            }
        }
        true
    }

    /// The separator when it is one byte the line pass can look for, and
    /// the `#fields` line in force names the fields every record needs.
    fn single_sep(&self) -> Option<u8> {
        match self.sep.as_slice() {
            [b] if *b != b'\n' && *b != b'\r' && self.cols.is_some() => Some(*b),
            _ => None,
        }
    }

    /// The records of `data` from `pos` on, up to a header line or the end:
    /// the offset after the last line read, or `None` when `each` stopped.
    ///
    /// `LAZY` (when `each` may not want a line's counts): a line is split
    /// as far as its time, hosts, port and protocol, and to its counts,
    /// which Zeek writes past them, only when `each` wants them for that
    /// port and protocol. Under a port filter most lines fail, and
    /// splitting their counts cost 6 % of the run. Without `LAZY` a line is
    /// split in one go: the test costs 2 % where every line is counted.
    #[inline(always)]
    fn scan_records<const LAZY: bool>(
        &self,
        data: &[u8],
        mut pos: usize,
        sep: u8,
        needs: Needs,
        each: &mut impl Each,
    ) -> Option<usize> {
        let max = needs.furthest(self.last);
        // What a line is read for before its counts are known to be wanted,
        // and the last field that takes.
        let (head, first) = if LAZY {
            let head = needs.uncounted();
            (head, head.furthest(self.last))
        } else {
            (needs, max)
        };
        let cols = self.columns();
        let mut marks = Marks::new(data, sep, pos);
        // The offset of the separator after each field up to `max`.
        let mut ends = [0usize; SPLIT_MOST];
        while pos < data.len() && data[pos] != b'#' {
            let start = pos;
            // The text of field `k` of FIELDS, when the line is split to `upto`.
            let field = |ends: &[usize; SPLIT_MOST], upto: usize, k: usize| {
                let from = match cols[k] {
                    0 => start,
                    c if c <= upto => ends[c - 1] + 1,
                    _ => return None,
                };
                Some(&data[from..ends[cols[k]]])
            };
            let short = if max < SPLIT_MOST {
                split(&mut marks, &mut ends[..=first])
            } else {
                // Records this wide go through `parse_line`.
                Some(marks.line_end())
            };
            // A line short of a field goes the way of one whose fields are
            // bad, through `line_alone`.
            let rec = match short {
                None => self.fields(|k| field(&ends, first, k), head),
                Some(_) => Err(LineError::NoFields),
            };
            // Each way hands its outcome over on its own: through one
            // variable, the record goes to the stack and is read straight
            // back, a stall (a tenth of a filtered run in perf).
            let (end, go_on) = match rec {
                Ok(rec) if LAZY && max > first && each.wants_counts(&rec.flow) => {
                    match split(&mut marks, &mut ends[first + 1..=max]) {
                        None => {
                            let count = self.count(|k| field(&ends, max, k), needs);
                            let flow = Flow { count, ..rec.flow };
                            let end = marks.line_end();
                            (end, each.line(Outcome::Record(Record { flow, ..rec })))
                        }
                        Some(end) => (end, self.line_alone(&data[start..end], needs, each)),
                    }
                }
                Ok(rec) => (marks.line_end(), each.line(Outcome::Record(rec))),
                Err(_) => {
                    let end = short.unwrap_or_else(|| marks.line_end());
                    (end, self.line_alone(&data[start..end], needs, each))
                }
            };
            pos = end + 1;
            if !go_on {
                return None;
            }
        }
        Some(pos)
    }

    /// A line the line pass did not read, through `parse_record_line`.
    /// Cold, though under a `#fields` line whose last column is read it
    /// serves every line: on the layouts Zeek writes, keeping it out of
    /// the loop's way saves 1.6 % of a filtered run's instructions.
    #[cold]
    #[inline(never)]
    fn line_alone(&self, line: &[u8], needs: Needs, each: &mut impl Each) -> bool {
        each.line(self.parse_record_line(super::trim_cr(line), needs))
    }

    /// The field index of each of [`FIELDS`] ([`NONE`] where the `#fields`
    /// line lacks it).
    fn columns(&self) -> [usize; 9] {
        let [ts, from, to] = self.cols.unwrap_or([NONE; 3]);
        let f = self.flow_cols;
        [ts, from, to, f[0], f[1], f[2], f[3], f[4], f[5]]
    }

    /// A line that is not a header.
    #[inline]
    fn parse_record_line<'a>(&self, line: &'a [u8], needs: Needs) -> Outcome<'a> {
        if super::is_blank(line) {
            return Outcome::Blank;
        }
        let rec = if needs.any() {
            self.record::<true>(line, needs)
        } else {
            self.record::<false>(line, needs)
        };
        match rec {
            Ok(rec) => Outcome::Record(rec),
            Err(e) => Outcome::Malformed(e),
        }
    }

    /// One record; `FLOW` says whether any flow field is read, so that a run
    /// without flow filters splits no further than the hosts and time.
    #[inline]
    fn record<'a, const FLOW: bool>(
        &self,
        line: &'a [u8],
        needs: Needs,
    ) -> Result<Record<'a>, LineError> {
        let cols = self.cols.ok_or(LineError::NoFields)?;
        // How far the line must be split: to the last field asked for.
        let max = if FLOW {
            needs.furthest(self.last)
        } else {
            self.last[0]
        };
        // Every field read, by its place in FIELDS; flow fields not asked
        // for may be filled too, and are not looked at.
        let mut got: [Option<&[u8]>; 9] = [None; 9];
        let mut start = 0;
        let mut seps = match self.sep.as_slice() {
            [b] => Some(Separators::new(line, Byte(*b))),
            _ => None,
        };
        let slots = self.slots.get(..=max).unwrap_or_default();
        for (i, &slot) in slots.iter().enumerate() {
            let end = match &mut seps {
                Some(seps) => seps.next().unwrap_or(line.len()),
                None => self.field_end(line, start),
            };
            if slot != NO_SLOT {
                got[usize::from(slot)] = Some(&line[start..end]);
            }
            if end == line.len() && i < max {
                // A line short of a flow field only lacks that field.
                match (0..3).find(|&k| cols[k] > i) {
                    Some(k) => return Err(LineError::Missing(NAMES[k])),
                    None => break,
                }
            }
            start = end + self.sep.len();
        }
        self.fields(|k| got[k], needs)
    }

    /// A record from its fields, `got` giving each by its place in
    /// [`FIELDS`] (`None` where the line has none, or it was not split to).
    #[inline(always)]
    fn fields<'a>(
        &self,
        got: impl Fn(usize) -> Option<&'a [u8]>,
        needs: Needs,
    ) -> Result<Record<'a>, LineError> {
        let field = |k: usize| got(k).unwrap_or(&[]);
        let ts = parse_ts(field(0)).map_err(LineError::Timestamp)?;
        let unset: [&[u8]; 2] = [&self.unset, &self.empty];
        let from = host(field(1), NAMES[1], &unset)?;
        let to = host(field(2), NAMES[2], &unset)?;
        let flow = if needs.any() {
            // Each field is looked up only when asked (not through
            // `Flow::asked`, whose arguments, looked up on every line, cost
            // 3 % of a filtered run by bytes).
            Flow {
                to_port: if needs.to_port {
                    port_number(field(3))
                } else {
                    None
                },
                proto: if needs.proto {
                    proto_number(field(4))
                } else {
                    None
                },
                count: self.count(&got, needs),
            }
        } else {
            Flow::default()
        };
        Ok(Record { ts, from, to, flow })
    }

    /// The count `needs` asks for, from the fields `got` gives (see
    /// [`Self::fields`]); an unset count is 0.
    #[inline(always)]
    fn count<'a>(&self, got: impl Fn(usize) -> Option<&'a [u8]>, needs: Needs) -> Count<'a> {
        let count = |k: usize| got(k).filter(|t| *t != self.unset.as_slice());
        needs.count_of(
            || Count::both(count(5), count(6)),
            || Count::both(count(7), count(8)),
        )
    }

    /// The end of the field starting at `start`: the next separator or the
    /// end of the line.
    #[inline(always)]
    fn field_end(&self, line: &[u8], start: usize) -> usize {
        let rest = &line[start.min(line.len())..];
        let found = match self.sep.as_slice() {
            [b] => memchr(*b, rest),
            [] => None,
            sep => memchr::memmem::find(rest, sep),
        };
        found.map_or(line.len(), |i| start + i)
    }

    /// Reads a header line. `#separator` takes a space after it (its value
    /// is not known yet); the others are split by the separator.
    fn header<'a>(&mut self, line: &'a [u8]) -> Outcome<'a> {
        if let Some(rest) = line.strip_prefix(b"#separator") {
            if let Some(value) = rest.strip_prefix(b" ").or_else(|| rest.strip_prefix(b"\t")) {
                let sep = unescape(value);
                if !sep.is_empty() {
                    // A new header block: its #fields line follows.
                    *self = ZeekTsv {
                        sep,
                        ..ZeekTsv::default()
                    };
                }
            }
            return Outcome::Header(None);
        }
        let key_end = self.field_end(line, 0);
        let (key, value) = (
            &line[..key_end],
            line.get(key_end + self.sep.len()..).unwrap_or(&[]),
        );
        match key {
            b"#unset_field" => self.unset = value.to_vec(),
            b"#empty_field" => self.empty = value.to_vec(),
            b"#path" if value != b"conn" => return Outcome::Header(Some(value)),
            b"#fields" => {
                let mut cols = [NONE; 9];
                let mut start = 0;
                let mut i = 0;
                while start <= value.len() {
                    let end = self.field_end(value, start);
                    if let Some(k) = FIELDS.iter().position(|f| *f == &value[start..end]) {
                        if cols[k] == NONE {
                            cols[k] = i;
                        }
                    }
                    i += 1;
                    start = end + self.sep.len();
                }
                let required = [cols[0], cols[1], cols[2]];
                self.cols = required.iter().all(|&c| c != NONE).then_some(required);
                self.flow_cols = [cols[3], cols[4], cols[5], cols[6], cols[7], cols[8]];
                let col = |c: usize| if c == NONE { 0 } else { c };
                self.last = [
                    col(cols[0]).max(col(cols[1])).max(col(cols[2])),
                    col(cols[3]),
                    col(cols[4]),
                    col(cols[5]).max(col(cols[6])),
                    col(cols[7]).max(col(cols[8])),
                ];
                let last = cols
                    .iter()
                    .filter(|&&c| c != NONE)
                    .max()
                    .map_or(0, |&c| c + 1);
                self.slots = vec![NO_SLOT; last];
                for (k, &c) in cols.iter().enumerate() {
                    if c != NONE {
                        self.slots[c] = k as u8;
                    }
                }
            }
            _ => {}
        }
        Outcome::Header(None)
    }
}

/// `\x09` escapes decoded, as Zeek writes its `#separator`.
fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\\' && value.get(i + 1) == Some(&b'x') {
            let hex = value
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    out
}
