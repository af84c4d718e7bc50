//! connspy answers "who is connecting to whom" over connection logs of lines
//! `TS FROM_HOST TO_HOST`.
//!
//! The data flows input → parse → reduce → merge → output:
//! [`input`] maps files (or reads standard input in blocks) and cuts them into
//! chunks at line boundaries, [`seek`] narrows mapped files to a time range,
//! [`parse`] turns each line into a [`parse::Record`], [`reduce`] folds records
//! into per-window state, [`engine`] runs all of that in parallel and merges
//! the partial states, and [`output`] prints the [`report::Report`]s.
//! [`sketch`] holds the approximate mode's sketches, [`follow`] and [`tail`]
//! follow a live log. [`app`] ties a validated [`config::Config`] to a run;
//! [`gen`] writes realistic logs for tests and benchmarks.

pub mod app;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod follow;
pub mod gen;
pub mod hash;
pub mod input;
pub mod output;
pub mod parse;
pub mod progress;
pub mod reduce;
pub mod report;
pub mod seek;
pub mod signals;
pub mod sketch;
pub mod tail;
pub mod timestamp;

pub use error::{Error, Result};
