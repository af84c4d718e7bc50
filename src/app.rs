//! A whole run: scan, print every window, then report malformed lines.

use std::io::{self, Write};

use crate::config::{Config, Mode};
use crate::engine::{run as scan, with_pool, Engine, Summary};
use crate::error::{Error, Result};
use crate::output::Writer;
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
    let summary = match config.mode {
        Mode::Exact => scan_with(&ExactReducer::new(config.query.clone()), config, out),
        Mode::Approx(settings) => scan_with(
            &ApproxReducer::new(config.query.clone(), settings),
            config,
            out,
        ),
    };
    let summary = match summary {
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    };
    report_skipped(&summary, &mut err);
    Ok(())
}

/// What a run adds up to, beyond the engine's summary.
struct RunSummary {
    engine: Summary,
    /// Windows whose lists may have dropped hosts more often than 1 in 1000.
    lossy_windows: u64,
    worst_missed_rate: f64,
}

fn scan_with<R: Reducer>(
    reducer: &R,
    config: &Config,
    out: impl Write + Send,
) -> Result<RunSummary> {
    // A live follow has no end to show progress towards.
    let progress = match config.tail {
        Some(_) => Progress::hidden(),
        None => Progress::for_input(config.input_size()),
    };
    let tail = config.tail.is_some();
    let mut writer = Writer::new(out, config.format, &config.query, config.filter.hourly);
    let (mut lossy_windows, mut worst_missed_rate) = (0, 0.0f64);
    let mut sink = |report: Report| {
        let a = &report.answer;
        let worst = [&a.to_host, &a.from_host]
            .into_iter()
            .flatten()
            .filter_map(|l| l.missed_rate)
            .fold(0.0, f64::max);
        if worst > MISSED_RATE_WARNING {
            lossy_windows += 1;
            worst_missed_rate = worst_missed_rate.max(worst);
        }
        writer.write(&report)?;
        if tail && report.late > 0 {
            // A follower of the output sees the record at once; say so now too.
            let _ = writeln!(
                io::stderr(),
                "connspy: warning: dropped {} late line(s) since the previous hour reported",
                report.late
            );
        }
        Ok(())
    };
    let engine = match &config.tail {
        None => scan(
            reducer,
            &config.filter,
            &config.scan,
            &config.inputs,
            &progress,
            &mut sink,
        ),
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
    Ok(RunSummary {
        engine: engine?,
        lossy_windows,
        worst_missed_rate,
    })
}

/// Above this estimated chance of dropping a host, approximate lists deserve
/// a warning.
const MISSED_RATE_WARNING: f64 = 1e-3;

/// Says on stderr what was skipped. Best effort: stderr may be closed too, and
/// the results are already out.
fn report_skipped(run: &RunSummary, err: &mut impl Write) {
    let summary = &run.engine;
    if run.lossy_windows > 0 {
        let _ = writeln!(
            err,
            "connspy: warning: in {} window(s) an approximate list may have dropped hosts \
             (missed_rate up to {:.1e} > {MISSED_RATE_WARNING:.0e}); raise --memory_limit",
            run.lossy_windows, run.worst_missed_rate
        );
    }
    if let Some(bad) = &summary.first_malformed {
        let n = summary.malformed;
        let _ = writeln!(
            err,
            "connspy: warning: skipped {n} malformed line{}; the first at {}:{}: {}",
            if n == 1 { "" } else { "s" },
            bad.path.display(),
            bad.line,
            bad.reason
        );
    }
    for (path, zeek_path) in &summary.other_paths {
        let _ = writeln!(
            err,
            "connspy: note: {}: a Zeek header block has #path {}, not conn; its lines were read \
             as connections",
            path.display(),
            String::from_utf8_lossy(zeek_path)
        );
    }
    for kind in crate::input::format::Skip::ALL {
        let n = summary.skipped[kind.index()];
        if n > 0 {
            let _ = writeln!(err, "connspy: note: skipped {n} {}", kind.describe());
        }
    }
    if summary.late > 0 {
        let n = summary.late;
        let _ = writeln!(
            err,
            "connspy: warning: dropped {n} late line{}: their hour had already been reported \
             (raise --max_log_late_seconds to wait longer)",
            if n == 1 { "" } else { "s" },
        );
    }
}
