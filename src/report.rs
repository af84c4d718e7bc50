//! The answers for one window, as every output format sees them.

use std::cell::RefCell;
use std::fmt;
use std::io;

use crate::query::Measure;

/// A list's hosts, sorted ascending by bytes: in memory, or streamed from an
/// approximate list's spilled runs, so that printing a huge list does not
/// hold it all at once.
pub enum Hosts {
    /// Hosts held in memory.
    Listed(Vec<String>),
    /// Hosts read as they are printed; the iterator can be walked once.
    Streamed {
        /// How many hosts it yields.
        count: u64,
        /// The hosts, taken by the first walk.
        source: RefCell<Option<HostStream>>,
    },
}

/// Hosts yielded in order, with the errors of reading them back.
pub(crate) type HostStream = Box<dyn Iterator<Item = io::Result<String>> + Send>;

impl Hosts {
    /// How many hosts there are.
    pub fn len(&self) -> u64 {
        match self {
            Hosts::Listed(v) => v.len() as u64,
            Hosts::Streamed { count, .. } => *count,
        }
    }

    /// Whether there is no host.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` on each host, in order.
    ///
    /// # Errors
    /// `f`'s error, a failure to read back spilled hosts, or a second walk of
    /// a streamed list.
    pub(crate) fn try_for_each(&self, mut f: impl FnMut(&str) -> io::Result<()>) -> io::Result<()> {
        match self {
            Hosts::Listed(v) => v.iter().try_for_each(|h| f(h)),
            Hosts::Streamed { source, .. } => {
                let stream = source.borrow_mut().take().ok_or_else(|| {
                    io::Error::other("a streamed host list can be written only once")
                })?;
                stream.into_iter().try_for_each(|h| f(&h?))
            }
        }
    }

    /// The hosts as a vector (tests and small lists).
    ///
    /// # Errors
    /// As [`Self::try_for_each`].
    pub fn to_vec(&self) -> io::Result<Vec<String>> {
        let mut v = Vec::new();
        self.try_for_each(|h| {
            v.push(h.to_owned());
            Ok(())
        })?;
        Ok(v)
    }
}

impl From<Vec<String>> for Hosts {
    fn from(v: Vec<String>) -> Self {
        Hosts::Listed(v)
    }
}

impl fmt::Debug for Hosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hosts::Listed(v) => v.fmt(f),
            Hosts::Streamed { count, .. } => write!(f, "<{count} streamed hosts>"),
        }
    }
}

/// Lists in memory compare by content; a streamed list equals nothing, since
/// comparing would consume it (compare [`Hosts::to_vec`] instead).
impl PartialEq for Hosts {
    fn eq(&self, other: &Self) -> bool {
        matches!((self, other), (Hosts::Listed(a), Hosts::Listed(b)) if a == b)
    }
}

/// Hosts listed by `--to_host` or `--from_host` in one window.
#[derive(Debug, PartialEq)]
pub struct HostList {
    /// The queried host, case folded.
    pub host: String,
    /// The distinct hosts, sorted ascending by bytes.
    pub hosts: Hosts,
    /// How many distinct hosts qualified: `hosts.len()` in exact mode, a
    /// HyperLogLog estimate in approximate mode.
    pub distinct: u64,
    /// Approximate mode: the estimated probability that a qualifying host was
    /// dropped by a bloom filter false positive.
    pub missed_rate: Option<f64>,
}

/// The answer to `--busiest_from_host` or `--busiest_to_host` in a window that
/// holds at least one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Busiest {
    /// The host with the highest value on its side (smallest name among
    /// equals): `top[0].host`.
    pub host: String,
    /// Its value: connections, or bytes or packets with `--by` (an
    /// overestimate in approximate mode).
    pub value: u64,
    /// Approximate mode: the most by which `value` may exceed the truth.
    pub error: Option<u64>,
    /// How many other hosts have the leader's value (tracked hosts, in
    /// approximate mode).
    pub tied: u64,
    /// How many distinct hosts are on that side of the window's lines:
    /// initiators or receivers (an estimate in approximate mode).
    pub distinct: u64,
    /// The `--top` busiest hosts, by value descending, then name ascending
    /// (bytes); fewer when fewer hosts exist.
    pub top: Vec<Talker>,
    /// How many unlisted hosts have the last listed one's value.
    pub cut_tied: u64,
}

/// One host of a [`Busiest`] list.
#[derive(Debug, Clone, PartialEq)]
pub struct Talker {
    /// The host, case folded.
    pub host: String,
    /// Its value on the list's side: connections, or bytes or packets (an
    /// overestimate in approximate mode).
    pub value: u64,
    /// Approximate mode: the most by which `value` may exceed the truth,
    /// and whether the sketch's bounds prove the host is in the true top list.
    pub bounds: Option<Bounds>,
}

/// What the heavy-hitter sketch proves about one listed host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// `value - error <= true value <= value`.
    pub error: u64,
    /// True when no host outside the list can rank above this one.
    pub guaranteed: bool,
}

/// Everything connspy answers for one window.
#[derive(Debug, PartialEq, Default)]
pub struct Answer {
    /// Counted lines: well formed and inside the time range.
    pub lines: u64,
    /// What the busiest answers rank by (`--by`).
    pub measure: Measure,
    /// The window's sum of `measure`: `lines` for connections.
    pub total: u64,
    /// Present when `--to_host` was asked.
    pub to_host: Option<HostList>,
    /// Present when `--from_host` was asked.
    pub from_host: Option<HostList>,
    /// Present when `--busiest_from_host` was asked; `None` inside for a window
    /// without lines.
    pub busiest_from: Option<Option<Busiest>>,
    /// Present when `--busiest_to_host` was asked; `None` inside for a window
    /// without lines.
    pub busiest_to: Option<Option<Busiest>>,
    /// Whether the answers come from sketches.
    pub approximate: bool,
}

/// One window's answer with its bounds.
#[derive(Debug, PartialEq)]
pub struct Report {
    /// Inclusive start in Unix milliseconds; `None` when unbounded.
    pub start: Option<i64>,
    /// Exclusive end in Unix milliseconds; `None` when unbounded.
    pub end: Option<i64>,
    /// The answers.
    pub answer: Answer,
    /// Lines dropped since the previous report because their hour had already
    /// been reported (only when windows are released as they complete).
    pub late: u64,
    /// False for a window reported before its hour ended (tail mode, stopped
    /// by a signal).
    pub complete: bool,
}
