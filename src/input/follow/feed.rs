//! The followed input of tail mode: a file through rotation, or standard
//! input to its end, handed out in groups of blocks.
//!
//! A stop (SIGINT, SIGTERM) ends the input as its end would: what was read
//! counts, and the unterminated last line with it, as batch mode counts a
//! file's or a stream's last line ([`Feed::rest`]). A followed file is read
//! no further; standard input is read by a thread that notices the stop
//! within [`STOP_CHECK`] and then ends as at the end of input.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{FollowOptions, Follower, Notice};
use crate::input::decompress::{decoded, Trailer};
use crate::input::format::{FormatChoice, Sequence};
use crate::input::line_limit::LineBlock;
use crate::input::stream::{spawn_blocks, Prefetched};
use crate::input::{Block, Group, Input};

/// The followed input of tail mode, handed out in groups of blocks.
pub(crate) struct Feed {
    source: FeedSource,
    /// The line parser in force at the start of the next block.
    parser: Sequence,
}

enum FeedSource {
    File(Box<Follower>),
    /// Standard input (decoded when compressed), read on its own thread so
    /// that a signal is noticed while no line arrives; the zero bytes its
    /// decoder skips after the last gzip member.
    Stdin(Prefetched, Trailer),
}

/// Blocks of standard input read ahead in tail mode.
const STDIN_AHEAD: usize = 4;

/// How long a read of standard input waits for bytes before it looks at the
/// stop flag again.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Standard input, read until it ends or `stop` is set: a read waits for
/// bytes at most [`STOP_CHECK`] at a time, so that a stop ends the input as
/// its end would, and the reader's unterminated last line is handed over.
/// Reads the descriptor itself (a duplicate of 0), unbuffered: bytes
/// buffered above it would be bytes that `poll` cannot see.
struct UntilStopped {
    input: File,
    stop: Arc<AtomicBool>,
}

impl UntilStopped {
    fn stdin(stop: Arc<AtomicBool>) -> io::Result<Self> {
        let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        Ok(UntilStopped { input, stop })
    }
}

impl Read for UntilStopped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wait = i32::try_from(STOP_CHECK.as_millis()).unwrap_or(i32::MAX);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut fd = libc::pollfd {
                fd: self.input.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `fd` is one valid pollfd, borrowed for the call only.
            let ready = unsafe { libc::poll(&mut fd, 1, wait) };
            if ready > 0 {
                // Readable, at its end, or failed: the read says which.
                return self.input.read(buf);
            }
            if ready < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

impl Feed {
    /// Starts following `input` (a file through rotation, or standard input
    /// to its end, or until `stop` is set), in blocks of about `block_size`
    /// bytes, dropping lines longer than `max_line` bytes.
    ///
    /// # Errors
    /// As [`Follower::new`].
    pub fn start(
        input: &Input,
        block_size: usize,
        max_line: usize,
        choice: FormatChoice,
        stop: &Arc<AtomicBool>,
    ) -> io::Result<Feed> {
        let source = match input {
            Input::File(path) => {
                let opts = FollowOptions {
                    block_size,
                    max_line,
                    ..FollowOptions::default()
                };
                FeedSource::File(Box::new(Follower::new(path, opts)?))
            }
            Input::Stdin => {
                let trailer = Trailer::default();
                let counted = trailer.clone();
                let stop = Arc::clone(stop);
                let blocks = spawn_blocks(
                    move || {
                        let stdin: Box<dyn Read + Send> = match UntilStopped::stdin(stop) {
                            Ok(stdin) => Box::new(stdin),
                            // Closed: empty, as batch mode reads it.
                            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                                Box::new(io::empty())
                            }
                            Err(e) => return Err(e),
                        };
                        decoded(stdin, &counted).map(|(reader, _)| reader)
                    },
                    block_size,
                    max_line,
                    STDIN_AHEAD,
                );
                FeedSource::Stdin(blocks, trailer)
            }
        };
        Ok(Feed {
            source,
            parser: Sequence::new(choice),
        })
    }

    /// The next group: the first block as soon as one comes (`Ok(None)` when
    /// `timeout` passes first), then up to `max` blocks in all of what is
    /// already there, so that a backlog is parsed in parallel.
    ///
    /// # Errors
    /// `UnexpectedEof` at the end of standard input (once no block is left),
    /// or a read error.
    pub(crate) fn next_group(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> io::Result<Option<Group<'static>>> {
        let Some(first) = self.next(timeout)? else {
            return Ok(None);
        };
        let mut blocks = vec![self.block(first)];
        while blocks.len() < max {
            match self.next(Duration::ZERO) {
                Ok(Some(bytes)) => blocks.push(self.block(bytes)),
                Ok(None) => break,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        Ok(Some(Group::blocks(blocks)))
    }

    /// After a stop: the rest of what was read, a group at a time, `None`
    /// once it is all handed out. For a followed file, the unterminated
    /// line it holds (no more is read); for standard input, what its reader
    /// read before it noticed the stop, its unterminated last line included.
    /// A read error then is the stop cutting the input short (a compressed
    /// stream cut mid-frame), and ends it too.
    pub(crate) fn rest(&mut self, max: usize) -> Option<Group<'static>> {
        match &mut self.source {
            FeedSource::File(follower) => {
                let line = follower.take_unterminated()?;
                Some(Group::blocks(vec![self.block(line)]))
            }
            FeedSource::Stdin(..) => loop {
                match self.next_group(STOP_CHECK, max) {
                    Ok(Some(group)) => return Some(group),
                    Ok(None) => {}
                    Err(_) => return None,
                }
            },
        }
    }

    fn block(&mut self, lines: LineBlock) -> Block {
        let parser = self.parser.next_block(&lines);
        Block::new(lines, parser)
    }

    fn next(&mut self, timeout: Duration) -> io::Result<Option<LineBlock>> {
        match &mut self.source {
            FeedSource::File(follower) => follower.next_block(timeout),
            FeedSource::Stdin(blocks, _) => blocks.next_within(timeout),
        }
    }

    /// What happened to the followed file since the last call (see
    /// [`Follower::take_notices`]); nothing for standard input.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        match &mut self.source {
            FeedSource::File(follower) => follower.take_notices(),
            FeedSource::Stdin(..) => Vec::new(),
        }
    }

    /// Zero bytes skipped after the last gzip member of compressed standard
    /// input, once it has ended.
    pub fn trailing_zeros(&self) -> u64 {
        match &self.source {
            FeedSource::File(_) => 0,
            FeedSource::Stdin(_, trailer) => trailer.zero_bytes(),
        }
    }
}
