//! Tail mode: read what the inputs hold at batch speed, then follow the last
//! one as it grows, printing each UTC hour once the watermark passes it.
//!
//! Event time closes hours (the engine's
//! [`Release::Watermark`](crate::engine::Release::Watermark)); this module
//! only decides what to read next and when to stop: at a signal (open hours are
//! printed as incomplete), when the watermark passes `--time_end`, or at the end
//! of standard input. When `--max_idle_seconds` pass without a line, the wall
//! clock moves the watermark instead, so hours close when the log falls quiet.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::engine::{Engine, Summary};
use crate::error::{Error, Result};
use crate::follow::{FollowOptions, Follower};
use crate::input::{BlockReader, Input};

/// How often the loop wakes to check for a signal, idleness and the clock
/// when no line arrives. A quiet log costs one wake-up per interval.
const TICK: Duration = Duration::from_millis(100);

/// How tail mode behaves beyond the engine's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailOptions {
    /// `--max_idle_seconds`: advance the watermark by the wall clock after this
    /// long without a new line.
    pub max_idle: Option<Duration>,
    /// Blocks per parse, so a backlog is still parsed in parallel.
    pub batch_blocks: usize,
}

/// Where the followed input's blocks come from.
enum Feed {
    File(Box<Follower>),
    /// Standard input, read on its own thread so that a signal is noticed while
    /// no line arrives.
    Stdin(mpsc::Receiver<io::Result<Vec<u8>>>),
}

impl Feed {
    fn start(input: &Input, block_size: usize) -> io::Result<Feed> {
        match input {
            Input::File(path) => {
                let opts = FollowOptions {
                    block_size,
                    ..FollowOptions::default()
                };
                Ok(Feed::File(Box::new(Follower::new(path, opts)?)))
            }
            Input::Stdin => {
                let (tx, rx) = mpsc::sync_channel(4);
                std::thread::spawn(move || {
                    let mut blocks = BlockReader::new(io::stdin(), block_size);
                    loop {
                        let next = blocks.next_block().transpose();
                        let Some(next) = next else { break };
                        if tx.send(next.map(|(block, _)| block)).is_err() {
                            break;
                        }
                    }
                });
                Ok(Feed::Stdin(rx))
            }
        }
    }

    /// The next block, `Ok(None)` after `timeout`, or `Err` at the end of
    /// standard input (`UnexpectedEof`) or on a read error.
    fn next(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        match self {
            Feed::File(follower) => follower.next_block(timeout),
            Feed::Stdin(rx) => match rx.recv_timeout(timeout) {
                Ok(block) => block.map(Some),
                Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    Err(io::ErrorKind::UnexpectedEof.into())
                }
            },
        }
    }

    fn report_notices(&mut self, err: &mut impl Write) {
        if let Feed::File(follower) = self {
            for notice in follower.take_notices() {
                let _ = writeln!(err, "connspy: {notice}");
            }
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs tail mode over `inputs` with `engine`, until a signal sets `stop`, the
/// watermark passes `--time_end`, or standard input ends.
///
/// # Errors
/// An input that cannot be opened or read (the followed file's own errors are
/// retried and reported on `err`), or the sink's error.
pub fn run<R: crate::reduce::Reducer>(
    mut engine: Engine<'_, '_, R>,
    inputs: &[Input],
    opts: &TailOptions,
    block_size: usize,
    stop: &AtomicBool,
    err: &mut impl Write,
) -> Result<Summary> {
    let Some((followed, before)) = inputs.split_last() else {
        return engine.finish(true);
    };
    engine.observe_wall_clock(now_ms());
    if engine.scan_all(before, || stop.load(Ordering::Relaxed))? {
        return engine.finish(false);
    }
    let read_err = |source| Error::Read {
        path: followed.display_path().to_owned(),
        source,
    };
    let mut feed = Feed::start(followed, block_size).map_err(read_err)?;
    let input = engine.begin_input(followed);
    let mut last_line = Instant::now();
    loop {
        feed.report_notices(err);
        if stop.load(Ordering::Relaxed) {
            return engine.finish(false);
        }
        if engine.past_end() {
            return engine.finish(true);
        }
        let mut batch = Vec::new();
        match feed.next(TICK) {
            Ok(Some(block)) => batch.push(block),
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return engine.finish(true),
            Err(e) => return Err(read_err(e)),
        }
        // A backlog comes without waiting: take a batch of it to parse in parallel.
        while !batch.is_empty() && batch.len() < opts.batch_blocks {
            match feed.next(Duration::ZERO) {
                Ok(Some(block)) => batch.push(block),
                Ok(None) => break,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(read_err(e)),
            }
        }
        let now = now_ms();
        if batch.is_empty() {
            if let Some(idle) = opts.max_idle {
                if last_line.elapsed() >= idle {
                    engine.advance_to_wall_clock(now)?;
                }
            }
            continue;
        }
        last_line = Instant::now();
        engine.observe_wall_clock(now);
        engine.feed(input, &batch)?;
    }
}
