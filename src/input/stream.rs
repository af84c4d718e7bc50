//! Streams (standard input, pipes, FIFOs, devices): read in blocks of whole
//! lines, on the caller's thread or on a reader thread of their own.

use std::io::{self, Read};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::format::Sequence;
use super::line_limit::{LineBlock, LineCutter};
use super::{Batching, Block, Group};
use crate::error::Result;

/// Reads a stream in blocks of whole lines.
pub struct BlockReader<R> {
    reader: R,
    block_size: usize,
    /// The start of a line that the previous block cut.
    carry: Vec<u8>,
    lines: LineCutter,
    eof: bool,
    /// Buffers of blocks already parsed, to read the next blocks into.
    spares: Option<mpsc::Receiver<Vec<u8>>>,
}

/// Hands the buffers of parsed blocks back to the thread that reads the next
/// ones. A reused buffer is written over where a fresh one is first zeroed:
/// for a compressed log that was a memset of every decoded byte, on the
/// decoder's thread, which is the whole run's critical path.
#[derive(Clone)]
pub(crate) struct Recycler(mpsc::SyncSender<Vec<u8>>);

impl Recycler {
    /// Hands `buffer` back, or drops it if the reader has enough or is gone.
    pub(crate) fn give(&self, buffer: Vec<u8>) {
        let _ = self.0.try_send(buffer);
    }
}

/// Room a new block's buffer keeps beyond the block size for the start of a
/// line carried from the block before, so that a reused buffer need not
/// grow.
const CARRY_ROOM: usize = 64 << 10;

impl<R: Read> BlockReader<R> {
    /// Blocks of about `block_size` bytes (more when a line is longer), whose
    /// lines longer than `max_line` bytes are dropped (see [`LineBlock`]).
    pub fn new(reader: R, block_size: usize, max_line: usize) -> Self {
        BlockReader {
            reader,
            block_size: block_size.max(1),
            carry: Vec::new(),
            lines: LineCutter::new(max_line),
            eof: false,
            spares: None,
        }
    }

    /// The next block, ending with `\n` unless it is the last one, and whether
    /// it is full: `false` when the reader had no more bytes for now (a pipe
    /// whose writer is slower than us), so the caller need not wait for more
    /// before parsing it. `None` at the end.
    ///
    /// A line longer than the maximum ends its block at once (the block ends
    /// with its mark, not full), so that it is reported even if it never ends;
    /// while the rest of it is dropped, an empty block comes back after every
    /// block size of dropped bytes, so that the caller is never kept waiting
    /// on a line it no longer reads. Memory stays within about the maximum
    /// plus two blocks.
    ///
    /// A read interrupted by a signal is retried: only a read of 0 bytes is
    /// the end.
    ///
    /// # Errors
    /// The reader's error.
    pub fn next_block(&mut self) -> io::Result<Option<(LineBlock, bool)>> {
        if self.eof {
            return Ok(None);
        }
        let read_len = self.lines.read_len(self.block_size);
        // A buffer that a long line stretched is let go, not kept.
        let spare = self.spares.as_ref().and_then(|s| {
            s.try_iter()
                .find(|spare| spare.capacity() <= 2 * (read_len + CARRY_ROOM))
        });
        let (mut block, mut filled) = match spare {
            Some(mut spare) => {
                // Its bytes are initialised already: written over, not zeroed.
                let n = self.carry.len();
                if spare.len() < n {
                    spare.resize(n, 0);
                }
                spare[..n].copy_from_slice(&self.carry);
                self.carry.clear();
                (spare, n)
            }
            None => {
                let mut block = std::mem::take(&mut self.carry);
                if self.spares.is_some() {
                    block.reserve_exact(read_len + CARRY_ROOM);
                }
                let n = block.len();
                (block, n)
            }
        };
        let mut too_long = Vec::new();
        // Each byte is searched once and the buffer grows geometrically, so
        // a line of any length costs time linear in its length however short
        // the reads are.
        let mut line_start = 0;
        let mut dropped = 0;
        loop {
            if block.len() < filled + read_len {
                block.resize(filled + read_len, 0);
            }
            let n = match self.reader.read(&mut block[filled..filled + read_len]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let short = n < read_len;
            if n == 0 {
                self.eof = true;
                block.truncate(filled);
                let block = LineBlock {
                    bytes: block,
                    too_long,
                };
                return Ok((!block.is_empty()).then_some((block, false)));
            }
            let taken = self
                .lines
                .take(&mut block, filled, filled + n, line_start, &mut too_long);
            (filled, line_start) = (taken.filled, taken.line_start);
            let found_long = self.lines.skipping() && !too_long.is_empty();
            if self.lines.skipping() && !found_long {
                dropped += n;
            }
            let ready = line_start > 0 || !too_long.is_empty();
            if found_long
                || dropped >= self.block_size
                || (ready && (filled >= self.block_size || short))
            {
                self.carry.extend_from_slice(&block[line_start..filled]);
                block.truncate(line_start);
                let full = !short && !found_long && dropped == 0;
                let block = LineBlock {
                    bytes: block,
                    too_long,
                };
                return Ok(Some((block, full)));
            }
        }
    }
}

/// A sequence of blocks of whole lines, each with whether it is full (see
/// [`BlockReader::next_block`]).
pub(crate) trait Blocks: Send {
    /// The next block, or `None` at the end.
    ///
    /// # Errors
    /// The stream's read error.
    fn next_block(&mut self) -> io::Result<Option<(LineBlock, bool)>>;

    /// Where the blocks' buffers go once parsed, if they are reused.
    fn recycler(&self) -> Option<Recycler> {
        None
    }
}

impl<R: Read + Send> Blocks for BlockReader<R> {
    fn next_block(&mut self) -> io::Result<Option<(LineBlock, bool)>> {
        BlockReader::next_block(self)
    }
}

/// Blocks read ahead on a thread of their own (see [`spawn_blocks`]).
pub(crate) struct Prefetched(mpsc::Receiver<io::Result<(LineBlock, bool)>>, Recycler);

impl Prefetched {
    /// The next block, waiting at most `timeout`: `Ok(None)` when it passes.
    ///
    /// # Errors
    /// The stream's read error; `UnexpectedEof` at its end.
    pub(crate) fn next_within(&self, timeout: Duration) -> io::Result<Option<LineBlock>> {
        match self.0.recv_timeout(timeout) {
            Ok(block) => block.map(|(bytes, _)| Some(bytes)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

impl Blocks for Prefetched {
    fn next_block(&mut self) -> io::Result<Option<(LineBlock, bool)>> {
        // The reader thread ends after the last block or the first error.
        self.0.recv().map_or(Ok(None), |block| block.map(Some))
    }

    fn recycler(&self) -> Option<Recycler> {
        Some(self.1.clone())
    }
}

/// Reads the stream that `open` returns in blocks of about `block_size`
/// bytes (lines longer than `max_line` dropped), on a thread of its own, at most `depth` blocks ahead of the
/// consumer: decoding a compressed input this way overlaps with parsing, and a
/// caller can wait with a timeout (and notice a signal meanwhile). `open` runs
/// on that thread too, so that waiting for a stream's first bytes blocks no
/// one. The thread ends at the end of the stream, after its first error, or
/// when the consumer is dropped.
pub(crate) fn spawn_blocks<R: Read>(
    open: impl FnOnce() -> io::Result<R> + Send + 'static,
    block_size: usize,
    max_line: usize,
    depth: usize,
) -> Prefetched {
    let (tx, rx) = mpsc::sync_channel(depth);
    let (give, spares) = mpsc::sync_channel(RECYCLED);
    thread::spawn(move || {
        let reader = match open() {
            Ok(reader) => reader,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let mut blocks = BlockReader::new(reader, block_size, max_line);
        blocks.spares = Some(spares);
        loop {
            let next = blocks.next_block().transpose();
            let Some(next) = next else { break };
            let failed = next.is_err();
            if tx.send(next).is_err() || failed {
                break;
            }
        }
    });
    Prefetched(rx, Recycler(give))
}

/// Parsed buffers a reader keeps for reuse: more than a stream has in
/// flight at once (blocks decoded ahead, a group parsed, the next one read).
const RECYCLED: usize = 16;

/// Hands `blocks` to `each` in groups, in order, until `each` returns `false`
/// or the blocks end; each block carries the parser in force at its start.
/// With [`Batching::read_ahead`] the next group is read while `each` parses
/// this one, on a thread outside the parsing pool: a pool thread waiting on
/// a decoder (or a pipe) is a thread not parsing, which left a fast decoder's
/// output (zstd's) to one parsing thread.
///
/// # Errors
/// `read_err` of the stream's error; `each`'s error.
pub(super) fn read_blocks(
    mut blocks: impl Blocks,
    mut parser: Sequence,
    batching: &Batching,
    read_err: &(dyn Fn(io::Error) -> crate::Error + Sync),
    each: &mut super::Each<'_>,
) -> Result<()> {
    let mut read_group = move || -> Result<Vec<Block>> {
        let mut group = Vec::with_capacity(batching.group);
        // A short read means the writer has nothing more yet: parse what
        // there is now instead of waiting for a full group.
        while group.len() < batching.group {
            match blocks.next_block().map_err(read_err)? {
                Some((lines, full)) => {
                    let parser = parser.next_block(&lines);
                    group.push(Block::new(lines, parser).recycled_by(blocks.recycler()));
                    if !full {
                        break;
                    }
                }
                None => break,
            }
        }
        Ok(group)
    };
    if !batching.read_ahead {
        // Let the engine release what this group completes before waiting
        // for more input: a live writer may not send the next line for a
        // while.
        loop {
            let group = read_group()?;
            if group.is_empty() || !each(Group::blocks(group))? {
                return Ok(());
            }
        }
    }
    thread::scope(|scope| {
        // A rendezvous: the reader holds at most the group it has read
        // while this one is parsed, as before.
        let (tx, rx) = mpsc::sync_channel(0);
        scope.spawn(move || loop {
            let group = read_group();
            let last = !matches!(&group, Ok(g) if !g.is_empty());
            if tx.send(group).is_err() || last {
                break;
            }
        });
        // Dropping `rx` on the way out ends the reader after its read.
        for group in rx {
            let group = group?;
            if group.is_empty() || !each(Group::blocks(group))? {
                break;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out one byte per read, the worst a pipe can do.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn one_byte_reads_give_the_same_whole_lines() {
        let mut text = b"1 a b\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 100_000));
        text.extend_from_slice(b"\n2 c d\nlast");
        for size in [1, 7, 4096] {
            let mut r = BlockReader::new(Trickle(&text), size, usize::MAX);
            let mut all = Vec::new();
            while let Some((b, _)) = r.next_block().unwrap() {
                if all.len() + b.len() < text.len() {
                    assert_eq!(b.last(), Some(&b'\n'), "size {size}");
                }
                all.extend_from_slice(&b);
            }
            assert_eq!(all, text, "size {size}");
        }
    }

    #[test]
    fn blocks_hold_whole_lines() {
        let text = b"one\ntwo\nthree\nfour\nfive";
        for size in 1..30 {
            let mut r = BlockReader::new(&text[..], size, usize::MAX);
            let mut all = Vec::new();
            while let Some((b, _)) = r.next_block().unwrap() {
                if all.len() + b.len() < text.len() {
                    assert_eq!(b.last(), Some(&b'\n'));
                }
                all.extend_from_slice(&b);
            }
            assert_eq!(all, text);
        }
    }

    /// Returns `Interrupted` before every real read, as a read that a signal
    /// cut short does.
    struct Interrupting<'a> {
        bytes: &'a [u8],
        interrupt: bool,
    }

    impl Read for Interrupting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.bytes.len()).min(3);
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_interrupted_read_is_retried_not_taken_as_the_end() {
        let text = b"one\ntwo\nthree\nfour\nfive\n";
        for size in [1, 4, 100] {
            let reader = Interrupting {
                bytes: text,
                interrupt: false,
            };
            let mut r = BlockReader::new(reader, size, usize::MAX);
            let mut all = Vec::new();
            while let Some((b, _)) = r.next_block().unwrap() {
                all.extend_from_slice(&b);
            }
            assert_eq!(all, text, "block size {size}");
        }
    }

    /// Every block of `r`, joined, with the dropped lines' offsets in the
    /// joined bytes.
    fn read_joined<R: Read>(mut r: BlockReader<R>) -> (Vec<u8>, Vec<usize>) {
        let (mut all, mut marks) = (Vec::new(), Vec::new());
        while let Some((b, _)) = r.next_block().unwrap() {
            assert!(
                r.eof || b.bytes.is_empty() || b.last() == Some(&b'\n'),
                "a block ends a line"
            );
            marks.extend(b.too_long.iter().map(|&o| all.len() + o));
            all.extend_from_slice(&b.bytes);
        }
        (all, marks)
    }

    #[test]
    fn lines_longer_than_the_maximum_are_dropped_and_marked() {
        let mut text = b"1 a b\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 5000));
        text.extend_from_slice(b"\n2 c d\n");
        text.extend(std::iter::repeat_n(b'y', 3000));
        let want = (b"1 a b\n2 c d\n".to_vec(), vec![6, 12]);
        for size in [1, 7, 100, 4096, 1 << 20] {
            let r = BlockReader::new(&text[..], size, 1000);
            assert_eq!(read_joined(r), want, "block size {size}");
            let r = BlockReader::new(Trickle(&text), size, 1000);
            assert_eq!(read_joined(r), want, "block size {size}, trickled");
        }
        // At the maximum, a line is kept.
        let r = BlockReader::new(&text[..], 64, 5000);
        assert_eq!(read_joined(r), (text.clone(), vec![]));
        let r = BlockReader::new(&text[..], 64, 4999);
        assert_eq!(read_joined(r).1, [6]);
    }

    /// An endless stream of one byte, as `/dev/zero` is.
    struct Endless(u64);

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(0);
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
    }

    #[test]
    fn a_line_without_an_end_is_reported_at_once_and_read_in_bounded_memory() {
        let mut r = BlockReader::new(Endless(0), 4096, 10_000);
        let (first, full) = r.next_block().unwrap().unwrap();
        assert_eq!(
            (first.bytes.len(), &first.too_long[..], full),
            (0, &[0][..], false)
        );
        for _ in 0..1000 {
            let (b, full) = r.next_block().unwrap().unwrap();
            assert!(
                b.is_empty() && !full,
                "only empty blocks while the line is dropped"
            );
            assert!(
                b.bytes.capacity() <= 10_000 + 2 * 4096,
                "{}",
                b.bytes.capacity()
            );
        }
        assert!(
            r.reader.0 > 4_000_000,
            "the line is still read: {}",
            r.reader.0
        );
    }
}
