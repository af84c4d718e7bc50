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

/// A read-only memory map of a whole file.
pub struct MappedFile {
    /// `None` for an empty file, which cannot be mapped.
    map: Option<Mmap>,
}

impl MappedFile {
    /// Opens and maps `path`.
    ///
    /// # Errors
    /// [`Error::IsDirectory`] for a directory, [`Error::Open`] when the file cannot
    /// be opened or mapped.
    pub fn open(path: &Path) -> Result<Self> {
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
        if meta.len() == 0 {
            return Ok(MappedFile { map: None });
        }
        // SAFETY: the map is read-only and private. Batch mode assumes its input
        // files are not truncated while it runs (a shrinking mapped file would
        // raise SIGBUS); the followed file in tail mode is never mapped.
        let map = unsafe { Mmap::map(&file) }.map_err(open_err)?;
        // Chunks are read front to back; read-ahead helps, and failing to set
        // it is harmless.
        let _ = map.advise(Advice::Sequential);
        Ok(MappedFile { map: Some(map) })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Drops the resident pages wholly inside `range`, so that resident memory
    /// does not grow with the file once its chunks are processed.
    pub fn release(&self, range: Range<usize>) {
        let Some(map) = &self.map else { return };
        let page = page_size();
        let start = range.start.div_ceil(page) * page;
        let end = range.end / page * page;
        if end > start {
            // SAFETY: the mapping is private and read-only, so DONTNEED cannot
            // discard data: a page touched again is read back from the file.
            // No chunk reads bytes outside its own range after this call.
            let _ = unsafe {
                map.unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }
}

fn page_size() -> usize {
    // 4 KiB is the smallest page on every platform memmap2 supports; aligning
    // to it is always valid, if less effective on larger pages.
    4096
}

/// Cuts `range` of `data` into pieces of about `chunk_size` bytes, each ending
/// just after a `\n` (or at the end of the range).
pub fn split_lines(data: &[u8], range: Range<usize>, chunk_size: usize) -> Vec<Range<usize>> {
    let chunk_size = chunk_size.max(1);
    let mut out = Vec::with_capacity((range.end - range.start) / chunk_size + 1);
    let mut start = range.start;
    while start < range.end {
        let target = start.saturating_add(chunk_size);
        let end = if target >= range.end {
            range.end
        } else {
            memchr(b'\n', &data[target..range.end]).map_or(range.end, |i| target + i + 1)
        };
        out.push(start..end);
        start = end;
    }
    out
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

    /// The next block, ending with `\n` unless it is the last one; `None` at the end.
    ///
    /// # Errors
    /// The reader's error.
    pub fn next_block(&mut self) -> io::Result<Option<Vec<u8>>> {
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
            block.truncate(filled + n);
            if n == 0 {
                self.eof = true;
                return Ok((!block.is_empty()).then_some(block));
            }
            if block.len() >= self.block_size {
                if let Some(last_nl) = memrchr(b'\n', &block) {
                    self.carry = block[last_nl + 1..].to_vec();
                    block.truncate(last_nl + 1);
                    return Ok(Some(block));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_after_newlines_and_cover_the_range() {
        let data = b"aa\nbbbb\nc\n\ndddd";
        for size in 1..20 {
            let chunks = split_lines(data, 0..data.len(), size);
            assert_eq!(chunks.first().unwrap().start, 0);
            assert_eq!(chunks.last().unwrap().end, data.len());
            for w in chunks.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(data[w[0].end - 1], b'\n');
            }
        }
        assert!(split_lines(data, 3..3, 4).is_empty());
    }

    #[test]
    fn blocks_hold_whole_lines() {
        let text = b"one\ntwo\nthree\nfour\nfive";
        for size in 1..30 {
            let mut r = BlockReader::new(&text[..], size);
            let mut all = Vec::new();
            while let Some(b) = r.next_block().unwrap() {
                if all.len() + b.len() < text.len() {
                    assert_eq!(b.last(), Some(&b'\n'));
                }
                all.extend_from_slice(&b);
            }
            assert_eq!(all, text);
        }
    }
}
