//! The parallel part of the engine: each chunk parsed into a [`Partial`] of
//! per-window states and bookkeeping, chunks folded by rayon, waves kept in
//! order.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;

use super::options::{Release, ScanOptions, WAVE_CHUNKS};
use crate::input::format::LineError;
use crate::input::format::{Each, Flow, Needs, Outcome, Parser, Record, Skip};
use crate::input::{Chunk, Group};
use crate::notes::FirstSeen;
use crate::progress::Progress;
use crate::query::{Filter, WindowOf};
use crate::reduce::{Reducer, Weighed, Windows};

/// What every worker reads during a wave.
pub(super) struct Scanner<'a, R> {
    pub(super) reducer: &'a R,
    pub(super) filter: &'a Filter,
    pub(super) opts: &'a ScanOptions,
    pub(super) progress: &'a Progress,
    /// Lines stamped after this are malformed (tail mode: the future).
    pub(super) future_limit: Option<i64>,
    /// The watermark's lateness, raised to a format's own (see
    /// [`ScanOptions::format_lateness`]) when one is met; `None` when windows
    /// are released at the end.
    pub(super) late_ms: Option<i64>,
    /// Whether lines behind the watermark are dropped as late (hourly
    /// windows).
    pub(super) drop_late: bool,
    /// Whether any network, port or protocol filter was given: without one,
    /// the per-line loop asks nothing more than the time range.
    pub(super) filtering: bool,
    /// The flow fields the filter and the reducer read from each line.
    pub(super) needs: Needs,
    /// With `strict`, the lowest chunk index known to hold a malformed line;
    /// later chunks need not be parsed.
    pub(super) strict_stop: AtomicUsize,
    /// Set when the reducer failed on any chunk: the run ends, so later
    /// chunks need not be parsed.
    pub(super) failed: AtomicBool,
}

impl<R: Reducer> Scanner<'_, R> {
    pub(super) fn stopped(&self) -> bool {
        self.strict_stop.load(Ordering::Relaxed) != usize::MAX
    }

    /// Parses one chunk (numbered `chunk`) into `acc` with the parser in
    /// force at its start: [`Parser::scan`] looks at the format once, and
    /// each format's loop is compiled on its own.
    fn scan_chunk(&self, acc: &mut Partial<R::State>, chunk: usize, piece: &Chunk<'_>) {
        if chunk > self.strict_stop.load(Ordering::Relaxed) || self.failed.load(Ordering::Relaxed) {
            return;
        }
        let mut parser = piece.parser.clone();
        let mut each = ChunkLines {
            scanner: self,
            acc,
            windows: WindowOf::default(),
            chunk,
            lines: 0,
        };
        let needs = self.needs;
        if piece.too_long.is_empty() {
            parser.scan_each(piece.bytes, needs, &mut each);
        } else {
            scan_around(&mut parser, piece, needs, &mut each);
        }
        let lines = each.lines;
        acc.chunk_lines.push((chunk, lines));
        if parser != *piece.parser {
            acc.parsers_changed.push((chunk, parser));
        }
    }

    /// Keeps the reducer's failure for the engine, which ends the run with
    /// it; returns `false` to stop the chunk.
    #[cold]
    fn fail(&self, acc: &mut Partial<R::State>, e: io::Error) -> bool {
        acc.failure.get_or_insert(e);
        self.failed.store(true, Ordering::Relaxed);
        false
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
                acc.other_paths.insert(path.to_vec());
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

    /// Adds a counted line of `weight` to window `key` (made when new);
    /// whether to go on (`false`: the reducer failed, and the run ends).
    #[inline(always)]
    fn add(&self, acc: &mut Partial<R::State>, key: i64, rec: &Record<'_>, weight: u64) -> bool {
        let state = acc.windows.get(key, |last| match last {
            Some(last) => self.reducer.new_state_after(last),
            None => self.reducer.new_state(),
        });
        let line = Weighed {
            from: rec.from,
            to: rec.to,
            weight,
        };
        match self.reducer.add(state, line) {
            Ok(()) => true,
            Err(e) => self.fail(acc, e),
        }
    }

    /// Counts a line that passed the filters in a run that ranks by bytes
    /// or packets, reading its count only now: `None` once counted (or
    /// found late), else whether to go on (the count is not a number, or
    /// the reducer failed). The count is read before the line's lateness is
    /// known: lateness depends on how the input was cut into waves (a line
    /// of an hour an earlier wave released is found late only when the
    /// waves merge), and whether a line is malformed must not. Out of the
    /// per-line loop, which every other run shares.
    #[inline(never)]
    fn add_weighted(
        &self,
        acc: &mut Partial<R::State>,
        key: i64,
        rec: &Record<'_>,
        chunk: usize,
        line: u64,
    ) -> Option<bool> {
        let weight = match self.reducer.weight(rec) {
            Ok(weight) => weight,
            Err(e) => return Some(self.malformed(acc, chunk, line, e)),
        };
        if key < acc.cut {
            acc.late_line();
            return None;
        }
        (!self.add(acc, key, rec, weight)).then_some(false)
    }

    /// A record the engine finds malformed (from the future, or with a
    /// count that is not a number), out of the per-line loop.
    #[cold]
    #[inline(never)]
    fn malformed(
        &self,
        acc: &mut Partial<R::State>,
        chunk: usize,
        line: u64,
        e: LineError,
    ) -> bool {
        self.rare_outcome(acc, chunk, line, Outcome::Malformed(e))
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
    /// so progress does not count their bytes twice. `seed`: under
    /// [`Release::AtEnd`], windows the first thread goes on counting into,
    /// so that the run's windows are not built again and merged for every
    /// group of a stream (empty under [`Release::Watermark`]).
    pub(super) fn scan_group(
        &self,
        first: usize,
        group: &Group<'_>,
        again: bool,
        seed: Windows<R::State>,
    ) -> Vec<Partial<R::State>> {
        let one = |i: usize, acc: &mut Partial<R::State>| {
            self.scan_chunk(acc, first + i, &group.chunk(i));
            let bytes = group.done(i);
            if !again {
                self.progress.advance(bytes);
            }
        };
        match self.opts.release {
            Release::AtEnd => {
                // One partial per thread, each over a run of consecutive
                // chunks: every partial holds tables as large as the hosts
                // its lines bring, so more partials than threads cost fresh
                // memory and merges, and that dominates on logs of tens of
                // millions of hosts (docs/benchmarks.md, "Every cardinality").
                let parts = self.opts.threads.clamp(1, group.len().max(1));
                let mut accs: Vec<Partial<R::State>> =
                    (0..parts).map(|_| Partial::default()).collect();
                accs[0].windows = seed;
                let partials: Vec<Partial<R::State>> = accs
                    .into_par_iter()
                    .enumerate()
                    .map(|(p, mut acc)| {
                        for i in p * group.len() / parts..(p + 1) * group.len() / parts {
                            one(i, &mut acc);
                        }
                        acc
                    })
                    .collect();
                vec![partials
                    .into_par_iter()
                    .reduce_with(|a, b| a.merge(b, self.reducer))
                    .unwrap_or_default()]
            }
            Release::Watermark { .. } => {
                debug_assert!(seed.is_empty(), "waves start with no window");
                (0..group.len().div_ceil(WAVE_CHUNKS))
                    .into_par_iter()
                    .map(|w| {
                        let mut acc = Partial::default();
                        for i in w * WAVE_CHUNKS..((w + 1) * WAVE_CHUNKS).min(group.len()) {
                            one(i, &mut acc);
                        }
                        acc.windows.for_each_mut(|state| self.reducer.settle(state));
                        acc
                    })
                    .collect()
            }
        }
    }
}

/// One chunk's lines as the scanner counts them into its partial.
struct ChunkLines<'s, 'a, R: Reducer> {
    scanner: &'s Scanner<'a, R>,
    acc: &'s mut Partial<R::State>,
    windows: WindowOf,
    chunk: usize,
    /// Lines handed over so far.
    lines: u64,
}

impl<R: Reducer> Each for ChunkLines<'_, '_, R> {
    /// Counts one line; always inlined into each format's loop, where a
    /// closure was a call a line with the record passed in memory.
    #[inline(always)]
    fn line(&mut self, outcome: Outcome<'_>) -> bool {
        let Self {
            scanner: this,
            acc,
            windows,
            chunk,
            lines,
        } = self;
        *lines += 1;
        // The record is read where it lies, field by field: moving it out
        // of the outcome (or rebuilding the outcome) copies it with 16-byte
        // loads from the 8-byte stores that have just written it, a stalled
        // store forward on every line (a sixth of a run's time in perf).
        match &outcome {
            Outcome::Record(rec) => {
                if this.future_limit.is_some_and(|f| rec.ts > f) {
                    return this.malformed(acc, *chunk, *lines - 1, LineError::Future);
                }
                let key = windows.of(this.filter, rec.ts);
                if let Some(key) = key.filter(|_| !this.filtering || this.filter.passes(rec)) {
                    if this.needs.count().is_some() {
                        if let Some(go_on) = this.add_weighted(acc, key, rec, *chunk, *lines - 1) {
                            return go_on;
                        }
                    } else if key < acc.cut {
                        acc.late_line();
                    } else if !this.add(acc, key, rec, 1) {
                        return false;
                    }
                }
                if acc.newest.is_none_or(|n| rec.ts > n) {
                    acc.newest = Some(rec.ts);
                    if rec.ts >= acc.raise_at {
                        match (this.drop_late, this.late_ms) {
                            (true, Some(late_ms)) => acc.raise_cut(rec.ts, late_ms, this.filter),
                            _ => acc.raise_at = i64::MAX,
                        }
                    }
                }
            }
            Outcome::Blank | Outcome::Header(None) => {}
            _ => return this.rare_outcome(acc, *chunk, *lines - 1, outcome),
        }
        true
    }

    #[inline(always)]
    fn skips_counts(&self) -> bool {
        self.scanner.filtering && !self.scanner.filter.flows.is_empty()
    }

    /// Counts are read only for lines that pass the port and protocol
    /// filters, which `line` tests first.
    #[inline(always)]
    fn wants_counts(&self, flow: &Flow<'_>) -> bool {
        self.scanner.filter.flows_pass(flow)
    }
}

/// Parses a chunk that holds lines too long to parse: the lines between
/// them, and each of them as one malformed line, in order. Kept out of the
/// common path, where a chunk has no such line.
#[cold]
#[inline(never)]
fn scan_around(parser: &mut Parser, piece: &Chunk<'_>, needs: Needs, each: &mut impl Each) {
    let mut from = 0;
    for long in piece.too_long.iter() {
        if !parser.scan_each(&piece.bytes[from..long.start], needs, each)
            || !each.line(Outcome::Malformed(LineError::TooLong))
        {
            return;
        }
        from = long.end;
    }
    parser.scan_each(&piece.bytes[from..], needs, each);
}

pub(super) fn min_bad(
    a: Option<(usize, u64, LineError)>,
    b: Option<(usize, u64, LineError)>,
) -> Option<(usize, u64, LineError)> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if (b.0, b.1) < (a.0, a.1) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// What one or more chunks contributed.
pub(super) struct Partial<S> {
    pub(super) windows: Windows<S>,
    pub(super) malformed: u64,
    /// (chunk, 0-based line in chunk, reason) of the earliest malformed line seen.
    pub(super) first_bad: Option<(usize, u64, LineError)>,
    /// Lines per chunk, to turn chunk-relative lines into line numbers.
    pub(super) chunk_lines: Vec<(usize, u64)>,
    /// The newest well-formed timestamp seen.
    pub(super) newest: Option<i64>,
    /// Hours before this are behind the watermark of the lines seen (with
    /// [`Scanner::drop_late`]): their next lines are late.
    pub(super) cut: i64,
    /// The newest timestamp from which the cut may move: below it, a
    /// newer line leaves the cut where it is, and the line loop compares
    /// once instead of working out the watermark.
    raise_at: i64,
    /// Late lines, by the cut in force when they were met (ascending).
    pub(super) late: Vec<(i64, u64)>,
    /// Records skipped on purpose, by [`Skip::index`].
    pub(super) skipped: [u64; Skip::ALL.len()],
    /// Zeek `#path`s other than `conn` met.
    pub(super) other_paths: FirstSeen<Vec<u8>>,
    /// Chunks whose header lines changed the parser, each with the parser
    /// in force after it (see [`Group::parsers_hold`]).
    pub(super) parsers_changed: Vec<(usize, Parser)>,
    /// The reducer's failure (a spill that failed): it ends the run.
    pub(super) failure: Option<io::Error>,
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
            raise_at: i64::MIN,
            late: Vec::new(),
            skipped: [0; Skip::ALL.len()],
            other_paths: FirstSeen::default(),
            parsers_changed: Vec::new(),
            failure: None,
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
    /// minus `late_ms`, and with it the cut once per bin of `filter`.
    #[inline(never)]
    fn raise_cut(&mut self, ts: i64, late_ms: i64, filter: &Filter) {
        let watermark = ts.saturating_sub(late_ms);
        let Some(bin) = filter.bin else {
            self.raise_at = i64::MAX;
            return;
        };
        if watermark >= self.cut.saturating_add(bin) {
            self.cut = filter.bin_start(watermark);
        }
        self.raise_at = self.cut.saturating_add(bin).saturating_add(late_ms);
    }

    fn merge<R: Reducer<State = S>>(mut self, other: Partial<S>, reducer: &R) -> Self {
        self.failure = self.failure.or(other.failure);
        if let Err(e) = self
            .windows
            .merge(other.windows, |a, b| reducer.merge(a, b))
        {
            self.failure.get_or_insert(e);
        }
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
        self.other_paths.extend(other.other_paths);
        self.parsers_changed.extend(other.parsers_changed);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::format::Parser;
    use crate::input::line_limit::LineBlock;
    use crate::input::Block;
    use crate::partial::{Body, BodyIn, DecodeError};
    use crate::query::Query;
    use crate::reduce::exact::ExactReducer;
    use crate::report::Answer;

    /// The exact reducer, counting the states it makes.
    struct Counting {
        exact: ExactReducer,
        made: AtomicUsize,
    }

    type State = <ExactReducer as Reducer>::State;

    impl Reducer for Counting {
        type State = State;

        fn new_state(&self) -> State {
            self.made.fetch_add(1, Ordering::Relaxed);
            self.exact.new_state()
        }

        fn add(&self, state: &mut State, line: Weighed<'_>) -> io::Result<()> {
            self.exact.add(state, line)
        }

        fn lines(&self, state: &State) -> u64 {
            self.exact.lines(state)
        }

        fn total(&self, state: &State) -> u64 {
            self.exact.total(state)
        }

        fn merge(&self, into: &mut State, other: State) -> io::Result<()> {
            self.exact.merge(into, other)
        }

        fn merge_partials(&self, states: Vec<State>) -> io::Result<State> {
            self.exact.merge_partials(states)
        }

        fn finish(&self, state: State) -> io::Result<Answer> {
            self.exact.finish(state)
        }

        fn encode(&self, state: State) -> io::Result<Body> {
            self.exact.encode(state)
        }

        fn decode(&self, body: BodyIn<'_>) -> Result<State, DecodeError> {
            self.exact.decode(body)
        }
    }

    #[test]
    fn a_group_read_to_the_end_makes_one_state_a_thread() {
        // Every state holds a table as large as the hosts its lines bring:
        // on a log of tens of millions of hosts, each state more than the
        // threads costs gigabytes of fresh memory and a merge of them.
        let reducer = Counting {
            exact: ExactReducer::new(Query::new(None, None, true)),
            made: AtomicUsize::new(0),
        };
        let parser = Parser::Connspy;
        let blocks = (0..64)
            .map(|i| {
                let lines = format!("1565647200000 h{i} t\n").repeat(10);
                Block::new(LineBlock::whole(lines.into_bytes()), parser.clone())
            })
            .collect();
        let group = Group::blocks(blocks);
        let filter = Filter::default();
        let progress = Progress::hidden();
        for threads in [1, 2, 3] {
            let opts = ScanOptions {
                threads,
                release: Release::AtEnd,
                ..ScanOptions::default()
            };
            let scanner = Scanner {
                reducer: &reducer,
                filter: &filter,
                opts: &opts,
                progress: &progress,
                future_limit: None,
                late_ms: None,
                drop_late: false,
                filtering: false,
                needs: Needs::default(),
                strict_stop: AtomicUsize::new(usize::MAX),
                failed: AtomicBool::new(false),
            };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            reducer.made.store(0, Ordering::Relaxed);
            let partials =
                pool.install(|| scanner.scan_group(0, &group, false, Windows::default()));
            assert_eq!(partials.len(), 1);
            let windows = partials.into_iter().next().unwrap().windows.into_sorted();
            assert_eq!(windows.len(), 1);
            assert_eq!(reducer.exact.lines(&windows[0].1), 640);
            assert_eq!(
                reducer.made.load(Ordering::Relaxed),
                threads,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn a_streams_groups_count_on_into_the_runs_windows() {
        // Each group of a stream used to build every window again on each
        // thread and merge it into the run's: now the first thread counts on
        // into the run's windows, and only the others build their own.
        use crate::engine::Engine;
        use crate::input::Input;
        use crate::output::sink::Answers;
        let reducer = Counting {
            exact: ExactReducer::new(Query::new(None, None, true)),
            made: AtomicUsize::new(0),
        };
        let filter = Filter::default();
        let progress = Progress::hidden();
        let groups = 8;
        for threads in [1, 2] {
            let opts = ScanOptions {
                threads,
                release: Release::AtEnd,
                ..ScanOptions::default()
            };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            reducer.made.store(0, Ordering::Relaxed);
            let mut lines = 0;
            pool.install(|| {
                let mut sink = Answers::new(&reducer, |report| {
                    lines += report.answer.lines;
                    Ok(())
                });
                let mut engine = Engine::new(&reducer, &filter, &opts, &progress, &mut sink);
                let input = engine.begin_input(&Input::Stdin);
                for g in 0..groups {
                    let blocks = (0..4)
                        .map(|b| {
                            let text = format!("1565647200000 h{g}-{b} t\n").repeat(10);
                            Block::new(LineBlock::whole(text.into_bytes()), Parser::Connspy)
                        })
                        .collect();
                    engine.feed(input, Group::blocks(blocks)).unwrap();
                }
                engine.finish(true).unwrap();
            });
            assert_eq!(lines, groups as u64 * 40);
            let expect = if threads == 1 { 1 } else { groups + 1 };
            assert_eq!(
                reducer.made.load(Ordering::Relaxed),
                expect,
                "{threads} threads"
            );
        }
    }
}
