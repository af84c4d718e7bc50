//! An external sort of hosts: sorted runs written to an anonymous temporary
//! file, each a sequence of (LEB128 length, bytes) records, read back one
//! host at a time and merged k ways with an in-memory buffer. A list of tens
//! of millions of hosts costs disk, not memory.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

/// Write buffer of a spill, and read buffer when a merge replays runs.
pub(super) const IO_BUF: usize = 64 << 10;

/// Bounds of one run's read buffer in the final k-way merge.
pub(super) const MIN_RUN_BUF: usize = 4 << 10;
const MAX_RUN_BUF: usize = 1 << 20;

/// The temporary file of sorted runs, each a sequence of (LEB128 length,
/// bytes) records.
pub(super) struct Spill {
    file: File,
    runs: Vec<Run>,
    end: u64,
}

/// Where one sorted run lies in the spill file.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    len: u64,
}

impl Spill {
    /// An empty spill in a new anonymous temporary file.
    pub(super) fn new() -> io::Result<Spill> {
        Ok(Spill {
            file: tempfile::tempfile()?,
            runs: Vec::new(),
            end: 0,
        })
    }

    /// How many runs it holds.
    pub(super) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The memory its index of runs takes.
    #[cfg(test)]
    pub(super) fn memory_bytes(&self) -> usize {
        self.runs.capacity() * std::mem::size_of::<Run>()
    }

    /// Appends `hosts`, which must be sorted ascending, as one run.
    pub(super) fn write_run<'h>(
        &mut self,
        hosts: impl Iterator<Item = &'h [u8]>,
    ) -> io::Result<()> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(self.end))?;
        let mut out = BufWriter::with_capacity(IO_BUF, file);
        let mut len = 0u64;
        let mut prefix = [0u8; 5];
        for host in hosts {
            let n = leb128(host.len() as u32, &mut prefix);
            out.write_all(&prefix[..n])?;
            out.write_all(host)?;
            len += (n + host.len()) as u64;
        }
        out.flush()?;
        self.runs.push(Run {
            start: self.end,
            len,
        });
        self.end += len;
        Ok(())
    }

    /// Calls `f` with every host of every run, runs in the order written.
    pub(super) fn replay(self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut runs = RunReader::new(Arc::new(self.file), 0, self.end, IO_BUF);
        let mut host = Vec::new();
        while runs.next_into(&mut host)? {
            f(&host)?;
        }
        Ok(())
    }
}

#[inline]
pub(super) fn span(buffer: &[u8], (off, len): (u32, u32)) -> &[u8] {
    &buffer[off as usize..off as usize + len as usize]
}

/// Writes `n` as LEB128 into `out`, returning the byte count.
fn leb128(mut n: u32, out: &mut [u8; 5]) -> usize {
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out[i] = byte;
            return i + 1;
        }
        out[i] = byte | 0x80;
        i += 1;
    }
}

/// Reads the records of one stretch of the spill file through its own
/// buffer, seeking before every refill, so several readers can share the
/// file.
struct RunReader {
    file: Arc<File>,
    pos: u64,
    remaining: u64,
    buf: Vec<u8>,
    lo: usize,
    hi: usize,
}

impl RunReader {
    fn new(file: Arc<File>, start: u64, len: u64, buf_size: usize) -> Self {
        let size = buf_size
            .min(usize::try_from(len).unwrap_or(usize::MAX))
            .max(1);
        RunReader {
            file,
            pos: start,
            remaining: len,
            buf: vec![0; size],
            lo: 0,
            hi: 0,
        }
    }

    /// Refills the buffer; false at the end of the stretch.
    fn fill(&mut self) -> io::Result<bool> {
        if self.remaining == 0 {
            return Ok(false);
        }
        let n = self
            .buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let mut file = &*self.file;
        file.seek(SeekFrom::Start(self.pos))?;
        file.read_exact(&mut self.buf[..n])?;
        self.pos += n as u64;
        self.remaining -= n as u64;
        self.lo = 0;
        self.hi = n;
        Ok(true)
    }

    fn byte(&mut self) -> io::Result<u8> {
        if self.lo == self.hi && !self.fill()? {
            return Err(truncated());
        }
        self.lo += 1;
        Ok(self.buf[self.lo - 1])
    }

    /// Reads the next host into `out`; false at the end of the stretch.
    fn next_into(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        if self.lo == self.hi && !self.fill()? {
            return Ok(false);
        }
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            len |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return Err(truncated());
            }
        }
        out.clear();
        while out.len() < len {
            if self.lo == self.hi && !self.fill()? {
                return Err(truncated());
            }
            let take = (self.hi - self.lo).min(len - out.len());
            out.extend_from_slice(&self.buf[self.lo..self.lo + take]);
            self.lo += take;
        }
        Ok(true)
    }
}

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "spilled host list truncated in its temporary file",
    )
}

/// One sorted input of the final merge and its current host.
struct Source {
    kind: SourceKind,
    current: Vec<u8>,
}

enum SourceKind {
    Run(RunReader),
    Buffer {
        buffer: Vec<u8>,
        spans: Vec<(u32, u32)>,
        next: usize,
    },
}

impl Source {
    /// Loads the next host into `current`; false when exhausted.
    fn advance(&mut self) -> io::Result<bool> {
        match &mut self.kind {
            SourceKind::Run(reader) => reader.next_into(&mut self.current),
            SourceKind::Buffer {
                buffer,
                spans,
                next,
            } => match spans.get(*next) {
                Some(&s) => {
                    *next += 1;
                    self.current.clear();
                    self.current.extend_from_slice(span(buffer, s));
                    Ok(true)
                }
                None => Ok(false),
            },
        }
    }
}

/// Hosts in ascending byte order: a bloom list's, from
/// [`BloomList::into_sorted`](super::BloomList::into_sorted).
pub struct SortedHosts {
    sources: Vec<Source>,
    /// Indices of live sources, a min-heap on their current host.
    heap: Vec<usize>,
    failed: bool,
}

impl SortedHosts {
    /// The hosts of `spill`'s runs and of `buffer` (at `spans`, sorted
    /// ascending) in one ascending sequence; the runs' read buffers share
    /// about `buffer_limit` bytes.
    ///
    /// # Errors
    /// If reading the first host of a run fails.
    pub(super) fn new(
        spill: Option<Spill>,
        buffer: Vec<u8>,
        spans: Vec<(u32, u32)>,
        buffer_limit: usize,
    ) -> io::Result<SortedHosts> {
        let mut sources = Vec::new();
        if let Some(spill) = spill {
            let file = Arc::new(spill.file);
            let per_run = (buffer_limit / (spill.runs.len() + 1)).clamp(MIN_RUN_BUF, MAX_RUN_BUF);
            for run in spill.runs {
                sources.push(Source {
                    kind: SourceKind::Run(RunReader::new(
                        file.clone(),
                        run.start,
                        run.len,
                        per_run,
                    )),
                    current: Vec::new(),
                });
            }
        }
        sources.push(Source {
            kind: SourceKind::Buffer {
                buffer,
                spans,
                next: 0,
            },
            current: Vec::new(),
        });
        let mut heap = Vec::with_capacity(sources.len());
        for (i, source) in sources.iter_mut().enumerate() {
            if source.advance()? {
                heap.push(i);
            }
        }
        // A sorted array is a valid min-heap.
        heap.sort_unstable_by(|&a, &b| sources[a].current.cmp(&sources[b].current));
        Ok(SortedHosts {
            sources,
            heap,
            failed: false,
        })
    }

    fn sift_down(&mut self, mut pos: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut least = pos;
            if l < n && self.less(l, least) {
                least = l;
            }
            if r < n && self.less(r, least) {
                least = r;
            }
            if least == pos {
                return;
            }
            self.heap.swap(pos, least);
            pos = least;
        }
    }

    #[inline]
    fn less(&self, a: usize, b: usize) -> bool {
        self.sources[self.heap[a]].current < self.sources[self.heap[b]].current
    }
}

impl Iterator for SortedHosts {
    type Item = io::Result<String>;

    fn next(&mut self) -> Option<io::Result<String>> {
        if self.failed {
            return None;
        }
        let &top = self.heap.first()?;
        // Hosts come from parsed lines, which are UTF-8, so this is lossless.
        let host = String::from_utf8_lossy(&self.sources[top].current).into_owned();
        match self.sources[top].advance() {
            Ok(true) => self.sift_down(0),
            Ok(false) => {
                self.heap.swap_remove(0);
                self.sift_down(0);
            }
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        }
        Some(Ok(host))
    }
}
