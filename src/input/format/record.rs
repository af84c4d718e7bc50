//! What a parsed log line is, and what can be wrong with one: shared by
//! every format.

use std::fmt;

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
}

#[cfg(test)]
impl<'a> Record<'a> {
    /// `from` connecting to `to` at `ts` milliseconds, for tests.
    pub(crate) fn of(ts: i64, from: &'a str, to: &'a str) -> Self {
        Record {
            ts,
            from: from.as_bytes(),
            to: to.as_bytes(),
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
        })
    }
}
