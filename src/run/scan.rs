//! A batch run: every input read to its end, in parallel chunks.

use super::with_pool;
use crate::engine::{Engine, ScanOptions};
use crate::error::Result;
use crate::input::Input;
use crate::notes::Notes;
use crate::output::sink::Sink;
use crate::progress::Progress;
use crate::query::Filter;
use crate::reduce::Reducer;

/// Runs `reducer` over `inputs` on a pool of `opts.threads`, handing each
/// closed window to `sink`, and returns the run's notes. The sink is not
/// finished: the caller adds what it noted once the notes are final.
///
/// # Errors
/// Inputs that cannot be opened or read; with `strict`, the first malformed
/// line; the sink's error.
pub fn scan<R: Reducer>(
    reducer: &R,
    filter: &Filter,
    opts: &ScanOptions,
    inputs: &[Input],
    progress: &Progress,
    sink: &mut dyn Sink<R::State>,
) -> Result<Notes> {
    with_pool(opts.threads, || {
        let mut engine = Engine::new(reducer, filter, opts, progress, sink);
        engine.scan_all(inputs, || false, &mut Err)?;
        engine.finish(true)
    })
}
