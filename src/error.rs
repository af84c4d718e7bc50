//! Errors that end a run, each with the exit code it maps to.

use std::io;
use std::path::PathBuf;

use crate::input::decompress::DecodeError;
use crate::input::format::LineError;

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
    /// A mapped input shrank (truncated or overwritten) while it was read:
    /// what was read is not the file, so nothing is answered for it.
    #[error(
        "{path}: the file changed while being read (it was truncated or overwritten); \
         no answer is printed for it: read a copy that nothing writes to, or run again \
         once it is stable",
        path = .path.display()
    )]
    Changed {
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
    /// A compressed input is corrupt or ends inside its compressed data.
    #[error("{path}: {source}", path = .path.display())]
    Decompress {
        /// The input as given.
        path: PathBuf,
        /// What the decoder found, and where.
        source: DecodeError,
    },
    /// An input is compressed in a format connspy does not decode.
    #[error(
        "{path}: {format}-compressed input is not supported (connspy decodes gzip and zstd); \
         decompress it first, e.g. `{format} -dc FILE | connspy ...`",
        path = .path.display()
    )]
    Unsupported {
        /// The input as given.
        path: PathBuf,
        /// The format its magic bytes name.
        format: &'static str,
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
    /// `--merge` read a line that is not a usable partial.
    #[error(
        "{path}:{line}: not a usable partial line: {reason}; give --merge only lines that \
         connspy --format partial wrote, unchanged",
        path = .path.display()
    )]
    Partial {
        /// The input holding the line.
        path: PathBuf,
        /// Its 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A window's bytes or packets add up past 64 bits.
    #[error("{0}")]
    TooMuch(#[from] crate::reduce::TooMuch),
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
            | Error::Decompress { .. }
            | Error::Unsupported { .. }
            | Error::Malformed { .. }
            | Error::Partial { .. }
            | Error::TooMuch(_) => 2,
            Error::Setup(_)
            | Error::Changed { .. }
            | Error::Read { .. }
            | Error::Spill { .. }
            | Error::Output(_) => 1,
        }
    }

    /// A reducer's failure: a window's sum past 64 bits, or a spill.
    pub fn reducing(source: io::Error) -> Error {
        match source
            .get_ref()
            .and_then(|e| e.downcast_ref::<crate::reduce::TooMuch>())
        {
            Some(&crate::reduce::TooMuch(by)) => Error::TooMuch(crate::reduce::TooMuch(by)),
            None => Error::spill(source),
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

impl Error {
    /// Reading `path` failed with `e`: a [`Error::Decompress`] when the
    /// decoder reported it, otherwise a [`Error::Read`].
    pub fn reading(path: &std::path::Path, e: io::Error) -> Error {
        let path = path.to_owned();
        use crate::input::decompress::{decode_error, unsupported_format};
        if let Some(decode) = decode_error(&e) {
            return Error::Decompress {
                path,
                source: decode.clone(),
            };
        }
        match unsupported_format(&e) {
            Some(format) => Error::Unsupported { path, format },
            None => Error::Read { path, source: e },
        }
    }
}

/// A `Result` whose error is an [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
