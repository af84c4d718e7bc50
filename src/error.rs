//! Errors that end a run, each with the exit code it maps to.

use std::io;
use std::path::PathBuf;

use crate::parse::LineError;

/// A failure that ends a run. Malformed lines are not errors unless `--strict`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line was well formed but its values do not fit together.
    #[error("{0}")]
    Usage(String),
    /// The process could not set itself up: the thread pool or the signal
    /// handlers. Not the user's doing, so not a usage error.
    #[error("{0}")]
    Setup(String),
    /// An input could not be opened or mapped.
    #[error("{path}: {source}", path = .path.display())]
    Open {
        /// The input as given.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// An input is a directory.
    #[error("{path}: is a directory", path = .path.display())]
    IsDirectory {
        /// The input as given.
        path: PathBuf,
    },
    /// Reading an input failed midway.
    #[error("{path}: read failed: {source}", path = .path.display())]
    Read {
        /// The input as given.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// `--strict` met a malformed line.
    #[error(
        "{path}:{line}: malformed line: {reason}; fix or remove it, or leave out --strict \
         to skip malformed lines and count them",
        path = .path.display()
    )]
    Malformed {
        /// The input holding the line.
        path: PathBuf,
        /// Its 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: LineError,
    },
    /// Approximate mode could not write hosts to its temporary file of
    /// spilled hosts, or read them back.
    #[error(
        "spilling hosts to a temporary file in {dir} failed: {source}; free space there, \
         or set TMPDIR to a writable directory with room (a larger --memory_limit spills less)",
        dir = .dir.display()
    )]
    Spill {
        /// The temporary directory in use (`TMPDIR`, or `/tmp`).
        dir: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Writing the results failed (other than a closed pipe).
    #[error("writing results: {0}")]
    Output(io::Error),
}

impl Error {
    /// 2 for usage and input errors, 1 for any other failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Open { .. }
            | Error::IsDirectory { .. }
            | Error::Malformed { .. } => 2,
            Error::Setup(_) | Error::Read { .. } | Error::Spill { .. } | Error::Output(_) => 1,
        }
    }

    /// A spill failure, naming the temporary directory in use.
    pub fn spill(source: io::Error) -> Error {
        Error::Spill {
            dir: std::env::temp_dir(),
            source,
        }
    }
}

/// A `Result` whose error is an [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
