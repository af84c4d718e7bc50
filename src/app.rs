//! A whole run: scan, print every window, then report malformed lines.

use std::io::{self, Write};

use crate::config::Config;
use crate::engine::{run as scan, Summary};
use crate::error::{Error, Result};
use crate::output::Writer;
use crate::progress::Progress;
use crate::reduce::exact::ExactReducer;
use crate::report::Report;

/// Runs `config`, printing results to `out` and warnings to `err`.
///
/// A reader that closes the pipe early (`connspy ... | head`) ends the run
/// quietly and successfully.
///
/// # Errors
/// Any [`Error`]; a closed pipe is not one.
pub fn run(config: &Config, out: impl Write + Send, mut err: impl Write) -> Result<()> {
    let progress = Progress::for_input(config.input_size());
    let reducer = ExactReducer::new(config.query.clone());
    let mut writer = Writer::new(out, config.format, &config.query, config.filter.hourly);
    let mut sink = |report: Report| writer.write(&report);
    let summary = scan(
        &reducer,
        &config.filter,
        &config.scan,
        &config.inputs,
        &progress,
        &mut sink,
    );
    progress.finish();
    let summary = match summary {
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    };
    report_skipped(&summary, &mut err);
    Ok(())
}

/// Says on stderr what was skipped. Best effort: stderr may be closed too, and
/// the results are already out.
fn report_skipped(summary: &Summary, err: &mut impl Write) {
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
