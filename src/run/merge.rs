//! `--merge`: partial lines in, answers (or one merged partial) out.
//!
//! The first line names the settings; every other line must carry the same
//! ones. Lines are folded per window with the reducer's own merge. When the
//! lines arrive grouped by window (after `sort`, or a shuffle), one window is
//! held at a time and printed as soon as the next one starts; otherwise every
//! window is held until the input ends, as a batch run holds its hours.
//! A first pass over the keys tells which; standard input, which cannot be
//! read twice, is copied to a temporary file on that pass.
//!
//! Exact states merge exactly, so their order never matters. An approximate
//! window's lines are sorted before they are folded, so that one merge of the
//! same lines gives the same bytes in any input order (the heavy-hitter merge
//! is not associative; see docs/accuracy.md for the bounds it keeps).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use super::with_pool;
use crate::config::{Expect, Merge};
use crate::error::{Error, Result};
use crate::input::decompress::{decoded, Trailer};
use crate::input::Input;
use crate::notes::Notes;
use crate::output::sink::{self, Closed, Sink};
use crate::output::Format;
use crate::partial::{self as line, digest, window_key, Params, Parsed, RANGE_KEY, SUMMARY_KEY};
use crate::query::Mode;
use crate::reduce::approx::ApproxReducer;
use crate::reduce::exact::ExactReducer;
use crate::reduce::Reducer;
use crate::timestamp::{parse_rfc3339, Rfc3339Ms, HOUR_MS};

/// The longest partial line read: far above what one window of the largest
/// sketches needs, so that a line without an end cannot take all memory.
const MAX_LINE: usize = 1 << 30;

/// The first flag of `expect` that `p` contradicts, said as a user would fix
/// it.
fn disagreement(expect: &Expect, p: &Params) -> Option<String> {
    let q = &p.query;
    let host = |h: &Option<Vec<u8>>| {
        h.as_ref().map_or_else(
            || "none".into(),
            |h| String::from_utf8_lossy(h).into_owned(),
        )
    };
    for (flag, given, theirs) in [
        ("--to_host", &expect.query.to_host, &q.to_host),
        ("--from_host", &expect.query.from_host, &q.from_host),
    ] {
        if given.is_some() && given != theirs {
            return Some(format!(
                "{flag} {} disagrees with the partials, which answer {flag} {}",
                host(given),
                host(theirs)
            ));
        }
    }
    for (flag, given, theirs) in [
        (
            "--busiest_from_host",
            expect.query.busiest_from,
            q.busiest_from,
        ),
        ("--busiest_to_host", expect.query.busiest_to, q.busiest_to),
        ("--approx", expect.approx, matches!(p.mode, Mode::Approx(_))),
    ] {
        if given && !theirs {
            return Some(format!(
                "{flag} was given, and the partials were written without it"
            ));
        }
    }
    let nets = &p.filter.nets;
    for (flag, given, theirs) in [
        ("--from_net", &expect.nets.from, &nets.from),
        ("--to_net", &expect.nets.to, &nets.to),
    ] {
        if !given.is_empty() && given != theirs {
            let said = |n: &crate::hosts::net::Nets| {
                if n.is_empty() {
                    "no network".to_owned()
                } else {
                    n.join(" ")
                }
            };
            return Some(format!(
                "{flag} {} disagrees with the partials, which count {flag} {}",
                said(given),
                said(theirs)
            ));
        }
    }
    let (given, theirs) = (&expect.flows, &p.filter.flows);
    if !given.to_ports.is_empty() && given.to_ports != theirs.to_ports {
        return Some("--to_port disagrees with the ports the partials count".into());
    }
    if !given.protos.is_empty() && given.protos != theirs.protos {
        return Some("--proto disagrees with the protocols the partials count".into());
    }
    if let Some(bin) = expect.bin.filter(|&b| Some(b) != p.filter.bin) {
        let flag = if bin == HOUR_MS {
            "--hourly".to_owned()
        } else {
            format!("--bin {}", bin / 1000)
        };
        return Some(match p.filter.bin {
            None => format!("{flag} was given, and the partials were written without it"),
            Some(theirs) => format!(
                "{flag} disagrees with the partials, whose bins are {} s",
                theirs / 1000
            ),
        });
    }
    if let Some(by) = expect.by.filter(|&b| b != q.by) {
        return Some(format!(
            "--by {} disagrees with the partials, which rank by {}",
            by.name(),
            q.by.name()
        ));
    }
    if let Some(top) = expect.top.filter(|&t| t != q.top) {
        return Some(format!(
            "--top {top} disagrees with the partials, which list --top {}",
            q.top
        ));
    }
    for (flag, given, theirs) in [
        ("--time_init", &expect.init, p.filter.init),
        ("--time_end", &expect.end, p.filter.end),
    ] {
        if let Some((ms, text)) = given {
            if Some(*ms) != theirs {
                return Some(format!(
                    "{flag} '{text}' disagrees with the partials, whose range has {flag} {}",
                    theirs.map_or_else(|| "none".into(), |t| Rfc3339Ms(t).to_string())
                ));
            }
        }
    }
    let (top_k, precision) = match p.mode {
        Mode::Approx(a) => (Some(a.top_k), Some(a.hll_precision)),
        Mode::Exact => (None, None),
    };
    if let Some(k) = expect.top_k.filter(|&k| Some(k) != top_k) {
        return Some(format!("--top_k {k} disagrees with the partials' sketches"));
    }
    if let Some(p) = expect.hll_precision.filter(|&p| Some(p) != precision) {
        return Some(format!(
            "--hll_precision {p} disagrees with the partials' sketches"
        ));
    }
    None
}

/// Merges the partials of `config.inputs` and prints their answers in
/// `config.format`.
///
/// # Errors
/// An input that cannot be read, a line that is not a partial or was
/// changed, partials that disagree with each other or with `expect`
/// (usage errors naming the file and line), or writing.
pub(crate) fn run(config: &Merge, out: impl Write + Send) -> Result<Notes> {
    let (grouped, spools, trailing_zeros) = grouping(&config.inputs)?;
    let said = |mut notes: Notes| {
        notes.trailing_zeros.splice(0..0, trailing_zeros);
        notes
    };
    let mut lines = Lines::new(&config.inputs, spools);
    // A reducer of Hadoop streaming whose partition got no key still runs:
    // no lines is no windows, not an error.
    let Some(first) = lines.next_line()? else {
        return Ok(said(Notes::default()));
    };
    let at = lines.at();
    let parsed = line::parse(&first).map_err(|e| at.bad(&e.0))?;
    let params = Params::parse(parsed.params).map_err(|e| at.bad(&e))?;
    if digest(parsed.params) != parsed.digest {
        return Err(at.bad("its digest does not match its settings"));
    }
    if let Some(why) = disagreement(&config.expect, &params) {
        return Err(Error::Usage(format!("{}:{}: {why}", at.path, at.line)));
    }
    let settings = Settings {
        text: parsed.params.to_owned(),
        digest: parsed.digest.to_owned(),
        first: at,
        params,
    };
    drop(parsed);
    let format = config.format;
    with_pool(config.threads, move || match settings.params.mode {
        Mode::Exact => {
            let reducer = ExactReducer::new(settings.params.query.clone());
            merge_with(&reducer, format, settings, grouped, first, lines, out)
        }
        Mode::Approx(sketches) => {
            let reducer = ApproxReducer::new(settings.params.query.clone(), sketches);
            merge_with(&reducer, format, settings, grouped, first, lines, out)
        }
    })
    .map(said)
}

/// Folds every line with `reducer` into the sink of `format`.
fn merge_with<R: Reducer>(
    reducer: &R,
    format: Format,
    settings: Settings,
    grouping: Grouping,
    first: Vec<u8>,
    lines: Lines<'_>,
    out: impl Write + Send,
) -> Result<Notes> {
    let mut sink = sink::for_format(format, reducer, &settings.params, out, false);
    let mut notes = Merger::new(reducer, settings, &mut *sink, grouping).run(first, lines)?;
    sink.finish(&mut notes)?;
    Ok(notes)
}

/// Where a line came from, for messages.
#[derive(Debug, Clone)]
struct At {
    path: String,
    line: u64,
}

impl At {
    fn bad(&self, why: &str) -> Error {
        Error::Partial {
            path: PathBuf::from(&self.path),
            line: self.line,
            reason: why.to_owned(),
        }
    }
}

/// The settings of the first line, which every line must share.
struct Settings {
    text: String,
    digest: String,
    first: At,
    params: Params,
}

/// Whether windows can be printed as soon as the next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grouping {
    /// Every window's lines come together, windows in ascending order: one
    /// window is held at a time.
    Grouped,
    /// Windows are spread out: all are merged in memory.
    Spread,
}

/// Decides, by a first pass over the inputs' keys, whether they come grouped
/// by window. Standard input, pipes (a FIFO, `<(sort ...)`) and files without
/// a stated size cannot be read twice, so they are copied to an anonymous
/// temporary file on the way, and read back from there: the copies, by input.
/// This pass reads every input once, so it also tells which compressed ones
/// ended with zero padding after their last gzip member, and how much.
#[allow(clippy::type_complexity)]
fn grouping(inputs: &[Input]) -> Result<(Grouping, Vec<Option<File>>, Vec<(String, u64)>)> {
    // Grouped, and in ascending order of window: then windows can be printed
    // as they end, in the order a direct run prints them.
    let mut last: Option<(Option<i64>, Vec<u8>)> = None;
    let mut grouped = true;
    let mut spools: Vec<Option<File>> = Vec::with_capacity(inputs.len());
    let mut stdin_seen = false;
    let mut trailing_zeros = Vec::new();
    for input in inputs {
        let once = match input {
            // Standard input named twice: the second time it is empty, as
            // a batch run finds it.
            Input::Stdin if stdin_seen => {
                spools.push(None);
                continue;
            }
            Input::Stdin => {
                stdin_seen = true;
                true
            }
            // So cannot a regular file whose size reads 0 but which holds
            // bytes (procfs): its bytes may change from one read to the next.
            Input::File(path) => {
                std::fs::metadata(path).is_ok_and(|m| !m.is_dir() && (!m.is_file() || m.len() == 0))
            }
        };
        let mut copy = if once {
            let file = tempfile::tempfile().map_err(Error::spill)?;
            let writer = file.try_clone().map_err(Error::spill)?;
            spools.push(Some(file));
            Some(io::BufWriter::with_capacity(1 << 16, writer))
        } else {
            spools.push(None);
            None
        };
        let mut lines = Lines::new(std::slice::from_ref(input), Vec::new());
        while let Some(line) = lines.next_raw()? {
            if let Some(copy) = copy.as_mut() {
                copy.write_all(&line)
                    .and_then(|()| copy.write_all(b"\n"))
                    .map_err(Error::spill)?;
            }
            let key = line.split(|&b| b == b'\t').next().unwrap_or_default();
            if !grouped || key.is_empty() || key == SUMMARY_KEY.as_bytes() {
                continue;
            }
            let order = (parse_rfc3339(key).ok(), key.to_vec());
            match &last {
                Some(prev) if *prev == order => {}
                Some(prev) if *prev > order => grouped = false,
                _ => last = Some(order),
            }
        }
        if let Some(mut copy) = copy {
            copy.flush().map_err(Error::spill)?;
        }
        trailing_zeros.extend(lines.trailing_zeros());
    }
    let grouping = if grouped {
        Grouping::Grouped
    } else {
        Grouping::Spread
    };
    Ok((grouping, spools, trailing_zeros))
}

/// The lines of every input in turn, each read whole up to [`MAX_LINE`].
struct Lines<'a> {
    inputs: &'a [Input],
    /// The copies of inputs that cannot be read twice, read in their place
    /// (by input; none on the first pass).
    spools: Vec<Option<File>>,
    next: usize,
    reader: Option<Box<dyn BufRead + Send>>,
    path: String,
    line: u64,
    /// Each input opened, with the zero bytes its decoder skipped.
    opened: Vec<(String, Trailer)>,
}

impl<'a> Lines<'a> {
    fn new(inputs: &'a [Input], spools: Vec<Option<File>>) -> Self {
        Lines {
            inputs,
            spools,
            next: 0,
            reader: None,
            path: String::new(),
            line: 0,
            opened: Vec::new(),
        }
    }

    /// The inputs read so far that ended with zero bytes after their last
    /// gzip member, and how many.
    fn trailing_zeros(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.opened
            .iter()
            .map(|(path, trailer)| (path.clone(), trailer.zero_bytes()))
            .filter(|(_, zeros)| *zeros > 0)
    }

    /// Where the last line returned came from.
    fn at(&self) -> At {
        At {
            path: self.path.clone(),
            line: self.line,
        }
    }

    /// The next non-empty line, without its newline or a carriage return.
    fn next_line(&mut self) -> Result<Option<Vec<u8>>> {
        while let Some(mut line) = self.next_raw()? {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !line.is_empty() {
                return Ok(Some(line));
            }
        }
        Ok(None)
    }

    /// The next line as read, without its newline.
    fn next_raw(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                let Some(input) = self.inputs.get(self.next) else {
                    return Ok(None);
                };
                let spool = self.spools.get_mut(self.next).and_then(Option::take);
                self.next += 1;
                self.reader = Some(match spool {
                    Some(mut spool) => {
                        spool.seek(SeekFrom::Start(0)).map_err(Error::spill)?;
                        Box::new(BufReader::with_capacity(1 << 16, spool))
                    }
                    None => {
                        let trailer = Trailer::default();
                        let reader = open(input, &trailer)?;
                        let path = input.display_path().display().to_string();
                        self.opened.push((path, trailer));
                        reader
                    }
                });
                self.path = input.display_path().display().to_string();
                self.line = 0;
                continue;
            };
            let mut line = Vec::new();
            let got = read_line(reader, &mut line).map_err(|e| {
                if e.kind() == io::ErrorKind::InvalidData {
                    At {
                        path: self.path.clone(),
                        line: self.line + 1,
                    }
                    .bad(&e.to_string())
                } else {
                    Error::reading(std::path::Path::new(&self.path), e)
                }
            })?;
            if !got {
                self.reader = None;
                continue;
            }
            self.line += 1;
            return Ok(Some(line));
        }
    }
}

/// Opens an input of partials, decompressing it when its first bytes say so
/// (counting the zero bytes after its last gzip member in `trailer`).
fn open(input: &Input, trailer: &Trailer) -> Result<Box<dyn BufRead + Send>> {
    let reader: Box<dyn Read + Send> = match input {
        Input::Stdin => Box::new(io::stdin()),
        Input::File(path) => Box::new(crate::input::open_file(path)?.0),
    };
    let (reader, _) =
        decoded(reader, trailer).map_err(|e| Error::reading(input.display_path(), e))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, reader)))
}

/// Reads one line into `line`, newline dropped; `false` at end of input.
///
/// # Errors
/// The reader's error (interrupted reads are retried), or
/// [`io::ErrorKind::InvalidData`] for a line longer than [`MAX_LINE`].
fn read_line(reader: &mut dyn BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(!line.is_empty());
        }
        let (taken, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + taken > MAX_LINE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a line longer than {} MiB is no partial", MAX_LINE >> 20),
            ));
        }
        line.extend_from_slice(&buf[..taken]);
        reader.consume(taken);
        if done {
            line.pop();
            return Ok(true);
        }
    }
}

/// One window's states so far: folded at once when exact; when
/// approximate, kept with their lines, by which they are sorted before they
/// are folded at the end.
/// A window's lines and its sum of the measure (`--by`), checked to fit in
/// 64 bits as partials are added.
#[derive(Clone, Copy)]
struct Sums {
    lines: u64,
    total: u64,
}

impl Sums {
    fn of<R: Reducer>(reducer: &R, state: &R::State) -> Sums {
        Sums {
            lines: reducer.lines(state),
            total: reducer.total(state),
        }
    }

    /// Both sums, or the error of the first that overflows.
    fn add(self, other: Sums, at: &At) -> Result<Sums> {
        Ok(Sums {
            lines: self
                .lines
                .checked_add(other.lines)
                .ok_or_else(|| at.bad("the window's line counts overflow 64 bits when merged"))?,
            total: self.total.checked_add(other.total).ok_or_else(|| {
                at.bad("the window's bytes or packets overflow 64 bits when merged")
            })?,
        })
    }
}

enum Acc<S> {
    Folded(S),
    /// The lines and their states, with the lines they counted in all and
    /// the sum of their measure.
    Lines(Vec<(Vec<u8>, S)>, Sums),
}

struct Merger<'r, R: Reducer> {
    reducer: &'r R,
    settings: Settings,
    sink: &'r mut dyn Sink<R::State>,
    grouping: Grouping,
    /// Exact states fold as they come; approximate ones wait to be sorted.
    fold_early: bool,
    /// The window being read, when grouped.
    current: Option<(i64, Acc<R::State>)>,
    /// Every window, when spread out.
    open: BTreeMap<i64, Acc<R::State>>,
    /// Late lines the partials report with each window.
    late: BTreeMap<i64, u64>,
    notes: Notes,
}

impl<'r, R: Reducer> Merger<'r, R> {
    fn new(
        reducer: &'r R,
        settings: Settings,
        sink: &'r mut dyn Sink<R::State>,
        grouping: Grouping,
    ) -> Self {
        Merger {
            reducer,
            fold_early: matches!(settings.params.mode, Mode::Exact),
            settings,
            sink,
            grouping,
            current: None,
            open: BTreeMap::new(),
            late: BTreeMap::new(),
            notes: Notes::default(),
        }
    }

    fn run(mut self, first: Vec<u8>, mut lines: Lines<'_>) -> Result<Notes> {
        let at = self.settings.first.clone();
        self.take(first, &at)?;
        while let Some(line) = lines.next_line()? {
            self.take(line, &lines.at())?;
        }
        if let Some((key, acc)) = self.current.take() {
            self.close(key, acc)?;
        }
        for (key, acc) in std::mem::take(&mut self.open) {
            self.close(key, acc)?;
        }
        Ok(self.notes)
    }

    /// Checks one line and adds it to its window.
    fn take(&mut self, raw: Vec<u8>, at: &At) -> Result<()> {
        let parsed = line::parse(&raw).map_err(|e| at.bad(&e.0))?;
        self.check_settings(&parsed, at)?;
        if parsed.key == SUMMARY_KEY {
            let notes = Notes::decode(parsed.body).map_err(|e| at.bad(&e.0))?;
            self.notes.merge(notes).map_err(|e| at.bad(&e))?;
            return Ok(());
        }
        let key = self.window_of(parsed.key).map_err(|e| at.bad(&e))?;
        let mut body = parsed.body;
        let late = body.optional_count("late").map_err(|e| at.bad(&e.0))?;
        if late > 0 {
            let total = self.late.entry(key).or_default();
            *total = total
                .checked_add(late)
                .ok_or_else(|| at.bad("the window's late counts overflow 64 bits when merged"))?;
        }
        // Decoded now, even when folded later, so that a bad line is named
        // where it is, before anything is printed past it.
        let state = self.reducer.decode(body).map_err(|e| at.bad(&e.0))?;
        let item = if self.fold_early {
            Acc::Folded(state)
        } else {
            let sums = Sums::of(self.reducer, &state);
            Acc::Lines(vec![(raw, state)], sums)
        };
        match self.grouping {
            Grouping::Spread => {
                let open = self.open.remove(&key);
                let merged = self.fold(open, item, at)?;
                self.open.insert(key, merged);
            }
            Grouping::Grouped => {
                if self.current.as_ref().is_some_and(|(k, _)| *k != key) {
                    let (k, acc) = self.current.take().expect("checked above");
                    self.close(k, acc)?;
                }
                let current = self.current.take().map(|(_, acc)| acc);
                let merged = self.fold(current, item, at)?;
                self.current = Some((key, merged));
            }
        }
        Ok(())
    }

    fn check_settings(&self, parsed: &Parsed<'_>, at: &At) -> Result<()> {
        let s = &self.settings;
        if parsed.params == s.text {
            if parsed.digest != s.digest {
                return Err(at.bad("its digest does not match its settings"));
            }
            return Ok(());
        }
        let theirs = Params::parse(parsed.params).map_err(|e| at.bad(&e))?;
        Err(Error::Usage(format!(
            "{}:{}: this partial was written for other settings than {}:{} ({}); merge only \
             partials of one query, range, bin width, network filter, mode and sketch size",
            at.path,
            at.line,
            s.first.path,
            s.first.line,
            difference(&s.params, &theirs)
        )))
    }

    /// The window a key names.
    fn window_of(&self, key: &str) -> std::result::Result<i64, String> {
        let filter = &self.settings.params.filter;
        if !filter.binned() {
            return if key == RANGE_KEY {
                Ok(0)
            } else {
                Err(format!(
                    "window key '{key}' in a partial without --hourly or --bin"
                ))
            };
        }
        let bin = if filter.hourly() { "UTC hour" } else { "bin" };
        let ms = parse_rfc3339(key.as_bytes())
            .ok()
            .filter(|&ms| filter.bin_start(ms) == ms && window_key(ms) == key)
            .ok_or_else(|| format!("window key '{key}' is not the start of a {bin}"))?;
        // A bin holds lines of the range only if it overlaps the range.
        let (init, end) = (filter.init, filter.end);
        if init.is_some_and(|i| ms < filter.bin_start(i)) || end.is_some_and(|e| ms >= e) {
            return Err(format!(
                "window key '{key}' is a {bin} outside the partials' range"
            ));
        }
        Ok(ms)
    }

    /// Adds `item`, the state of the line at `at`, to a window's. Every count
    /// in a state is bounded by its lines or its sum of the measure
    /// (decoding checks it), so a window whose sums fit in 64 bits cannot
    /// overflow any count.
    fn fold(
        &self,
        into: Option<Acc<R::State>>,
        item: Acc<R::State>,
        at: &At,
    ) -> Result<Acc<R::State>> {
        Ok(match (into, item) {
            (None, item) => item,
            (Some(Acc::Folded(mut a)), Acc::Folded(b)) => {
                Sums::of(self.reducer, &a).add(Sums::of(self.reducer, &b), at)?;
                self.reducer.merge(&mut a, b).map_err(Error::reducing)?;
                Acc::Folded(a)
            }
            (Some(Acc::Lines(mut a, sums)), Acc::Lines(b, more)) => {
                let sums = sums.add(more, at)?;
                a.extend(b);
                Acc::Lines(a, sums)
            }
            _ => unreachable!("one mode per merge"),
        })
    }

    /// Folds a window's lines and prints it.
    fn close(&mut self, key: i64, acc: Acc<R::State>) -> Result<()> {
        let state = match acc {
            Acc::Folded(state) => state,
            Acc::Lines(mut lines, _) => {
                // The same lines in any order fold in one order.
                lines.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                let states = lines.into_iter().map(|(_, state)| state).collect();
                self.reducer
                    .merge_partials(states)
                    .map_err(Error::reducing)?
            }
        };
        let filter = &self.settings.params.filter;
        let (start, end) = filter.span(key);
        self.sink.windows(vec![Closed {
            key,
            start,
            end,
            state,
            late: self.late.remove(&key).unwrap_or(0),
            complete: true,
        }])
    }
}

/// The first setting on which `a` and `b` differ, in words.
fn difference(a: &Params, b: &Params) -> String {
    let (ta, tb) = (a.to_text(), b.to_text());
    for (x, y) in ta.split(',').zip(tb.split(',')) {
        if x != y {
            return format!("{x} there, {y} here");
        }
    }
    format!("{ta} there, {tb} here")
}
