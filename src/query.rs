//! What a run asks: the question ([`Query`]), which lines count and how they
//! are windowed ([`Filter`]), and what state answers it ([`Mode`]). Plain
//! data, decided once from the command line or read from a partial's
//! settings, and shared by every layer that needs it.

use crate::hosts::fold::fold_case_into;
use crate::timestamp::hour_start;

/// The longest `--top` list: far more than anyone reads, and small enough
/// that a list never weighs on memory.
pub(crate) const MAX_TOP: u64 = 1 << 20;

/// What was asked: only what a query needs is kept per window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `--to_host`, case folded.
    pub to_host: Option<Vec<u8>>,
    /// `--from_host`, case folded.
    pub from_host: Option<Vec<u8>>,
    /// `--busiest_from_host`.
    pub busiest_from: bool,
    /// `--busiest_to_host`.
    pub busiest_to: bool,
    /// `--top`: how many hosts the busiest queries list (at least 1).
    pub top: usize,
}

impl Query {
    /// A query with hosts given as typed; their ASCII case is folded here the
    /// same way as hosts in the log. `busiest` asks `--busiest_from_host`, for
    /// the leader alone; see [`Self::with_busiest_to`] and [`Self::with_top`].
    pub fn new(to_host: Option<&str>, from_host: Option<&str>, busiest: bool) -> Self {
        Query {
            to_host: to_host.map(Query::host),
            from_host: from_host.map(Query::host),
            busiest_from: busiest,
            busiest_to: false,
            top: 1,
        }
    }

    /// A host as queries hold it: case folded, as every host is counted.
    pub(crate) fn host(host: &str) -> Vec<u8> {
        fold_case_into(host.as_bytes(), &mut Vec::new()).to_vec()
    }

    /// The same query, asking `--busiest_to_host` too when `ask`.
    pub fn with_busiest_to(self, ask: bool) -> Self {
        Query {
            busiest_to: ask,
            ..self
        }
    }

    /// The same query, listing the `top` busiest hosts (at least 1).
    pub fn with_top(self, top: usize) -> Self {
        Query {
            top: top.max(1),
            ..self
        }
    }

    /// Whether a busiest query (from or to) was asked.
    pub(crate) fn any_busiest(&self) -> bool {
        self.busiest_from || self.busiest_to
    }

    /// Whether no query was asked at all.
    pub fn is_empty(&self) -> bool {
        self.to_host.is_none() && self.from_host.is_none() && !self.any_busiest()
    }
}

/// Which lines count and how they are grouped into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filter {
    /// Inclusive lower bound, Unix milliseconds.
    pub init: Option<i64>,
    /// Exclusive upper bound, Unix milliseconds.
    pub end: Option<i64>,
    /// One window per UTC hour instead of one for the whole range.
    pub hourly: bool,
}

impl Filter {
    /// The key of the window a line at `ts` belongs to, or `None` when the line
    /// is outside the range.
    #[inline]
    pub fn window_of(&self, ts: i64) -> Option<i64> {
        if self.init.is_some_and(|i| ts < i) || self.end.is_some_and(|e| ts >= e) {
            return None;
        }
        Some(if self.hourly { hour_start(ts) } else { 0 })
    }
}

/// What per-window state answers the queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Hash sets and counts: exact, memory grows with distinct hosts.
    Exact,
    /// Sketches of these sizes: bounded memory.
    Approx(ApproxSettings),
}

/// Sketch sizes, derived once from `--memory_limit` and the finer knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApproxSettings {
    /// Space-Saving counters per window (`--top_k`).
    pub top_k: usize,
    /// HyperLogLog precision (`--hll_precision`).
    pub hll_precision: u8,
    /// Bloom filter bytes per list per window.
    pub bloom_bytes: usize,
    /// Hosts a list's filter is tuned for (its number of hashes follows).
    pub bloom_items: usize,
    /// First-seen hosts a list keeps in memory before spilling, in bytes.
    pub spill_buffer: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_of_respects_half_open_range() {
        let f = Filter {
            init: Some(1000),
            end: Some(2000),
            hourly: false,
        };
        assert_eq!(f.window_of(999), None);
        assert_eq!(f.window_of(1000), Some(0));
        assert_eq!(f.window_of(1999), Some(0));
        assert_eq!(f.window_of(2000), None);
        let h = Filter {
            hourly: true,
            ..Filter::default()
        };
        assert_eq!(h.window_of(3_600_000 * 5 + 7), Some(3_600_000 * 5));
    }
}
