//! connspy answers "who is connecting to whom" over connection logs of lines
//! `TS FROM_HOST TO_HOST`.
//!
//! The data flows input → parse → reduce → merge → output:
//! [`input`] maps files (narrowed to a time range by [`input::seek`]), reads
//! streams in blocks and follows live files, and hands all of them out as
//! groups of whole-line buffers, each with the line parser of its format;
//! [`parse`] turns each line into a [`parse::Record`], [`reduce`] folds records
//! into per-window state, [`engine`] runs all of that in parallel and merges
//! the partial states, and [`output`] prints the [`report::Report`]s.
//! [`sketch`] holds the approximate mode's sketches, [`tail`] follows a live
//! log ([`input::follow`] reads it). [`app`] ties a validated [`config::Config`] to a run.
//! With the `gen` feature, `gen` writes realistic logs for tests and
//! benchmarks (the `connspy-gen` binary); without it the library does not
//! depend on `rand`.

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
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
