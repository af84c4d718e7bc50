//! The partial line format: a window's mergeable state as one text line, so
//! that connspy can be the per-node step of Spark, Hadoop streaming or a
//! plain `xargs` fan-out.
//!
//! [`line`] lays a line out and checks it, [`codec`] packs a state's fields,
//! [`Params`] is what a line carries about the run, and [`Stamp`] makes the
//! lines of one run. `--format partial` writes them (the partial sink of
//! `output::sink`) and `--merge` reads them (`run::merge`). Every line stands
//! alone (a shuffle moves lines, not files), and `docs/partial.md` is the
//! format's contract.

pub(crate) mod codec;
mod line;
mod params;
mod stamp;

pub use codec::DecodeError;
#[cfg(test)]
pub(crate) use line::read_back;
pub(crate) use line::{parse, Parsed};
pub use line::{Body, BodyIn};
pub(crate) use params::{digest, Params};
pub(crate) use stamp::{window_key, Stamp};

/// The format name and version every line carries.
pub(crate) const FORMAT: &str = "connspy-partial/1";

/// The window key of the whole-range window (a run without `--hourly`).
pub(crate) const RANGE_KEY: &str = "range";

/// The key of a run's summary line: its malformed and skipped lines.
pub(crate) const SUMMARY_KEY: &str = "summary";
