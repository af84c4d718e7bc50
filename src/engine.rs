//! The engine: inputs → chunks → parallel parse and per-window reduce → merge →
//! finished windows, handed to a sink in window order.
//!
//! Two release policies share everything else:
//!
//! - [`Release::AtEnd`]: every window stays open until all input is read. Each
//!   rayon task folds the chunks it is handed into one [`Partial`], partials
//!   merge associatively, and the answer is exact whatever the order of lines.
//!   This is batch exact mode over files.
//! - [`Release::Watermark`]: input is cut into waves of [`WAVE_CHUNKS`] chunks;
//!   each wave is parsed in order by one task, waves run side by side, and
//!   their partials merge into the open windows in wave order (so
//!   order-sensitive sketches do not depend on the thread count). After each
//!   wave the watermark, the newest timestamp seen minus the lateness bound,
//!   finishes every hour that ends at or before it: it is handed to the sink
//!   and freed. A line whose hour ends at or before the watermark of the
//!   lines before it is dropped and counted as late: decided per line, from
//!   the newest timestamp before it (the waves before its own, and the lines
//!   before it in its wave), so that which lines are late, and which record
//!   reports them, depend on the order of lines only, never on how input was
//!   cut into chunks, blocks or waves (mapped, piped or decompressed). This
//!   serves the approximate mode, standard input with `--hourly`, and tail
//!   mode.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::input::format::{FormatChoice, Outcome, Parser, Skip};
use crate::input::line_limit::DEFAULT_MAX_LINE_LENGTH;
use crate::input::{read_all, Batching, Chunk, Group, Input, TimeRange};
use crate::notes::{FirstMalformed, Notes};
use crate::output::sink::{Closed, Sink};
use crate::parse::LineError;
use crate::progress::Progress;
use crate::query::Filter;
use crate::reduce::{Reducer, Windows};
use crate::timestamp::{hour_start, HOUR_MS};

/// When windows are finished and handed to the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Release {
    /// All at the end: exact whatever the order of lines.
    #[default]
    AtEnd,
    /// Behind a watermark trailing the newest timestamp by `late_ms`.
    Watermark {
        /// `--max_log_late_seconds` in milliseconds.
        late_ms: i64,
    },
}

/// How the engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Worker threads.
    pub threads: usize,
    /// Under [`Release::Watermark`], how many waves are parsed side by side
    /// (each holds its own partial state until it is merged): at most
    /// `threads`, and fixed by approximate mode so that its memory budget
    /// does not depend on the thread count.
    pub waves: usize,
    /// Bytes per chunk (and per block of a stream).
    pub chunk_size: usize,
    /// `--max_line_length`: a longer line is malformed.
    pub max_line: usize,
    /// Stop at the first malformed line and report it as an error.
    pub strict: bool,
    /// Binary-search mapped files for the time range, with this lateness bound in
    /// milliseconds; `None` scans everything.
    pub seek_late_ms: Option<i64>,
    /// When windows are released.
    pub release: Release,
    /// `--log_format`, `--columns` and `--delimiter`.
    pub formats: FormatChoice,
    /// Seek in formats with a lateness of their own too
    /// ([`Parser::lateness_ms`]): only when `--max_log_late_seconds` was
    /// given, since their lines can be far older than the lines before them
    /// (see docs/formats.md).
    pub seek_late_formats: bool,
    /// Once a format with a lateness of its own is read, the watermark takes
    /// it when it is larger than the one in `release`.
    pub format_lateness: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: rayon::current_num_threads(),
            waves: rayon::current_num_threads(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_line: DEFAULT_MAX_LINE_LENGTH,
            strict: false,
            seek_late_ms: Some(300_000),
            release: Release::AtEnd,
            formats: FormatChoice::default(),
            seek_late_formats: false,
            format_lateness: false,
        }
    }
}

impl ScanOptions {
    /// How input is cut into chunks and groups, for every source.
    ///
    /// Under [`Release::AtEnd`] a mapped file is one group (its chunks cost
    /// nothing until parsed) and a stream is read in groups of two blocks per
    /// thread, the next read while this one is parsed. Under
    /// [`Release::Watermark`] every group is [`Self::waves`] waves, so that
    /// hours are released behind the watermark and memory stays bounded, and
    /// a stream's group is parsed before more is read (a live writer may not
    /// send the next line for a while).
    pub(crate) fn batching(&self) -> Batching {
        let threads = self.threads.max(1);
        match self.release {
            Release::AtEnd => Batching {
                chunk_size: self.chunk_size,
                group: threads * 2,
                mapped_group: None,
                read_ahead: true,
                max_line: self.max_line,
            },
            Release::Watermark { .. } => Batching {
                chunk_size: self.chunk_size,
                group: WAVE_CHUNKS * self.waves.max(1),
                mapped_group: Some(WAVE_CHUNKS * self.waves.max(1)),
                read_ahead: false,
                max_line: self.max_line,
            },
        }
    }
}

/// Large enough that per-chunk overhead vanishes, small enough that two threads
/// balance and resident memory stays low.
pub const DEFAULT_CHUNK_SIZE: usize = 4 << 20;

/// Chunks per wave under [`Release::Watermark`]: a fixed number, so that where
/// waves begin, and with it every result, does not depend on the thread count.
pub(crate) const WAVE_CHUNKS: usize = 16;

/// Where the first malformed line was, with its reason as `--strict`
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadLine {
    path: PathBuf,
    line: u64,
    reason: LineError,
}

/// Per-input facts needed to turn a chunk-relative line into a line number.
struct InputOrigin {
    path: PathBuf,
    /// Lines of this input parsed so far, in absorbed groups.
    lines: u64,
}

/// What every worker reads during a wave.
struct Scanner<'a, R> {
    reducer: &'a R,
    filter: &'a Filter,
    opts: &'a ScanOptions,
    progress: &'a Progress,
    /// Lines stamped after this are malformed (tail mode: the future).
    future_limit: Option<i64>,
    /// The watermark's lateness, raised to a format's own (see
    /// [`ScanOptions::format_lateness`]) when one is met; `None` when windows
    /// are released at the end.
    late_ms: Option<i64>,
    /// Whether lines behind the watermark are dropped as late (hourly
    /// windows, and not kept for a partial).
    drop_late: bool,
    /// With `strict`, the lowest chunk index known to hold a malformed line;
    /// later chunks need not be parsed.
    strict_stop: AtomicUsize,
}

impl<R: Reducer> Scanner<'_, R> {
    fn stopped(&self) -> bool {
        self.strict_stop.load(Ordering::Relaxed) != usize::MAX
    }

    /// Parses one chunk (numbered `chunk`) into `acc` with the parser in
    /// force at its start: [`Parser::scan`] looks at the format once, and
    /// each format's loop is compiled on its own.
    fn scan_chunk(&self, acc: &mut Partial<R::State>, chunk: usize, piece: &Chunk<'_>) {
        if chunk > self.strict_stop.load(Ordering::Relaxed) || self.reducer.failed() {
            return;
        }
        let mut lines = 0u64;
        let mut parser = piece.parser.clone();
        let mut each = |outcome: Outcome<'_>| {
            lines += 1;
            let outcome = match outcome {
                Outcome::Record(rec) if self.future_limit.is_some_and(|f| rec.ts > f) => {
                    Outcome::Malformed(LineError::Future)
                }
                other => other,
            };
            match outcome {
                Outcome::Record(rec) => {
                    if let Some(key) = self.filter.window_of(rec.ts) {
                        if key < acc.cut {
                            acc.late_line();
                        } else {
                            let state = acc.windows.get(key, |last| match last {
                                Some(last) => self.reducer.new_state_after(last),
                                None => self.reducer.new_state(),
                            });
                            self.reducer.add(state, &rec);
                        }
                    }
                    if acc.newest.is_none_or(|n| rec.ts > n) {
                        acc.newest = Some(rec.ts);
                        if let (true, Some(late_ms)) = (self.drop_late, self.late_ms) {
                            acc.raise_cut(rec.ts, late_ms);
                        }
                    }
                }
                Outcome::Blank | Outcome::Header(None) => {}
                other => return self.rare_outcome(acc, chunk, lines - 1, other),
            }
            true
        };
        if piece.too_long.is_empty() {
            parser.scan(piece.bytes, &mut each);
        } else {
            scan_around(&mut parser, piece, &mut each);
        }
        acc.chunk_lines.push((chunk, lines));
        if parser != *piece.parser {
            acc.parsers_changed.push((chunk, parser));
        }
    }

    /// A line that is neither a record nor blank: kept out of the per-line
    /// loop, which stays as small as it was before formats. Returns whether
    /// to go on.
    #[cold]
    #[inline(never)]
    fn rare_outcome(
        &self,
        acc: &mut Partial<R::State>,
        chunk: usize,
        line: u64,
        outcome: Outcome<'_>,
    ) -> bool {
        match outcome {
            Outcome::Header(Some(path)) => {
                if !acc.other_paths.iter().any(|p| p == path) {
                    acc.other_paths.push(path.to_vec());
                }
            }
            Outcome::Skipped(kind) => acc.skipped[kind.index()] += 1,
            Outcome::Malformed(reason) => {
                acc.malformed += 1;
                if acc.first_bad.is_none_or(|(c, l, _)| (c, l) > (chunk, line)) {
                    acc.first_bad = Some((chunk, line, reason));
                }
                if self.opts.strict {
                    self.strict_stop.fetch_min(chunk, Ordering::Relaxed);
                    return false;
                }
            }
            Outcome::Record(_) | Outcome::Blank | Outcome::Header(None) => {}
        }
        true
    }

    /// Parses `group`'s chunks (numbered from `first`) in parallel.
    ///
    /// Under [`Release::AtEnd`] each task folds what it is handed into one
    /// partial and the partials merge associatively: one partial comes back.
    /// Under [`Release::Watermark`] the chunks form waves of [`WAVE_CHUNKS`],
    /// each parsed in order by one task into one partial, and the partials come
    /// back in wave order: a wave's state depends on its lines only, never on
    /// the thread count, and sketches merge once per wave instead of once per
    /// chunk.
    ///
    /// `again`: the group's chunks were parsed before (see [`Engine::feed`]),
    /// so progress does not count their bytes twice.
    fn scan_group(&self, first: usize, group: &Group<'_>, again: bool) -> Vec<Partial<R::State>> {
        let one = |i: usize, acc: &mut Partial<R::State>| {
            self.scan_chunk(acc, first + i, &group.chunk(i));
            let bytes = group.done(i);
            if !again {
                self.progress.advance(bytes);
            }
        };
        match self.opts.release {
            Release::AtEnd => vec![(0..group.len())
                .into_par_iter()
                .fold(Partial::default, |mut acc, i| {
                    one(i, &mut acc);
                    acc
                })
                .reduce(Partial::default, |a, b| a.merge(b, self.reducer))],
            Release::Watermark { .. } => (0..group.len().div_ceil(WAVE_CHUNKS))
                .into_par_iter()
                .map(|w| {
                    let mut acc = Partial::default();
                    for i in w * WAVE_CHUNKS..((w + 1) * WAVE_CHUNKS).min(group.len()) {
                        one(i, &mut acc);
                    }
                    acc
                })
                .collect(),
        }
    }
}

/// A run in progress: open windows, the watermark, and malformed-line
/// bookkeeping. Tail mode drives it block by block; [`run`] drives it over
/// whole inputs.
pub struct Engine<'a, R: Reducer> {
    scanner: Scanner<'a, R>,
    open: Windows<R::State>,
    newest: Option<i64>,
    /// Hourly windows starting before this were released; their lines are late.
    released_before: i64,
    /// Late lines not yet reported in a record, by the hour the watermark
    /// had reached before them: each goes with the first record of that hour
    /// or a later one, the next to be printed after it.
    late_pending: BTreeMap<i64, u64>,
    notes: Notes,
    first_bad: Option<BadLine>,
    /// Chunks handed out so far: the next group's first chunk number.
    next_chunk: usize,
    inputs: Vec<InputOrigin>,
    /// Whether lines of released hours are kept (see [`Sink::keeps_late`]).
    keep_late: bool,
    sink: &'a mut dyn Sink<R::State>,
}

impl<'a, R: Reducer> Engine<'a, R> {
    /// An engine that hands finished windows to `sink`. Call it from inside the
    /// thread pool that should do the parsing (see [`with_pool`]).
    pub fn new(
        reducer: &'a R,
        filter: &'a Filter,
        opts: &'a ScanOptions,
        progress: &'a Progress,
        sink: &'a mut dyn Sink<R::State>,
    ) -> Self {
        let keep_late = sink.keeps_late();
        Engine {
            scanner: Scanner {
                reducer,
                filter,
                opts,
                progress,
                future_limit: None,
                late_ms: match opts.release {
                    Release::Watermark { late_ms } => Some(late_ms),
                    Release::AtEnd => None,
                },
                drop_late: filter.hourly && !keep_late,
                strict_stop: AtomicUsize::new(usize::MAX),
            },
            open: Windows::default(),
            newest: None,
            released_before: i64::MIN,
            late_pending: BTreeMap::new(),
            notes: Notes::default(),
            first_bad: None,
            next_chunk: 0,
            inputs: Vec::new(),
            keep_late,
            sink,
        }
    }

    /// Reads `inputs` one after the other, after opening them all (a missing
    /// file is reported before any work). Returns `true` when `stop` ended it
    /// early (strict mode's first malformed line ends it too, returning `false`).
    /// A corrupt or truncated compressed input is handed to `corrupt`, which
    /// ends the run by returning the error or goes on with the next input.
    ///
    /// # Errors
    /// An input that cannot be opened or read, or the sink's error.
    pub fn scan_all(
        &mut self,
        inputs: &[Input],
        stop: impl Fn() -> bool,
        corrupt: &mut dyn FnMut(Error) -> Result<()>,
    ) -> Result<bool> {
        let (opts, filter) = (self.scanner.opts, self.scanner.filter);
        let time = match opts.seek_late_ms {
            Some(late_ms) if filter.init.is_some() || filter.end.is_some() => Some(TimeRange {
                init: filter.init,
                end: filter.end,
                late_ms,
                late_formats: opts.seek_late_formats,
            }),
            _ => None,
        };
        let first = self.inputs.len();
        for input in inputs {
            self.begin_input(input);
        }
        let mut stopped = false;
        read_all(
            inputs,
            &opts.formats,
            &opts.batching(),
            time.as_ref(),
            &mut |i, group| {
                self.feed(first + i, group)?;
                Ok(!self.scanner.stopped())
            },
            &mut || {
                stopped = stop();
                !stopped
            },
            corrupt,
        )?;
        Ok(stopped)
    }

    /// The formats the command line asks for.
    pub(crate) fn format_choice(&self) -> FormatChoice {
        self.scanner.opts.formats
    }

    /// How this engine's input is cut (see [`ScanOptions::batching`]).
    pub(crate) fn batching(&self) -> Batching {
        self.scanner.opts.batching()
    }

    /// Parses a group of whole-line buffers of input `input` (see
    /// [`Self::begin_input`]) and releases what the watermark passes.
    ///
    /// # Errors
    /// The sink's error.
    pub fn feed(&mut self, input: usize, group: Group<'_>) -> Result<()> {
        self.scanner.progress.advance(group.skipped_bytes());
        if !group.is_empty() {
            self.adopt_lateness(group.parser(0));
        }
        let first = self.next_chunk;
        let partials = self.scanner.scan_group(first, &group, false);
        if !group.parsers_hold(first, partials.iter().flat_map(|p| &p.parsers_changed)) {
            // The first pass's windows go before the second pass builds its own.
            drop(partials);
            return self.feed_again(first, input, &group);
        }
        self.absorb(partials, input, &group)
    }

    /// Parses `group` again with the parser of every header line: a header
    /// block after the leading one changed the format, so chunks after it
    /// were parsed with the wrong one and their partials are dropped unseen.
    #[cold]
    fn feed_again(&mut self, first: usize, input: usize, group: &Group<'_>) -> Result<()> {
        // A malformed line met with the wrong parser stops nothing.
        self.scanner
            .strict_stop
            .store(usize::MAX, Ordering::Relaxed);
        group.with_every_header(|group| {
            let partials = self.scanner.scan_group(first, group, true);
            self.absorb(partials, input, group)
        })
    }

    /// Raises the watermark's lateness to the format's own (see
    /// [`ScanOptions::format_lateness`]) before any of its lines is absorbed.
    fn adopt_lateness(&mut self, parser: &Parser) {
        if let (true, Some(own), Some(late)) = (
            self.scanner.opts.format_lateness,
            parser.lateness_ms(),
            self.scanner.late_ms.as_mut(),
        ) {
            *late = (*late).max(own);
        }
    }

    /// Registers an input whose blocks will be given to [`Self::feed`], and
    /// returns its index.
    pub fn begin_input(&mut self, input: &Input) -> usize {
        self.inputs.push(InputOrigin {
            path: input.display_path().to_owned(),
            lines: 0,
        });
        self.inputs.len() - 1
    }

    /// Whether `--strict` met a malformed line: nothing more should be fed,
    /// and [`Self::finish`] returns the error.
    pub(crate) fn stopped(&self) -> bool {
        self.scanner.stopped()
    }

    /// Tail mode: the wall clock reads `now_ms`, so lines stamped more than the
    /// lateness bound after it are malformed (a future timestamp would close
    /// every open hour at once).
    pub(crate) fn observe_wall_clock(&mut self, now_ms: i64) {
        if let Some(late_ms) = self.scanner.late_ms {
            self.scanner.future_limit = Some(now_ms.saturating_add(late_ms));
        }
    }

    /// Tail mode, when the log has fallen quiet: treats the wall clock as the
    /// newest timestamp, so the watermark reaches `now_ms` minus the lateness,
    /// and releases what it passes.
    ///
    /// # Errors
    /// The sink's error.
    pub(crate) fn advance_to_wall_clock(&mut self, now_ms: i64) -> Result<()> {
        self.newest = self.newest.max(Some(now_ms));
        self.release()
    }

    /// Whether the watermark has passed `--time_end`: nothing later can count.
    pub(crate) fn past_end(&self) -> bool {
        match (self.watermark(), self.scanner.filter.end) {
            (Some(w), Some(end)) => w >= end,
            _ => false,
        }
    }

    fn watermark(&self) -> Option<i64> {
        let late_ms = self.scanner.late_ms?;
        self.newest.map(|n| n.saturating_sub(late_ms))
    }

    /// Folds a group's partials into the open windows, in wave order, numbers
    /// its first malformed line, and releases what the watermark passed.
    ///
    /// Line numbers are resolved here, group by group, so that nothing per
    /// chunk outlives its group: a tail run of days keeps constant memory.
    fn absorb(
        &mut self,
        partials: Vec<Partial<R::State>>,
        input: usize,
        group: &Group<'_>,
    ) -> Result<()> {
        let chunks = group.len();
        let first = self.next_chunk;
        self.next_chunk += chunks;
        let mut lines = vec![0u64; chunks];
        for partial in &partials {
            for &(chunk, n) in &partial.chunk_lines {
                lines[chunk - first] = n;
            }
        }
        let first_bad = partials
            .iter()
            .fold(None, |acc, p| min_bad(acc, p.first_bad));
        if let (None, Some((chunk, line, reason))) = (&self.first_bad, first_bad) {
            let origin = &self.inputs[input];
            let before: u64 = lines[..chunk - first].iter().sum();
            // Counting the lines the seek skipped costs a pass over them, so it
            // is done only for the first malformed line.
            self.first_bad = Some(BadLine {
                path: origin.path.clone(),
                line: group.lines_skipped() + origin.lines + before + line + 1,
                reason,
            });
        }
        self.inputs[input].lines += lines.iter().sum::<u64>();
        let reducer = self.scanner.reducer;
        self.check_failure()?;
        for mut partial in partials {
            self.notes.malformed += partial.malformed;
            for (total, n) in self.notes.skipped.iter_mut().zip(partial.skipped) {
                *total += n;
            }
            for path in std::mem::take(&mut partial.other_paths) {
                let origin = self.inputs[input].path.display().to_string();
                let path = String::from_utf8_lossy(&path).into_owned();
                self.notes.other_paths.insert(origin, path);
            }
            // Lines of hours the waves before released are late: checked
            // here, not while parsing, so that it does not matter which waves
            // ran side by side. The watermark before them is this one, as
            // the wave's own lines behind it did not raise it past their hour.
            // A partial keeps them: its merge folds every state of an hour.
            if !self.keep_late {
                let late: u64 = partial
                    .windows
                    .drain_before(self.released_before)
                    .into_iter()
                    .map(|(_, state)| reducer.lines(&state))
                    .sum();
                self.add_late(self.released_before, late);
            }
            // Lines the wave itself left behind: their watermark is the
            // higher of this one and the wave's own before them.
            for (cut, late) in std::mem::take(&mut partial.late) {
                self.add_late(cut.max(self.released_before), late);
            }
            self.open.merge(partial.windows, |a, b| reducer.merge(a, b));
            self.check_failure()?;
            // The watermark moves per wave, in wave order.
            self.newest = self.newest.max(partial.newest);
            self.release()?;
        }
        Ok(())
    }

    /// Counts `n` late lines met when the watermark had released the hours
    /// before `cut`.
    fn add_late(&mut self, cut: i64, n: u64) {
        if n > 0 {
            *self.late_pending.entry(cut).or_default() += n;
            self.notes.late += n;
        }
    }

    /// Ends the run at the reducer's failure, before any window it touched
    /// is printed as if it were whole.
    fn check_failure(&self) -> Result<()> {
        match self.scanner.reducer.take_failure() {
            Some(e) => Err(Error::spill(e)),
            None => Ok(()),
        }
    }

    /// Hands every hourly window the watermark has passed to the sink.
    fn release(&mut self) -> Result<()> {
        let Some(watermark) = self.watermark() else {
            return Ok(());
        };
        if !self.scanner.filter.hourly {
            return Ok(());
        }
        let boundary = hour_start(watermark);
        if boundary <= self.released_before {
            return Ok(());
        }
        self.released_before = boundary;
        let windows = self.open.drain_before(boundary);
        self.emit(windows, true)
    }

    /// Hands `windows` (in ascending order) to the sink; each carries the
    /// late lines not yet reported that were met before its hour was
    /// released.
    fn emit(&mut self, windows: Vec<(i64, R::State)>, complete: bool) -> Result<()> {
        if windows.is_empty() {
            return Ok(());
        }
        let filter = self.scanner.filter;
        let pending = &mut self.late_pending;
        let windows = windows
            .into_iter()
            .map(|(key, state)| {
                let later = pending.split_off(&key.saturating_add(1));
                let late = std::mem::replace(pending, later).into_values().sum();
                let (start, end) = if filter.hourly {
                    (Some(key), Some(key + HOUR_MS))
                } else {
                    (filter.init, filter.end)
                };
                Closed {
                    key,
                    start,
                    end,
                    state,
                    late,
                    complete,
                }
            })
            .collect();
        let sink = &mut *self.sink;
        self.scanner.progress.suspend(|| sink.windows(windows))
    }

    /// Releases every open window (`complete` says whether its hour ended, or
    /// the run was interrupted) and returns the run's notes.
    ///
    /// # Errors
    /// With `strict`, the first malformed line; the sink's error.
    pub fn finish(mut self, complete: bool) -> Result<Notes> {
        if let Some(bad) = self.first_bad.take() {
            if self.scanner.opts.strict {
                return Err(Error::Malformed {
                    path: bad.path,
                    line: bad.line,
                    reason: bad.reason,
                });
            }
            self.notes.first_malformed = Some(FirstMalformed {
                path: bad.path.display().to_string(),
                line: bad.line,
                reason: bad.reason.to_string(),
            });
        }
        let reducer = self.scanner.reducer;
        if !self.scanner.filter.hourly {
            // The whole-range window is reported even when no line counted.
            self.open.get(0, |_| reducer.new_state());
        }
        let open = std::mem::take(&mut self.open);
        self.emit(open.into_sorted(), complete)?;
        Ok(self.notes)
    }
}

/// Parses a chunk that holds lines too long to parse: the lines between
/// them, and each of them as one malformed line, in order. Kept out of the
/// common path, where a chunk has no such line.
#[cold]
#[inline(never)]
fn scan_around(parser: &mut Parser, piece: &Chunk<'_>, each: &mut impl FnMut(Outcome<'_>) -> bool) {
    let mut from = 0;
    for long in piece.too_long.iter() {
        if !parser.scan(&piece.bytes[from..long.start], &mut *each)
            || !each(Outcome::Malformed(LineError::TooLong))
        {
            return;
        }
        from = long.end;
    }
    parser.scan(&piece.bytes[from..], each);
}

fn min_bad(
    a: Option<(usize, u64, LineError)>,
    b: Option<(usize, u64, LineError)>,
) -> Option<(usize, u64, LineError)> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if (b.0, b.1) < (a.0, a.1) { b } else { a }),
        (a, b) => a.or(b),
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
    /// The newest well-formed timestamp seen.
    newest: Option<i64>,
    /// Hours before this are behind the watermark of the lines seen (with
    /// [`Scanner::drop_late`]): their next lines are late.
    cut: i64,
    /// Late lines, by the cut in force when they were met (ascending).
    late: Vec<(i64, u64)>,
    /// Records skipped on purpose, by [`Skip::index`].
    skipped: [u64; Skip::ALL.len()],
    /// Zeek `#path`s other than `conn` met.
    other_paths: Vec<Vec<u8>>,
    /// Chunks whose header lines changed the parser, each with the parser
    /// in force after it (see [`Group::parsers_hold`]).
    parsers_changed: Vec<(usize, Parser)>,
}

impl<S> Default for Partial<S> {
    fn default() -> Self {
        Partial {
            windows: Windows::default(),
            malformed: 0,
            first_bad: None,
            chunk_lines: Vec::new(),
            newest: None,
            cut: i64::MIN,
            late: Vec::new(),
            skipped: [0; Skip::ALL.len()],
            other_paths: Vec::new(),
            parsers_changed: Vec::new(),
        }
    }
}

impl<S> Partial<S> {
    /// Counts a line behind the watermark.
    #[cold]
    fn late_line(&mut self) {
        match self.late.last_mut() {
            Some((cut, n)) if *cut == self.cut => *n += 1,
            _ => self.late.push((self.cut, 1)),
        }
    }

    /// A line stamped `ts`, the newest yet, moves the watermark to `ts`
    /// minus `late_ms`, and with it the cut once per hour.
    #[inline(always)]
    fn raise_cut(&mut self, ts: i64, late_ms: i64) {
        let watermark = ts.saturating_sub(late_ms);
        if watermark >= self.cut.saturating_add(HOUR_MS) {
            self.cut = hour_start(watermark);
        }
    }

    fn merge<R: Reducer<State = S>>(mut self, other: Partial<S>, reducer: &R) -> Self {
        self.windows
            .merge(other.windows, |a, b| reducer.merge(a, b));
        self.malformed += other.malformed;
        self.first_bad = min_bad(self.first_bad, other.first_bad);
        self.chunk_lines.extend(other.chunk_lines);
        debug_assert!(
            self.late.is_empty() && other.late.is_empty(),
            "late lines are met in waves, which never merge"
        );
        self.newest = self.newest.max(other.newest);
        for (a, b) in self.skipped.iter_mut().zip(other.skipped) {
            *a += b;
        }
        for path in other.other_paths {
            if !self.other_paths.contains(&path) {
                self.other_paths.push(path);
            }
        }
        self.parsers_changed.extend(other.parsers_changed);
        self
    }
}
