//! The decoding floor: the least any reader of a compressed log must do.
//!
//! Decodes a gzip or zstd file (told by its magic bytes) with the decoder
//! connspy reads it with, `connspy::input::decompress::Decoder`, into a
//! reused buffer of connspy's default chunk size, and does nothing else: no
//! line search, no parsing. connspy's time on the same file, divided by this,
//! says how much of its time is more than decoding.
//!
//! `cargo bench --bench decode_floor -- FILE` prints the best of 3 and the
//! median, in seconds, and the decoded size.

use std::fs::File;
use std::io::Read;
use std::time::Instant;

use connspy::engine::DEFAULT_CHUNK_SIZE;
use connspy::input::decompress::{sniff_path, Decoder, Encoding};

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        eprintln!("usage: cargo bench --bench decode_floor -- FILE");
        return;
    };
    let Encoding::Compressed(codec) = sniff_path(path.as_ref()).expect("read the file") else {
        eprintln!("{path}: neither gzip nor zstd");
        std::process::exit(2);
    };
    let mut buf = vec![0u8; DEFAULT_CHUNK_SIZE];
    let mut times = Vec::new();
    let mut total = 0u64;
    for _ in 0..3 {
        let t = Instant::now();
        let file = File::open(&path).expect("open the file");
        let mut decoder = Decoder::new(codec, file).expect("start the decoder");
        total = 0;
        loop {
            let n = decoder.read(&mut buf).expect("decode");
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "decode_floor {} best {:.3} s median {:.3} s ({total} bytes decoded)",
        codec.name(),
        times[0],
        times[1]
    );
}
