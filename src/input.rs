//! Where bytes come from: memory-mapped files, standard input in blocks, and the
//! cutting of both into chunks that end at line boundaries.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use memchr::{memchr, memrchr};
use memmap2::{Advice, Mmap, UncheckedAdvice};

use crate::error::{Error, Result};

/// One input as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (no file, or `-`).
    Stdin,
    /// A file to map.
    File(PathBuf),
}

impl Input {
    /// The name used in messages.
    pub fn display_path(&self) -> &Path {
        match self {
            Input::Stdin => Path::new("<stdin>"),
            Input::File(p) => p,
        }
    }
}

/// An opened input, read the way that suits it.
pub enum Source {
    /// A regular file, memory-mapped.
    Mapped(MappedFile),
    /// Standard input, a pipe, a FIFO or a device: read in blocks.
    Stream(Box<dyn Read + Send>),
}

impl Source {
    /// Opens `input`.
    ///
    /// # Errors
    /// [`Error::IsDirectory`] for a directory, [`Error::Open`] when the input
    /// cannot be opened or mapped.
    pub fn open(input: &Input) -> Result<Self> {
        let path = match input {
            Input::Stdin => return Ok(Source::Stream(Box::new(io::stdin()))),
            Input::File(path) => path,
        };
        let open_err = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        if meta.is_dir() {
            return Err(Error::IsDirectory {
                path: path.to_owned(),
            });
        }
        if !meta.is_file() {
            // A pipe reports size 0 and cannot be mapped; its bytes come as read.
            return Ok(Source::Stream(Box::new(file)));
        }
        if meta.len() == 0 {
            return Ok(Source::Mapped(MappedFile { map: None }));
        }
        // SAFETY: the map is read-only and private. Batch mode assumes its input
        // files are not truncated while it runs (a shrinking mapped file would
        // raise SIGBUS); the followed file in tail mode is never mapped.
        let map = unsafe { Mmap::map(&file) }.map_err(open_err)?;
        // Chunks are read front to back; read-ahead helps, and failing to set
        // it is harmless.
        let _ = map.advise(Advice::Sequential);
        Ok(Source::Mapped(MappedFile { map: Some(map) }))
    }
}

/// A read-only memory map of a whole regular file.
pub struct MappedFile {
    /// `None` for an empty file, which cannot be mapped.
    map: Option<Mmap>,
}

impl MappedFile {
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

/// Reads a stream in blocks of whole lines.
pub struct BlockReader<R> {
    reader: R,
    block_size: usize,
    /// The start of a line that the previous block cut.
    carry: Vec<u8>,
    eof: bool,
}

impl<R: Read> BlockReader<R> {
    /// Blocks of about `block_size` bytes (more when a line is longer).
    pub fn new(reader: R, block_size: usize) -> Self {
        BlockReader {
            reader,
            block_size: block_size.max(1),
            carry: Vec::new(),
            eof: false,
        }
    }

    /// The next block, ending with `\n` unless it is the last one, and whether
    /// it is full: `false` when the reader had no more bytes for now (a pipe
    /// whose writer is slower than us), so the caller need not wait for more
    /// before parsing it. `None` at the end.
    ///
    /// # Errors
    /// The reader's error.
    pub fn next_block(&mut self) -> io::Result<Option<(Vec<u8>, bool)>> {
        if self.eof {
            return Ok(None);
        }
        let mut block = std::mem::take(&mut self.carry);
        block.reserve(self.block_size);
        loop {
            let filled = block.len();
            let want = (filled + self.block_size).max(block.capacity());
            block.resize(want, 0);
            let n = match self.reader.read(&mut block[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => return Err(e),
            };
            let short = filled + n < want;
            block.truncate(filled + n);
            if n == 0 {
                self.eof = true;
                return Ok((!block.is_empty()).then_some((block, false)));
            }
            if block.len() >= self.block_size || short {
                if let Some(last_nl) = memrchr(b'\n', &block) {
                    self.carry = block[last_nl + 1..].to_vec();
                    block.truncate(last_nl + 1);
                    return Ok(Some((block, !short)));
                }
            }
        }
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
            assert_eq!(aligned.first().unwrap().start, 3);
            assert_eq!(aligned.last().unwrap().end, data.len());
            for w in aligned.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert!(w[0].end == data.len() || data[w[0].end - 1] == b'\n');
            }
        }
        assert!(nominal_chunks(3..3, 4).is_empty());
    }

    #[test]
    fn blocks_hold_whole_lines() {
        let text = b"one\ntwo\nthree\nfour\nfive";
        for size in 1..30 {
            let mut r = BlockReader::new(&text[..], size);
            let mut all = Vec::new();
            while let Some((b, _)) = r.next_block().unwrap() {
                if all.len() + b.len() < text.len() {
                    assert_eq!(b.last(), Some(&b'\n'));
                }
                all.extend_from_slice(&b);
            }
            assert_eq!(all, text);
        }
    }
}
