//! The maximum line length: lines longer than it are malformed, found without
//! a per-line cost, and skipped in bounded memory.
//!
//! A reader of a stream or a followed file holds the start of a line until its
//! `\n` arrives, so a line without an end (`/dev/zero`, a writer that never
//! ends its line) would grow that buffer without bound. [`LineCutter`] drops
//! such a line once it passes the maximum, remembers where it was (a
//! [`LineBlock::too_long`] offset, counted by the engine as one malformed
//! line), and drops the rest of it as it arrives. A mapped file costs no
//! buffer, but its lines must be judged the same way: [`too_long_lines`]
//! finds them in a chunk, and only a chunk longer than the maximum can hold
//! one.

use std::ops::{Deref, Range};

use memchr::{memchr, memchr_iter, memrchr};

/// The default `--max_line_length`: 16 MiB.
///
/// Far above any real log line (a Zeek or VPC record is a few hundred bytes,
/// a Suricata EVE event rarely more than tens of kilobytes), and above the
/// 4 MiB default chunk, so that a mapped chunk needs the extra search only
/// when it holds a line of over 12 MiB. A reader then holds at most about
/// this plus a block for a line without an end.
pub(crate) const DEFAULT_MAX_LINE_LENGTH: usize = 16 << 20;

/// A buffer of whole lines read in order (from a stream, a decoder or a
/// followed file), with the places where lines longer than the maximum were
/// dropped. Dereferences to its bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LineBlock {
    /// The lines, each ending with `\n` but perhaps the last of an input.
    pub bytes: Vec<u8>,
    /// Offsets in `bytes`, in order, each at a line start, where a line longer
    /// than the maximum was dropped: each stands for one malformed line
    /// between the lines before and after it.
    pub too_long: Vec<usize>,
}

impl LineBlock {
    /// Whole lines with no line dropped.
    pub fn whole(bytes: Vec<u8>) -> Self {
        LineBlock {
            bytes,
            too_long: Vec::new(),
        }
    }

    /// Whether the block holds neither bytes nor a dropped line.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.too_long.is_empty()
    }
}

impl Deref for LineBlock {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Drops lines longer than a maximum from a buffer being filled by reads.
///
/// Only the line open at the start of a read can be too long if no read is
/// longer than [`LineCutter::read_len`]: a line that starts and ends inside
/// one read is shorter than the read. So each read costs one `memchr` for the
/// first `\n` and one `memrchr` for the last, whatever its number of lines.
#[derive(Debug, Clone)]
pub(crate) struct LineCutter {
    max: usize,
    /// Inside a line already found too long: its bytes are dropped up to its
    /// `\n`.
    skipping: bool,
}

/// The bytes just read, taken into the buffer by [`LineCutter::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    /// The buffer's bytes now end here (dropped bytes are gone).
    pub filled: usize,
    /// The start of the last line, which has no `\n` yet: the buffer's
    /// complete lines are those before it.
    pub line_start: usize,
}

impl LineCutter {
    /// A cutter for lines of at most `max` bytes (not counting the `\n`).
    pub fn new(max: usize) -> Self {
        LineCutter {
            max: max.max(1),
            skipping: false,
        }
    }

    /// The longest read to hand to [`Self::take`], for blocks of about
    /// `block_size` bytes.
    pub(crate) fn read_len(&self, block_size: usize) -> usize {
        block_size.min(self.max).max(1)
    }

    /// Whether a line found too long is still being dropped.
    pub(crate) fn skipping(&self) -> bool {
        self.skipping
    }

    /// Forgets a line being dropped: the input starts again (a truncated or
    /// replaced followed file).
    pub(crate) fn reset(&mut self) {
        self.skipping = false;
    }

    /// Takes in `buf[from..filled]`, just read (at most [`Self::read_len`]
    /// bytes) after `buf[..from]`, whose last line started at `line_start`.
    /// Lines longer than the maximum are cut out of `buf` (its bytes past
    /// the returned `filled` are left as they are) and their offsets pushed
    /// to `too_long`.
    pub fn take(
        &mut self,
        buf: &mut [u8],
        mut from: usize,
        mut filled: usize,
        line_start: usize,
        too_long: &mut Vec<usize>,
    ) -> Taken {
        loop {
            if self.skipping {
                // `line_start == from`: nothing of the dropped line is kept.
                let Some(i) = memchr(b'\n', &buf[from..filled]) else {
                    return Taken {
                        filled: from,
                        line_start: from,
                    };
                };
                let after = from + i + 1;
                buf.copy_within(after..filled, from);
                filled -= after - from;
                self.skipping = false;
            }
            match memchr(b'\n', &buf[from..filled]) {
                Some(i) if from + i - line_start > self.max => {
                    // The open line ended in this read, too long.
                    let after = from + i + 1;
                    too_long.push(line_start);
                    buf.copy_within(after..filled, line_start);
                    filled -= after - line_start;
                    from = line_start;
                }
                Some(i) => {
                    let last = memrchr(b'\n', &buf[from + i..filled]).expect("one was found");
                    return Taken {
                        filled,
                        line_start: from + i + last + 1,
                    };
                }
                None if filled - line_start > self.max => {
                    too_long.push(line_start);
                    self.skipping = true;
                    return Taken {
                        filled: line_start,
                        line_start,
                    };
                }
                None => return Taken { filled, line_start },
            }
        }
    }
}

/// The lines of `data` (whole lines; the last may lack its `\n`) longer than
/// `max` bytes, each with its `\n`. A search of every line, so only worth it
/// when `data` is longer than `max`.
pub(crate) fn too_long_lines(data: &[u8], max: usize) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut start = 0;
    for nl in memchr_iter(b'\n', data).chain(std::iter::once(data.len())) {
        if nl - start > max {
            found.push(start..(nl + 1).min(data.len()));
        }
        start = nl + 1;
        if start >= data.len() {
            break;
        }
    }
    found
}

/// `data` from its first line that is neither blank nor longer than `max`:
/// what a format is detected from, as a reader that dropped the long lines
/// would see it.
pub(crate) fn from_first_usable_line(data: &[u8], max: usize) -> &[u8] {
    let mut start = 0;
    while start < data.len() {
        let end = memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let line = &data[start..end];
        if line.len() <= max
            && !line
                .iter()
                .all(|&b| crate::input::format::connspy::is_ws(b))
        {
            break;
        }
        start = end + 1;
    }
    &data[start.min(data.len())..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` to a cutter in reads of `read` bytes, as a reader does,
    /// and returns the kept bytes and the offsets of dropped lines.
    fn cut(text: &[u8], max: usize, read: usize) -> (Vec<u8>, Vec<usize>) {
        let mut cutter = LineCutter::new(max);
        let read = cutter.read_len(read);
        let mut buf = Vec::new();
        let mut too_long = Vec::new();
        let (mut filled, mut line_start) = (0, 0);
        for piece in text.chunks(read) {
            buf.truncate(filled);
            buf.extend_from_slice(piece);
            let len = buf.len();
            let t = cutter.take(&mut buf, filled, len, line_start, &mut too_long);
            (filled, line_start) = (t.filled, t.line_start);
        }
        buf.truncate(filled);
        (buf, too_long)
    }

    /// The same by the definition: lines longer than `max` are dropped.
    fn naive(text: &[u8], max: usize) -> (Vec<u8>, Vec<usize>) {
        let mut kept = Vec::new();
        let mut too_long = Vec::new();
        for line in text.split_inclusive(|&b| b == b'\n') {
            let len = line.len() - usize::from(line.last() == Some(&b'\n'));
            if len > max {
                too_long.push(kept.len());
            } else {
                kept.extend_from_slice(line);
            }
        }
        (kept, too_long)
    }

    #[test]
    fn cutting_in_reads_drops_exactly_the_lines_longer_than_the_maximum() {
        let text = b"a\nbbbbbbbb\ncc\n\nddddddddddddddddddd\neeee\nffffffffffff";
        for max in 1..20 {
            for read in 1..24 {
                assert_eq!(
                    cut(text, max, read),
                    naive(text, max),
                    "max {max}, read {read}"
                );
            }
        }
    }

    #[test]
    fn too_long_lines_finds_each_with_its_newline() {
        let data = b"aa\nbbbbb\ncc\ndddddd";
        assert_eq!(too_long_lines(data, 4), [3..9, 12..18]);
        assert_eq!(too_long_lines(data, 6), []);
        assert_eq!(too_long_lines(b"xxxxx\n", 4), [Range { start: 0, end: 6 }]);
    }

    #[test]
    fn formats_are_detected_past_leading_long_and_blank_lines() {
        assert_eq!(from_first_usable_line(b"xxxxxx\n \n1 a b\n", 5), b"1 a b\n");
        assert_eq!(from_first_usable_line(b"1 a b\nxxxxx", 5), b"1 a b\nxxxxx");
        assert_eq!(from_first_usable_line(b"xxxxx", 4), b"");
    }
}
