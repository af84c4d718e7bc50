//! What the follower tells its caller about the followed path, without
//! stopping: a file that went missing, came back, was replaced or truncated,
//! or cannot be read.

use std::fmt;
use std::path::PathBuf;

/// Something that happened to the followed path, for the caller to report
/// (on stderr) without stopping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The followed path, as given.
    pub path: PathBuf,
    /// What happened.
    pub kind: NoticeKind,
}

/// What a [`Notice`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKind {
    /// Nothing exists at the path when following starts.
    Waiting,
    /// The open file was removed or renamed and nothing has replaced it yet;
    /// the open file is still read.
    Removed,
    /// A file appeared at the path after [`NoticeKind::Waiting`] or
    /// [`NoticeKind::Removed`]; it is read from its start.
    Appeared,
    /// Another file took the open file's place; it is read from its start.
    Replaced,
    /// The file was truncated; it is read again from its start.
    Truncated,
    /// Opening, checking or reading the file failed; it is retried.
    Error(String),
    /// The failure reported before has stopped.
    Recovered,
    /// The path cannot be watched; it is polled instead.
    Polling(String),
}

impl Notice {
    /// Whether this reports a failure (which is still retried).
    pub fn is_error(&self) -> bool {
        matches!(self.kind, NoticeKind::Error(_))
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match &self.kind {
            NoticeKind::Waiting => f.write_str("no such file yet; waiting for it"),
            NoticeKind::Removed => f.write_str("file removed; waiting for a new one"),
            NoticeKind::Appeared => f.write_str("file appeared; following it from its start"),
            NoticeKind::Replaced => {
                f.write_str("file replaced; following the new file from its start")
            }
            NoticeKind::Truncated => f.write_str("file truncated; reading it again from its start"),
            NoticeKind::Error(e) => write!(f, "{e}; retrying"),
            NoticeKind::Recovered => f.write_str("readable again"),
            NoticeKind::Polling(e) => write!(f, "cannot watch for changes ({e}); polling instead"),
        }
    }
}
