//! The answers for one window, as every output format sees them.

/// Hosts listed by `--to_host` or `--from_host` in one window.
#[derive(Debug, Clone, PartialEq)]
pub struct HostList {
    /// The queried host, case folded.
    pub host: String,
    /// The distinct hosts, sorted ascending by bytes.
    pub hosts: Vec<String>,
    /// How many distinct hosts qualified: `hosts.len()` in exact mode, a
    /// HyperLogLog estimate in approximate mode.
    pub distinct: u64,
    /// Approximate mode: the estimated probability that a qualifying host was
    /// dropped by a bloom filter false positive.
    pub missed_rate: Option<f64>,
}

/// The answer to `--busiest_from_host` in a window that holds at least one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Busiest {
    /// The host that initiated the most connections (smallest name among equals).
    pub host: String,
    /// How many connections it initiated (an overestimate in approximate mode).
    pub connections: u64,
    /// Approximate mode: the most by which `connections` may exceed the truth.
    pub error: Option<u64>,
    /// How many other hosts initiated as many.
    pub tied: u64,
    /// How many distinct hosts initiated connections (an estimate in
    /// approximate mode).
    pub initiators: u64,
}

/// Everything connspy answers for one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    /// Counted lines: well formed and inside the time range.
    pub lines: u64,
    /// Present when `--to_host` was asked.
    pub to_host: Option<HostList>,
    /// Present when `--from_host` was asked.
    pub from_host: Option<HostList>,
    /// Present when `--busiest_from_host` was asked; `None` inside for a window
    /// without lines.
    pub busiest: Option<Option<Busiest>>,
    /// Whether the answers come from sketches.
    pub approximate: bool,
}

/// One window's answer with its bounds.
#[derive(Debug, Clone, PartialEq)]
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
