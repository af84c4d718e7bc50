//! Log formats: which one an input is written in, and the per-input parser
//! that turns its lines into [`Record`]s.
//!
//! A [`Parser`] is chosen once per input (from `--log_format`, `--columns`, or
//! the input's first non-empty line) and then dispatched once per chunk by
//! [`Parser::scan`], so connspy's own format keeps its hot loop
//! ([`connspy::next_line`]) untouched. Every line gives one [`Outcome`]:
//! a record, a blank line, a header or comment line (read, not counted), a
//! record skipped on purpose ([`Skip`], counted separately), or a malformed
//! line.
//!
//! Zeek TSV is the one stateful format: a header block (`#separator`,
//! `#fields`, ...) may start again in the middle of a file, so the parser of a
//! chunk is the one in force at its first byte. [`Parser::after`] gives the
//! parser after a block, for producers that read in order;
//! [`Parser::map`] gives it at the start of every chunk of a mapped file,
//! from one `memmem` pass for `\n#`. Inside a chunk, [`Parser::scan`]
//! updates the state itself when it meets a header line.

mod columns;
pub mod connspy;
mod json;
mod record;
mod split;
mod vpc;
mod zeek;

pub use columns::{Columns, Delimiter};
pub use record::{proto_number, Count, Field, Flow, LineError, Needs, Record};
pub use vpc::VpcLayout;
pub use zeek::ZeekTsv;

use std::ops::Range;

use memchr::memchr;
use rayon::prelude::*;

use connspy::{is_ws, next_line};

/// The log format named by `--log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Decide per input from its first non-empty line.
    #[default]
    Auto,
    /// `TS FROM_HOST TO_HOST`, connspy's own format.
    Connspy,
    /// Zeek `conn.log`, tab-separated with `#` headers.
    Zeek,
    /// Zeek `conn.log` as JSON Lines.
    #[value(name = "zeek-json")]
    ZeekJson,
    /// AWS VPC Flow Logs (version 2 order, or the order of a header line).
    Vpc,
    /// Suricata EVE JSON; only `flow` events count.
    Suricata,
}

/// The lateness flow logs get when `--max_log_late_seconds` is not given:
/// one day, the longest flows in public samples.
const FLOW_LATE_MS: i64 = 86_400_000;

impl LogFormat {
    /// The lateness of a format named on the command line (see
    /// [`Parser::lateness_ms`]); `None` for `auto`, decided per input.
    pub(crate) fn lateness_ms(self) -> Option<i64> {
        match self {
            LogFormat::Zeek | LogFormat::ZeekJson | LogFormat::Vpc | LogFormat::Suricata => {
                Some(FLOW_LATE_MS)
            }
            LogFormat::Auto | LogFormat::Connspy => None,
        }
    }
}

/// What the command line asks of formats: `--log_format`, or `--columns`
/// (with `--delimiter`), which overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FormatChoice {
    /// `--log_format`.
    pub format: LogFormat,
    /// `--columns` with `--delimiter`.
    pub columns: Option<Columns>,
}

impl FormatChoice {
    /// The parser for an input whose first bytes are `head` (see
    /// [`Parser::choose`]).
    pub(crate) fn parser_for(&self, head: &[u8]) -> Parser {
        Parser::choose(self.format, self.columns.as_ref(), head)
    }
}

/// The parser of an input read in order, block by block (a stream, a
/// decompressed file, a followed file): decided at its first non-blank line,
/// then carried from block to block by [`Parser::after`].
#[derive(Debug, Clone)]
pub struct Sequence {
    choice: FormatChoice,
    /// `None` until a block with a non-blank line decides the format.
    parser: Option<Parser>,
}

impl Sequence {
    /// An input not read yet.
    pub fn new(choice: FormatChoice) -> Self {
        Sequence {
            choice,
            parser: None,
        }
    }

    /// The parser in force at the start of `block` (whole lines), the next
    /// block of the input; blank blocks before the first line read alike in
    /// every format.
    pub fn next_block(&mut self, block: &[u8]) -> Parser {
        let parser = match &self.parser {
            Some(p) => p.clone(),
            None if block.iter().all(|&b| is_ws(b) || b == b'\n') => return Parser::Connspy,
            None => self.choice.parser_for(block),
        };
        self.parser = Some(parser.after(block).unwrap_or_else(|| parser.clone()));
        parser
    }
}

/// A record skipped on purpose: counted separately from malformed lines, and
/// reported on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Suricata: an event whose `event_type` is not `flow`.
    NonFlowEvent,
    /// VPC Flow Logs: `log-status` is `NODATA` or `SKIPDATA`.
    NoData,
    /// VPC Flow Logs: `srcaddr` or `dstaddr` is `-`.
    UnsetAddress,
}

impl Skip {
    /// Every kind, in the order of [`Skip::index`].
    pub(crate) const ALL: [Skip; 3] = [Skip::NonFlowEvent, Skip::NoData, Skip::UnsetAddress];

    /// A dense index for counting, `0..Skip::ALL.len()`.
    pub fn index(self) -> usize {
        self as usize
    }

    /// What the stderr note calls `n` such records.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Skip::NonFlowEvent => "Suricata event(s) other than flow",
            Skip::NoData => "VPC flow log record(s) with log-status NODATA or SKIPDATA",
            Skip::UnsetAddress => "VPC flow log record(s) without an address (-)",
        }
    }
}

/// What one line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// A connection.
    Record(Record<'a>),
    /// Empty or only whitespace: skipped silently, as in connspy's format.
    Blank,
    /// A header or comment line: read, not counted. For a Zeek `#path` other
    /// than `conn`, the path, so that it can be reported.
    Header(Option<&'a [u8]>),
    /// A record skipped on purpose.
    Skipped(Skip),
    /// A malformed line.
    Malformed(LineError),
}

/// The parser of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parser {
    /// `TS FROM_HOST TO_HOST`.
    Connspy,
    /// `--columns TS,FROM,TO` with `--delimiter`.
    Columns(Columns),
    /// Zeek TSV, with the header state in force.
    Zeek(ZeekTsv),
    /// Zeek JSON Lines.
    ZeekJson,
    /// Suricata EVE JSON Lines.
    Suricata,
    /// AWS VPC Flow Logs in the given field order.
    Vpc(VpcLayout),
}

impl Parser {
    /// The parser for an input whose first bytes (after decompression) are
    /// `head`: `columns` if given, else `format`, or for [`LogFormat::Auto`]
    /// what [`Parser::detect`] finds.
    pub fn choose(format: LogFormat, columns: Option<&Columns>, head: &[u8]) -> Parser {
        if let Some(c) = columns {
            return Parser::Columns(*c);
        }
        match format {
            LogFormat::Auto => Parser::detect(head),
            LogFormat::Connspy => Parser::Connspy,
            LogFormat::Zeek => Parser::Zeek(ZeekTsv::default()),
            LogFormat::ZeekJson => Parser::ZeekJson,
            LogFormat::Suricata => Parser::Suricata,
            LogFormat::Vpc => Parser::Vpc(
                first_line(head)
                    .and_then(VpcLayout::from_header)
                    .unwrap_or(VpcLayout::V2),
            ),
        }
    }

    /// The format of a log whose first non-empty line is in `head`:
    /// - `#separator`: Zeek TSV (columns come from its `#fields` line);
    /// - a JSON object with `id.orig_h` and `id.resp_h`: Zeek JSON; with
    ///   `event_type`: Suricata EVE;
    /// - field names including `srcaddr`, `dstaddr` and `start`: a VPC Flow
    ///   Logs header; a version 2 record (14 fields, version `2`, an `eni-`
    ///   interface): headerless VPC Flow Logs;
    /// - anything else, or nothing: connspy's own format.
    pub fn detect(head: &[u8]) -> Parser {
        let Some(line) = first_line(head) else {
            return Parser::Connspy;
        };
        if line.starts_with(b"#separator") {
            return Parser::Zeek(ZeekTsv::default());
        }
        if line.first() == Some(&b'{') {
            return json::detect(line).unwrap_or(Parser::Connspy);
        }
        if let Some(layout) = VpcLayout::from_header(line) {
            return Parser::Vpc(layout);
        }
        if VpcLayout::is_v2_record(line) {
            return Parser::Vpc(VpcLayout::V2);
        }
        Parser::Connspy
    }

    /// The format's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Parser::Connspy => "connspy",
            Parser::Columns(_) => "columns",
            Parser::Zeek(_) => "zeek",
            Parser::ZeekJson => "zeek-json",
            Parser::Suricata => "suricata",
            Parser::Vpc(_) => "vpc",
        }
    }

    /// How much older than the lines before it a line of this format may
    /// be, when the format sets its own bound: a flow log writes a flow when
    /// it ends (or a capture window closes) stamped with its start, so a
    /// line may be older by the longest flow, far beyond connspy's default
    /// lateness (see docs/formats.md). `None`: lines come in time order, up
    /// to the run's bound.
    pub(crate) fn lateness_ms(&self) -> Option<i64> {
        match self {
            Parser::Zeek(_) | Parser::ZeekJson | Parser::Suricata | Parser::Vpc(_) => {
                Some(FLOW_LATE_MS)
            }
            Parser::Connspy | Parser::Columns(_) => None,
        }
    }

    /// The parser in force after `block` (whole lines), or `None` when it is
    /// this one. Only Zeek TSV and VPC headers change it, found with one
    /// `memmem` pass; for every other format this returns at once.
    pub fn after(&self, block: &[u8]) -> Option<Parser> {
        let mut next = self.clone();
        for at in self.header_lines(block, None) {
            next.apply_header(block, at);
        }
        (next != *self).then_some(next)
    }

    /// The parser in force at every offset of `data`, with this one in force
    /// at offset 0: one search of a Zeek TSV file (for lines starting with
    /// `#`) or a VPC file (for `srcaddr`, which every VPC header holds),
    /// nothing for the other formats. `searched` is told each range of a
    /// Zeek file once it is searched, so that a mapped file can let its pages
    /// go again before the parse reads them.
    pub fn map(&self, data: &[u8], searched: &(dyn Fn(Range<usize>) + Sync)) -> ParserMap {
        self.map_of(data, self.header_lines(data, Some(searched)), false)
    }

    /// The parser in force at every offset of `data` as far as its leading
    /// header lines tell, read line by line up to the first line that is not
    /// a header or blank: what [`Parser::map`] finds in a file with one
    /// header block, without its pass over every page. It is right unless a
    /// later header line changes the parser; whoever parses with it checks
    /// that none did (see [`ParserMap::is_leading_only`]).
    pub fn leading_map(&self, data: &[u8]) -> ParserMap {
        if !matches!(self, Parser::Zeek(_) | Parser::Vpc(_)) {
            return self.map_of(data, std::iter::empty(), false);
        }
        let line_starts = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', data).map(|i| i + 1))
            .take_while(|&at| at < data.len());
        self.map_of(data, line_starts, true)
    }

    /// The map after the lines starting at `ats` (in order) are read for
    /// headers; with `leading_only`, up to the first that is neither a
    /// header nor blank.
    fn map_of(
        &self,
        data: &[u8],
        ats: impl Iterator<Item = usize>,
        leading_only: bool,
    ) -> ParserMap {
        let mut changes = vec![(0, self.clone())];
        let mut state = self.clone();
        for at in ats {
            if !state.apply_header(data, at) && leading_only {
                break;
            }
            if changes.last().is_some_and(|(_, p)| *p != state) {
                // In force for every line that starts after this one.
                changes.push((at + 1, state.clone()));
            }
        }
        ParserMap {
            changes,
            leading_only,
        }
    }

    /// Line starts in `data` of the lines that may be headers changing this
    /// format's state, in order; none for stateless formats. With
    /// `searched`, a whole mapped file's search, on the pool in segments
    /// (see [`header_starts`]); without, a block's, on the caller's thread,
    /// which may be a stream's reader outside the pool.
    fn header_lines<'d>(
        &self,
        data: &'d [u8],
        searched: Option<&(dyn Fn(Range<usize>) + Sync)>,
    ) -> Box<dyn Iterator<Item = usize> + 'd> {
        match self {
            Parser::Zeek(_) => match searched {
                Some(searched) => Box::new(header_starts(data, searched).into_iter()),
                None => Box::new(line_starts_with_hash(data, 0..data.len()).into_iter()),
            },
            Parser::Vpc(_) => {
                let mut last = None;
                Box::new(
                    memchr::memmem::find_iter(data, b"srcaddr").filter_map(move |i| {
                        let start = memchr::memrchr(b'\n', &data[..i]).map_or(0, |n| n + 1);
                        (last.replace(start) != Some(start)).then_some(start)
                    }),
                )
            }
            _ => Box::new(std::iter::empty()),
        }
    }

    /// Reads the line at `at` of `data` for its header, if it is one.
    /// Returns whether it was a header or blank line.
    fn apply_header(&mut self, data: &[u8], at: usize) -> bool {
        let line = &data[at..];
        let line = &line[..memchr(b'\n', line).unwrap_or(line.len())];
        matches!(self.parse_line(line), Outcome::Header(_) | Outcome::Blank)
    }

    /// Parses one line (without its `\n`), reading no flow field.
    #[inline]
    pub fn parse_line<'a>(&mut self, line: &'a [u8]) -> Outcome<'a> {
        self.parse_line_with(line, Needs::default())
    }

    /// Parses one line (without its `\n`), reading the flow fields `needs`
    /// asks for.
    #[inline]
    pub fn parse_line_with<'a>(&mut self, line: &'a [u8], needs: Needs) -> Outcome<'a> {
        match self {
            Parser::Connspy => connspy_outcome(connspy::parse_line(line)),
            Parser::Columns(c) => c.parse_line(trim_cr(line)),
            Parser::Zeek(z) => z.parse_line(trim_cr(line), needs),
            Parser::ZeekJson => json::zeek_line(trim_cr(line), needs),
            Parser::Suricata => json::suricata_line(trim_cr(line), needs),
            Parser::Vpc(v) => v.parse_line(line, needs),
        }
    }

    /// The first flag of `needs` this format (in the header state in force)
    /// cannot answer, with what it lacks: connspy's own format and
    /// `--columns` have no flow fields; a Zeek `#fields` line or a VPC
    /// layout may lack them. JSON formats give what each line holds.
    pub fn lacks(&self, needs: Needs) -> Option<(&'static str, &'static str)> {
        let flags = needs.flags();
        match self {
            Parser::Connspy | Parser::Columns(_) => {
                flags.iter().find(|(asked, _)| *asked).map(|&(_, flag)| {
                    (
                        flag,
                        "no ports, protocols, bytes or packets (it holds TS, FROM and TO only)",
                    )
                })
            }
            Parser::Zeek(z) => z.lacks(needs).map(|(k, what)| (flags[k].1, what)),
            Parser::Vpc(v) => v.lacks(needs).map(|(k, what)| (flags[k].1, what)),
            Parser::ZeekJson | Parser::Suricata => None,
        }
    }

    /// Parses every line of `data` (whole lines; the last may lack its `\n`)
    /// in order, handing each outcome to `each`, which returns `false` to
    /// stop. Returns whether every line was handed over. The format is
    /// matched once here, not per line.
    #[inline]
    pub fn scan(&mut self, data: &[u8], each: impl FnMut(Outcome<'_>) -> bool) -> bool {
        self.scan_with(data, Needs::default(), each)
    }

    /// [`Self::scan`], reading the flow fields `needs` asks for.
    #[inline]
    pub fn scan_with(
        &mut self,
        data: &[u8],
        needs: Needs,
        mut each: impl FnMut(Outcome<'_>) -> bool,
    ) -> bool {
        self.scan_each(data, needs, &mut each)
    }

    /// [`Self::scan_with`], reading a record's counts only where `wants`
    /// accepts its port and protocol, as a run with `--to_port` or
    /// `--proto` does: where it does not, the record may come without them
    /// (an empty [`Count`]), and is otherwise the same.
    pub fn scan_wanting(
        &mut self,
        data: &[u8],
        needs: Needs,
        wants: impl Fn(&Flow<'_>) -> bool,
        each: impl FnMut(Outcome<'_>) -> bool,
    ) -> bool {
        struct Wanting<W, E>(W, E);
        impl<W: Fn(&Flow<'_>) -> bool, E: FnMut(Outcome<'_>) -> bool> Each for Wanting<W, E> {
            fn line(&mut self, outcome: Outcome<'_>) -> bool {
                (self.1)(outcome)
            }
            fn skips_counts(&self) -> bool {
                true
            }
            fn wants_counts(&self, flow: &Flow<'_>) -> bool {
                (self.0)(flow)
            }
        }
        self.scan_each(data, needs, &mut Wanting(wants, each))
    }

    /// [`Self::scan_with`], handing outcomes to an [`Each`].
    #[inline]
    pub(crate) fn scan_each(&mut self, data: &[u8], needs: Needs, each: &mut impl Each) -> bool {
        match self {
            Parser::Connspy => {
                let mut pos = 0;
                while pos < data.len() {
                    let (parsed, next) = next_line(data, pos);
                    pos = next;
                    if !each.line(connspy_outcome(parsed)) {
                        return false;
                    }
                }
                true
            }
            Parser::Columns(c) => each_line(data, |l| c.parse_line(trim_cr(l)), each),
            Parser::Zeek(z) => z.scan(data, needs, each),
            Parser::ZeekJson => each_line(data, |l| json::zeek_line(trim_cr(l), needs), each),
            Parser::Suricata => each_line(data, |l| json::suricata_line(trim_cr(l), needs), each),
            Parser::Vpc(v) => each_line(data, |l| v.parse_line(l, needs), each),
        }
    }
}

/// Where a scan hands each line's outcome, in order.
pub(crate) trait Each {
    /// Takes one line's outcome; `false` stops the scan.
    fn line(&mut self, outcome: Outcome<'_>) -> bool;

    /// Whether [`Self::wants_counts`] may say no: a parser splits a line to
    /// its counts in one go otherwise.
    #[inline(always)]
    fn skips_counts(&self) -> bool {
        false
    }

    /// Whether a record with these port and protocol fields may have its
    /// counts read, asked only where [`Self::skips_counts`] says it may say
    /// no. A parser that reads counts separately may then leave them out:
    /// the record's outcome is otherwise the same.
    #[inline(always)]
    fn wants_counts(&self, _flow: &Flow<'_>) -> bool {
        true
    }
}

impl<F: FnMut(Outcome<'_>) -> bool> Each for F {
    #[inline(always)]
    fn line(&mut self, outcome: Outcome<'_>) -> bool {
        self(outcome)
    }
}

/// The parser in force at each offset of one input (see [`Parser::map`]).
#[derive(Debug, Clone)]
pub struct ParserMap {
    /// (offset, parser): in force from that offset on; the first at 0.
    changes: Vec<(usize, Parser)>,
    /// Whether only the leading header lines were read ([`Parser::leading_map`]).
    leading_only: bool,
}

impl ParserMap {
    /// Whether the map comes from the leading header lines alone, so that a
    /// header line further on may have changed the parser unseen: the parse
    /// must then check that none did.
    pub fn is_leading_only(&self) -> bool {
        self.leading_only
    }

    /// The parser for a chunk or line that starts at `pos`: the one in force
    /// after every header line that starts before `pos`.
    pub fn at(&self, pos: usize) -> &Parser {
        let i = self.changes.partition_point(|(at, _)| *at <= pos);
        &self.changes[i.saturating_sub(1)].1
    }
}

#[inline(always)]
fn connspy_outcome(parsed: Result<Option<Record<'_>>, LineError>) -> Outcome<'_> {
    match parsed {
        Ok(Some(rec)) => Outcome::Record(rec),
        Ok(None) => Outcome::Blank,
        Err(e) => Outcome::Malformed(e),
    }
}

#[inline(always)]
fn each_line<'d>(
    data: &'d [u8],
    mut parse: impl FnMut(&'d [u8]) -> Outcome<'d>,
    each: &mut impl Each,
) -> bool {
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        let (line, next) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], pos + i + 1),
            None => (rest, data.len()),
        };
        pos = next;
        if !each.line(parse(line)) {
            return false;
        }
    }
    true
}

/// The line without a trailing `\r` (CRLF files).
#[inline(always)]
fn trim_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

/// Whether a line is empty or only whitespace.
#[inline(always)]
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| is_ws(b))
}

/// The first line of `head` that is not blank, without its `\n` or `\r`.
fn first_line(head: &[u8]) -> Option<&[u8]> {
    connspy::Lines::new(head)
        .map(trim_cr)
        .find(|l| !is_blank(l))
}

/// Offsets of the lines of `data` that start with `#`, in order, telling
/// `searched` of each segment once it is searched.
///
/// A mapped Zeek log is searched whole before it is parsed, so the search
/// runs on the pool in segments; and for `#`, which only header lines hold
/// in practice, checking the byte before each: one byte searched for runs
/// several times faster than a pair.
fn header_starts(data: &[u8], searched: &(dyn Fn(Range<usize>) + Sync)) -> Vec<usize> {
    const SEGMENT: usize = 16 << 20;
    (0..data.len().div_ceil(SEGMENT))
        .into_par_iter()
        .flat_map_iter(|segment| {
            let start = segment * SEGMENT;
            let end = (start + SEGMENT).min(data.len());
            let found = line_starts_with_hash(data, start..end);
            searched(start..end);
            found
        })
        .collect()
}

/// Offsets in `range` of the lines of `data` that start with `#`.
fn line_starts_with_hash(data: &[u8], range: Range<usize>) -> Vec<usize> {
    let start = range.start;
    memchr::memchr_iter(b'#', &data[range])
        .map(|i| start + i)
        .filter(|&i| i == 0 || data[i - 1] == b'\n')
        .collect()
}

/// Checks a host field: not empty, not one of the format's `unset` markers,
/// free of whitespace, valid UTF-8 (as in connspy's format).
///
/// A host is a run of non-whitespace bytes in every format, as connspy's own
/// format (whose fields whitespace separates), `--to_host`/`--from_host` and
/// the partials' hosts have it: a Zeek, JSON, VPC or `--columns` host
/// holding a space (`"a b"`) would be counted under a name no query can ask
/// for. Whitespace is [`connspy::is_ws`]'s (space, `\t`, `\r`, `\v`, `\f`);
/// `\n` ends lines before any format sees one. Other control bytes belong
/// to hosts, as in connspy's format (output escapes them).
#[inline(always)]
fn host<'a>(field: &'a [u8], name: Field, unset: &[&[u8]]) -> Result<&'a [u8], LineError> {
    if field.is_empty() || unset.contains(&field) {
        return Err(LineError::Unset(name));
    }
    let (high, low) = high_and_low_bytes(field);
    if low && field.iter().any(|&b| is_ws(b)) {
        return Err(LineError::Space(name));
    }
    if high && std::str::from_utf8(field).is_err() {
        return Err(LineError::Utf8);
    }
    Ok(field)
}

/// Whether `bytes` hold a byte above 0x7f, and whether they may hold one
/// below 0x21 (every whitespace byte is one): one pass for both checks a
/// host needs, eight bytes at a time (the last eight overlapping the words
/// before them), or a byte at a time for a host shorter than that.
#[inline(always)]
fn high_and_low_bytes(bytes: &[u8]) -> (bool, bool) {
    use crate::hosts::fold::{bytes_below, HIGHS};
    let Some(last) = bytes.last_chunk::<8>() else {
        let (mut high, mut low) = (0u8, false);
        for &b in bytes {
            high |= b;
            low |= b < 0x21;
        }
        return (high >= 0x80, low);
    };
    let last = u64::from_le_bytes(*last);
    let (mut high, mut low) = (last, bytes_below(last, 0x21));
    for word in bytes.chunks_exact(8) {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        high |= x;
        low |= bytes_below(x, 0x21);
    }
    (high & HIGHS != 0, low != 0)
}

#[cfg(test)]
mod tests;
