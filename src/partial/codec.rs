//! The binary inside a partial's fields: LEB128 integers and length-prefixed
//! byte strings, written by [`Encoder`] and read back by [`Decoder`], which
//! trusts nothing it reads.
//!
//! Partials come from other machines, so a decoder never allocates on the
//! word of a length it read: every length is checked against the bytes that
//! are actually left before anything is taken.

use std::fmt;

/// Appends integers and byte strings to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty encoder.
    pub(crate) fn new() -> Self {
        Encoder::default()
    }

    /// An empty encoder with room for `bytes` bytes: a window's counts run
    /// to megabytes, which growing by doubling would copy over and over.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Encoder {
            buf: Vec::with_capacity(bytes),
        }
    }

    /// Appends `n` as unsigned LEB128.
    pub(crate) fn uint(&mut self, mut n: u64) -> &mut Self {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.buf.push(byte);
                return self;
            }
            self.buf.push(byte | 0x80);
        }
    }

    /// Appends `bytes` with its length first.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.uint(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// The encoded bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Why a partial line, or a field's binary in it, could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub(crate) String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for DecodeError {
    fn from(s: String) -> Self {
        DecodeError(s)
    }
}

impl From<&str> for DecodeError {
    fn from(s: &str) -> Self {
        DecodeError(s.to_owned())
    }
}

/// Reads what an [`Encoder`] wrote, checking every length against what is left.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// A decoder over `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Decoder { rest: bytes }
    }

    /// Reads an unsigned LEB128 integer of at most 64 bits.
    pub(crate) fn uint(&mut self) -> Result<u64, DecodeError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.rest.split_first().ok_or("ends inside an integer")?;
            self.rest = rest;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err("an integer overflows 64 bits".into());
            }
            n |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("an integer overflows 64 bits".into())
    }

    /// Reads a count of items that each take at least `min_bytes` bytes, so
    /// that a caller can reserve for it: a count that the bytes left cannot
    /// hold is an error, not an allocation.
    pub(crate) fn count(&mut self, min_bytes: usize) -> Result<usize, DecodeError> {
        let n = self.uint()?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_bytes.max(1)) <= self.rest.len() => Ok(n),
            _ => Err(format!("claims {n} items in {} bytes", self.rest.len()).into()),
        }
    }

    /// Reads a length-prefixed byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.uint()?;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.rest.len())
            .ok_or_else(|| format!("claims {n} bytes where {} are left", self.rest.len()))?;
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    /// Checks that everything was read.
    pub(crate) fn end(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("{} bytes left over", self.rest.len()).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_integers_and_bytes() {
        let mut e = Encoder::new();
        for n in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            e.uint(n);
        }
        e.bytes(b"").bytes(b"host-1");
        let buf = e.finish();
        let mut d = Decoder::new(&buf);
        for n in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(d.uint().unwrap(), n);
        }
        assert_eq!(d.bytes().unwrap(), b"");
        assert_eq!(d.bytes().unwrap(), b"host-1");
        d.end().unwrap();
    }

    #[test]
    fn rejects_lies_without_allocating() {
        // A length of 2^62 with three bytes behind it.
        let mut e = Encoder::new();
        e.uint(1 << 62);
        let mut buf = e.finish();
        buf.extend_from_slice(b"abc");
        assert!(Decoder::new(&buf).bytes().is_err());
        assert!(Decoder::new(&buf).count(1).is_err());
        // Eleven continuation bytes: more than 64 bits.
        assert!(Decoder::new(&[0xff; 11]).uint().is_err());
        // The tenth byte may only carry bit 63.
        let mut top = [0xff; 10];
        top[9] = 0x02;
        assert!(Decoder::new(&top).uint().is_err());
        assert!(Decoder::new(&[0x80]).uint().is_err());
        assert!(Decoder::new(&[0, 0]).end().is_err());
    }
}
