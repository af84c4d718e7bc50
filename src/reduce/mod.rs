//! Per-window reduction: what a window remembers of the lines it has seen, and
//! how partial states built on different chunks combine.
//!
//! [`Reducer`] is the seam between the engine and the state. A window's state
//! is built from parts ([`part`]): exact sets and counts ([`exact`]) or
//! sketches in bounded memory ([`approx`]); [`state`] writes the window once
//! over any parts. The engine only ever creates, feeds, merges and finishes
//! states through the reducer.

pub mod approx;
pub mod exact;
pub mod part;
pub mod state;
mod windows;

pub use windows::Windows;

use std::io;

use crate::input::format::{LineError, Needs, Record};
use crate::partial::{Body, BodyIn, DecodeError};
use crate::query::Measure;
use crate::report::Answer;

/// A counted line as a reducer keeps it: its hosts and what it adds to
/// their sums ([`Reducer::weight`]).
#[derive(Debug, Clone, Copy)]
pub struct Weighed<'a> {
    /// The host that initiated the connection.
    pub from: &'a [u8],
    /// The host it connected to.
    pub to: &'a [u8],
    /// 1, or the connection's bytes or packets (`--by`).
    pub weight: u64,
}

#[cfg(test)]
impl<'a> Weighed<'a> {
    /// One connection from `from` to `to`, for tests.
    pub(crate) fn of(from: &'a str, to: &'a str) -> Self {
        Weighed {
            from: from.as_bytes(),
            to: to.as_bytes(),
            weight: 1,
        }
    }
}

/// A window's sum of bytes or packets would pass 64 bits: no count of it
/// would be exact, so the run ends.
#[derive(Debug, thiserror::Error)]
#[error(
    "a window's {} add up past 2^64 - 1, more than connspy can count exactly; \
     the log's {} fields cannot all be right",
    .0.name(), .0.name()
)]
pub struct TooMuch(pub Measure);

/// Builds, feeds, merges and finishes per-window state.
///
/// `merge` must be associative and commutative over the lines two states have
/// seen, so that results do not depend on chunking, thread count or file
/// order. Errors (a spill to the temporary file that failed) are returned,
/// and end the run.
pub trait Reducer: Sync {
    /// The state of one window.
    type State: Send;

    /// A state that has seen no line.
    fn new_state(&self) -> Self::State;

    /// The flow fields the reducer reads from each line (`--by`'s bytes or
    /// packets).
    fn needs(&self) -> Needs {
        Needs::default()
    }

    /// A state that has seen no line, for the window a scan enters after
    /// `last`: a reducer whose state grows may size it like `last` to skip
    /// the growing. Any state it returns must equal [`Self::new_state`]'s
    /// in every answer.
    fn new_state_after(&self, last: &Self::State) -> Self::State {
        let _ = last;
        self.new_state()
    }

    /// What a counted line adds to its hosts' sums (`--by`): 1 a
    /// connection, or its bytes or packets, read only now.
    ///
    /// # Errors
    /// Its bytes or packets are not a count, or its two directions add up
    /// past 64 bits: the line is malformed.
    fn weight(&self, rec: &Record<'_>) -> Result<u64, LineError> {
        let _ = rec;
        Ok(1)
    }

    /// Feeds one counted line (already inside the time range and the
    /// window), with its [`Self::weight`].
    ///
    /// # Errors
    /// Spilling to the temporary file.
    fn add(&self, state: &mut Self::State, line: Weighed<'_>) -> io::Result<()>;

    /// Readies `state`, which will see no more lines, for merging: called
    /// by the worker that counted it, before the merges, which run one at a
    /// time. Any answer is the same with or without it.
    fn settle(&self, state: &mut Self::State) {
        let _ = state;
    }

    /// How many lines `state` has counted.
    fn lines(&self, state: &Self::State) -> u64;

    /// The sum of the busiest queries' measure (`--by`) over the lines
    /// `state` has counted: its lines when the measure is connections.
    fn total(&self, state: &Self::State) -> u64;

    /// Folds `other` into `into`.
    ///
    /// # Errors
    /// Spilling to or reading back the temporary file.
    fn merge(&self, into: &mut Self::State, other: Self::State) -> io::Result<()>;

    /// Folds the states of one window read from partials, in the order
    /// given: `--merge` sorts a window's lines first, so that any input
    /// order gives one result.
    ///
    /// # Errors
    /// Reading or writing spilled state.
    fn merge_partials(&self, states: Vec<Self::State>) -> io::Result<Self::State>;

    /// The window's answers.
    ///
    /// # Errors
    /// Reading back state that was spilled to a temporary file.
    fn finish(&self, state: Self::State) -> io::Result<Answer>;

    /// Writes `state` as the body of a partial line (`docs/partial.md`).
    ///
    /// # Errors
    /// Reading back state that was spilled to a temporary file.
    fn encode(&self, state: Self::State) -> io::Result<Body>;

    /// Reads back a state that [`Self::encode`] wrote under the same
    /// settings. The body comes from another machine: everything is checked,
    /// and nothing is allocated that its bytes do not hold.
    ///
    /// # Errors
    /// What does not fit a state of this reducer.
    fn decode(&self, body: BodyIn<'_>) -> Result<Self::State, DecodeError>;
}
