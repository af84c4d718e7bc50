//! The decompression path: arbitrary bytes, as a file or a pipe would hand
//! them over, go through the magic-byte sniffing, the gzip or zstd decoder and
//! the block reader. Nothing may panic; an error must be a decoding error or
//! a refusal by name; and the bytes, once compressed with each codec (in two
//! members or frames), must come back whole, in blocks of whole lines.
//!
//! `cargo fuzz run decompress` (from the repository root).

#![no_main]

use std::io::{self, Cursor, Write};

use connspy::input::decompress::{decode_error, decoded, unsupported_format, Trailer};
use connspy::input::stream::BlockReader;
use libfuzzer_sys::fuzz_target;

/// Everything `bytes` decodes to, read in blocks of `block` bytes.
fn read_all(bytes: Vec<u8>, block: usize) -> io::Result<Vec<u8>> {
    let (reader, _) = decoded(Box::new(Cursor::new(bytes)), &Trailer::default())?;
    let mut blocks = BlockReader::new(reader, block, usize::MAX);
    let mut out = Vec::new();
    while let Some((b, _)) = blocks.next_block()? {
        assert!(
            out.is_empty() || !b.is_empty(),
            "no empty block but the first"
        );
        out.extend_from_slice(&b);
    }
    Ok(out)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    // A compression context costs far more than a small input's compression:
    // one per fuzzing thread.
    thread_local! {
        static ZSTD: std::cell::RefCell<zstd::bulk::Compressor<'static>> =
            std::cell::RefCell::new(zstd::bulk::Compressor::new(1).unwrap());
    }
    ZSTD.with(|c| c.borrow_mut().compress(data).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let block = 1 + data.first().map_or(0, |&b| usize::from(b));
    if let Err(e) = read_all(data.to_vec(), block) {
        assert!(
            decode_error(&e).is_some() || unsupported_format(&e).is_some(),
            "an error that is neither a decoding error nor a refusal: {e}"
        );
    }
    let mid = data.len() / 2;
    for packed in [
        [gzip(&data[..mid]), gzip(&data[mid..])].concat(),
        [zstd(&data[..mid]), zstd(&data[mid..])].concat(),
    ] {
        assert_eq!(read_all(packed, block).expect("own output decodes"), data);
    }
});
