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
    #[error("{path}:{line}: malformed line: {reason}", path = .path.display())]
    Malformed {
        /// The input holding the line.
        path: PathBuf,
        /// Its 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: LineError,
    },
    /// Approximate mode could not read back hosts spilled to a temporary file.
    #[error("temporary file of spilled hosts: {0}")]
    Spill(io::Error),
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
            Error::Read { .. } | Error::Spill(_) | Error::Output(_) => 1,
        }
    }
}

/// A `Result` whose error is an [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
