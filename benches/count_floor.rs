//! Counting floor: what counting all-distinct hosts costs a key, two ways.
//!
//! Issue 18's item 4 (hourly busiest initiators and receivers on a log whose
//! hosts are nearly all new) spends most of its time on one random insert a
//! line into each side's table: a memory miss, and fresh pages for every
//! window. This compares, on 16-byte keys (a host's inline form) in windows
//! the size of that log's hours:
//!
//! - `tables`: one open-addressing table per window and side, in zeroed
//!   pages of its own with huge pages asked for, each insert prefetched 16
//!   keys ahead (as `hosts::counter` does);
//! - `radix`: each key and its hash appended to one of 256 partitions of its
//!   window, by the hash's top byte; at the end each partition is counted in
//!   one small table that stays in cache and is reused (how DuckDB
//!   aggregates).
//!
//! Both give each window's distinct keys and its busiest key. Single
//! threaded, so that the two compare per key.
//!
//! `cargo bench --bench count_floor -- [WINDOWS] [KEYS_A_WINDOW] [SIDES]`
//! (default 24, 1,770,000, 1) prints each way's seconds and nanoseconds a key.

use std::time::Instant;

use memmap2::MmapMut;

/// Partitions of a window: by the top byte of the hash.
const PARTS: usize = 256;
/// Inserts in flight, as in `hosts::counter`.
const PIPELINE: usize = 16;

/// A window's partitions: each key with its hash.
type Parts = Vec<Vec<(u64, [u64; 2])>>;

#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    key: [u64; 2],
    count: u32,
}

const EMPTY: Slot = Slot {
    key: [0, 0],
    count: 0,
};

fn mix(a: u64, b: u64) -> u64 {
    let x = (a ^ b.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 32)
}

fn home(hash: u64, size: usize) -> usize {
    ((u128::from(hash) * size as u128) >> 64) as usize
}

fn insert(table: &mut [Slot], key: [u64; 2], hash: u64) {
    let n = table.len();
    let mut i = home(hash, n);
    loop {
        let slot = &mut table[i];
        if slot.key == key {
            slot.count += 1;
            return;
        }
        if slot.key == [0, 0] {
            *slot = Slot { key, count: 1 };
            return;
        }
        i = if i + 1 == n { 0 } else { i + 1 };
    }
}

/// The distinct keys of `table` and the largest count.
fn summary(table: &[Slot]) -> (u64, u32) {
    table
        .iter()
        .filter(|s| s.count > 0)
        .fold((0, 0), |(n, best), s| (n + 1, best.max(s.count)))
}

#[cfg(target_arch = "x86_64")]
fn prefetch(slot: &Slot) {
    // SAFETY: a prefetch is a hint, and the pointer comes from a reference.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast::<i8>());
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch(_: &Slot) {}

/// A table of `n` empty slots in zeroed pages of its own.
fn mapped(n: usize) -> MmapMut {
    let map = MmapMut::map_anon(n * std::mem::size_of::<Slot>()).expect("an anonymous map");
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    map
}

fn slots(map: &mut MmapMut) -> &mut [Slot] {
    let n = map.len() / std::mem::size_of::<Slot>();
    // SAFETY: the map is page aligned, holds `n` slots' bytes, and zero
    // bytes are an empty slot (a `repr(C)` struct of integers).
    unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr().cast::<Slot>(), n) }
}

fn tables(keys: &[[u64; 2]], windows: usize, per: usize, sides: u64) -> (u64, u64) {
    let mut kept = Vec::new();
    let (mut distinct, mut best) = (0, 0);
    for w in 0..windows {
        let window = &keys[w * per..(w + 1) * per];
        for side in 0..sides {
            // Sized as connspy sizes a window like the last: load 2/3.
            let mut map = mapped(per * 3 / 2);
            let table = slots(&mut map);
            let size = table.len();
            let hash = |k: [u64; 2]| mix(k[0] ^ side, k[1]);
            for (i, &key) in window.iter().enumerate() {
                if let Some(&ahead) = window.get(i + PIPELINE) {
                    prefetch(&table[home(hash(ahead), size)]);
                }
                insert(table, key, hash(key));
            }
            let (n, b) = summary(table);
            distinct += n;
            best = best.max(u64::from(b));
            // A batch run keeps every window's table to the end.
            kept.push(map);
        }
    }
    (distinct, best)
}

fn radix(keys: &[[u64; 2]], windows: usize, per: usize, sides: u64) -> (u64, u64) {
    let mut kept: Vec<Parts> = Vec::new();
    for w in 0..windows {
        for side in 0..sides {
            let mut parts: Parts = (0..PARTS)
                .map(|_| Vec::with_capacity(per / PARTS * 5 / 4))
                .collect();
            for &key in &keys[w * per..(w + 1) * per] {
                let hash = mix(key[0] ^ side, key[1]);
                parts[(hash >> 56) as usize].push((hash, key));
            }
            kept.push(parts);
        }
    }
    let (mut distinct, mut best) = (0, 0);
    let mut scratch = Vec::new();
    for parts in &kept {
        for part in parts {
            scratch.clear();
            scratch.resize((part.len() * 3 / 2).max(16), EMPTY);
            for &(hash, key) in part {
                // The top byte chose the partition: home by the rest.
                insert(&mut scratch, key, hash << 8);
            }
            let (n, b) = summary(&scratch);
            distinct += n;
            best = best.max(u64::from(b));
        }
    }
    (distinct, best)
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let (windows, per, sides) = (arg(1, 24), arg(2, 1_770_000), arg(3, 1) as u64);
    let keys: Vec<[u64; 2]> = (0..windows * per)
        .map(|i| {
            let a = mix(i as u64, 7) | 1;
            [a, mix(a, 9)]
        })
        .collect();
    let all = (windows * per) as f64 * sides as f64;
    for (name, way) in [("tables", tables as fn(_, _, _, _) -> _), ("radix", radix)] {
        let start = Instant::now();
        let (distinct, best) = way(&keys, windows, per, sides);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {secs:.3} s, {:.1} ns a key ({distinct} distinct, busiest {best})",
            secs * 1e9 / all
        );
    }
}
