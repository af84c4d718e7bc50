//! Compressed input: gzip (every member, as `bgzip` and concatenated `.gz`
//! files have) and zstd (every frame), recognised by their magic bytes, never
//! by the file name, and decoded as a stream. Other compressed formats are
//! recognised too, and refused by name rather than parsed as lines.
//!
//! What follows the last complete member or frame: zero bytes after a gzip
//! member (tape and some log shippers pad files so) are skipped and counted
//! in a [`Trailer`], for a warning, as GNU gzip skips them; anything else is
//! a [`DecodeError`] saying that trailing data that is not gzip or zstd
//! starts at that byte. zstd's own tool refuses trailing zeros too, and so
//! does connspy; its skippable frames are frames, and are skipped.

use std::fmt;
use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::bufread::GzDecoder;

/// How an input's bytes are encoded, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Not compressed (as far as the magic bytes tell).
    Plain,
    /// Decoded by connspy.
    Compressed(Codec),
    /// A compressed format connspy does not read (its name).
    Unsupported(&'static str),
}

/// A compressed format connspy decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// gzip, RFC 1952, one member or several.
    Gzip,
    /// Zstandard, one frame or several (skippable frames included).
    Zstd,
}

impl Codec {
    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// What one self-contained piece of the format is called.
    fn unit(self) -> &'static str {
        match self {
            Codec::Gzip => "member",
            Codec::Zstd => "frame",
        }
    }
}

/// Enough bytes to tell every recognised format apart.
pub(crate) const MAGIC_LEN: usize = 6;

/// The encoding whose magic bytes `head` (an input's first bytes, up to
/// [`MAGIC_LEN`]) starts with.
pub(crate) fn sniff(head: &[u8]) -> Encoding {
    match head {
        [0x1f, 0x8b, ..] => Encoding::Compressed(Codec::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Encoding::Compressed(Codec::Zstd),
        // A skippable frame (0x184D2A50..=0x184D2A5F, little-endian) may open a
        // zstd file.
        [b, 0x2a, 0x4d, 0x18, ..] if b & 0xf0 == 0x50 => Encoding::Compressed(Codec::Zstd),
        [b'B', b'Z', b'h', ..] => Encoding::Unsupported("bzip2"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Encoding::Unsupported("xz"),
        [0x04, 0x22, 0x4d, 0x18, ..] | [0x02, 0x21, 0x4c, 0x18, ..] => Encoding::Unsupported("lz4"),
        _ => Encoding::Plain,
    }
}

/// Why decoding stopped: the input is corrupt, ends inside compressed data,
/// or goes on after its last complete member or frame with bytes that are
/// not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The compressed format.
    pub codec: Codec,
    /// Bytes of the compressed input the decoder had consumed when it failed:
    /// for trailing data, where it starts (the end of the last complete
    /// member or frame).
    pub offset: u64,
    /// What is wrong.
    pub fault: Fault,
}

/// What is wrong with compressed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Corrupt, or truncated: the decoder's own words.
    Corrupt(String),
    /// Bytes after the last complete member or frame that are neither one
    /// nor (for gzip) zero padding.
    Trailing,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (codec, offset) = (self.codec.name(), self.offset);
        match &self.fault {
            Fault::Corrupt(message) => write!(
                f,
                "corrupt or truncated {codec} data (seen at byte {offset} of the compressed \
                 input): {message}"
            ),
            Fault::Trailing => write!(
                f,
                "trailing garbage after the last complete {codec} {} (from byte {offset} of \
                 the compressed input): it is not {codec} data",
                self.codec.unit()
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The [`DecodeError`] that `e` carries, if it is one.
pub fn decode_error(e: &io::Error) -> Option<&DecodeError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<DecodeError>())
}

/// An input compressed in a format connspy does not decode.
#[derive(Debug)]
struct NotDecoded(&'static str);

impl fmt::Display for NotDecoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-compressed input is not supported", self.0)
    }
}

impl std::error::Error for NotDecoded {}

/// The name of the unsupported compressed format that `e` reports, if it
/// reports one.
pub fn unsupported_format(e: &io::Error) -> Option<&'static str> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<NotDecoded>())
        .map(|n| n.0)
}

/// The encoding of the file at `path`, from its first bytes.
///
/// # Errors
/// The file cannot be opened or read.
pub fn sniff_path(path: &std::path::Path) -> io::Result<Encoding> {
    let mut head = Vec::with_capacity(MAGIC_LEN);
    std::fs::File::open(path)?
        .take(MAGIC_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(sniff(&head))
}

/// Zero bytes found after the last complete gzip member and skipped, shared
/// between a decoder and whoever reports on its input (the decoder runs on a
/// thread of its own): the reader of its output says so once it ends.
#[derive(Debug, Clone, Default)]
pub struct Trailer(Arc<AtomicU64>);

impl Trailer {
    /// Zero bytes skipped after the last gzip member so far.
    pub fn zero_bytes(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self, zeros: u64) {
        self.0.fetch_add(zeros, Ordering::Relaxed);
    }
}

/// The compressed input under a decoder: read in large refills, counting
/// the bytes the decoder has taken (so that an error can say where it
/// happened), and able to show the next bytes where a gzip member ends.
struct Input<R> {
    /// `None` only in the stand-in a gzip decoder holds while it is reset.
    source: Option<R>,
    buf: Box<[u8]>,
    /// The unread bytes are `buf[pos..filled]`.
    pos: usize,
    filled: usize,
    consumed: u64,
}

impl<R: Read> Input<R> {
    fn new(source: R) -> Self {
        Input {
            source: Some(source),
            buf: vec![0; INPUT_BUFFER].into_boxed_slice(),
            pos: 0,
            filled: 0,
            consumed: 0,
        }
    }

    /// An input with nothing in it, for the moment a decoder is reset.
    fn stand_in() -> Self {
        Input {
            source: None,
            buf: Box::default(),
            pos: 0,
            filled: 0,
            consumed: 0,
        }
    }

    /// Reads more after the unread bytes (moved to the front when the buffer
    /// is full); how many, 0 at the end. An interrupted read is retried: the
    /// decoders do not all retry one themselves.
    fn refill(&mut self) -> io::Result<usize> {
        let Some(source) = &mut self.source else {
            return Ok(0);
        };
        if self.pos == self.filled {
            (self.pos, self.filled) = (0, 0);
        } else if self.filled == self.buf.len() {
            self.buf.copy_within(self.pos..self.filled, 0);
            (self.pos, self.filled) = (0, self.filled - self.pos);
        }
        loop {
            match source.read(&mut self.buf[self.filled..]) {
                Ok(n) => {
                    self.filled += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next `n` bytes (at most a few), fewer only at the end of the
    /// input; nothing is consumed.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        while self.filled - self.pos < n && self.refill()? > 0 {}
        Ok(&self.buf[self.pos..self.filled.min(self.pos + n)])
    }

    /// Consumes the zero bytes at the read position, up to the first other
    /// byte or the end; how many.
    fn skip_zeros(&mut self) -> io::Result<u64> {
        let mut zeros = 0;
        loop {
            let unread = self.fill_buf()?;
            let len = unread.len();
            if len == 0 {
                return Ok(zeros);
            }
            let run = unread.iter().position(|&b| b != 0).unwrap_or(len);
            self.consume(run);
            zeros += run as u64;
            if run < len {
                return Ok(zeros);
            }
        }
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let unread = self.fill_buf()?;
        let n = unread.len().min(buf.len());
        buf[..n].copy_from_slice(&unread[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.filled - self.pos);
        self.pos += amt;
        self.consumed += amt as u64;
    }
}

/// Compressed bytes read per refill: large enough that refills cost nothing.
const INPUT_BUFFER: usize = 256 << 10;

enum Inner<R: Read> {
    /// One member at a time, so that what follows each can be looked at
    /// (flate2's multi-member decoder takes anything after a member for the
    /// next one's header). Boxed: the inflate state is several times the
    /// zstd handle's size.
    Gzip(Box<GzDecoder<Input<R>>>),
    Zstd(zstd::stream::read::Decoder<'static, Input<R>>),
}

/// Decodes a compressed stream; its errors carry a [`DecodeError`].
pub struct Decoder<R: Read> {
    inner: Inner<R>,
    codec: Codec,
    trailer: Trailer,
}

impl<R: Read> Decoder<R> {
    /// Decodes `reader`, which holds `codec` data from its first byte.
    ///
    /// # Errors
    /// The decoder could not be set up (zstd allocates its context here).
    pub fn new(codec: Codec, reader: R) -> io::Result<Self> {
        Self::with_trailer(codec, reader, Trailer::default())
    }

    /// As [`Self::new`], counting the zero bytes after the last gzip member
    /// in `trailer`.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn with_trailer(codec: Codec, reader: R, trailer: Trailer) -> io::Result<Self> {
        let input = Input::new(reader);
        let inner = match codec {
            Codec::Gzip => Inner::Gzip(Box::new(GzDecoder::new(input))),
            Codec::Zstd => Inner::Zstd(zstd::stream::read::Decoder::with_buffer(input)?),
        };
        Ok(Decoder {
            inner,
            codec,
            trailer,
        })
    }

    /// Where the zero bytes after the last gzip member are counted.
    pub fn trailer(&self) -> Trailer {
        self.trailer.clone()
    }

    fn consumed(&self) -> u64 {
        match &self.inner {
            Inner::Gzip(d) => d.get_ref().consumed,
            Inner::Zstd(d) => d.get_ref().consumed,
        }
    }

    /// `e`, a decoder's error, as a [`DecodeError`] at the bytes consumed.
    fn fault(&self, e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::Interrupted || decode_error(&e).is_some() {
            return e;
        }
        let message = e.to_string();
        // The one error zstd gives for bytes that do not start a frame where
        // one must start: after a complete frame, since the first was
        // recognised by its magic bytes. It consumes none of them, so the
        // offset is where they start.
        let fault = if self.codec == Codec::Zstd && message == not_a_zstd_frame() {
            Fault::Trailing
        } else {
            Fault::Corrupt(message)
        };
        let error = DecodeError {
            codec: self.codec,
            offset: self.consumed(),
            fault,
        };
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// libzstd's name for its error on bytes that start no frame.
fn not_a_zstd_frame() -> &'static str {
    use zstd::zstd_safe::{self, zstd_sys::ZSTD_ErrorCode};
    // An error is returned as the negated code.
    zstd_safe::get_error_name(
        0usize.wrapping_sub(ZSTD_ErrorCode::ZSTD_error_prefix_unknown as usize),
    )
}

/// Reads the gzip members of `gz`'s input one after the other. After each
/// complete member (its CRC and length checked), the next bytes are another
/// member, the end, zero padding (skipped and counted in `trailer`), or
/// trailing garbage: an error at the member's end.
fn read_members<R: Read>(
    gz: &mut GzDecoder<Input<R>>,
    trailer: &Trailer,
    buf: &mut [u8],
) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    loop {
        let n = gz.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        let input = gz.get_mut();
        let end = input.consumed;
        match input.peek(2)? {
            [] => return Ok(0),
            [0x1f, 0x8b] => {
                // The next member, with the same inflate state (a reset, not
                // a new one: bgzip writes a member per 64 KiB).
                let input = gz.reset(Input::stand_in());
                gz.reset(input);
            }
            _ => {
                let zeros = input.skip_zeros()?;
                if input.peek(1)?.is_empty() {
                    trailer.add(zeros);
                    return Ok(0);
                }
                let error = DecodeError {
                    codec: Codec::Gzip,
                    offset: end,
                    fault: Fault::Trailing,
                };
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
        }
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = match &mut self.inner {
            Inner::Gzip(d) => read_members(d, &self.trailer, buf),
            Inner::Zstd(d) => d.read(buf),
        };
        result.map_err(|e| self.fault(e))
    }
}

/// Reads `reader`'s first bytes to tell its encoding, and returns a reader of
/// its decoded bytes (the same bytes when it is plain) and whether it was
/// compressed. A decoder counts the zero bytes it skips after the last gzip
/// member in `trailer`.
///
/// # Errors
/// A read error; an error that [`unsupported_format`] names when it is
/// compressed in a format connspy does not decode.
pub fn decoded(
    mut reader: Box<dyn Read + Send>,
    trailer: &Trailer,
) -> io::Result<(Box<dyn Read + Send>, bool)> {
    let mut head = [0; MAGIC_LEN];
    let mut got = 0;
    // A pipe may hand over fewer bytes than asked: read until the magic is
    // known or the stream ends.
    while got < MAGIC_LEN {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let encoding = sniff(&head[..got]);
    let whole = Box::new(io::Cursor::new(head[..got].to_vec()).chain(reader));
    match encoding {
        Encoding::Plain => Ok((whole, false)),
        Encoding::Compressed(codec) => Ok((
            Box::new(Decoder::with_trailer(codec, whole, trailer.clone())?),
            true,
        )),
        Encoding::Unsupported(format) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            NotDecoded(format),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// With a checksum, as the zstd tool writes by default: without one, a
    /// frame cannot tell every corruption from data.
    fn zstd(data: &[u8]) -> Vec<u8> {
        let mut e = zstd::Encoder::new(Vec::new(), 1).unwrap();
        e.include_checksum(true).unwrap();
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let (mut r, _) = decoded(Box::new(io::Cursor::new(bytes)), &Trailer::default())?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn unsupported_formats_are_refused_by_name() {
        let e = decode(b"BZh91AY&SYxxxx".to_vec()).err().unwrap();
        assert_eq!(unsupported_format(&e), Some("bzip2"));
    }

    #[test]
    fn magic_bytes_tell_the_encoding() {
        assert_eq!(sniff(&gzip(b"x")), Encoding::Compressed(Codec::Gzip));
        assert_eq!(sniff(&zstd(b"x")), Encoding::Compressed(Codec::Zstd));
        assert_eq!(
            sniff(&[0x5e, 0x2a, 0x4d, 0x18, 0, 0]),
            Encoding::Compressed(Codec::Zstd)
        );
        assert_eq!(sniff(b"BZh91AY&SY"), Encoding::Unsupported("bzip2"));
        assert_eq!(sniff(b"\xfd7zXZ\0\0"), Encoding::Unsupported("xz"));
        assert_eq!(sniff(b"\x04\x22\x4d\x18\x64"), Encoding::Unsupported("lz4"));
        assert_eq!(sniff(b"1565647200000 a b\n"), Encoding::Plain);
        assert_eq!(sniff(b"\x1f"), Encoding::Plain);
        assert_eq!(sniff(b""), Encoding::Plain);
    }

    #[test]
    fn every_member_and_frame_is_decoded() {
        let (a, b) = (b"1 a b\n".as_slice(), b"2 c d\n".as_slice());
        assert_eq!(
            decode([gzip(a), gzip(b)].concat()).unwrap(),
            [a, b].concat()
        );
        assert_eq!(
            decode([zstd(a), zstd(b)].concat()).unwrap(),
            [a, b].concat()
        );
        assert_eq!(decode(b"3 e f\n".to_vec()).unwrap(), b"3 e f\n");
        assert_eq!(decode(Vec::new()).unwrap(), b"");
    }

    fn must_fail(bytes: Vec<u8>) -> io::Error {
        match decode(bytes) {
            Ok(out) => panic!("decoded {} bytes without an error", out.len()),
            Err(e) => e,
        }
    }

    #[test]
    fn truncated_or_corrupt_data_is_an_error_with_its_offset() {
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{i} a{} b\n", i * 7919 % 1000).into_bytes())
            .collect();
        for packed in [gzip(&text), zstd(&text)] {
            for cut in [packed.len() - 1, packed.len() - 9, packed.len() / 2, 11] {
                let e = must_fail(packed[..cut].to_vec());
                let d = decode_error(&e).unwrap_or_else(|| panic!("cut {cut}: {e}"));
                assert!(d.offset <= cut as u64, "{d}");
                assert!(matches!(d.fault, Fault::Corrupt(_)), "cut {cut}: {d}");
            }
            let mut bad = packed.clone();
            let mid = bad.len() / 2;
            bad[mid..mid + 8].copy_from_slice(b"garbage!");
            let e = must_fail(bad);
            assert!(decode_error(&e).is_some(), "{e}");
        }
    }

    /// `bytes` decoded through reads of at most `read` bytes, and the zero
    /// bytes skipped after the last gzip member.
    fn decode_in_reads(bytes: Vec<u8>, read: usize) -> io::Result<(Vec<u8>, u64)> {
        let trailer = Trailer::default();
        let source = Box::new(Reads {
            bytes: io::Cursor::new(bytes),
            max: read,
        });
        let (mut r, _) = decoded(source, &trailer)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok((out, trailer.zero_bytes()))
    }

    /// A reader that hands over at most `max` bytes a read, as a pipe may.
    struct Reads {
        bytes: io::Cursor<Vec<u8>>,
        max: usize,
    }

    impl Read for Reads {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.max);
            self.bytes.read(&mut buf[..n])
        }
    }

    /// The trailing-garbage error `bytes` give, with its offset.
    fn trailing_at(bytes: Vec<u8>) -> u64 {
        let e = must_fail(bytes);
        let d = decode_error(&e).unwrap_or_else(|| panic!("{e}"));
        assert_eq!(d.fault, Fault::Trailing, "{d}");
        assert!(d
            .to_string()
            .starts_with("trailing garbage after the last complete"));
        d.offset
    }

    /// GNU gzip decodes a file padded with zero bytes after its last member
    /// (tape, some log shippers); they are skipped and counted, however the
    /// reads fall, after one member or several.
    #[test]
    fn zero_padding_after_the_last_gzip_member_is_skipped_and_counted() {
        let (a, b) = (b"1 a b\n".as_slice(), b"2 c d\n".as_slice());
        for members in [gzip(a), [gzip(a), gzip(b)].concat()] {
            let want = if members.len() > gzip(a).len() {
                [a, b].concat()
            } else {
                a.to_vec()
            };
            for zeros in [1usize, 2, 511, INPUT_BUFFER + 3] {
                let padded = [members.clone(), vec![0; zeros]].concat();
                for read in [1, 2, 3, 7, 4096, usize::MAX] {
                    let got = decode_in_reads(padded.clone(), read).unwrap();
                    assert_eq!(
                        got,
                        (want.clone(), zeros as u64),
                        "{zeros} zeros, reads of {read}"
                    );
                }
            }
            assert_eq!(decode_in_reads(members, 1).unwrap().1, 0);
        }
    }

    /// Anything else after a complete gzip member was taken for a next
    /// member's header ("invalid gzip header", or for a byte or two
    /// "unexpected end of file"): it is trailing garbage, at the member's
    /// end. A complete magic number starts a member, whose errors stay
    /// corruption.
    #[test]
    fn garbage_after_the_last_gzip_member_is_trailing_garbage_at_its_end() {
        let one = gzip(b"1 a b\n");
        let two = [one.clone(), gzip(b"2 c d\n")].concat();
        for members in [one.clone(), two] {
            let end = members.len() as u64;
            for tail in [
                &b"x"[..],
                b"garbage!",
                b"\x1f",
                b"\x1f\x8c",
                b"\x00\x00\x00x",
                b"\x00\x1f\x8b\x08",
                b"\x50\x2a\x4d\x18\x00\x00\x00\x00",
            ] {
                let bytes = [members.clone(), tail.to_vec()].concat();
                assert_eq!(trailing_at(bytes), end, "{tail:?}");
            }
        }
        let e = must_fail([one.clone(), b"\x1f\x8b\x08".to_vec()].concat());
        let d = decode_error(&e).unwrap();
        assert!(matches!(d.fault, Fault::Corrupt(_)), "{d}");
    }

    /// zstd refuses any bytes after its last frame that start no frame,
    /// zero padding included, as the zstd tool does; the message says so,
    /// at the frame's end. A skippable frame is a frame.
    #[test]
    fn bytes_after_the_last_zstd_frame_that_start_none_are_trailing_garbage() {
        let frame = zstd(b"1 a b\n");
        let end = frame.len() as u64;
        for tail in [
            &b"x"[..],
            b"garbage!",
            b"\x00",
            &[0; 512],
            b"\x1f\x8b\x08\x00",
        ] {
            let bytes = [frame.clone(), tail.to_vec()].concat();
            assert_eq!(trailing_at(bytes), end, "{tail:?}");
        }
        let skippable = b"\x50\x2a\x4d\x18\x03\x00\x00\x00abc";
        let bytes = [frame.clone(), skippable.to_vec(), zstd(b"2 c d\n")].concat();
        assert_eq!(decode(bytes).unwrap(), b"1 a b\n2 c d\n");
        // A frame's magic number cut short is a truncated frame.
        let e = must_fail([frame, b"\x28\xb5".to_vec()].concat());
        assert!(matches!(decode_error(&e).unwrap().fault, Fault::Corrupt(_)));
    }
}
