//! A whole run: scan, print every window, then report malformed lines.

use std::io::{self, Write};

use crate::config::Config;
use crate::engine::{answer, in_order, with_pool, Closed, Engine};
use crate::error::{Error, Result};
use crate::notes::Notes;
use crate::output::Output;
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
    notes.merge(summary);
    if let Output::Partial(w, stamp) = &mut output {
        if let Some(line) = stamp.summary(&notes) {
            // Skipped lines travel to the merge too, which reports the total.
            w.write_line(&line)?;
        }
    }
    Ok(notes)
}
