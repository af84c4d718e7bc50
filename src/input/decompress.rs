//! Compressed input: gzip (every member, as `bgzip` and concatenated `.gz`
//! files have) and zstd (every frame), recognised by their magic bytes, never
//! by the file name, and decoded as a stream. Other compressed formats are
//! recognised too, and refused by name rather than parsed as lines.

use std::fmt;
use std::io::{self, BufRead, Read};

use flate2::bufread::MultiGzDecoder;

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

/// Why decoding stopped: the input is corrupt or ends inside compressed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The compressed format.
    pub codec: Codec,
    /// Bytes of the compressed input the decoder had consumed when it failed.
    pub offset: u64,
    /// The decoder's own words.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt or truncated {} data (seen at byte {} of the compressed input): {}",
            self.codec.name(),
            self.offset,
            self.message
        )
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

/// A buffered reader that counts the bytes its consumer has taken, so that a
/// decoding error can say where it happened.
struct Counting<R> {
    inner: io::BufReader<R>,
    consumed: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: Read> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // The decoders do not all retry an interrupted read themselves.
        loop {
            match self.inner.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

/// Compressed bytes read per refill: large enough that refills cost nothing.
const INPUT_BUFFER: usize = 256 << 10;

enum Inner<R: Read> {
    /// Boxed: the inflate state is several times the zstd handle's size.
    Gzip(Box<MultiGzDecoder<Counting<R>>>),
    Zstd(zstd::stream::read::Decoder<'static, Counting<R>>),
}

/// Decodes a compressed stream; its errors carry a [`DecodeError`].
pub struct Decoder<R: Read> {
    inner: Inner<R>,
    codec: Codec,
}

impl<R: Read> Decoder<R> {
    /// Decodes `reader`, which holds `codec` data from its first byte.
    ///
    /// # Errors
    /// The decoder could not be set up (zstd allocates its context here).
    pub fn new(codec: Codec, reader: R) -> io::Result<Self> {
        let counting = Counting {
            inner: io::BufReader::with_capacity(INPUT_BUFFER, reader),
            consumed: 0,
        };
        let inner = match codec {
            Codec::Gzip => Inner::Gzip(Box::new(MultiGzDecoder::new(counting))),
            Codec::Zstd => Inner::Zstd(zstd::stream::read::Decoder::with_buffer(counting)?),
        };
        Ok(Decoder { inner, codec })
    }

    fn consumed(&self) -> u64 {
        match &self.inner {
            Inner::Gzip(d) => d.get_ref().consumed,
            Inner::Zstd(d) => d.get_ref().consumed,
        }
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = match &mut self.inner {
            Inner::Gzip(d) => d.read(buf),
            Inner::Zstd(d) => d.read(buf),
        };
        result.map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            let error = DecodeError {
                codec: self.codec,
                offset: self.consumed(),
                message: e.to_string(),
            };
            io::Error::new(io::ErrorKind::InvalidData, error)
        })
    }
}

/// Reads `reader`'s first bytes to tell its encoding, and returns a reader of
/// its decoded bytes (the same bytes when it is plain) and whether it was
/// compressed.
///
/// # Errors
/// A read error; an error that [`unsupported_format`] names when it is
/// compressed in a format connspy does not decode.
pub fn decoded(mut reader: Box<dyn Read + Send>) -> io::Result<(Box<dyn Read + Send>, bool)> {
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
        Encoding::Compressed(codec) => Ok((Box::new(Decoder::new(codec, whole)?), true)),
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
        let (mut r, _) = decoded(Box::new(io::Cursor::new(bytes)))?;
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
            }
            let mut bad = packed.clone();
            let mid = bad.len() / 2;
            bad[mid..mid + 8].copy_from_slice(b"garbage!");
            let e = must_fail(bad);
            assert!(decode_error(&e).is_some(), "{e}");
        }
    }
}
