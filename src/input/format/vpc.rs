//! AWS VPC Flow Logs: space-separated records in the default version 2 field
//! order, or in the order of a header line of field names.

use super::split::fields;
use super::{host, Outcome, Skip};
use crate::input::format::record::Count;
use crate::input::format::{Field, Flow, LineError, Needs, Record};
use crate::timestamp::parse_ts;

/// Where the fields connspy reads are in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpcLayout {
    start: usize,
    src: usize,
    dst: usize,
    /// `log-status`, when the layout has it.
    status: Option<usize>,
    /// `dstport`, `protocol`, `bytes` and `packets`, when the layout has
    /// them.
    port: Option<usize>,
    proto: Option<usize>,
    bytes: Option<usize>,
    packets: Option<usize>,
    /// The last field a record is split to: for the time, the hosts and
    /// the status, then for each flow flag (see [`Needs::furthest`]).
    last: [usize; 5],
    /// For each of a record's first [`MAX_FIELDS`] fields, where
    /// [`VpcLayout::parse_line`] keeps it ([`NO_SLOT`]: nowhere): one lookup
    /// a field, where comparing its index with every wanted one was a third
    /// of a VPC parse.
    slots: [u8; MAX_FIELDS],
}

/// The most fields a record may need to be split into (AWS defines about 30).
const MAX_FIELDS: usize = 64;
/// A field connspy does not read.
const NO_SLOT: u8 = u8::MAX;

impl VpcLayout {
    /// The default (version 2) order: `version account-id interface-id
    /// srcaddr dstaddr srcport dstport protocol packets bytes start end
    /// action log-status`.
    pub(crate) const V2: VpcLayout =
        VpcLayout::new([10, 3, 4], [Some(13), Some(6), Some(7), Some(9), Some(8)]);

    /// The layout whose `start`, `srcaddr` and `dstaddr` are at `required`,
    /// and `log-status`, `dstport`, `protocol`, `bytes` and `packets` at
    /// `optional` (where it has them).
    const fn new(required: [usize; 3], optional: [Option<usize>; 5]) -> VpcLayout {
        let mut slots = [NO_SLOT; MAX_FIELDS];
        let mut last = [0; 5];
        let mut k = 0;
        while k < 8 {
            let col = if k < 3 {
                Some(required[k])
            } else {
                optional[k - 3]
            };
            if let Some(col) = col {
                if col < MAX_FIELDS {
                    slots[col] = k as u8;
                }
                // The time, the hosts and the status, then each flow field.
                let at = k.saturating_sub(3);
                if col > last[at] {
                    last[at] = col;
                }
            }
            k += 1;
        }
        let [start, src, dst] = required;
        let [status, port, proto, bytes, packets] = optional;
        VpcLayout {
            start,
            src,
            dst,
            status,
            port,
            proto,
            bytes,
            packets,
            last,
            slots,
        }
    }

    /// The layout a header line of field names gives, if it names `srcaddr`,
    /// `dstaddr` and `start` (as written, or as `${srcaddr}` in a format
    /// string).
    pub(crate) fn from_header(line: &[u8]) -> Option<VpcLayout> {
        let (mut start, mut src, mut dst, mut status) = (None, None, None, None);
        let (mut port, mut proto, mut bytes, mut packets) = (None, None, None, None);
        for (i, name) in fields(line).enumerate().take(MAX_FIELDS) {
            let name = name
                .strip_prefix(b"${")
                .and_then(|n| n.strip_suffix(b"}"))
                .unwrap_or(name);
            let slot = match name {
                b"start" => &mut start,
                b"srcaddr" => &mut src,
                b"dstaddr" => &mut dst,
                b"log-status" => &mut status,
                b"dstport" => &mut port,
                b"protocol" => &mut proto,
                b"bytes" => &mut bytes,
                b"packets" => &mut packets,
                _ => continue,
            };
            slot.get_or_insert(i);
        }
        Some(VpcLayout::new(
            [start?, src?, dst?],
            [status, port, proto, bytes, packets],
        ))
    }

    /// Whether `line` is a headerless version 2 record: 14 fields, version
    /// `2`, an interface id starting `eni-`.
    pub(crate) fn is_v2_record(line: &[u8]) -> bool {
        let mut f = fields(line);
        f.next() == Some(b"2")
            && f.nth(1).is_some_and(|eni| eni.starts_with(b"eni-"))
            && f.count() == 11
    }

    /// The first flow field `needs` asks for that this layout lacks (its
    /// index in [`Needs::flags`]), with what is missing.
    pub(crate) fn lacks(&self, needs: Needs) -> Option<(usize, &'static str)> {
        [
            (needs.to_port, self.port, "no dstport in its header"),
            (needs.proto, self.proto, "no protocol in its header"),
            (needs.bytes, self.bytes, "no bytes in its header"),
            (needs.packets, self.packets, "no packets in its header"),
        ]
        .into_iter()
        .enumerate()
        .find(|&(_, (asked, col, _))| asked && col.is_none())
        .map(|(k, (_, _, what))| (k, what))
    }

    /// Parses one line (without `\n`), reading the flow fields `needs` asks
    /// for. A header line (again, as concatenated files have) is read and
    /// sets the layout.
    #[inline]
    pub fn parse_line<'a>(&mut self, line: &'a [u8], needs: Needs) -> Outcome<'a> {
        let mut got: [&[u8]; 8] = [&[]; 8];
        let (last, flow_last) = (self.last[0], needs.furthest(self.last));
        // Flow fields not asked for may be kept too; they are not read.
        let mut n = 0;
        for (i, f) in fields(line).enumerate() {
            if let Some(&slot) = self.slots.get(i).filter(|&&s| s != NO_SLOT) {
                got[usize::from(slot)] = f;
            }
            n = i + 1;
            if i == flow_last {
                break;
            }
        }
        if n == 0 {
            return Outcome::Blank;
        }
        if !got[0].first().is_some_and(u8::is_ascii_digit) || n <= last {
            if let Some(layout) = VpcLayout::from_header(line) {
                *self = layout;
                return Outcome::Header(None);
            }
        }
        if n <= last {
            let missing = [
                (self.src, Field::SrcAddr),
                (self.dst, Field::DstAddr),
                (self.start, Field::Start),
                (self.status.unwrap_or(usize::MAX), Field::LogStatus),
            ]
            .into_iter()
            .filter(|&(i, _)| i >= n)
            .min_by_key(|&(i, _)| i)
            .map_or(Field::Start, |(_, name)| name);
            return Outcome::Malformed(LineError::Missing(missing));
        }
        if self.status.is_some() && matches!(got[3], b"NODATA" | b"SKIPDATA") {
            return Outcome::Skipped(Skip::NoData);
        }
        if got[1] == b"-" || got[2] == b"-" {
            return Outcome::Skipped(Skip::UnsetAddress);
        }
        let ts = match parse_ts(got[0]) {
            Ok(ts) => ts,
            Err(e) => return Outcome::Malformed(LineError::Timestamp(e)),
        };
        let (from, to) = match (
            host(got[1], Field::SrcAddr, &[]),
            host(got[2], Field::DstAddr, &[]),
        ) {
            (Ok(from), Ok(to)) => (from, to),
            (Err(e), _) | (_, Err(e)) => return Outcome::Malformed(e),
        };
        // An unset count (`-`) is 0.
        let count = |text: &'a [u8]| Count::one((text != b"-").then_some(text));
        let count = needs.count_of(|| count(got[6]), || count(got[7]));
        Outcome::Record(Record {
            ts,
            from,
            to,
            flow: Flow::asked(needs, got[4], got[5], count),
        })
    }
}
