//! The parts a window's state is built from: a list part per host list asked
//! (`--to_host`, `--from_host`) and a count part per busiest side asked
//! (`--busiest_from_host`, `--busiest_to_host`). Each part is written once
//! for each mode: adding, merging, encoding, decoding and finishing live
//! with the part, and errors travel in return values.

use std::io;

use crate::input::format::connspy::is_ws;
use crate::partial::{Body, BodyIn, DecodeError};
use crate::report::{Busiest, HostList};

/// What every part of a mode shares: sketch sizes in approximate mode,
/// nothing in exact mode.
pub trait Kit: Sync {
    /// Whether answers are estimates (`approximate` in the output).
    const APPROXIMATE: bool;
}

impl Kit for () {
    const APPROXIMATE: bool = false;
}

/// Where a list part sits in a window's state, which names its partial field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSlot {
    /// The hosts that connected to `--to_host`.
    To,
    /// The hosts `--from_host` connected to.
    From,
}

impl ListSlot {
    /// The partial field holding the part.
    pub(crate) fn field(self) -> &'static str {
        match self {
            ListSlot::To => "to",
            ListSlot::From => "from",
        }
    }
}

/// Where a count part sits in a window's state, which names its partial
/// fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSlot {
    /// The busiest initiators.
    Initiators,
    /// The busiest receivers.
    Receivers,
}

impl CountSlot {
    /// The partial field holding the part.
    pub(crate) fn field(self) -> &'static str {
        match self {
            CountSlot::Initiators => "initiators",
            CountSlot::Receivers => "receivers",
        }
    }

    /// The field holding the side's distinct-host sketch, when the part
    /// keeps one: apart, so that other tools read DataSketches' own bytes.
    pub(crate) fn distinct_field(self) -> &'static str {
        match self {
            CountSlot::Initiators => "initiators_hll",
            CountSlot::Receivers => "receivers_hll",
        }
    }
}

/// A part of one window's state.
///
/// `merge` must be associative and commutative over the lines two parts have
/// seen, up to the bounds the mode states, so that results do not depend on
/// chunking, thread count or file order.
pub trait Part<K: Kit>: Sized + Send {
    /// Where the part can sit, which names its partial fields.
    type Slot: Copy;

    /// A part that has seen no line.
    fn new(kit: &K) -> Self;

    /// A part that has seen no line, for the window a scan enters after one
    /// whose part was `last`: a part that grows may size itself like `last`
    /// to skip the growing. It must answer as [`Self::new`]'s would.
    fn new_after(kit: &K, last: &Self) -> Self {
        let _ = last;
        Self::new(kit)
    }

    /// Folds `other` into `self`.
    ///
    /// # Errors
    /// Spilling to or reading back the temporary file.
    fn merge(&mut self, kit: &K, other: Self) -> io::Result<()>;

    /// Folds the parts of one window read from partials, in the order given
    /// (`--merge` sorts a window's lines first, so that any input order
    /// gives one result). By default, merge after merge.
    ///
    /// # Errors
    /// As [`Self::merge`].
    fn union(kit: &K, parts: Vec<Self>) -> io::Result<Self> {
        let mut parts = parts.into_iter();
        let mut out = parts.next().unwrap_or_else(|| Self::new(kit));
        for part in parts {
            out.merge(kit, part)?;
        }
        Ok(out)
    }

    /// Writes the part's fields for `slot` into a partial line's body.
    ///
    /// # Errors
    /// Reading back spilled state.
    fn encode(self, kit: &K, slot: Self::Slot, body: &mut Body) -> io::Result<()>;

    /// Reads back what [`Self::encode`] wrote for `slot`. The body comes
    /// from another machine: everything is checked, and nothing is
    /// allocated that its bytes do not hold.
    ///
    /// # Errors
    /// What does not fit a part of this mode.
    fn decode(kit: &K, slot: Self::Slot, from: &mut Fields) -> Result<Self, DecodeError>;
}

/// A partial line's fields as parts decode them, with the window's line
/// count and sum of the measure, which every count must fit.
pub struct Fields<'a, 'b> {
    body: &'a mut BodyIn<'b>,
    lines: u64,
    /// The window's bytes or packets, when the busiest rank by them.
    weighted: Option<u64>,
}

impl<'a, 'b> Fields<'a, 'b> {
    /// The fields of `body`, a window of `lines` lines whose busiest rank
    /// by a sum of bytes or packets `weighted` (`None` for connections).
    pub(crate) fn new(body: &'a mut BodyIn<'b>, lines: u64, weighted: Option<u64>) -> Self {
        Fields {
            body,
            lines,
            weighted,
        }
    }

    /// The window's line count.
    pub(crate) fn lines(&self) -> u64 {
        self.lines
    }

    /// The window's sum of the busiest queries' measure: its lines for
    /// connections.
    pub(crate) fn total(&self) -> u64 {
        self.weighted.unwrap_or(self.lines)
    }

    /// Whether the busiest rank by bytes or packets, so that a host may sum
    /// to 0.
    pub(crate) fn weighted(&self) -> bool {
        self.weighted.is_some()
    }

    /// The binary field `name`, which must come next.
    pub(crate) fn take(&mut self, name: &str) -> Result<Vec<u8>, DecodeError> {
        self.body.required(name)
    }
}

/// The hosts on the other end of the lines that match a queried host.
pub trait ListPart<K: Kit>: Part<K, Slot = ListSlot> {
    /// Adds `host` (case folded here).
    ///
    /// # Errors
    /// Spilling to the temporary file.
    fn insert(&mut self, kit: &K, host: &[u8]) -> io::Result<()>;

    /// The answer for the queried `host`.
    ///
    /// # Errors
    /// Reading back spilled state.
    fn finish(self, kit: &K, host: String) -> io::Result<HostList>;
}

/// Connections, or their bytes or packets, per host on one side of the
/// lines.
pub trait CountPart<K: Kit>: Part<K, Slot = CountSlot> {
    /// Counts one connection of `host` (case folded here).
    fn add(&mut self, host: &[u8]);

    /// Adds `weight` (a connection's bytes or packets) to `host`'s sum. The
    /// caller has checked that the window's sum fits in 64 bits.
    fn add_weighted(&mut self, host: &[u8], weight: u64);

    /// The `top` busiest hosts, or `None` when nothing was counted.
    fn finish(self, kit: &K, top: usize) -> Option<Busiest>;

    /// Readies the part for merging once it has seen its last line: work
    /// that can run on the worker that counted it rather than in a merge.
    fn settle(&mut self) {}
}

/// A host read from a partial, as a run stores every host a parser yields:
/// not empty, UTF-8, without whitespace (a log line's field separators) and
/// with its ASCII letters in lower case.
pub(crate) fn partial_host(host: &[u8]) -> Result<&[u8], DecodeError> {
    if host.is_empty() {
        return Err("an empty host".into());
    }
    if host.iter().any(|&b| is_ws(b) || b == b'\n') {
        return Err("a host holding whitespace".into());
    }
    if host.iter().any(u8::is_ascii_uppercase) {
        return Err("a host with upper-case letters, which runs fold to lower case".into());
    }
    match std::str::from_utf8(host) {
        Ok(_) => Ok(host),
        Err(_) => Err("a host that is not UTF-8".into()),
    }
}
