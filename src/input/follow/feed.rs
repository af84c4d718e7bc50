//! The followed input of tail mode: a file through rotation, or standard
//! input to its end, handed out in groups of blocks.

use std::io;
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

impl Feed {
    /// Starts following `input` (a file through rotation, or standard input
    /// to its end), in blocks of about `block_size` bytes, dropping lines
    /// longer than `max_line` bytes.
    ///
    /// # Errors
    /// As [`Follower::new`].
    pub fn start(
        input: &Input,
        block_size: usize,
        max_line: usize,
        choice: FormatChoice,
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
                let blocks = spawn_blocks(
                    move || decoded(Box::new(io::stdin()), &counted).map(|(reader, _)| reader),
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
