//! Finding field separators a block of bytes at a time: one SSE2 compare
//! per 16 bytes on x86-64 (the target's baseline), a word trick per 8 bytes
//! elsewhere; a line's ([`Separators`]), or a whole chunk's with its line
//! ends ([`Marks`]). Log fields are a few bytes each, and `memchr` on a
//! slice that short costs more in setup than in searching (per field, its
//! call was a fifth of a Zeek TSV parse), and a byte loop costs a branch a
//! byte (half a VPC parse).

#[cfg(any(test, not(target_arch = "x86_64")))]
use super::connspy::is_ws;

/// What separates fields.
pub(crate) trait Sought: Copy {
    /// A bit per byte of `block` that is a separator, lowest bit first.
    fn find(self, block: &[u8; BLOCK]) -> u32;
    /// A byte that is not a separator, to pad a line's last block.
    fn filler(self) -> u8;
}

/// One byte separates fields (Zeek's tab).
#[derive(Clone, Copy)]
pub(crate) struct Byte(pub(crate) u8);

/// Runs of whitespace separate fields (VPC; [`is_ws`](super::connspy::is_ws)'s bytes: space, `\t`,
/// `\r`, `\v`, `\f`).
#[derive(Clone, Copy)]
pub(crate) struct Space;

impl Sought for Byte {
    #[inline(always)]
    fn find(self, block: &[u8; BLOCK]) -> u32 {
        matches(block, self.0)
    }

    #[inline(always)]
    fn filler(self) -> u8 {
        !self.0
    }
}

impl Sought for Space {
    #[inline(always)]
    fn find(self, block: &[u8; BLOCK]) -> u32 {
        spaces(block)
    }

    #[inline(always)]
    fn filler(self) -> u8 {
        b'x'
    }
}

/// The offsets of a line's separators, in order.
pub(crate) struct Separators<'a, S> {
    line: &'a [u8],
    sought: S,
    /// Where the next block starts.
    next: usize,
    /// Offset of the current block, and a bit for each of its separators
    /// not yet handed out.
    block: usize,
    found: u32,
}

impl<'a, S: Sought> Separators<'a, S> {
    #[inline(always)]
    pub(crate) fn new(line: &'a [u8], sought: S) -> Self {
        Separators {
            line,
            sought,
            next: 0,
            block: 0,
            found: 0,
        }
    }
}

impl<S: Sought> Iterator for Separators<'_, S> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.found == 0 {
            let rest = self.line.get(self.next..).filter(|r| !r.is_empty())?;
            self.found = match rest.first_chunk::<BLOCK>() {
                Some(block) => self.sought.find(block),
                None => {
                    let mut block = [self.sought.filler(); BLOCK];
                    block[..rest.len()].copy_from_slice(rest);
                    self.sought.find(&block)
                }
            };
            self.block = self.next;
            self.next += BLOCK;
        }
        let lane = self.found.trailing_zeros() as usize;
        self.found &= self.found - 1;
        Some(self.block + lane)
    }
}

/// The non-empty fields of a line that runs of whitespace separate, in
/// order: what `line.split(is_ws).filter(|f| !f.is_empty())` yields.
#[inline(always)]
pub(crate) fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut ends = Separators::new(line, Space).chain(std::iter::once(line.len()));
    let mut start = 0;
    std::iter::from_fn(move || loop {
        let end = ends.next()?;
        let field = &line[start..end];
        start = end + 1;
        if !field.is_empty() {
            return Some(field);
        }
    })
}

/// Bytes [`Marks`] looks at at once: a bit each in a `u64`.
const WIDE: usize = 64;

/// What [`Marks::next`] finds: a field separator or a line's end (its `\n`,
/// or the end of the data), at an offset of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Sep(usize),
    End(usize),
}

/// The separators and line ends of a whole chunk, found 64 bytes at a time
/// and handed out in order. Splitting line by line searched each line twice,
/// once for its `\n` (a `memchr` call a line) and once for its fields; here
/// one pass over the bytes serves both.
pub(crate) struct Marks<'a> {
    data: &'a [u8],
    sep: u8,
    /// Offset of the current block.
    base: usize,
    /// A bit for each separator and each `\n` of the current block not yet
    /// handed out or skipped.
    marks: u64,
    /// A bit for each `\n` of the current block (handed out or not).
    ends: u64,
}

impl<'a> Marks<'a> {
    /// The marks of `data` from offset `from` on, fields separated by `sep`
    /// (not `\n`).
    #[inline]
    pub(crate) fn new(data: &'a [u8], sep: u8, from: usize) -> Self {
        debug_assert_ne!(sep, b'\n');
        let mut marks = Marks {
            data,
            sep,
            base: from,
            marks: 0,
            ends: 0,
        };
        marks.load(from);
        marks
    }

    /// The next separator or line end.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Mark {
        while self.marks == 0 {
            if !self.advance() {
                return Mark::End(self.data.len());
            }
        }
        let lane = self.marks.trailing_zeros();
        self.marks &= self.marks - 1;
        let at = self.base + lane as usize;
        if self.ends >> lane & 1 != 0 {
            Mark::End(at)
        } else {
            Mark::Sep(at)
        }
    }

    /// Skips the rest of the current line: the offset of its `\n`, or the
    /// end of the data.
    #[inline(always)]
    pub(crate) fn line_end(&mut self) -> usize {
        loop {
            let ends = self.marks & self.ends;
            if ends != 0 {
                let lane = ends.trailing_zeros();
                self.marks &= !(u64::MAX >> (63 - lane));
                return self.base + lane as usize;
            }
            if !self.advance() {
                return self.data.len();
            }
        }
    }

    /// Moves to the next block; `false` at the end of the data, with no
    /// mark left.
    #[inline(always)]
    fn advance(&mut self) -> bool {
        let next = self.base + WIDE;
        if next >= self.data.len() {
            self.marks = 0;
            return false;
        }
        self.load(next);
        true
    }

    #[inline(always)]
    fn load(&mut self, base: usize) {
        self.base = base;
        let rest = self.data.get(base..).unwrap_or_default();
        let (seps, ends) = match rest.first_chunk::<WIDE>() {
            Some(block) => wide_marks(block, self.sep),
            None => {
                // Neither the separator nor `\n`.
                let filler = if self.sep == 0 { 1 } else { 0 };
                let mut block = [filler; WIDE];
                block[..rest.len()].copy_from_slice(rest);
                wide_marks(&block, self.sep)
            }
        };
        (self.marks, self.ends) = (seps | ends, ends);
    }
}

/// A bit per byte of `block` equal to `sep`, and one per `\n`.
#[inline(always)]
fn wide_marks(block: &[u8; WIDE], sep: u8) -> (u64, u64) {
    let (mut seps, mut ends) = (0u64, 0u64);
    for (k, part) in block.chunks_exact(BLOCK).enumerate() {
        let part: &[u8; BLOCK] = part.try_into().expect("BLOCK bytes");
        seps |= u64::from(matches(part, sep)) << (k * BLOCK);
        ends |= u64::from(matches(part, b'\n')) << (k * BLOCK);
    }
    (seps, ends)
}

/// Bytes compared at once: an SSE2 register (every x86-64 has one), else a
/// word.
#[cfg(target_arch = "x86_64")]
pub(crate) const BLOCK: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
pub(crate) const BLOCK: usize = 8;

/// A bit per byte of `block` equal to `byte`, lowest bit first: one SSE2
/// compare, where the eight-byte word version took three times the
/// instructions on Zeek lines.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn matches(block: &[u8; BLOCK], byte: u8) -> u32 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    // SAFETY: SSE2 is part of every x86-64 CPU (the target's baseline), and
    // the load reads the 16 bytes `block` holds, unaligned as the intrinsic
    // allows.
    unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(byte as i8))) as u32
    }
}

/// A bit per whitespace byte of `block` (space, or `\t` to `\r` but `\n`,
/// which ends lines before any parser sees one), lowest bit first.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn spaces(block: &[u8; BLOCK]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    // SAFETY: as in `matches`.
    let mask = unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        // `b - 9 <= 4` (unsigned) is `\t` to `\r`: min(x, 4) == x.
        let x = _mm_sub_epi8(v, _mm_set1_epi8(9));
        let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(4)), x);
        _mm_movemask_epi8(_mm_or_si128(
            control,
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8)),
        )) as u32
    };
    mask & !matches(block, b'\n')
}

/// A bit per byte of `block` equal to `byte`, lowest bit first.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn matches(block: &[u8; BLOCK], byte: u8) -> u32 {
    matches_word(u64::from_le_bytes(*block), byte)
}

/// A bit per whitespace byte of `block`, lowest bit first.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn spaces(block: &[u8; BLOCK]) -> u32 {
    spaces_bytes(block)
}

/// A bit per whitespace byte of `bytes`, lowest bit first, a byte at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn spaces_bytes(bytes: &[u8]) -> u32 {
    (0..bytes.len())
        .filter(|&i| is_ws(bytes[i]))
        .fold(0, |m, i| m | 1 << i)
}

/// A bit per byte of the word `word` (loaded little-endian) equal to
/// `byte`, lowest bit first: zero lanes of `x` are the matches (a test
/// without false positives, unlike `(x - LOWS) & !x & HIGHS`), and a
/// multiply gathers their high bits.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn matches_word(word: u64, byte: u8) -> u32 {
    const LOWS: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (u64::from(byte) * LOWS);
    let zero = !(((x & !HIGHS) + !HIGHS) | x) & HIGHS;
    ((zero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes near the separators: the sought ones, those one bit or the
    /// high bit away (the lanes a carry could confuse), and `\n`.
    fn near() -> impl Strategy<Value = u8> {
        prop::sample::select(vec![
            0u8, 8, 9, 10, 11, 12, 13, 14, 0x0d, 0x1f, b' ', b'!', 0x89, 0x88, 0xa0, 0xff, b'a',
        ])
    }

    proptest! {
        /// Every offset of the byte, in order, at every length and
        /// alignment.
        #[test]
        fn byte_separators_are_a_byte_loops(
            line in prop::collection::vec(near(), 0..40),
            byte in prop::sample::select(vec![0u8, 9, 0x89, 0xff]),
        ) {
            let want: Vec<usize> = (0..line.len()).filter(|&i| line[i] == byte).collect();
            prop_assert_eq!(Separators::new(&line, Byte(byte)).collect::<Vec<_>>(), want);
        }

        /// Whitespace separators and the fields between them are what a
        /// byte loop with `is_ws` finds.
        #[test]
        fn whitespace_fields_are_a_byte_loops(line in prop::collection::vec(near(), 0..40)) {
            let want: Vec<usize> = (0..line.len()).filter(|&i| is_ws(line[i])).collect();
            prop_assert_eq!(Separators::new(&line, Space).collect::<Vec<_>>(), want);
            let plain: Vec<&[u8]> = line.split(|&b| is_ws(b)).filter(|f| !f.is_empty()).collect();
            prop_assert_eq!(fields(&line).collect::<Vec<_>>(), plain);
        }

        /// Marks are every separator and `\n` from the start offset on, in
        /// order, then the end of the data; skipping to a line's end skips
        /// its separators.
        #[test]
        fn marks_are_a_byte_loops(
            data in prop::collection::vec(near(), 0..300),
            from in 0usize..300,
            sep in prop::sample::select(vec![0u8, 9, 0x89, 0xff]),
            skips in prop::collection::vec(any::<bool>(), 0..300),
        ) {
            let from = from.min(data.len());
            let mut want: Vec<Mark> = (from..data.len())
                .filter_map(|i| match data[i] {
                    b'\n' => Some(Mark::End(i)),
                    b if b == sep => Some(Mark::Sep(i)),
                    _ => None,
                })
                .collect();
            want.push(Mark::End(data.len()));
            let mut marks = Marks::new(&data, sep, from);
            let mut i = 0;
            let mut skips = skips.into_iter();
            while i < want.len() {
                if skips.next() == Some(true) {
                    // The line's end, and every mark before it gone.
                    let end = want[i..].iter().find_map(|m| match m {
                        Mark::End(at) => Some(*at),
                        Mark::Sep(_) => None,
                    });
                    let end = end.expect("the data's end is last");
                    prop_assert_eq!(marks.line_end(), end);
                    i += want[i..].iter().position(|m| *m == Mark::End(end)).expect("found") + 1;
                } else {
                    prop_assert_eq!(marks.next(), want[i]);
                    i += 1;
                }
            }
            prop_assert_eq!(marks.next(), Mark::End(data.len()));
        }

        /// The word version (other targets') finds what a byte loop finds.
        #[test]
        fn word_matches_are_a_byte_loops(
            word in prop::array::uniform8(near()),
            byte in prop::sample::select(vec![0u8, 9, 0x89, 0xff]),
        ) {
            let want = (0..8).filter(|&i| word[i] == byte).fold(0u32, |m, i| m | 1 << i);
            prop_assert_eq!(matches_word(u64::from_le_bytes(word), byte), want);
            prop_assert_eq!(spaces_bytes(&word), (0..8).filter(|&i| is_ws(word[i])).fold(0u32, |m, i| m | 1 << i));
        }
    }
}
