//! What a parsed log line is, and what can be wrong with one: shared by
//! every format.

use std::fmt;

use crate::digits::count;
use crate::timestamp::TsError;

/// One well-formed log line. Hosts are the raw bytes of the line (ASCII case not
/// folded yet: reducers fold only what they keep or compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Unix milliseconds.
    pub ts: i64,
    /// The host that initiated the connection.
    pub from: &'a [u8],
    /// The host it connected to.
    pub to: &'a [u8],
    /// What a flow log says of the connection beyond its hosts, read only
    /// when a filter asks for it.
    pub flow: Flow<'a>,
}

/// What a flow log says of a connection beyond its hosts, where the log
/// gives it and the run asked for it ([`Needs`]). A port or protocol is
/// `None` when unset, absent, not asked, or not a port or protocol; the
/// count is kept as the log writes it, read only once the line counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flow<'a> {
    /// The responder's port: Zeek `id.resp_p`, VPC `dstport`, Suricata
    /// `dest_port`.
    pub to_port: Option<u16>,
    /// The IP protocol number: Zeek `proto`, VPC `protocol`, Suricata
    /// `proto` (names read as [`proto_number`] reads them).
    pub proto: Option<u8>,
    /// The count a run ranks by ([`Needs::count`]): bytes both ways (Zeek
    /// `orig_bytes + resp_bytes`, VPC `bytes`, Suricata
    /// `flow.bytes_toserver + flow.bytes_toclient`) or packets both ways
    /// (Zeek `orig_pkts + resp_pkts`, VPC `packets`, Suricata
    /// `flow.pkts_toserver + flow.pkts_toclient`). One, not both: every
    /// record carries it, and with both, Q2a (no counts) ran 3 % more
    /// instructions.
    pub count: Count<'a>,
}

impl<'a> Flow<'a> {
    /// The flow fields `needs` asks for: the port and the protocol read
    /// from their texts (as [`port_number`] and [`proto_number`] read
    /// them), the count as given.
    #[inline(always)]
    pub(crate) fn asked(needs: Needs, port: &[u8], proto: &[u8], count: Count<'a>) -> Flow<'a> {
        Flow {
            to_port: needs.to_port.then(|| port_number(port)).flatten(),
            proto: needs.proto.then(|| proto_number(proto)).flatten(),
            count,
        }
    }
}

/// Which [`Flow`] fields a run reads: the others cost nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// `--to_port` was given.
    pub to_port: bool,
    /// `--proto` was given.
    pub proto: bool,
    /// `--by bytes` was given.
    pub bytes: bool,
    /// `--by packets` was given.
    pub packets: bool,
}

impl Needs {
    /// Whether any flow field is read.
    pub fn any(self) -> bool {
        self.to_port || self.proto || self.bytes || self.packets
    }

    /// The count a record carries: bytes when asked, else packets when
    /// asked (a run ranks by one measure).
    #[inline(always)]
    pub(crate) fn count(self) -> Option<Field> {
        if self.bytes {
            Some(Field::Bytes)
        } else if self.packets {
            Some(Field::Packets)
        } else {
            None
        }
    }

    /// The count a record carries ([`Self::count`]): `bytes()` or
    /// `packets()`, each called only when it is the one asked.
    #[inline(always)]
    pub(crate) fn count_of<'a>(
        self,
        bytes: impl FnOnce() -> Count<'a>,
        packets: impl FnOnce() -> Count<'a>,
    ) -> Count<'a> {
        match self.count() {
            Some(Field::Bytes) => bytes(),
            Some(Field::Packets) => packets(),
            _ => Count::default(),
        }
    }

    /// The same without the counts: what a record is read to before its
    /// counts are known to be wanted.
    #[inline(always)]
    pub(crate) fn uncounted(self) -> Needs {
        Needs {
            bytes: false,
            packets: false,
            ..self
        }
    }

    /// The fields either asks for.
    pub fn with(self, other: Needs) -> Needs {
        Needs {
            to_port: self.to_port || other.to_port,
            proto: self.proto || other.proto,
            bytes: self.bytes || other.bytes,
            packets: self.packets || other.packets,
        }
    }

    /// The last field a record is split to, where `last` gives it for
    /// every record (time, hosts) and then for each flow flag (port,
    /// protocol, bytes, packets; 0 where the log has none): only the flags
    /// given reach further.
    #[inline]
    pub(crate) fn furthest(self, last: [usize; 5]) -> usize {
        let [every, port, proto, bytes, packets] = last;
        let asked = |asked: bool, col: usize| if asked { col } else { 0 };
        every
            .max(asked(self.to_port, port))
            .max(asked(self.proto, proto))
            .max(asked(self.bytes, bytes))
            .max(asked(self.packets, packets))
    }

    /// The flags that ask for flow fields, each with whether it was given,
    /// in the order error messages name them.
    pub(crate) fn flags(self) -> [(bool, &'static str); 4] {
        [
            (self.to_port, "--to_port"),
            (self.proto, "--proto"),
            (self.bytes, "--by bytes"),
            (self.packets, "--by packets"),
        ]
    }
}

/// A count of a connection (its bytes or packets) as the log writes it:
/// each direction's text, `None` where the log leaves it unset (which
/// counts 0). It is read only once its line passes every filter and the
/// time range, so a line that a filter or the range leaves out is never
/// malformed for its counts: they cannot change an answer. (A late line is
/// read too: whether a line is late depends on where the input was cut.)
/// Reading them on every line cost a tenth of a filtered Zeek run's
/// instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count<'a> {
    ways: [Option<&'a [u8]>; 2],
}

/// The text a value of the wrong kind (a JSON string where a number
/// belongs) is kept as: no count reads it.
pub(crate) const NOT_A_COUNT: &[u8] = b"";

impl<'a> Count<'a> {
    /// A count given in one direction's text, or `None` where unset.
    pub(crate) fn one(text: Option<&'a [u8]>) -> Self {
        Count { ways: [text, None] }
    }

    /// A count given as both directions' texts.
    pub(crate) fn both(a: Option<&'a [u8]>, b: Option<&'a [u8]>) -> Self {
        Count { ways: [a, b] }
    }

    /// The sum of both directions. A text that is not a count, or a sum
    /// past 64 bits, is a bad value of `field`.
    #[inline]
    pub(crate) fn sum(self, field: Field) -> Result<u64, LineError> {
        let read = |v: Option<&[u8]>| match v {
            None => Ok(0),
            Some(text) => count(text).ok_or(LineError::BadValue(field)),
        };
        let [a, b] = self.ways;
        read(a)?
            .checked_add(read(b)?)
            .ok_or(LineError::BadValue(field))
    }
}

/// A port as a log writes it: decimal digits, at most 65535.
#[inline]
pub(crate) fn port_number(text: &[u8]) -> Option<u16> {
    // Five digits at most: a longer run of zeros is no port a log writes.
    if text.len() > 5 {
        return None;
    }
    u16::try_from(count(text)?).ok()
}

/// An IP protocol as a log writes it: a number from 0 to 255, or a name in
/// any case (`tcp` 6, `udp` 17, `icmp` 1, `ipv6-icmp`/`icmpv6`/`icmp6` 58,
/// `sctp` 132, `gre` 47, `esp` 50, `ah` 51).
pub fn proto_number(text: &[u8]) -> Option<u8> {
    if !text.is_empty() && text.len() <= 3 && text.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(text).ok()?.parse().ok();
    }
    let mut lower = [0u8; 9];
    let name = lower.get_mut(..text.len())?;
    name.copy_from_slice(text);
    name.make_ascii_lowercase();
    Some(match &*name {
        b"tcp" => 6,
        b"udp" => 17,
        b"icmp" => 1,
        b"ipv6-icmp" | b"icmpv6" | b"icmp6" => 58,
        b"sctp" => 132,
        b"gre" => 47,
        b"esp" => 50,
        b"ah" => 51,
        _ => return None,
    })
}

#[cfg(test)]
impl<'a> Record<'a> {
    /// `from` connecting to `to` at `ts` milliseconds, for tests.
    pub(crate) fn of(ts: i64, from: &'a str, to: &'a str) -> Self {
        Record {
            ts,
            from: from.as_bytes(),
            to: to.as_bytes(),
            flow: Flow::default(),
        }
    }
}

/// Why a line is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// Not exactly three whitespace-separated fields (the count found, capped at 4).
    FieldCount(u8),
    /// The first field is not a timestamp.
    Timestamp(TsError),
    /// A host is not valid UTF-8.
    Utf8,
    /// Tail mode: stamped further ahead of the wall clock than the lateness
    /// bound, which would otherwise close every open hour at once.
    Future,
    /// `--columns`: the line has fewer columns than the highest one named.
    TooFewColumns(u16),
    /// A field the format needs is absent (JSON key, TSV column).
    Missing(Field),
    /// A host field holds the format's marker for unset or empty (`-`,
    /// `(empty)`, `""`).
    Unset(Field),
    /// A host field holds whitespace, which no host can (connspy's format
    /// separates fields with it, and no query can name such a host).
    Space(Field),
    /// A field holds a value of the wrong kind (a number where a string is
    /// needed, an escaped JSON string, a time that is not RFC 3339).
    BadValue(Field),
    /// Not a single JSON object on one line (anything but whitespace after
    /// its closing brace included).
    Json,
    /// Zeek TSV: a data line before any `#fields` header, or a header without
    /// `ts`, `id.orig_h` or `id.resp_h`.
    NoFields,
    /// Longer than `--max_line_length`: not read whole, so not parsed.
    TooLong,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::FieldCount(4) => f.write_str("more than 3 fields"),
            LineError::FieldCount(n) => write!(f, "{n} field(s) where 3 are expected"),
            LineError::Timestamp(e) => e.fmt(f),
            LineError::Utf8 => f.write_str("host is not valid UTF-8"),
            LineError::Future => f.write_str("timestamp is in the future"),
            LineError::TooFewColumns(n) => {
                write!(f, "fewer columns than --columns needs ({n})")
            }
            LineError::Missing(field) => write!(f, "no {field} field"),
            LineError::Unset(field) => write!(f, "{field} is unset or empty"),
            LineError::Space(field) => write!(f, "{field} holds whitespace, which no host can"),
            LineError::BadValue(field) => write!(f, "{field} has a value of the wrong kind"),
            LineError::Json => f.write_str("not one JSON object"),
            LineError::NoFields => {
                f.write_str("no #fields header with ts, id.orig_h and id.resp_h before this line")
            }
            LineError::TooLong => {
                f.write_str("longer than --max_line_length (raise it to read such lines)")
            }
        }
    }
}

/// A field a log format reads, named in [`LineError`]s as the format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Zeek `ts`.
    Ts,
    /// Zeek `id.orig_h`.
    IdOrigH,
    /// Zeek `id.resp_h`.
    IdRespH,
    /// Suricata `event_type`.
    EventType,
    /// Suricata `src_ip`.
    SrcIp,
    /// Suricata `dest_ip`.
    DestIp,
    /// Suricata `flow.start`.
    FlowStart,
    /// VPC `start`.
    Start,
    /// VPC `srcaddr`.
    SrcAddr,
    /// VPC `dstaddr`.
    DstAddr,
    /// VPC `log-status`.
    LogStatus,
    /// `--columns`: the TS column.
    TsColumn,
    /// `--columns`: the FROM column.
    From,
    /// `--columns`: the TO column.
    To,
    /// A connection's bytes (Zeek `orig_bytes`/`resp_bytes`, VPC `bytes`,
    /// Suricata `flow.bytes_toserver`/`flow.bytes_toclient`).
    Bytes,
    /// A connection's packets (Zeek `orig_pkts`/`resp_pkts`, VPC `packets`,
    /// Suricata `flow.pkts_toserver`/`flow.pkts_toclient`).
    Packets,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Ts => "ts",
            Field::IdOrigH => "id.orig_h",
            Field::IdRespH => "id.resp_h",
            Field::EventType => "event_type",
            Field::SrcIp => "src_ip",
            Field::DestIp => "dest_ip",
            Field::FlowStart => "flow.start",
            Field::Start => "start",
            Field::SrcAddr => "srcaddr",
            Field::DstAddr => "dstaddr",
            Field::LogStatus => "log-status",
            Field::TsColumn => "TS",
            Field::From => "FROM",
            Field::To => "TO",
            Field::Bytes => "bytes",
            Field::Packets => "packets",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_protocols_read_as_logs_write_them() {
        for (text, port) in [
            ("0", Some(0)),
            ("443", Some(443)),
            ("00022", Some(22)),
            ("65535", Some(65535)),
            ("65536", None),
            ("99999", None),
            ("123456", None),
            ("", None),
            ("-", None),
            ("4a", None),
            ("+1", None),
        ] {
            assert_eq!(port_number(text.as_bytes()), port, "{text}");
        }
        for (text, proto) in [
            ("tcp", Some(6)),
            ("TCP", Some(6)),
            ("udp", Some(17)),
            ("icmp", Some(1)),
            ("IPv6-ICMP", Some(58)),
            ("58", Some(58)),
            ("255", Some(255)),
            ("256", None),
            ("quic", None),
            ("-", None),
            ("", None),
            ("unknown_transport", None),
        ] {
            assert_eq!(proto_number(text.as_bytes()), proto, "{text}");
        }
    }
}
