//! The `connspy` command: parse the command line, run, map errors to exit codes.

use std::io::{self, BufWriter, Write};
use std::os::fd::BorrowedFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use connspy::cli::Args;
use connspy::config::Config;
use connspy::escape::ForTerminal;
use connspy::Error;

/// Whether standard output was closed when the process started
/// (`connspy ... >&-`). Rust's runtime opens `/dev/null` over a closed
/// standard descriptor before `main`, so the results would vanish with exit
/// status 0; this is checked earlier, from the ELF initialisers.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static CHECK_STDOUT: extern "C" fn() = check_stdout;

#[cfg(target_os = "linux")]
extern "C" fn check_stdout() {
    // SAFETY: descriptor 1 is only borrowed for the duplication, which fails
    // with EBADF when it is closed; the duplicate is closed at once.
    let open = unsafe { BorrowedFd::borrow_raw(1) }
        .try_clone_to_owned()
        .is_ok();
    STDOUT_CLOSED.store(!open, Ordering::Relaxed);
}

fn main() -> ExitCode {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return fail(&Error::Output(io::Error::other(
            "standard output is closed",
        )));
    }
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            // clap's own exit would report success even when the text could
            // not be written (`connspy --help > /dev/full`).
            return match e.print().and_then(|()| io::stdout().flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&Error::Output(e)),
            };
        }
        Err(e) => e.exit(),
    };
    let config = match Config::from_args(args) {
        Ok(config) => config,
        Err(Error::Usage(msg)) => {
            Args::command()
                .error(ErrorKind::ValueValidation, msg)
                .exit();
        }
        Err(e) => return fail(&e),
    };
    // Not the locked handle: windows are written from inside the thread pool.
    let stdout = BufWriter::with_capacity(1 << 16, io::stdout());
    match connspy::run::run(&config, stdout, io::stderr()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> ExitCode {
    // Messages quote input (paths, partial lines, fields): escaped for the terminal.
    eprintln!("connspy: error: {}", ForTerminal(&e.to_string()));
    ExitCode::from(e.exit_code() as u8)
}
