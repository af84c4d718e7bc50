//! connspy answers "who is connecting to whom" over connection logs of lines
//! `TS FROM_HOST TO_HOST` (and Zeek, Suricata and VPC Flow Logs).
//!
//! The data flows input → parse → reduce → engine → sink → output:
//! [`input`] maps files (narrowed to a time range by [`input::seek`]), reads
//! streams in blocks and follows live files ([`input::follow`]), and hands all
//! of them out as groups of whole-line buffers, each with the line
//! [`input::format::Parser`] of its format, which turns each line into an
//! [`input::format::Record`]. [`reduce`] folds records into per-window state
//! built from parts, behind the [`reduce::Reducer`] trait; [`engine`] runs
//! that over parallel chunks, merges their states and closes windows behind
//! its watermark. Each closed window goes to an [`output::sink::Sink`], which
//! answers it ([`report::Report`]s, printed by [`output`]) or encodes it as a
//! partial line ([`partial`]) for a later `--merge`.
//!
//! [`run`] holds the drivers that tie a validated [`config::Config`] to a run:
//! a batch scan, tail mode, and `--merge`, which reads partial lines back into
//! window states and hands them to the same sink. [`query`] is what a run
//! asks, [`notes`] what it says besides its answers (malformed, skipped and
//! late lines), [`sketch`] the approximate mode's sketches and [`hosts`] the
//! exact mode's host tables. With the `gen` feature, `gen` writes realistic
//! logs for tests and benchmarks (the `connspy-gen` binary); without it the
//! library does not depend on `rand`.

pub mod cli;
pub mod config;
mod digits;
pub mod engine;
pub mod error;
pub mod escape;
#[cfg(feature = "gen")]
pub mod gen;
pub mod hash;
pub mod hosts;
pub mod input;
pub mod notes;
pub mod output;
pub mod partial;
pub mod progress;
pub mod query;
pub mod reduce;
pub mod report;
pub mod run;
pub mod signals;
pub mod sketch;
pub mod timestamp;

pub use error::{Error, Result};
