//! Per-window reduction: what a window remembers of the lines it has seen, and
//! how partial states built on different chunks combine.
//!
//! [`Reducer`] is the seam between the engine and the kind of state: exact sets
//! and counts ([`exact`]) or sketches in bounded memory ([`approx`]). The
//! engine only ever creates, feeds, merges and finishes states through it.

pub mod approx;
pub mod exact;
mod windows;

pub use windows::Windows;

use crate::parse::Record;
use crate::partial::codec::DecodeError;
use crate::partial::{Body, BodyIn};
use crate::report::Answer;

/// Builds, feeds, merges and finishes per-window state.
///
/// `merge` must be associative and commutative over the lines two states have
/// seen, so that results do not depend on chunking, thread count or file order.
pub trait Reducer: Sync {
    /// The state of one window.
    type State: Send;

    /// A state that has seen no line.
    fn new_state(&self) -> Self::State;

    /// A state that has seen no line, for the window a scan enters after
    /// `last`: a reducer whose state grows may size it like `last` to skip
    /// the growing. Any state it returns must equal [`Self::new_state`]'s
    /// in every answer.
    fn new_state_after(&self, last: &Self::State) -> Self::State {
        let _ = last;
        self.new_state()
    }

    /// Feeds one counted line (already inside the time range and the window).
    fn add(&self, state: &mut Self::State, rec: &Record<'_>);

    /// How many lines `state` has counted.
    fn lines(&self, state: &Self::State) -> u64;

    /// Folds `other` into `into`.
    fn merge(&self, into: &mut Self::State, other: Self::State);

    /// The window's answers.
    ///
    /// # Errors
    /// Reading back state that was spilled to a temporary file.
    fn finish(&self, state: Self::State) -> std::io::Result<Answer>;

    /// Writes `state` as the body of a partial line (`docs/partial.md`).
    ///
    /// # Errors
    /// Reading back state that was spilled to a temporary file.
    fn encode(&self, state: Self::State) -> std::io::Result<Body>;

    /// Reads back a state that [`Self::encode`] wrote under the same
    /// settings. The body comes from another machine: everything is checked,
    /// and nothing is allocated that its bytes do not hold.
    ///
    /// # Errors
    /// What does not fit a state of this reducer.
    fn decode(&self, body: BodyIn<'_>) -> Result<Self::State, DecodeError>;

    /// Folds the states of one window read from partials, in the order
    /// given: `--merge` sorts a window's lines first, so that any input
    /// order gives one result. By default, [`Self::merge`] after merge.
    ///
    /// # Errors
    /// Reading or writing spilled state.
    fn merge_partials(&self, states: Vec<Self::State>) -> std::io::Result<Self::State> {
        let mut states = states.into_iter();
        let mut out = states.next().unwrap_or_else(|| self.new_state());
        for state in states {
            self.merge(&mut out, state);
        }
        match self.take_failure() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Whether a failure that must end the run happened while adding or
    /// merging (approximate mode: a spill to the temporary file). Cheap:
    /// checked before every chunk.
    fn failed(&self) -> bool {
        false
    }

    /// That failure, once [`Self::failed`] says there is one.
    fn take_failure(&self) -> Option<std::io::Error> {
        None
    }
}
