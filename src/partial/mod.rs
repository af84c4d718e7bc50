//! Partials: a window's mergeable state as text lines, so that connspy can be
//! the per-node step of Spark, Hadoop streaming or a plain `xargs` fan-out.
//!
//! `--format partial` writes, instead of answers, each window's state
//! ([`line`] says how a line is laid out, [`Params`] what a line carries about
//! the run); `--merge` ([`merge`]) reads any number of such lines back, folds
//! each window's states with the reducer's own merge and prints the answers.
//! Every line stands alone (a shuffle moves lines, not files), and
//! `docs/partial.md` is the format's contract.

pub(crate) mod codec;
mod line;
pub mod merge;
mod params;
mod write;

pub use codec::DecodeError;
#[cfg(test)]
pub(crate) use line::read_back;
pub use line::{Body, BodyIn};
pub(crate) use params::Params;
pub(crate) use write::{Stamp, Writer};

/// The format name and version every line carries.
pub(crate) const FORMAT: &str = "connspy-partial/1";

/// The window key of the whole-range window (a run without `--hourly`).
pub(crate) const RANGE_KEY: &str = "range";

/// The key of a run's summary line: its malformed and skipped lines.
pub(crate) const SUMMARY_KEY: &str = "summary";
