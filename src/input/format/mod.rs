//! Log formats: the line parser in force for each buffer of an input.
//!
//! Every buffer the input layer hands out carries a [`Parser`]: the parser in
//! force at the buffer's start. The engine looks at it once per chunk and runs
//! a chunk loop monomorphised for that format's [`LineParser`], so the default
//! format pays nothing for the choice.

mod connspy;

pub use connspy::ConnspyLines;

use crate::parse::{LineError, Record};

/// The per-file line parser in force at the start of a buffer.
///
/// Cheap to clone (a format whose state is large keeps it behind an `Arc`):
/// the input layer clones it into every buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Parser {
    /// connspy's own `TS FROM TO` lines ([`crate::parse`]).
    #[default]
    Connspy,
}

impl Parser {
    /// The parser in force after `block` (whole lines that this parser starts
    /// reading), when `block` changes it; `None` when it stays.
    ///
    /// This is the hook for formats whose state changes mid-file, such as a
    /// Zeek TSV header block in the middle of concatenated logs: a sequential
    /// reader (stream, decompressed or followed blocks) calls it on each block
    /// before cutting the next, so the next block carries the parser in force
    /// at its start and blocks can still be parsed in parallel. connspy's own
    /// format has no state, so nothing is scanned.
    #[inline]
    pub fn after(&self, _block: &[u8]) -> Option<Parser> {
        match self {
            Parser::Connspy => None,
        }
    }
}

/// Reads the lines of a buffer of whole lines, one at a time.
///
/// The engine's chunk loop is generic over this trait, so each format gets a
/// loop of its own with the per-line call inlined.
pub trait LineParser {
    /// Parses the line starting at `pos` in `data` (a buffer of whole lines)
    /// and returns its outcome (`Ok(None)`: a line that is read but not
    /// counted, such as a blank line) and the start of the next line.
    fn next_line<'d>(
        &'d mut self,
        data: &'d [u8],
        pos: usize,
    ) -> (Result<Option<Record<'d>>, LineError>, usize);
}
