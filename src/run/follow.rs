//! Tail mode: read what the inputs hold at batch speed, then follow the last
//! one as it grows, printing each UTC hour once the watermark passes it.
//!
//! Event time closes hours (the engine's
//! [`Release::Watermark`](crate::engine::Release::Watermark)); this module
//! only decides what to read next and when to stop: at a signal (what was
//! read counts, the unterminated last line included, as batch mode counts it;
//! open hours are printed as incomplete), when the watermark passes
//! `--time_end`, or at the end of standard input. When `--max_idle_seconds` pass without a line, the wall
//! clock moves the watermark instead, so hours close when the log falls quiet.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::TailOptions;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::escape::ForTerminal;
use crate::input::decompress::{sniff_path, Encoding};
use crate::input::follow::Feed;
use crate::input::Input;
use crate::notes::Notes;

/// How often the loop wakes to check for a signal, idleness and the clock
/// when no line arrives. A quiet log costs one wake-up per interval.
const TICK: Duration = Duration::from_millis(100);

/// Fails at once, as batch mode would, when `path` names something that can
/// never be followed: a directory, a symbolic link loop, a FIFO, a device or
/// a socket. A path that does not exist yet is waited for.
///
/// # Errors
/// [`Error::IsDirectory`] or [`Error::Open`] naming the path.
fn check_followable(path: &Path) -> Result<()> {
    let open_err = |source| Error::Open {
        path: path.to_owned(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) if meta.is_dir() => Err(Error::IsDirectory {
            path: path.to_owned(),
        }),
        Ok(_) => Err(open_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file, so it cannot be followed; to read a FIFO or a device \
             live, give it on standard input: connspy --tail ... < FILE",
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(open_err(e)),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs tail mode over `inputs` with `engine`, until a signal sets `stop`, the
/// watermark passes `--time_end`, or standard input ends. After a signal,
/// what was read counts, the unterminated last line included, as batch mode
/// counts it (see [`Feed::rest`]); then the open hours are printed as
/// incomplete.
///
/// # Errors
/// An input that cannot be opened or read (the followed file's own errors are
/// retried and reported on `err`), or the sink's error.
pub fn run<R: crate::reduce::Reducer>(
    mut engine: Engine<'_, R>,
    inputs: &[Input],
    opts: &TailOptions,
    stop: &Arc<AtomicBool>,
    err: &mut impl Write,
) -> Result<Notes> {
    let Some((followed, before)) = inputs.split_last() else {
        return engine.finish(true);
    };
    if let Input::File(path) = followed {
        check_followable(path)?;
        // A missing file is waited for; one that exists must be plain text.
        if let Ok(Encoding::Compressed(_) | Encoding::Unsupported(_)) = sniff_path(path) {
            return Err(Error::Usage(format!(
                "{}: --tail follows a plain-text log as it grows, and this file is \
                 compressed; read it without --tail",
                path.display()
            )));
        }
    }
    engine.observe_wall_clock(now_ms());
    // A corrupt compressed file before the followed one is reported, and the
    // run goes on: the followed file is what tail mode is for.
    let mut corrupt = |e: Error| {
        let _ = writeln!(err, "connspy: {}", ForTerminal(&e.to_string()));
        Ok(())
    };
    if engine.scan_all(before, || stop.load(Ordering::Relaxed), &mut corrupt)? {
        return engine.finish(false);
    }
    if engine.stopped() {
        // `--strict` met a malformed line: finishing reports it.
        return engine.finish(true);
    }
    let read_err = |e| Error::reading(followed.display_path(), e);
    let batching = engine.batching();
    let mut feed = Feed::start(
        followed,
        batching.chunk_size,
        batching.max_line,
        engine.format_choice(),
        stop,
    )
    .map_err(read_err)?;
    let input = engine.begin_input(followed);
    let mut last_line = Instant::now();
    loop {
        for notice in feed.take_notices() {
            let _ = writeln!(err, "connspy: {}", ForTerminal(&notice.to_string()));
        }
        if stop.load(Ordering::Relaxed) {
            while let Some(group) = feed.rest(batching.group) {
                engine.feed(input, group)?;
                if engine.stopped() {
                    return engine.finish(true);
                }
            }
            note_trailing_zeros(&mut engine, &feed, followed);
            return engine.finish(false);
        }
        if engine.past_end() {
            return engine.finish(true);
        }
        let group = match feed.next_group(TICK, batching.group) {
            Ok(group) => group,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                note_trailing_zeros(&mut engine, &feed, followed);
                return engine.finish(true);
            }
            Err(e) => return Err(read_err(e)),
        };
        let now = now_ms();
        let Some(group) = group else {
            if let Some(idle) = opts.max_idle {
                if last_line.elapsed() >= idle {
                    engine.advance_to_wall_clock(now)?;
                }
            }
            continue;
        };
        last_line = Instant::now();
        engine.observe_wall_clock(now);
        engine.feed(input, group)?;
        if engine.stopped() {
            return engine.finish(true);
        }
    }
}

/// Standard input, compressed, ended with zero bytes after its last gzip
/// member: the notes say so.
fn note_trailing_zeros<R: crate::reduce::Reducer>(
    engine: &mut Engine<'_, R>,
    feed: &Feed,
    followed: &Input,
) {
    let zeros = feed.trailing_zeros();
    if zeros > 0 {
        engine.note_trailing_zeros(followed, zeros);
    }
}
