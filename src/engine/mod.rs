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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use scan::{min_bad, Partial, Scanner};

use crate::error::{Error, Result};
use crate::input::format::LineError;
use crate::input::format::{FormatChoice, Parser};
use crate::input::{leading_parser, read_all, Batching, Group, Input, TimeRange};
use crate::notes::{FirstMalformed, Notes};
use crate::output::sink::{Closed, Sink};
use crate::progress::Progress;
use crate::query::Filter;
use crate::reduce::{Reducer, Windows};

mod options;
mod scan;

pub use options::{Release, ScanOptions, DEFAULT_CHUNK_SIZE};

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

/// A run in progress: open windows, the watermark, and malformed-line
/// bookkeeping. The follow driver feeds it block by block, the scan driver
/// whole inputs (`run::follow`, `run::scan`).
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
    sink: &'a mut dyn Sink<R::State>,
}

impl<'a, R: Reducer> Engine<'a, R> {
    /// An engine that hands finished windows to `sink`. Call it from inside the
    /// thread pool that should do the parsing.
    pub fn new(
        reducer: &'a R,
        filter: &'a Filter,
        opts: &'a ScanOptions,
        progress: &'a Progress,
        sink: &'a mut dyn Sink<R::State>,
    ) -> Self {
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
                drop_late: filter.binned(),
                filtering: !filter.nets.is_empty() || !filter.flows.is_empty(),
                needs: filter.needs().with(reducer.needs()),
                strict_stop: AtomicUsize::new(usize::MAX),
                failed: AtomicBool::new(false),
            },
            open: Windows::default(),
            newest: None,
            released_before: i64::MIN,
            late_pending: BTreeMap::new(),
            notes: Notes::default(),
            first_bad: None,
            next_chunk: 0,
            inputs: Vec::new(),
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
        self.check_files_answer(inputs)?;
        let first = self.inputs.len();
        for input in inputs {
            self.begin_input(input);
        }
        let mut stopped = false;
        let mut trailing = Vec::new();
        let read = read_all(
            inputs,
            &opts.formats,
            &opts.batching(),
            time.as_ref(),
            &mut |i, group| {
                self.feed(first + i, group)?;
                Ok(!self.scanner.stopped())
            },
            &mut |i, end| {
                if end.trailing_zeros > 0 {
                    trailing.push((i, end.trailing_zeros));
                }
                stopped = stop();
                !stopped
            },
            corrupt,
        );
        for (i, zeros) in trailing {
            self.note_trailing_zeros(&inputs[i], zeros);
        }
        read?;
        Ok(stopped)
    }

    /// Input `input` ended with `zeros` zero bytes after its last gzip
    /// member, which were skipped: the notes say so.
    pub(crate) fn note_trailing_zeros(&mut self, input: &Input, zeros: u64) {
        let path = input.display_path().display().to_string();
        self.notes.trailing_zeros.push((path, zeros));
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
        // A stream's group is parsed once (its parsers always hold), so its
        // first thread may count on into the run's windows; a mapped group
        // may be parsed again, its first pass dropped.
        let seed = match self.scanner.opts.release {
            Release::AtEnd if group.is_stream() => std::mem::take(&mut self.open),
            _ => Windows::default(),
        };
        let partials = self.scanner.scan_group(first, &group, false, seed);
        self.check_answers(input, &group, &partials)?;
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
            let partials = self
                .scanner
                .scan_group(first, group, true, Windows::default());
            self.absorb(partials, input, group)
        })
    }

    /// Fails the run when a parser of `group` (in force at a chunk's start,
    /// or after a header line in one) cannot give a field a filter needs:
    /// `--to_port` on connspy's own format, `--proto` on a Zeek log whose
    /// `#fields` has no `proto`. Checked before any of the group's windows
    /// is absorbed, so before its lines can be printed.
    fn check_answers(
        &self,
        input: usize,
        group: &Group<'_>,
        partials: &[Partial<R::State>],
    ) -> Result<()> {
        let needs = self.scanner.needs;
        if !needs.any() {
            return Ok(());
        }
        let changed = partials
            .iter()
            .flat_map(|p| p.parsers_changed.iter().map(|(_, p)| p));
        // A chunk of blank lines has a parser, but nothing to answer from.
        let blank = |i: usize| {
            group
                .chunk(i)
                .bytes
                .iter()
                .all(|&b| b == b'\n' || crate::input::format::connspy::is_ws(b))
        };
        let lacking = (0..group.len())
            .filter(|&i| !blank(i))
            .map(|i| group.parser(i))
            .chain(changed)
            .find_map(|p| p.lacks(needs).map(|(flag, what)| (flag, what, p.name())));
        match lacking {
            None => Ok(()),
            Some((flag, what, format)) => {
                Err(cannot_answer(&self.inputs[input].path, flag, what, format))
            }
        }
    }

    /// Fails the run before it reads anything for its answer when a file's
    /// format, after its leading header lines, cannot give a field a filter
    /// needs: a run that releases windows as it goes would otherwise print
    /// some before it met such a file. Streams are checked at their first
    /// block ([`Self::check_answers`]).
    fn check_files_answer(&self, inputs: &[Input]) -> Result<()> {
        let needs = self.scanner.needs;
        if !needs.any() {
            return Ok(());
        }
        let (formats, max_line) = (&self.scanner.opts.formats, self.batching().max_line);
        for input in inputs {
            if let Some(parser) = leading_parser(input, formats, max_line)? {
                if let Some((flag, what)) = parser.lacks(needs) {
                    return Err(cannot_answer(
                        input.display_path(),
                        flag,
                        what,
                        parser.name(),
                    ));
                }
            }
        }
        Ok(())
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
        mut partials: Vec<Partial<R::State>>,
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
        // The reducer's failure ends the run before any window it touched
        // is printed as if it were whole.
        if let Some(e) = partials.iter_mut().find_map(|p| p.failure.take()) {
            return Err(Error::reducing(e));
        }
        for mut partial in partials {
            self.notes.malformed += partial.malformed;
            for (total, n) in self.notes.skipped.iter_mut().zip(partial.skipped) {
                *total += n;
            }
            for path in std::mem::take(&mut partial.other_paths) {
                let origin = self.inputs[input].path.display().to_string();
                let path = String::from_utf8_lossy(&path).into_owned();
                self.notes.other_paths.insert((origin, path));
            }
            // Lines of hours the waves before released are late: checked
            // here, not while parsing, so that it does not matter which waves
            // ran side by side. The watermark before them is this one, as
            // the wave's own lines behind it did not raise it past their hour.
            let late: u64 = partial
                .windows
                .drain_before(self.released_before)
                .into_iter()
                .map(|(_, state)| reducer.lines(&state))
                .sum();
            self.add_late(self.released_before, late);
            // Lines the wave itself left behind: their watermark is the
            // higher of this one and the wave's own before them.
            for (cut, late) in std::mem::take(&mut partial.late) {
                self.add_late(cut.max(self.released_before), late);
            }
            self.open
                .merge(partial.windows, |a, b| reducer.merge(a, b))
                .map_err(Error::reducing)?;
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

    /// Hands every hourly window the watermark has passed to the sink.
    fn release(&mut self) -> Result<()> {
        let Some(watermark) = self.watermark() else {
            return Ok(());
        };
        if !self.scanner.filter.binned() {
            return Ok(());
        }
        let boundary = self.scanner.filter.bin_start(watermark);
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
                let (start, end) = filter.span(key);
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
        if !self.scanner.filter.binned() {
            // The whole-range window is reported even when no line counted.
            self.open.get(0, |_| reducer.new_state());
        }
        let open = std::mem::take(&mut self.open);
        self.emit(open.into_sorted(), complete)?;
        Ok(self.notes)
    }
}

/// The error of a filter (`flag`) that the log at `path`, read as `format`,
/// cannot answer because it has `what`.
fn cannot_answer(path: &std::path::Path, flag: &str, what: &str, format: &str) -> Error {
    Error::Usage(format!(
        "{flag} cannot be answered from {}: it is read as a {format} log, with {what}; \
         {flag} reads Zeek, VPC and Suricata logs that carry it",
        path.display()
    ))
}
