//! The `connspy` command: parse the command line, run, map errors to exit codes.

use std::io::{self, BufWriter};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use connspy::cli::Args;
use connspy::config::Config;
use connspy::Error;

fn main() -> ExitCode {
    let config = match Config::from_args(Args::parse()) {
        Ok(config) => config,
        Err(Error::Usage(msg)) => {
            Args::command()
                .error(clap::error::ErrorKind::ValueValidation, msg)
                .exit();
        }
        Err(e) => return fail(&e),
    };
    // Not the locked handle: windows are written from inside the thread pool.
    let stdout = BufWriter::with_capacity(1 << 16, io::stdout());
    match connspy::app::run(&config, stdout, io::stderr()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("connspy: error: {e}");
    ExitCode::from(e.exit_code() as u8)
}
