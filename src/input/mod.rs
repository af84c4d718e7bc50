//! The input layer: where bytes come from, and their cutting into groups of
//! whole-line buffers for the engine.
//!
//! Every source goes through one entry, [`read_all`] (and, for the followed
//! input of tail mode, [`follow::Feed`]): mapped files ([`mapped`], narrowed
//! to a time range by [`seek`]) and streams ([`stream`]) come out as
//! [`Group`]s, each buffer carrying the line [`format::Parser`] in force at its
//! start. How big chunks and groups are is decided once, in [`Batching`].

pub mod decompress;
pub mod follow;
pub mod format;
pub mod line_limit;
pub mod mapped;
pub mod seek;
mod sigbus;
pub mod stream;

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use std::os::unix::fs::FileExt;

use decompress::{Decoder, Encoding, Trailer};
use format::{FormatChoice, Parser, ParserMap, Sequence};
use line_limit::{too_long_lines, LineBlock};
use mapped::{align_to_lines, MappedFile};
use stream::{read_blocks, spawn_blocks, BlockReader, Prefetched, Recycler};

use crate::error::{Error, Result};

/// One input as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (no file, or `-`).
    Stdin,
    /// A file to map.
    File(PathBuf),
}

impl Input {
    /// The name used in messages.
    pub(crate) fn display_path(&self) -> &Path {
        match self {
            Input::Stdin => Path::new("<stdin>"),
            Input::File(p) => p,
        }
    }
}

/// An opened input, read the way that suits it.
pub(crate) enum Source {
    /// A regular file, memory-mapped.
    Mapped(MappedFile),
    /// Standard input, a pipe, a FIFO, a device, or a regular file whose
    /// stated size is not its length (0 on procfs; sysfs files cannot be
    /// mapped): read in blocks to the end.
    Stream(Box<dyn io::Read + Send>),
    /// A compressed input (file or stream), already behind its decoder:
    /// decoded in blocks on a thread of its own. It cannot be mapped, so the
    /// time-range seek does not apply; every line is read and filtered. The
    /// decoder counts zero padding after the last gzip member in the
    /// [`Trailer`].
    Decoded(Box<dyn io::Read + Send>, Trailer),
}

impl Source {
    /// Opens `input` and tells from its first bytes whether it is compressed.
    ///
    /// # Errors
    /// [`Error::IsDirectory`] for a directory, [`Error::Open`] when the input
    /// cannot be opened or mapped, [`Error::Unsupported`] when it is
    /// compressed in a format connspy does not decode.
    pub fn open(input: &Input) -> Result<Self> {
        let path = match input {
            Input::Stdin => return Self::sniffed(input, Box::new(io::stdin())),
            Input::File(path) => path,
        };
        let open_err = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        let (file, meta) = open_file(path)?;
        if !meta.is_file() || meta.len() == 0 {
            // A pipe reports size 0 and cannot be mapped; its bytes come as
            // read. So do those of a regular file whose size reads 0, which
            // may hold bytes all the same (procfs, `/proc/self/mountinfo`):
            // a mapping of its stated size would read as empty.
            return Self::sniffed(input, Box::new(file));
        }
        let mut head = [0; decompress::MAGIC_LEN];
        let got = read_head(&file, &mut head).map_err(open_err)?;
        match decompress::sniff(&head[..got]) {
            Encoding::Plain => match MappedFile::map(&file, meta.len(), path) {
                // A file system that cannot map its files (sysfs, whose
                // files all state 4096 bytes) is read as a stream too.
                Err(Error::Open { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
                    Self::sniffed(input, Box::new(file))
                }
                mapped => mapped.map(Source::Mapped),
            },
            Encoding::Compressed(codec) => Decoder::new(codec, file)
                .map(|d| {
                    let trailer = d.trailer();
                    Source::Decoded(Box::new(d), trailer)
                })
                .map_err(open_err),
            Encoding::Unsupported(format) => Err(Error::Unsupported {
                path: path.to_owned(),
                format,
            }),
        }
    }

    /// A stream, behind a decoder when its first bytes say it is compressed.
    fn sniffed(input: &Input, reader: Box<dyn io::Read + Send>) -> Result<Self> {
        let trailer = Trailer::default();
        let (reader, compressed) = decompress::decoded(reader, &trailer)
            .map_err(|e| Error::reading(input.display_path(), e))?;
        Ok(if compressed {
            Source::Decoded(reader, trailer)
        } else {
            Source::Stream(reader)
        })
    }
}

/// Opens the file at `path` for reading, with its metadata.
///
/// # Errors
/// [`Error::Open`] when it cannot be opened, [`Error::IsDirectory`] for a
/// directory.
pub(crate) fn open_file(path: &Path) -> Result<(File, std::fs::Metadata)> {
    let open_err = |source| Error::Open {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    if meta.is_dir() {
        return Err(Error::IsDirectory {
            path: path.to_owned(),
        });
    }
    Ok((file, meta))
}

/// Reads the first bytes of `file` (fewer when it is shorter) without moving
/// its position.
fn read_head(file: &File, head: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < head.len() {
        match file.read_at(&mut head[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Blocks a decoder may run ahead of the parser: enough to keep both busy,
/// few enough that resident memory stays that of a mapped file.
const DECODE_AHEAD: usize = 2;

/// The largest block of a decoded stream. A mapped chunk costs only the
/// pages being parsed, but a decoded block is held whole from decoding to
/// the end of its group's parse, and a group, the next one read meanwhile
/// and the blocks decoded ahead are all held at once: with 4 MiB blocks a
/// compressed file's peak RSS was 23 MiB above the plain file's (Q2a, 4 GB).
const DECODED_BLOCK: usize = 1 << 20;

/// How input is cut into chunks and groups: decided once per run (by the
/// engine's scan options) and used by every source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Bytes per chunk of a mapped file, and per block of a stream.
    pub chunk_size: usize,
    /// Blocks per group of a stream (and of a followed input).
    pub group: usize,
    /// Chunks per group of a mapped file; `None`: the whole file in one group
    /// (a mapped chunk costs nothing until it is parsed).
    pub mapped_group: Option<usize>,
    /// Read a stream's next group while the engine parses this one.
    pub read_ahead: bool,
    /// `--max_line_length`: a longer line is malformed and not read whole.
    pub max_line: usize,
}

/// The time range a mapped file is narrowed to before it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive lower bound, Unix milliseconds.
    pub init: Option<i64>,
    /// Exclusive upper bound, Unix milliseconds.
    pub end: Option<i64>,
    /// The lateness bound the seek relies on, milliseconds.
    pub late_ms: i64,
    /// Seek in formats with a lateness of their own too (flow logs, whose
    /// lines can be far older than the lines before them): only when the
    /// lateness bound was given (see docs/formats.md).
    pub late_formats: bool,
}

/// A buffer of whole lines that the input layer owns.
pub struct Block {
    /// The lines, each ending with `\n` but perhaps the last of an input.
    bytes: Vec<u8>,
    /// Where lines too long to keep were dropped (see [`LineBlock`]), as
    /// the empty ranges [`Chunk::too_long`] gives.
    too_long: Vec<Range<usize>>,
    /// The line parser in force at the start of `bytes`.
    parser: Parser,
    /// Where `bytes` goes once parsed, to be read into again.
    recycler: Option<Recycler>,
}

impl Block {
    /// `lines` with the parser in force at their start.
    pub fn new(lines: LineBlock, parser: Parser) -> Self {
        Block {
            bytes: lines.bytes,
            too_long: lines.too_long.into_iter().map(|o| o..o).collect(),
            parser,
            recycler: None,
        }
    }

    /// The block, its buffer handed to `recycler` when it is dropped.
    pub(crate) fn recycled_by(mut self, recycler: Option<Recycler>) -> Self {
        self.recycler = recycler;
        self
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(recycler) = &self.recycler {
            recycler.give(std::mem::take(&mut self.bytes));
        }
    }
}

/// One chunk of a [`Group`]: whole lines, the parser in force at their
/// start, and the lines among them too long to parse.
pub struct Chunk<'g> {
    /// The lines, each ending with `\n` but perhaps the last of an input.
    pub bytes: &'g [u8],
    /// The line parser in force at the start of `bytes`.
    pub parser: &'g Parser,
    /// Lines longer than the maximum, in order: ranges of `bytes` not to
    /// parse, each one malformed line (empty where a reader already dropped
    /// the line's bytes). Empty for almost every chunk.
    pub too_long: Cow<'g, [Range<usize>]>,
}

/// A group of buffers of whole lines, in input order, that the engine parses
/// in parallel and then merges.
pub struct Group<'a> {
    chunks: Chunks<'a>,
    /// The bytes of the input before the first chunk that the seek skipped,
    /// for numbering lines (counted only when a line needs a number).
    skipped: &'a [u8],
    /// Bytes skipped before this group that count as read for progress.
    skipped_bytes: u64,
}

enum Chunks<'a> {
    /// Nominal pieces of a mapped file, aligned to lines by the worker that
    /// parses them (aligning up front would touch every chunk's pages early).
    Mapped {
        map: &'a MappedFile,
        range: Range<usize>,
        pieces: &'a [Range<usize>],
        parsers: &'a ParserMap,
        max_line: usize,
    },
    Blocks(Vec<Block>),
}

impl<'a> Group<'a> {
    /// A group of owned blocks.
    pub fn blocks(blocks: Vec<Block>) -> Group<'static> {
        Group {
            chunks: Chunks::Blocks(blocks),
            skipped: &[],
            skipped_bytes: 0,
        }
    }

    /// How many chunks the group holds.
    pub fn len(&self) -> usize {
        match &self.chunks {
            Chunks::Mapped { pieces, .. } => pieces.len(),
            Chunks::Blocks(blocks) => blocks.len(),
        }
    }

    /// Whether the group holds no chunk.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the group is read from a stream (blocks) rather than mapped:
    /// a stream's groups are parsed once, never again (see
    /// [`Self::parsers_hold`]).
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self.chunks, Chunks::Blocks(_))
    }

    /// Chunk `i`: its whole lines, the parser in force at their start, and
    /// which of them are too long.
    #[inline]
    pub fn chunk(&self, i: usize) -> Chunk<'_> {
        match &self.chunks {
            Chunks::Mapped {
                map,
                range,
                pieces,
                max_line,
                ..
            } => {
                let parser = self.parser(i);
                if map.lost() {
                    // The file shrank under the scan and the rest reads as
                    // zeros; the run ends with an error after this group.
                    return Chunk {
                        bytes: &[],
                        parser,
                        too_long: Cow::Borrowed(&[]),
                    };
                }
                let data = map.bytes();
                let bytes = &data[align_to_lines(data, range, &pieces[i])];
                // A chunk no longer than the maximum holds no line that is:
                // only a chunk that a long line stretches is searched.
                let too_long = if bytes.len() > *max_line {
                    Cow::Owned(too_long_lines(bytes, *max_line))
                } else {
                    Cow::Borrowed(&[][..])
                };
                Chunk {
                    bytes,
                    parser,
                    too_long,
                }
            }
            Chunks::Blocks(blocks) => Chunk {
                bytes: &blocks[i].bytes,
                parser: &blocks[i].parser,
                too_long: Cow::Borrowed(&blocks[i].too_long),
            },
        }
    }

    /// The parser in force at the start of chunk `i`.
    pub fn parser(&self, i: usize) -> &Parser {
        match &self.chunks {
            // The lines of a piece are those that start inside it, so the
            // parser in force at its nominal start is theirs.
            Chunks::Mapped {
                pieces, parsers, ..
            } => parsers.at(pieces[i].start),
            Chunks::Blocks(blocks) => &blocks[i].parser,
        }
    }

    /// Whether every chunk was parsed with the parser really in force at its
    /// start, given the chunks (numbered from `first`) whose lines changed
    /// the parser, each with the parser in force after it: always, unless
    /// the group's parsers come from a file's leading header lines alone
    /// ([`ParserMap::is_leading_only`]) and a header block further on
    /// changed the format (concatenated logs with other fields).
    pub(crate) fn parsers_hold<'p>(
        &self,
        first: usize,
        changed: impl Iterator<Item = &'p (usize, Parser)>,
    ) -> bool {
        let Chunks::Mapped { parsers, .. } = &self.chunks else {
            return true;
        };
        if !parsers.is_leading_only() {
            return true;
        }
        let mut changed: Vec<&(usize, Parser)> = changed.collect();
        changed.sort_unstable_by_key(|(chunk, _)| *chunk);
        let mut changed = changed.into_iter().peekable();
        // Until a chunk changes it, the map's parser is the true one.
        let mut truth = None;
        for i in 0..self.len() {
            if truth.is_some_and(|t| t != self.parser(i)) {
                return false;
            }
            if let Some((_, after)) = changed.next_if(|(chunk, _)| *chunk == first + i) {
                truth = Some(after);
            }
        }
        true
    }

    /// The group again, with the parser found by searching the whole file
    /// for header lines, for a group whose [`Self::parsers_hold`] failed.
    pub(crate) fn with_every_header<R>(&self, then: impl FnOnce(&Group<'_>) -> R) -> R {
        match &self.chunks {
            Chunks::Mapped {
                map,
                range,
                pieces,
                parsers,
                max_line,
            } => {
                let exact = map.parser_map(parsers.at(0));
                then(&Group {
                    chunks: Chunks::Mapped {
                        map,
                        range: range.clone(),
                        pieces,
                        parsers: &exact,
                        max_line: *max_line,
                    },
                    skipped: self.skipped,
                    skipped_bytes: self.skipped_bytes,
                })
            }
            Chunks::Blocks(_) => then(self),
        }
    }

    /// Chunk `i` is parsed: frees what holds it where that matters, and
    /// returns how many bytes of input it stood for.
    pub fn done(&self, i: usize) -> u64 {
        match &self.chunks {
            Chunks::Mapped {
                map, range, pieces, ..
            } => {
                map.release(align_to_lines(map.bytes(), range, &pieces[i]));
                pieces[i].len() as u64
            }
            Chunks::Blocks(blocks) => blocks[i].bytes.len() as u64,
        }
    }

    /// Bytes of the input that were skipped before this group and count as
    /// read (the seek's), once per input.
    pub(crate) fn skipped_bytes(&self) -> u64 {
        self.skipped_bytes
    }

    /// Lines of the input before its first chunk that were not read (the
    /// seek skipped them): a pass over those bytes, so only for numbering.
    pub(crate) fn lines_skipped(&self) -> u64 {
        memchr::memchr_iter(b'\n', self.skipped).count() as u64
    }
}

/// The engine's handler of one input's groups; `false` stops reading.
pub type Each<'e> = dyn FnMut(Group<'_>) -> Result<bool> + Send + 'e;

/// Reads `inputs` one after the other, after opening them all (a missing file
/// is reported before any work), handing each group to `each(index, group)`
/// with the index of its input. After each input, `between(index, end)` is
/// told what its end said besides its lines and asked whether to go on, and
/// then whether `each` stopped is.
///
/// A compressed input's decoder starts while the input before it is still
/// being read, so that its first blocks are ready when its turn comes. When a
/// compressed input turns out corrupt or truncated, or goes on with trailing
/// garbage, `corrupt` gets the error: returning it ends the run, returning
/// `Ok` goes on with the next input.
///
/// # Errors
/// An input that cannot be opened or read; `each`'s or `corrupt`'s error.
pub fn read_all(
    inputs: &[Input],
    choice: &FormatChoice,
    batching: &Batching,
    time: Option<&TimeRange>,
    each: &mut (dyn FnMut(usize, Group<'_>) -> Result<bool> + Send),
    between: &mut dyn FnMut(usize, InputEnd) -> bool,
    corrupt: &mut dyn FnMut(Error) -> Result<()>,
) -> Result<()> {
    let sources = inputs
        .iter()
        .map(Source::open)
        .collect::<Result<Vec<_>>>()?;
    let mut sources = sources.into_iter().map(|s| s.start(batching));
    let mut ahead = None;
    for (index, input) in inputs.iter().enumerate() {
        let Some(source) = ahead.take().or_else(|| sources.next()) else {
            break;
        };
        ahead = sources.next();
        let mut go = true;
        let mut one = |group: Group<'_>| {
            go = each(index, group)?;
            Ok(go)
        };
        let trailer = source.trailer();
        match read(input, source, choice, batching, time, &mut one) {
            Err(e @ Error::Decompress { .. }) => corrupt(e)?,
            other => other?,
        }
        let end = InputEnd {
            trailing_zeros: trailer.map_or(0, |t| t.zero_bytes()),
        };
        if !between(index, end) || !go {
            break;
        }
    }
    Ok(())
}

/// What the end of one input said besides its lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputEnd {
    /// Zero bytes after the last gzip member, skipped (as GNU gzip skips
    /// them): worth a warning, not an error.
    pub trailing_zeros: u64,
}

/// An input ready to be read: a compressed one has its decoder running.
enum Ready {
    Mapped(MappedFile),
    Stream(Box<dyn io::Read + Send>),
    Decoding(Prefetched, Trailer),
}

impl Ready {
    /// Where a decoder counts what follows its last gzip member.
    fn trailer(&self) -> Option<Trailer> {
        match self {
            Ready::Decoding(_, trailer) => Some(trailer.clone()),
            _ => None,
        }
    }
}

impl Source {
    /// Starts the decoder of a compressed input.
    fn start(self, batching: &Batching) -> Ready {
        match self {
            Source::Mapped(map) => Ready::Mapped(map),
            Source::Stream(reader) => Ready::Stream(reader),
            Source::Decoded(reader, trailer) => Ready::Decoding(
                spawn_blocks(
                    move || Ok(reader),
                    batching.chunk_size.min(DECODED_BLOCK),
                    batching.max_line,
                    DECODE_AHEAD,
                ),
                trailer,
            ),
        }
    }
}

/// The most of an input [`leading_parser`] reads: far more than any header
/// block.
const HEAD_BYTES: usize = 1 << 20;

/// The parser a file will be read with after its leading header lines,
/// from its first bytes (decompressed), without reading it for the run:
/// what a run checks its filters against before it prints anything. `None`
/// for standard input and other streams, which can be read only once, and
/// for a file without a line to tell its format by.
///
/// # Errors
/// The input cannot be opened or its first bytes decoded.
pub(crate) fn leading_parser(
    input: &Input,
    choice: &FormatChoice,
    max_line: usize,
) -> Result<Option<Parser>> {
    if matches!(input, Input::Stdin) {
        return Ok(None);
    }
    let head = match Source::open(input)? {
        Source::Mapped(map) => {
            let data = map.bytes();
            let head = &data[..data.len().min(HEAD_BYTES)];
            return Ok(parser_after_head(head, choice, max_line));
        }
        Source::Stream(_) => return Ok(None),
        Source::Decoded(reader, _) => {
            let mut head = Vec::new();
            io::Read::read_to_end(&mut io::Read::take(reader, HEAD_BYTES as u64), &mut head)
                .map_err(|e| Error::reading(input.display_path(), e))?;
            head
        }
    };
    Ok(parser_after_head(&head, choice, max_line))
}

/// The parser chosen for a file starting with `head`, after the header
/// lines among its whole lines; `None` when `head` holds no line to decide
/// the format from (an empty or blank file has no format to check).
fn parser_after_head(head: &[u8], choice: &FormatChoice, max_line: usize) -> Option<Parser> {
    let first = line_limit::from_first_usable_line(head, max_line);
    if first.is_empty() {
        return None;
    }
    let parser = choice.parser_for(first);
    let whole = &head[..head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
    Some(parser.after(whole).unwrap_or(parser))
}

/// Reads one opened input, group by group.
fn read(
    input: &Input,
    source: Ready,
    choice: &FormatChoice,
    batching: &Batching,
    time: Option<&TimeRange>,
    each: &mut Each<'_>,
) -> Result<()> {
    // Streams and decoded files decide their format at their first
    // non-blank line, after decompression.
    let parser = Sequence::new(*choice);
    let read_err = |e| Error::reading(input.display_path(), e);
    match source {
        Ready::Mapped(map) => map.read(choice, batching, time, each),
        Ready::Stream(reader) => read_blocks(
            BlockReader::new(reader, batching.chunk_size, batching.max_line),
            parser,
            batching,
            &read_err,
            each,
        ),
        Ready::Decoding(blocks, _) => read_blocks(blocks, parser, batching, &read_err, each),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// The bytes of `input` as [`Source::open`] reads them, if it streams
    /// them.
    fn streamed(input: &Input) -> Option<Vec<u8>> {
        let Ok(Source::Stream(mut reader)) = Source::open(input) else {
            return None;
        };
        let mut got = Vec::new();
        reader.read_to_end(&mut got).expect("read the stream");
        Some(got)
    }

    /// procfs states a size of 0 for files that hold bytes: mapped by that
    /// size they read as empty, so they are read as a stream, to their end.
    /// (Skipped where there is no such file.)
    #[test]
    fn a_file_whose_size_reads_zero_is_read_to_its_end() {
        let path = Path::new("/proc/version");
        let Ok(want) = std::fs::read(path) else {
            return;
        };
        if want.is_empty() || std::fs::metadata(path).map_or(true, |m| m.len() != 0) {
            return;
        }
        assert_eq!(streamed(&Input::File(path.into())), Some(want));
    }

    /// sysfs states 4096 bytes for every file and maps none: such a file is
    /// read as a stream rather than refused. (Skipped where there is none.)
    #[test]
    fn a_file_that_cannot_be_mapped_is_read_as_a_stream() {
        let path = Path::new("/sys/devices/system/cpu/online");
        let Ok(want) = std::fs::read(path) else {
            return;
        };
        assert_eq!(streamed(&Input::File(path.into())), Some(want));
    }
}
