//! The tokenizing floor: the least any parser of this format must do.
//!
//! Memory-maps a file and, on all cores, finds each line's end and its two
//! separators and parses the timestamp's digits, and nothing else: no
//! validation, no hashing, no output but a checksum. Comparing connspy's full
//! scan with this says how much of its time is more than reading the lines.
//!
//! `cargo bench --bench tokenize_floor -- FILE` prints the best of 3 and the
//! median, in seconds, each with a fresh map (so page faults are paid, as by
//! any process that reads the file), and then the time to count the newlines
//! of an already-faulted map.

use std::fs::File;
use std::time::Instant;

use memchr::{memchr, memchr_iter};
use memmap2::Mmap;
use rayon::prelude::*;

fn tokenize(data: &[u8]) -> (u64, u64) {
    let (mut lines, mut sum) = (0u64, 0u64);
    let mut rest = data;
    while !rest.is_empty() {
        let end = memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        if let Some(s1) = memchr(b' ', line) {
            if let Some(s2) = memchr(b' ', &line[s1 + 1..]) {
                let ts = line[..s1].iter().fold(0u64, |n, d| {
                    n.wrapping_mul(10)
                        .wrapping_add(u64::from(d.wrapping_sub(b'0')))
                });
                sum = sum.wrapping_add(ts).wrapping_add(s2 as u64);
                lines += 1;
            }
        }
        rest = &rest[(end + 1).min(rest.len())..];
    }
    (lines, sum)
}

fn chunks(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let size = data.len() / n + 1;
    while start < data.len() {
        let target = (start + size).min(data.len());
        let end = memchr(b'\n', &data[target..]).map_or(data.len(), |i| target + i + 1);
        out.push(&data[start..end]);
        start = end;
    }
    out
}

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        eprintln!("usage: cargo bench --bench tokenize_floor -- FILE");
        return;
    };
    let file = File::open(&path).expect("open the file");
    let mut times = Vec::new();
    for _ in 0..3 {
        // A fresh map each time: like a fresh process, every page must be
        // faulted in again, which is part of what any tool pays.
        let t = Instant::now();
        // SAFETY: read-only map of a benchmark file nobody truncates meanwhile.
        let map = unsafe { Mmap::map(&file) }.expect("map the file");
        let pieces = chunks(&map, rayon::current_num_threads() * 64);
        let (lines, sum) = pieces
            .par_iter()
            .map(|c| tokenize(c))
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1.wrapping_add(b.1)));
        drop(map);
        times.push(t.elapsed().as_secs_f64());
        eprintln!("lines {lines} checksum {sum}");
    }
    // SAFETY: as above.
    let map = unsafe { Mmap::map(&file) }.expect("map the file");
    let pieces = chunks(&map, rayon::current_num_threads() * 64);
    let newlines = Instant::now();
    let count: usize = pieces
        .par_iter()
        .map(|c| memchr_iter(b'\n', c).count())
        .sum();
    let newline_secs = newlines.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    println!(
        "tokenize_floor best {:.3} s median {:.3} s (newline count alone {:.3} s, {count} lines)",
        times[0], times[1], newline_secs
    );
}
