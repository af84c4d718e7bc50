//! Where closed windows go: answered (text, JSON, TSV, or any callback), or
//! encoded as partial lines for a later `--merge`. Every run driver (scan,
//! follow, merge) hands its windows to a [`Sink`], so the choice of output is
//! made once, in [`for_format`], and nothing upstream branches on it.

use std::io::{self, Write};

use rayon::prelude::*;

use super::{Format, Writer};
use crate::error::{Error, Result};
use crate::notes::Notes;
use crate::partial::{Params, Stamp};
use crate::reduce::Reducer;
use crate::report::Report;

/// Receives the windows a run is done with, in window order, as many at a
/// time as were closed together (all of them at the end of a batch run).
pub trait Sink<S>: Send {
    /// Takes closed windows, in window order.
    ///
    /// # Errors
    /// Answering or encoding a window (reading back spilled state), or
    /// writing.
    fn windows(&mut self, windows: Vec<Closed<S>>) -> Result<()>;

    /// Ends the output once the run's notes are final: adds what the sink
    /// noted to `notes`, or writes them where they travel on.
    ///
    /// # Errors
    /// Writing.
    fn finish(&mut self, notes: &mut Notes) -> Result<()>;
}

/// A window the engine is done with.
#[derive(Debug)]
pub struct Closed<S> {
    /// The window's key: its hour's start, or 0 for the whole range.
    pub key: i64,
    /// Inclusive start in Unix milliseconds; `None` when unbounded.
    pub start: Option<i64>,
    /// Exclusive end in Unix milliseconds; `None` when unbounded.
    pub end: Option<i64>,
    /// What the window saw.
    pub state: S,
    /// Lines dropped since the previous window because their hour had
    /// already been released.
    pub late: u64,
    /// False for a window closed before its hour ended (tail mode, stopped
    /// by a signal).
    pub complete: bool,
}

/// The sink of a run's `--format`: answers written to `out`, or partial
/// lines stamped with `params`. `tail`: say on stderr at once when a record
/// reports late lines, for a reader following the output.
pub(crate) fn for_format<'r, R: Reducer, W: Write + Send + 'r>(
    format: Format,
    reducer: &'r R,
    params: &Params,
    out: W,
    tail: bool,
) -> Box<dyn Sink<R::State> + 'r> {
    match format {
        Format::Partial => Box::new(Partials {
            reducer,
            stamp: Stamp::new(params),
            out,
        }),
        format => {
            let mut writer = Writer::new(out, format, &params.query, params.filter.binned());
            let mut answers = Answers::new(reducer, move |report: Report| writer.write(&report));
            answers.warn_late = tail;
            Box::new(answers)
        }
    }
}

/// Answers each window with its reducer and hands the report to `emit`.
pub struct Answers<'r, R, E> {
    reducer: &'r R,
    emit: E,
    /// The lossy-answer tally of the windows answered.
    seen: Notes,
    warn_late: bool,
}

impl<'r, R: Reducer, E: FnMut(Report) -> io::Result<()> + Send> Answers<'r, R, E> {
    /// A sink that answers with `reducer` and hands each report to `emit`.
    pub fn new(reducer: &'r R, emit: E) -> Self {
        Answers {
            reducer,
            emit,
            seen: Notes::default(),
            warn_late: false,
        }
    }
}

impl<R: Reducer, E: FnMut(Report) -> io::Result<()> + Send> Sink<R::State> for Answers<'_, R, E> {
    fn windows(&mut self, windows: Vec<Closed<R::State>>) -> Result<()> {
        let reducer = self.reducer;
        in_order(
            windows,
            |window| answer(reducer, window),
            |report| {
                self.seen.saw(&report);
                let late = report.late;
                (self.emit)(report).map_err(Error::Output)?;
                if self.warn_late && late > 0 {
                    // A follower of the output sees the record at once; say so now too.
                    let _ = writeln!(
                        io::stderr(),
                        "connspy: warning: dropped {late} late line(s) since the previous hour \
                         reported",
                    );
                }
                Ok(())
            },
        )
    }

    fn finish(&mut self, notes: &mut Notes) -> Result<()> {
        notes
            .merge(std::mem::take(&mut self.seen))
            .map_err(Error::Usage)
    }
}

/// Encodes each window as a partial line, and the run's notes as a summary
/// line at the end.
struct Partials<'r, R, W> {
    reducer: &'r R,
    stamp: Stamp,
    out: W,
}

/// Writes one line and flushes it, so a reader of the pipe gets each window
/// as soon as it is closed.
fn write_line(out: &mut impl Write, line: &[u8]) -> Result<()> {
    out.write_all(line)
        .and_then(|()| out.flush())
        .map_err(Error::Output)
}

impl<R: Reducer, W: Write + Send> Sink<R::State> for Partials<'_, R, W> {
    fn windows(&mut self, windows: Vec<Closed<R::State>>) -> Result<()> {
        let Partials {
            reducer,
            stamp,
            out,
        } = self;
        in_order(
            windows,
            |window| {
                let mut body = reducer.encode(window.state).map_err(Error::spill)?;
                // The late lines reported with this window go with it, so that
                // a merge reports them where a direct run does.
                if window.late > 0 {
                    body.first_count("late", window.late);
                }
                Ok(stamp.window(window.key, &body))
            },
            |line| write_line(out, &line),
        )
    }

    fn finish(&mut self, notes: &mut Notes) -> Result<()> {
        // Skipped and late lines travel to the merge too, which reports the
        // total.
        match self.stamp.summary(notes) {
            Some(line) => write_line(&mut self.out, &line),
            None => Ok(()),
        }
    }
}

/// The report of a closed window: its state answered by `reducer`.
///
/// # Errors
/// Reading back state spilled to a temporary file.
fn answer<R: Reducer>(reducer: &R, window: Closed<R::State>) -> Result<Report> {
    Ok(Report {
        start: window.start,
        end: window.end,
        answer: reducer.finish(window.state).map_err(Error::spill)?,
        late: window.late,
        complete: window.complete,
    })
}

/// Turns `windows` into outputs with `prepare` on the thread pool, a few at a
/// time, and hands them to `emit` in their order.
///
/// Answering or encoding a window of hundreds of thousands of hosts is a pass
/// over all of them: done side by side, the end of a batch run takes a
/// fraction of the time. Only as many prepared windows as the pool has
/// threads are held at once.
///
/// # Errors
/// The first error of `prepare` or `emit`, in window order.
fn in_order<S: Send, T: Send>(
    windows: Vec<Closed<S>>,
    prepare: impl Fn(Closed<S>) -> Result<T> + Sync,
    mut emit: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let batch = rayon::current_num_threads().max(1);
    let mut windows = windows.into_iter().peekable();
    while windows.peek().is_some() {
        let some: Vec<Closed<S>> = windows.by_ref().take(batch).collect();
        let ready: Vec<Result<T>> = if some.len() == 1 {
            some.into_iter().map(&prepare).collect()
        } else {
            some.into_par_iter().map(&prepare).collect()
        };
        for item in ready {
            emit(item?)?;
        }
    }
    Ok(())
}
