//! Writing what a run finds: closed windows go to a [`sink::Sink`], which
//! answers them in text, JSON or TSV (one window at a time, flushed, so a
//! reader of the pipe sees each window as soon as it is final) or encodes
//! them as partial lines.

mod json;
pub mod sink;
mod text;
mod tsv;

use std::io::{self, Write};

use crate::query::Query;
use crate::report::Report;

/// The output format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// For people and simple pipes.
    #[default]
    Text,
    /// JSON Lines, one object per window: the machine contract.
    Json,
    /// `start<TAB>query<TAB>host<TAB>value` rows, one per fact.
    Tsv,
    /// Each window's mergeable state, for `--merge` (docs/partial.md).
    Partial,
}

/// A host's share of a window's sum of the measure: its connections of the
/// window's lines, or its bytes or packets of the window's (0 when the
/// window's sum is 0).
fn share(value: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        value as f64 / total as f64
    }
}

/// Writes reports in one format.
pub(crate) struct Writer<W: Write> {
    out: W,
    format: Format,
    /// Text only: print bare hosts, one per line, as the original tool did.
    bare_hosts: bool,
    /// Text only: busiest answers as tables (`--top` above 1).
    top_table: bool,
}

impl<W: Write> Writer<W> {
    /// A writer for the answers to `query`, one window per report or hourly.
    pub fn new(out: W, format: Format, query: &Query, binned: bool) -> Self {
        let lists = usize::from(query.to_host.is_some()) + usize::from(query.from_host.is_some());
        Writer {
            out,
            format,
            bare_hosts: !binned && lists == 1 && !query.any_busiest(),
            top_table: query.top > 1,
        }
    }

    /// Writes one window and flushes it.
    ///
    /// # Errors
    /// The underlying writer's error.
    pub fn write(&mut self, report: &Report) -> io::Result<()> {
        match self.format {
            Format::Json => json::write(&mut self.out, report)?,
            Format::Tsv => tsv::write(&mut self.out, report)?,
            Format::Text if self.bare_hosts => text::write_bare(&mut self.out, report)?,
            Format::Text => text::write(&mut self.out, report, self.top_table)?,
            // States, not answers: the `Partials` sink writes them before
            // they become reports.
            Format::Partial => {
                return Err(io::Error::other(
                    "partial output is written from window states, not reports",
                ))
            }
        }
        self.out.flush()
    }
}
