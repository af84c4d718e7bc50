//! The lines of `--format partial`: each closed window's state as one line,
//! and the run's notes as a summary line, stamped with the run's settings.

use super::{line, Body, Params, RANGE_KEY, SUMMARY_KEY};
use crate::notes::Notes;
use crate::timestamp::Rfc3339Ms;

/// What every line of one run carries (its settings and their digest), and
/// how its lines are made. Shared by reference, so that windows can be
/// encoded side by side.
#[derive(Debug, Clone)]
pub(crate) struct Stamp {
    params: String,
    digest: String,
    binned: bool,
}

impl Stamp {
    /// The stamp of lines written under `params`.
    pub(crate) fn new(params: &Params) -> Self {
        let text = params.to_text();
        Stamp {
            digest: super::params::digest(&text),
            params: text,
            binned: params.filter.binned(),
        }
    }

    /// The line of window `key` (a bin's start, or 0 for the whole range)
    /// holding a state encoded as `body`.
    pub(crate) fn window(&self, key: i64, body: &Body) -> Vec<u8> {
        let key = if self.binned {
            window_key(key)
        } else {
            RANGE_KEY.to_owned()
        };
        self.line(&key, body)
    }

    /// The summary line carrying `notes`, when there is anything to note.
    pub(crate) fn summary(&self, notes: &Notes) -> Option<Vec<u8>> {
        (!notes.is_empty()).then(|| self.line(SUMMARY_KEY, &notes.encode()))
    }

    fn line(&self, key: &str, body: &Body) -> Vec<u8> {
        let mut out = Vec::with_capacity(line::len_bound(key, &self.digest, &self.params, body));
        line::write(&mut out, key, &self.digest, &self.params, body);
        out
    }
}

/// The key of the bin starting at `start_ms`: RFC 3339 in UTC, to the
/// second (bins are whole seconds), so that keys sort as text in the order
/// of their bins.
pub(crate) fn window_key(start_ms: i64) -> String {
    Rfc3339Ms(start_ms).to_string()
}
