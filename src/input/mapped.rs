//! Regular files, memory-mapped: cut into chunks that the workers align to
//! line boundaries themselves, narrowed to a time range by [`super::seek`],
//! and released from memory once parsed.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memchr::memchr;
use memmap2::{Advice, Mmap, UncheckedAdvice};

use super::format::{FormatChoice, Parser, ParserMap};
use super::line_limit::from_first_usable_line;
use super::seek::seek;
use super::sigbus::Guard;
use super::{Batching, Chunks, Group, TimeRange};
use crate::error::{Error, Result};

/// A read-only memory map of a whole regular file.
pub(crate) struct MappedFile {
    /// Declared before `map`: it must leave the SIGBUS registry before the
    /// mapping goes.
    guard: Option<Guard>,
    /// `None` for an empty file, which cannot be mapped.
    map: Option<Mmap>,
    /// Kept open to see, after each group, whether the file shrank.
    file: Option<File>,
    len: u64,
    path: PathBuf,
}

impl MappedFile {
    /// Maps `file` (a regular file of `len` bytes) opened from `path`.
    ///
    /// # Errors
    /// [`Error::Open`] when the file cannot be mapped.
    pub fn map(file: &File, len: u64, path: &Path) -> Result<Self> {
        if len == 0 {
            return Ok(MappedFile {
                guard: None,
                map: None,
                file: None,
                len,
                path: path.to_owned(),
            });
        }
        let open_err = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        // SAFETY: the map is read-only and private. A file that shrinks while
        // it is read raises SIGBUS on the pages past its new end: the guard's
        // handler maps zeros there and flags the file, and `read` ends with
        // an error instead of an answer (see `super::sigbus`). The followed
        // file in tail mode is never mapped.
        let map = unsafe { Mmap::map(file) }.map_err(open_err)?;
        // Chunks are read front to back; read-ahead helps, and failing to set
        // it is harmless.
        let _ = map.advise(Advice::Sequential);
        Ok(MappedFile {
            guard: Guard::new(&map),
            map: Some(map),
            file: Some(file.try_clone().map_err(open_err)?),
            len,
            path: path.to_owned(),
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Whether the file shrank since it was mapped, or a read past its new
    /// end was caught: what the mapping shows is no longer the file.
    pub fn changed(&self) -> bool {
        if self.guard.as_ref().is_some_and(Guard::lost) {
            return true;
        }
        // Growing is fine (a live log appended to): the mapped bytes stay.
        self.file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .is_some_and(|m| m.len() < self.len)
    }

    /// Whether the SIGBUS handler already replaced part of the mapping with
    /// zeros: nothing more of it is worth parsing.
    pub(super) fn lost(&self) -> bool {
        self.guard.as_ref().is_some_and(Guard::lost)
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

    /// The parser in force at every offset of the file, `parser` at its
    /// start: one pass for Zeek and VPC header lines, nothing for other
    /// formats. The pass reads every page, and lets them go again (each
    /// searched segment of a Zeek file, a VPC file whole at the end), or
    /// resident memory would grow to the file's size.
    pub(super) fn parser_map(&self, parser: &Parser) -> ParserMap {
        let data = self.bytes();
        let parsers = parser.map(data, &|searched| self.release(searched));
        if matches!(parser, Parser::Vpc(_)) {
            self.release(0..data.len());
        }
        parsers
    }

    /// Hands the chunks of the file (of `range` of it, when a time range is
    /// sought) to `each` in groups, in file order, until `each` returns `false`.
    ///
    /// # Errors
    /// `each`'s error.
    pub(super) fn read(
        &self,
        choice: &FormatChoice,
        batching: &Batching,
        time: Option<&TimeRange>,
        each: &mut super::Each<'_>,
    ) -> Result<()> {
        let data = self.bytes();
        let parser = choice.parser_for(from_first_usable_line(data, batching.max_line));
        let seek_to = time.filter(|t| t.late_formats || parser.lateness_ms().is_none());
        let parsers = if seek_to.is_none() && batching.mapped_group.is_none() {
            // The whole file is parsed as one group, which the engine checks
            // afterwards against the header lines its chunks met (see
            // `Group::parsers_hold`): the leading ones are enough to start.
            parser.leading_map(data)
        } else {
            self.parser_map(&parser)
        };
        let range = match seek_to {
            Some(t) => seek(data, t.init, t.end, t.late_ms, &parsers),
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
                    parsers: &parsers,
                    max_line: batching.max_line,
                },
                skipped: &data[..range.start],
                skipped_bytes: std::mem::take(&mut skipped_bytes),
            };
            let go = each(group)?;
            if self.changed() {
                return Err(Error::Changed {
                    path: self.path.clone(),
                });
            }
            if !go {
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
pub(crate) fn nominal_chunks(range: Range<usize>, chunk_size: usize) -> Vec<Range<usize>> {
    let chunk_size = chunk_size.max(1);
    (range.start..range.end)
        .step_by(chunk_size)
        .map(|start| start..start.saturating_add(chunk_size).min(range.end))
        .collect()
}

/// The lines of `data[whole]` that start inside `nominal`.
///
/// `whole` must start at a line start. Every line belongs to exactly one
/// piece: the non-empty aligned ranges of neighbouring pieces are neighbours.
/// A piece in which no line starts (inside a line longer than a chunk) is
/// empty, and is found so by searching the piece alone: only the piece where
/// a long line starts searches to its end, so a line costs time linear in its
/// length whatever the chunk size.
pub(crate) fn align_to_lines(
    data: &[u8],
    whole: &Range<usize>,
    nominal: &Range<usize>,
) -> Range<usize> {
    let line_start_from = |pos: usize, limit: usize| {
        if pos <= whole.start {
            Some(whole.start)
        } else if pos >= whole.end {
            Some(whole.end)
        } else {
            match memchr(b'\n', &data[pos - 1..limit]) {
                Some(i) => Some(pos + i),
                None if limit == whole.end => Some(whole.end),
                None => None,
            }
        }
    };
    let search_end = nominal.end.min(whole.end);
    match line_start_from(nominal.start, search_end.max(nominal.start)) {
        Some(start) if start < nominal.end || nominal.end >= whole.end => {
            let end = line_start_from(nominal.end, whole.end).unwrap_or(whole.end);
            start..end.max(start)
        }
        // No line starts in this piece.
        _ => nominal.end..nominal.end,
    }
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
            let aligned: Vec<_> = aligned.into_iter().filter(|r| !r.is_empty()).collect();
            assert_eq!(aligned.first().unwrap().start, 3);
            assert_eq!(aligned.last().unwrap().end, data.len());
            for w in aligned.windows(2) {
                assert_eq!(w[0].end, w[1].start, "size {size}");
                assert!(w[0].end == data.len() || data[w[0].end - 1] == b'\n');
            }
        }
        assert!(nominal_chunks(3..3, 4).is_empty());
    }
}
