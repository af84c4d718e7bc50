//! The run drivers: how a validated [`Config`] becomes a run. A scan reads
//! logs to their end ([`scan`]), a follow keeps reading a live one
//! ([`follow`]), a merge reads partials ([`merge`]); each hands its closed
//! windows to the [`Sink`](crate::output::sink::Sink) of the run's
//! `--format` and ends with the run's [`Notes`] on stderr.

pub mod follow;
pub mod merge;
pub mod scan;

use std::io::{self, Write};

use crate::config::{Config, Scan};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::notes::Notes;
use crate::output::sink;
use crate::partial::Params;
use crate::progress::Progress;
use crate::query::Mode;
use crate::reduce::approx::ApproxReducer;
use crate::reduce::exact::ExactReducer;
use crate::reduce::Reducer;
use crate::signals;

/// Runs `config`, printing results to `out` and warnings to `err`.
///
/// A reader that closes the pipe early (`connspy ... | head`) ends the run
/// quietly and successfully.
///
/// # Errors
/// Any [`Error`]; a closed pipe is not one.
pub fn run(config: &Config, out: impl Write + Send, mut err: impl Write) -> Result<()> {
    let notes = match config {
        Config::Merge(merge) => merge::run(merge, out),
        Config::Scan(scan) => match scan.mode {
            Mode::Exact => scan_with(&ExactReducer::new(scan.query.clone()), scan, out),
            Mode::Approx(settings) => {
                scan_with(&ApproxReducer::new(scan.query.clone(), settings), scan, out)
            }
        },
    };
    let notes = match notes {
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    };
    notes.report(&mut err);
    Ok(())
}

/// A scan or a follow with `reducer`, into the sink of `config.format`.
fn scan_with<R: Reducer>(reducer: &R, config: &Scan, out: impl Write + Send) -> Result<Notes> {
    let params = Params {
        query: config.query.clone(),
        filter: config.filter.clone(),
        mode: config.mode,
    };
    let tail = config.tail.is_some();
    let mut sink = sink::for_format(config.format, reducer, &params, out, tail);
    let mut notes = match &config.tail {
        None => {
            let progress = Progress::for_input(config.input_size());
            let notes = scan::scan(
                reducer,
                &config.filter,
                &config.scan,
                &config.inputs,
                &progress,
                &mut *sink,
            );
            progress.finish();
            notes?
        }
        Some(opts) => {
            let stop = signals::termination_flag()
                .map_err(|e| Error::Setup(format!("cannot catch SIGINT and SIGTERM: {e}")))?;
            // A live follow has no end to show progress towards.
            let progress = Progress::hidden();
            with_pool(config.scan.threads, || {
                let engine =
                    Engine::new(reducer, &config.filter, &config.scan, &progress, &mut *sink);
                follow::run(engine, &config.inputs, opts, &stop, &mut io::stderr())
            })?
        }
    };
    sink.finish(&mut notes)?;
    Ok(notes)
}

/// Runs `f` on a pool of `threads` workers.
///
/// # Errors
/// [`Error::Setup`] when the pool cannot start; `f`'s error.
pub(crate) fn with_pool<T: Send>(
    threads: usize,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::Setup(format!("cannot start {threads} threads: {e}")))?
        .install(f)
}
