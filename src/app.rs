//! A whole run: scan, print every window, then report malformed lines.

use std::io::{self, Write};

use crate::config::{Config, Mode};
use crate::engine::{answer, in_order, with_pool, Closed, Engine, Summary};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::partial::Params;
use crate::progress::Progress;
use crate::reduce::approx::ApproxReducer;
use crate::reduce::exact::ExactReducer;
use crate::reduce::Reducer;
use crate::report::Report;
use crate::signals;

/// Runs `config`, printing results to `out` and warnings to `err`.
///
/// A reader that closes the pipe early (`connspy ... | head`) ends the run
/// quietly and successfully.
///
/// # Errors
/// Any [`Error`]; a closed pipe is not one.
pub fn run(config: &Config, out: impl Write + Send, mut err: impl Write) -> Result<()> {
    let notes = match (&config.merge, config.mode) {
        (Some(expect), _) => crate::partial::merge::run(expect, config, out),
        (None, Mode::Exact) => scan_with(&ExactReducer::new(config.query.clone()), config, out),
        (None, Mode::Approx(settings)) => scan_with(
            &ApproxReducer::new(config.query.clone(), settings),
            config,
            out,
        ),
    };
    let notes = match notes {
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    };
    notes.report(&mut err);
    Ok(())
}

/// What a run says on stderr once its results are out: lines it skipped
/// and answers that may be lossy. A merge adds up the partials' notes.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Notes {
    /// Malformed lines skipped.
    pub(crate) malformed: u64,
    /// The first of them: input, line number, what is wrong.
    pub(crate) first_malformed: Option<(String, u64, String)>,
    /// Records skipped on purpose, by [`crate::input::format::Skip::index`].
    pub(crate) skipped: [u64; crate::input::format::Skip::ALL.len()],
    /// Zeek header blocks whose `#path` is not `conn`: input and path.
    pub(crate) other_paths: Vec<(String, String)>,
    /// Lines dropped because their hour had already been reported.
    pub(crate) late: u64,
    /// Windows whose lists may have dropped hosts more often than 1 in 1000.
    pub(crate) lossy_windows: u64,
    /// The worst missed rate of those.
    pub(crate) worst_missed_rate: f64,
}

impl Notes {
    /// The notes of an engine run.
    pub(crate) fn of(summary: &Summary) -> Notes {
        Notes {
            malformed: summary.malformed,
            first_malformed: summary.first_malformed.as_ref().map(|bad| {
                (
                    bad.path.display().to_string(),
                    bad.line,
                    bad.reason.to_string(),
                )
            }),
            skipped: summary.skipped,
            other_paths: summary
                .other_paths
                .iter()
                .map(|(p, z)| {
                    (
                        p.display().to_string(),
                        String::from_utf8_lossy(z).into_owned(),
                    )
                })
                .collect(),
            late: summary.late,
            lossy_windows: 0,
            worst_missed_rate: 0.0,
        }
    }

    /// Counts `report`'s lists towards the lossy-answer warning.
    pub(crate) fn saw(&mut self, report: &Report) {
        let a = &report.answer;
        let worst = [&a.to_host, &a.from_host]
            .into_iter()
            .flatten()
            .filter_map(|l| l.missed_rate)
            .fold(0.0, f64::max);
        if worst > MISSED_RATE_WARNING {
            self.lossy_windows += 1;
            self.worst_missed_rate = self.worst_missed_rate.max(worst);
        }
    }

    /// Adds `other`'s counts; the first malformed line stays the first
    /// one met.
    pub(crate) fn add(&mut self, other: Notes) {
        self.malformed += other.malformed;
        if self.first_malformed.is_none() {
            self.first_malformed = other.first_malformed;
        }
        for (total, n) in self.skipped.iter_mut().zip(other.skipped) {
            *total += n;
        }
        for path in other.other_paths {
            if !self.other_paths.contains(&path) {
                self.other_paths.push(path);
            }
        }
        self.late += other.late;
    }

    /// Whether a partial needs a summary line to carry these notes.
    pub(crate) fn is_empty(&self) -> bool {
        self.malformed == 0
            && self.skipped.iter().all(|&n| n == 0)
            && self.other_paths.is_empty()
            && self.late == 0
    }
}

fn scan_with<R: Reducer>(reducer: &R, config: &Config, out: impl Write + Send) -> Result<Notes> {
    // A live follow has no end to show progress towards.
    let progress = match config.tail {
        Some(_) => Progress::hidden(),
        None => Progress::for_input(config.input_size()),
    };
    let tail = config.tail.is_some();
    let mut notes = Notes::default();
    let params = Params {
        query: config.query.clone(),
        filter: config.filter,
        mode: config.mode,
    };
    let mut output = Output::new(out, config.format, &params);
    let mut sink = |windows: Vec<Closed<R::State>>| match &mut output {
        Output::Partial(w, stamp) => {
            let stamp = &*stamp;
            in_order(
                windows,
                |window| stamp.window(reducer, window.key, window.state),
                |line| w.write_line(&line),
            )
        }
        Output::Answers(writer) => in_order(
            windows,
            |window| answer(reducer, window),
            |report| {
                notes.saw(&report);
                writer.write(&report).map_err(Error::Output)?;
                if tail && report.late > 0 {
                    // A follower of the output sees the record at once; say so now too.
                    let _ = writeln!(
                        io::stderr(),
                        "connspy: warning: dropped {} late line(s) since the previous hour \
                         reported",
                        report.late
                    );
                }
                Ok(())
            },
        ),
    };
    let engine = match &config.tail {
        None => with_pool(config.scan.threads, || {
            let mut engine =
                Engine::new(reducer, &config.filter, &config.scan, &progress, &mut sink);
            engine.scan_all(&config.inputs, || false, &mut Err)?;
            engine.finish(true)
        }),
        Some(opts) => {
            let stop = signals::termination_flag()
                .map_err(|e| Error::Setup(format!("cannot catch SIGINT and SIGTERM: {e}")))?;
            with_pool(config.scan.threads, || {
                let engine =
                    Engine::new(reducer, &config.filter, &config.scan, &progress, &mut sink);
                crate::tail::run(engine, &config.inputs, opts, &stop, &mut io::stderr())
            })
        }
    };
    progress.finish();
    let summary = engine?;
    notes.add(Notes::of(&summary));
    if let Output::Partial(w, stamp) = &mut output {
        if let Some(line) = stamp.summary(&notes) {
            // Skipped lines travel to the merge too, which reports the total.
            w.write_line(&line)?;
        }
    }
    Ok(notes)
}

/// Above this estimated chance of dropping a host, approximate lists deserve
/// a warning.
const MISSED_RATE_WARNING: f64 = 1e-3;

impl Notes {
    /// Says on stderr what was skipped. Best effort: stderr may be closed
    /// too, and the results are already out.
    pub(crate) fn report(&self, err: &mut impl Write) {
        if self.lossy_windows > 0 {
            let _ = writeln!(
                err,
                "connspy: warning: in {} window(s) an approximate list may have dropped hosts \
                 (missed_rate up to {:.1e} > {MISSED_RATE_WARNING:.0e}); raise --memory_limit",
                self.lossy_windows, self.worst_missed_rate
            );
        }
        if let Some((path, line, reason)) = &self.first_malformed {
            let n = self.malformed;
            let _ = writeln!(
                err,
                "connspy: warning: skipped {n} malformed line{}; the first at {path}:{line}: \
                 {reason}",
                if n == 1 { "" } else { "s" },
            );
        }
        for (path, zeek_path) in &self.other_paths {
            let _ = writeln!(
                err,
                "connspy: note: {path}: a Zeek header block has #path {zeek_path}, not conn; its \
                 lines were read as connections",
            );
        }
        for kind in crate::input::format::Skip::ALL {
            let n = self.skipped[kind.index()];
            if n > 0 {
                let _ = writeln!(err, "connspy: note: skipped {n} {}", kind.describe());
            }
        }
        if self.late > 0 {
            let n = self.late;
            let _ = writeln!(
                err,
                "connspy: warning: dropped {n} late line{}: their hour had already been reported \
                 (raise --max_log_late_seconds to wait longer)",
                if n == 1 { "" } else { "s" },
            );
        }
    }
}
