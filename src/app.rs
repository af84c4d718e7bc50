//! A whole run: scan, print every window, then report malformed lines.

use std::io::{self, Write};

use crate::config::Config;
use crate::engine::{run as scan, Outcome};
use crate::error::{Error, Result};
use crate::output::Writer;
use crate::progress::Progress;
use crate::reduce::exact::ExactReducer;

/// Runs `config`, printing results to `out` and warnings to `err`.
///
/// A reader that closes the pipe early (`connspy ... | head`) ends the run
/// quietly and successfully.
///
/// # Errors
/// Any [`Error`]; a closed pipe is not one.
pub fn run(config: &Config, out: impl Write, mut err: impl Write) -> Result<()> {
    let progress = Progress::for_input(config.input_size());
    let reducer = ExactReducer::new(config.query.clone());
    let outcome = scan(
        &reducer,
        &config.filter,
        &config.scan,
        &config.inputs,
        &progress,
    );
    progress.finish();
    let Outcome {
        reports,
        malformed,
        first_malformed,
    } = outcome?;
    let mut writer = Writer::new(out, config.format, &config.query, config.filter.hourly);
    let written = reports.iter().try_for_each(|r| writer.write(r));
    if let Some(bad) = first_malformed {
        // Best effort: stderr may be closed too, and the results are already out.
        let _ = writeln!(
            err,
            "connspy: warning: skipped {malformed} malformed line{}; the first at {}:{}: {}",
            if malformed == 1 { "" } else { "s" },
            bad.path.display(),
            bad.line,
            bad.reason
        );
    }
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Output(e)),
        Ok(()) => Ok(()),
    }
}
