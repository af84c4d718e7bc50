//! Regular files, memory-mapped: cut into chunks that the workers align to
//! line boundaries themselves, narrowed to a time range by [`super::seek`],
//! and released from memory once parsed.

use std::fs::File;
use std::ops::Range;
use std::path::Path;

use memchr::memchr;
use memmap2::{Advice, Mmap, UncheckedAdvice};

use super::format::Parser;
use super::seek::seek;
use super::{Batching, Chunks, Group, TimeRange};
use crate::error::{Error, Result};

/// A read-only memory map of a whole regular file.
pub struct MappedFile {
    /// `None` for an empty file, which cannot be mapped.
    map: Option<Mmap>,
}

impl MappedFile {
    /// Maps `file` (a regular file of `len` bytes) opened from `path`.
    ///
    /// # Errors
    /// [`Error::Open`] when the file cannot be mapped.
    pub fn map(file: &File, len: u64, path: &Path) -> Result<Self> {
        if len == 0 {
            return Ok(MappedFile { map: None });
        }
        // SAFETY: the map is read-only and private. Batch mode assumes its input
        // files are not truncated while it runs (a shrinking mapped file would
        // raise SIGBUS); the followed file in tail mode is never mapped.
        let map = unsafe { Mmap::map(file) }.map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        // Chunks are read front to back; read-ahead helps, and failing to set
        // it is harmless.
        let _ = map.advise(Advice::Sequential);
        Ok(MappedFile { map: Some(map) })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Drops the resident pages that hold `range`, so that resident memory does
    /// not grow with the file once its chunks are processed.
    ///
    /// The release reaches [`FOLIO_SLACK`] further back than `range`: the page
    /// cache may hold the file in large folios (up to 2 MiB), and a fault maps
    /// a whole folio, so reading this chunk's first line mapped the end of the
    /// previous chunk's folio again after that chunk had released it. Without
    /// the slack, a 4 GB scan kept over 600 MB mapped.
    pub fn release(&self, range: Range<usize>) {
        let Some(map) = &self.map else { return };
        let start = range.start.saturating_sub(FOLIO_SLACK) / PAGE * PAGE;
        let end = range.end.div_ceil(PAGE).saturating_mul(PAGE).min(map.len());
        if end > start {
            // SAFETY: the mapping is private and read-only, so DONTNEED cannot
            // discard data: a page touched again (the boundary pages that a
            // neighbouring chunk still reads) is simply read back from the
            // page cache.
            let _ = unsafe {
                map.unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }

    /// Hands the chunks of the file (of `range` of it, when a time range is
    /// sought) to `each` in groups, in file order, until `each` returns `false`.
    ///
    /// # Errors
    /// `each`'s error.
    pub(super) fn read(
        &self,
        parser: &Parser,
        batching: &Batching,
        time: Option<&TimeRange>,
        each: &mut super::Each<'_>,
    ) -> Result<()> {
        let data = self.bytes();
        let range = match time {
            Some(t) => seek(data, t.init, t.end, t.late_ms),
            None => 0..data.len(),
        };
        let pieces = nominal_chunks(range.clone(), batching.chunk_size);
        let group_len = batching.mapped_group.unwrap_or(usize::MAX).max(1);
        let mut skipped_bytes = (data.len() - range.len()) as u64;
        // A range the seek found empty still reports the skipped bytes as read.
        let groups = pieces.chunks(group_len);
        let groups = (pieces.is_empty() && skipped_bytes > 0)
            .then_some(&[][..])
            .into_iter()
            .chain(groups);
        for group_pieces in groups {
            let group = Group {
                chunks: Chunks::Mapped {
                    map: self,
                    range: range.clone(),
                    pieces: group_pieces,
                    parser,
                },
                skipped: &data[..range.start],
                skipped_bytes: std::mem::take(&mut skipped_bytes),
            };
            if !each(group)? {
                break;
            }
        }
        Ok(())
    }
}

/// The largest folio the page cache may map with one fault.
const FOLIO_SLACK: usize = 2 << 20;

/// 4 KiB is the smallest page on every platform memmap2 supports; madvise
/// rounds a range to whole pages itself, so a larger real page only means a
/// little more or less is released.
const PAGE: usize = 4096;

/// Cuts `range` into pieces of `chunk_size` bytes, not yet aligned to lines.
///
/// Aligning is left to [`align_to_lines`] in the worker that parses the piece:
/// looking for line ends here would touch a page of every chunk up front, and
/// the kernel's read-around would keep much of the file resident until each
/// chunk's turn came.
pub fn nominal_chunks(range: Range<usize>, chunk_size: usize) -> Vec<Range<usize>> {
    let chunk_size = chunk_size.max(1);
    (range.start..range.end)
        .step_by(chunk_size)
        .map(|start| start..start.saturating_add(chunk_size).min(range.end))
        .collect()
}

/// The lines of `data[whole]` that start inside `nominal`.
///
/// `whole` must start at a line start. Neighbouring nominal pieces give
/// neighbouring aligned ranges, so every line belongs to exactly one piece.
pub fn align_to_lines(data: &[u8], whole: &Range<usize>, nominal: &Range<usize>) -> Range<usize> {
    let line_start_from = |pos: usize| {
        if pos <= whole.start {
            whole.start
        } else if pos >= whole.end {
            whole.end
        } else {
            memchr(b'\n', &data[pos - 1..whole.end]).map_or(whole.end, |i| pos + i)
        }
    };
    line_start_from(nominal.start)..line_start_from(nominal.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_chunks_tile_the_range_at_line_starts() {
        let data = b"xx\naa\nbbbb\nc\n\ndddd";
        let whole = 3..data.len();
        for size in 1..20 {
            let aligned: Vec<_> = nominal_chunks(whole.clone(), size)
                .iter()
                .map(|n| align_to_lines(data, &whole, n))
                .collect();
            assert_eq!(aligned.first().unwrap().start, 3);
            assert_eq!(aligned.last().unwrap().end, data.len());
            for w in aligned.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert!(w[0].end == data.len() || data[w[0].end - 1] == b'\n');
            }
        }
        assert!(nominal_chunks(3..3, 4).is_empty());
    }
}
