//! connspy's own format, `TS FROM_HOST TO_HOST`: parsed by [`crate::parse`].

use super::LineParser;
use crate::parse::{next_line, LineError, Record};

/// The [`LineParser`] of connspy's own format: stateless.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnspyLines;

impl LineParser for ConnspyLines {
    #[inline(always)]
    fn next_line<'d>(
        &'d mut self,
        data: &'d [u8],
        pos: usize,
    ) -> (Result<Option<Record<'d>>, LineError>, usize) {
        next_line(data, pos)
    }
}
