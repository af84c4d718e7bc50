//! The batch engine: inputs → chunks → parallel parse and per-window reduce →
//! merge → finished reports.
//!
//! Each rayon task folds the chunks it is given into one [`Partial`] (a set of
//! windows plus malformed-line bookkeeping); partials merge associatively, so
//! the answer does not depend on how rayon splits the work. Mapped chunks are
//! released as soon as they are parsed, and standard input is read in blocks
//! while the previous blocks are parsed.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::input::{align_to_lines, nominal_chunks, BlockReader, Input, MappedFile, Source};
use crate::parse::{next_line, LineError};
use crate::progress::Progress;
use crate::reduce::{Reducer, Windows};
use crate::report::Report;
use crate::seek::seek;
use crate::timestamp::hour_start;

/// Which lines count and how they are grouped into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filter {
    /// Inclusive lower bound, Unix milliseconds.
    pub init: Option<i64>,
    /// Exclusive upper bound, Unix milliseconds.
    pub end: Option<i64>,
    /// One window per UTC hour instead of one for the whole range.
    pub hourly: bool,
}

impl Filter {
    /// The key of the window a line at `ts` belongs to, or `None` when the line
    /// is outside the range.
    #[inline]
    pub fn window_of(&self, ts: i64) -> Option<i64> {
        if self.init.is_some_and(|i| ts < i) || self.end.is_some_and(|e| ts >= e) {
            return None;
        }
        Some(if self.hourly { hour_start(ts) } else { 0 })
    }
}

/// How the engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Worker threads.
    pub threads: usize,
    /// Bytes per chunk (and per block of standard input).
    pub chunk_size: usize,
    /// Stop at the first malformed line and report it as an error.
    pub strict: bool,
    /// Binary-search mapped files for the time range, with this lateness bound in
    /// milliseconds; `None` scans everything.
    pub seek_late_ms: Option<i64>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: rayon::current_num_threads(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            strict: false,
            seek_late_ms: Some(300_000),
        }
    }
}

/// Large enough that per-chunk overhead vanishes, small enough that two threads
/// balance and resident memory stays low.
pub const DEFAULT_CHUNK_SIZE: usize = 4 << 20;

/// Where the first malformed line was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The input holding it.
    pub path: PathBuf,
    /// 1-based line number in that input.
    pub line: u64,
    /// What is wrong with it.
    pub reason: LineError,
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    /// One report per window, in window order.
    pub reports: Vec<Report>,
    /// Malformed lines skipped.
    pub malformed: u64,
    /// The first of them, in input order.
    pub first_malformed: Option<BadLine>,
}

/// Runs `reducer` over `inputs` and returns the finished reports.
///
/// # Errors
/// Inputs that cannot be opened or read; with `strict`, the first malformed line.
pub fn run<R: Reducer>(
    reducer: &R,
    filter: &Filter,
    opts: &ScanOptions,
    inputs: &[Input],
    progress: &Progress,
) -> Result<Outcome> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {} threads: {e}", opts.threads)))?;
    pool.install(|| Run::new(reducer, filter, opts, progress).go(inputs))
}

/// A chunk's place: which input, and where that input's scan began.
struct ChunkOrigin {
    input: usize,
    lines: u64,
}

/// Per-input facts needed to turn a chunk-relative line into a line number.
struct InputOrigin {
    path: PathBuf,
    /// Lines before the first scanned byte (non-zero only after a seek).
    lines_before: u64,
}

/// What every worker reads: shared, immutable but for the strict-mode stop.
struct Scanner<'a, R> {
    reducer: &'a R,
    filter: &'a Filter,
    opts: &'a ScanOptions,
    progress: &'a Progress,
    /// With `strict`, the lowest chunk index known to hold a malformed line;
    /// later chunks need not be parsed.
    strict_stop: AtomicUsize,
}

impl<R: Reducer> Scanner<'_, R> {
    fn stopped(&self) -> bool {
        self.strict_stop.load(Ordering::Relaxed) != usize::MAX
    }

    /// Parses one chunk into `acc`.
    fn scan_chunk(&self, acc: &mut Partial<R::State>, chunk: usize, data: &[u8]) {
        if chunk > self.strict_stop.load(Ordering::Relaxed) {
            return;
        }
        let mut lines = 0u64;
        let mut pos = 0;
        while pos < data.len() {
            let (parsed, next) = next_line(data, pos);
            pos = next;
            lines += 1;
            match parsed {
                Ok(Some(rec)) => {
                    if let Some(key) = self.filter.window_of(rec.ts) {
                        let state = acc.windows.get(key, || self.reducer.new_state());
                        self.reducer.add(state, &rec);
                    }
                }
                Ok(None) => {}
                Err(reason) => {
                    acc.malformed += 1;
                    let here = (chunk, lines - 1);
                    if acc.first_bad.is_none_or(|(c, l, _)| (c, l) > here) {
                        acc.first_bad = Some((chunk, lines - 1, reason));
                    }
                    if self.opts.strict {
                        self.strict_stop.fetch_min(chunk, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        acc.chunk_lines.push((chunk, lines));
    }
}

/// A run in progress: the scanner and what the chunks have added up to.
struct Run<'a, R: Reducer> {
    scanner: Scanner<'a, R>,
    acc: Partial<R::State>,
    chunks: Vec<ChunkOrigin>,
    inputs: Vec<InputOrigin>,
}

impl<'a, R: Reducer> Run<'a, R> {
    fn new(
        reducer: &'a R,
        filter: &'a Filter,
        opts: &'a ScanOptions,
        progress: &'a Progress,
    ) -> Self {
        Run {
            scanner: Scanner {
                reducer,
                filter,
                opts,
                progress,
                strict_stop: AtomicUsize::new(usize::MAX),
            },
            acc: Partial::default(),
            chunks: Vec::new(),
            inputs: Vec::new(),
        }
    }

    fn go(mut self, inputs: &[Input]) -> Result<Outcome> {
        // Open everything first: a missing file is reported before any work.
        let sources = inputs
            .iter()
            .map(Source::open)
            .collect::<Result<Vec<_>>>()?;
        for (input, source) in inputs.iter().zip(sources) {
            match source {
                Source::Mapped(map) => self.scan_mapped(input, &map),
                Source::Stream(reader) => self.scan_stream(input, reader)?,
            }
            if self.scanner.stopped() {
                break;
            }
        }
        self.finish()
    }

    fn scan_mapped(&mut self, input: &Input, map: &MappedFile) {
        let sc = &self.scanner;
        let data = map.bytes();
        let range = match sc.opts.seek_late_ms {
            Some(late) if sc.filter.init.is_some() || sc.filter.end.is_some() => {
                seek(data, sc.filter.init, sc.filter.end, late)
            }
            _ => 0..data.len(),
        };
        sc.progress.advance((data.len() - range.len()) as u64);
        let skipped = range.start;
        let pieces = nominal_chunks(range.clone(), sc.opts.chunk_size);
        let first = self.chunks.len();
        let partial = pieces
            .par_iter()
            .enumerate()
            .fold(Partial::default, |mut acc, (i, piece)| {
                let lines = align_to_lines(data, &range, piece);
                sc.scan_chunk(&mut acc, first + i, &data[lines.clone()]);
                map.release(lines);
                sc.progress.advance(piece.len() as u64);
                acc
            })
            .reduce(Partial::default, |a, b| a.merge(b, sc.reducer));
        // Counting the lines the seek skipped costs a pass over them, so it is
        // done only when a malformed line needs its number.
        let lines_before = match partial.first_bad {
            Some(_) => memchr::memchr_iter(b'\n', &data[..skipped]).count() as u64,
            None => 0,
        };
        let input_idx = self.begin_input(input, lines_before);
        self.absorb(partial, input_idx, pieces.len());
    }

    fn scan_stream(&mut self, input: &Input, reader: impl Read + Send) -> Result<()> {
        let input_idx = self.begin_input(input, 0);
        let mut blocks = BlockReader::new(reader, self.scanner.opts.chunk_size);
        let batch_len = self.scanner.opts.threads.max(1) * 2;
        let read_batch = |blocks: &mut BlockReader<_>| -> Result<Vec<Vec<u8>>> {
            let mut batch = Vec::with_capacity(batch_len);
            while batch.len() < batch_len {
                match blocks.next_block() {
                    Ok(Some(b)) => batch.push(b),
                    Ok(None) => break,
                    Err(source) => {
                        return Err(Error::Read {
                            path: input.display_path().to_owned(),
                            source,
                        })
                    }
                }
            }
            Ok(batch)
        };
        let mut batch = read_batch(&mut blocks)?;
        while !batch.is_empty() {
            let first = self.chunks.len();
            let sc = &self.scanner;
            // Parse this batch while the next one is read.
            let (next, partial) = rayon::join(
                || read_batch(&mut blocks),
                || {
                    batch
                        .par_iter()
                        .enumerate()
                        .fold(Partial::default, |mut acc, (i, block)| {
                            sc.scan_chunk(&mut acc, first + i, block);
                            sc.progress.advance(block.len() as u64);
                            acc
                        })
                        .reduce(Partial::default, |a, b| a.merge(b, sc.reducer))
                },
            );
            self.absorb(partial, input_idx, batch.len());
            if self.scanner.stopped() {
                break;
            }
            batch = next?;
        }
        Ok(())
    }

    fn begin_input(&mut self, input: &Input, lines_before: u64) -> usize {
        self.inputs.push(InputOrigin {
            path: input.display_path().to_owned(),
            lines_before,
        });
        self.inputs.len() - 1
    }

    /// Folds a finished partial into the run and records its chunks' origin.
    fn absorb(&mut self, partial: Partial<R::State>, input: usize, chunks: usize) {
        self.chunks
            .extend((0..chunks).map(|_| ChunkOrigin { input, lines: 0 }));
        for &(chunk, lines) in &partial.chunk_lines {
            self.chunks[chunk].lines = lines;
        }
        let acc = std::mem::take(&mut self.acc);
        self.acc = acc.merge(partial, self.scanner.reducer);
    }

    fn finish(self) -> Result<Outcome> {
        let Scanner {
            reducer,
            filter,
            opts,
            ..
        } = self.scanner;
        let first_malformed = self.acc.first_bad.map(|(chunk, line, reason)| {
            let origin = &self.chunks[chunk];
            let input = &self.inputs[origin.input];
            let before: u64 = self.chunks[..chunk]
                .iter()
                .filter(|c| c.input == origin.input)
                .map(|c| c.lines)
                .sum();
            BadLine {
                path: input.path.clone(),
                line: input.lines_before + before + line + 1,
                reason,
            }
        });
        if opts.strict {
            if let Some(bad) = first_malformed {
                return Err(Error::Malformed {
                    path: bad.path,
                    line: bad.line,
                    reason: bad.reason,
                });
            }
        }
        let mut windows = self.acc.windows;
        if !filter.hourly {
            // The whole-range window is reported even when no line counted.
            windows.get(0, || reducer.new_state());
        }
        let reports = windows
            .into_sorted()
            .into_iter()
            .map(|(key, state)| {
                let (start, end) = if filter.hourly {
                    (Some(key), Some(key + crate::timestamp::HOUR_MS))
                } else {
                    (filter.init, filter.end)
                };
                Report {
                    start,
                    end,
                    answer: reducer.finish(state),
                }
            })
            .collect();
        Ok(Outcome {
            reports,
            malformed: self.acc.malformed,
            first_malformed,
        })
    }
}

/// What one or more chunks contributed.
struct Partial<S> {
    windows: Windows<S>,
    malformed: u64,
    /// (chunk, 0-based line in chunk, reason) of the earliest malformed line seen.
    first_bad: Option<(usize, u64, LineError)>,
    /// Lines per chunk, to turn chunk-relative lines into line numbers.
    chunk_lines: Vec<(usize, u64)>,
}

impl<S> Default for Partial<S> {
    fn default() -> Self {
        Partial {
            windows: Windows::default(),
            malformed: 0,
            first_bad: None,
            chunk_lines: Vec::new(),
        }
    }
}

impl<S> Partial<S> {
    fn merge<R: Reducer<State = S>>(mut self, other: Partial<S>, reducer: &R) -> Self {
        self.windows
            .merge(other.windows, |a, b| reducer.merge(a, b));
        self.malformed += other.malformed;
        self.first_bad = match (self.first_bad, other.first_bad) {
            (Some(a), Some(b)) => Some(if (b.0, b.1) < (a.0, a.1) { b } else { a }),
            (a, b) => a.or(b),
        };
        self.chunk_lines.extend(other.chunk_lines);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_of_respects_half_open_range() {
        let f = Filter {
            init: Some(1000),
            end: Some(2000),
            hourly: false,
        };
        assert_eq!(f.window_of(999), None);
        assert_eq!(f.window_of(1000), Some(0));
        assert_eq!(f.window_of(1999), Some(0));
        assert_eq!(f.window_of(2000), None);
        let h = Filter {
            hourly: true,
            ..Filter::default()
        };
        assert_eq!(h.window_of(3_600_000 * 5 + 7), Some(3_600_000 * 5));
    }
}
