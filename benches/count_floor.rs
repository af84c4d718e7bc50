//! Counting floor: what counting all-distinct hosts costs a host, two ways.
//!
//! Issue 18's item 4 (hourly busiest initiators and receivers on a log whose
//! hosts are nearly all new) spends most of its time on one random insert a
//! line into each side's table: a memory miss, and fresh pages for every
//! window. This compares, on 15-byte host names in windows the size of that
//! log's hours:
//!
//! - `tables`: connspy's own [`HostCounter`], one per window and side, each
//!   sized like the window before it, as a batch run builds them;
//! - `radix`: each host's 16 bytes and a hash appended to one of 256
//!   partitions of its window, by the hash's top byte; at the end each
//!   partition is counted in one small table that stays in cache and is
//!   reused (how DuckDB aggregates). A sketch of that design, not connspy's
//!   code: it skips case folding.
//!
//! Both give each window's distinct hosts and its busiest. Single threaded,
//! so that the two compare per host.
//!
//! `cargo bench --bench count_floor -- [WINDOWS] [HOSTS_A_WINDOW] [SIDES]`
//! (default 24, 1,770,000, 1) prints each way's seconds and nanoseconds a
//! host.

use std::time::Instant;

use connspy::hosts::HostCounter;

/// Partitions of a window: by the top byte of the hash.
const PARTS: usize = 256;
/// Bytes of a host name: inline in connspy's tables (up to 15).
const NAME: usize = 15;

/// A window's partitions: each host's bytes with its hash.
type Parts = Vec<Vec<(u64, [u8; 16])>>;

/// One slot of a partition's table.
#[derive(Clone, Copy)]
struct Slot {
    key: [u8; 16],
    count: u32,
}

const EMPTY: Slot = Slot {
    key: [0; 16],
    count: 0,
};

fn mix(a: u64, b: u64) -> u64 {
    let x = (a ^ b.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 32)
}

/// Host `i` of side `side`: 15 letters from `a` to `p`, one for each
/// four bits of a bijection of `i` (mod 2^60), so distinct for every `i` of
/// a side; zero padded to 16 bytes.
fn name(i: u64, side: u64) -> [u8; 16] {
    let n = (i ^ side << 40).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut out = [0; 16];
    for (k, b) in out[..NAME].iter_mut().enumerate() {
        *b = b'a' + (n >> (4 * k) & 15) as u8;
    }
    out
}

fn insert(table: &mut [Slot], key: [u8; 16], hash: u64) {
    let n = table.len();
    let mut i = ((u128::from(hash) * n as u128) >> 64) as usize;
    loop {
        let slot = &mut table[i];
        if slot.key == key {
            slot.count += 1;
            return;
        }
        if slot.count == 0 {
            *slot = Slot { key, count: 1 };
            return;
        }
        i = if i + 1 == n { 0 } else { i + 1 };
    }
}

fn tables(windows: u64, per: u64, sides: u64) -> (u64, u64) {
    let mut kept: Vec<HostCounter> = Vec::new();
    for w in 0..windows {
        for side in 0..sides {
            // Sized like the window before it, as a batch run does.
            let mut counter = match kept.len().checked_sub(sides as usize) {
                Some(last) => kept[last].new_like(),
                None => HostCounter::new(),
            };
            for i in w * per..(w + 1) * per {
                counter.add(&name(i, side)[..NAME]);
            }
            // A batch run keeps every window's table to the end.
            kept.push(counter);
        }
    }
    kept.iter_mut()
        .filter_map(|c| c.busiest(1))
        .fold((0, 0), |(n, best), b| (n + b.distinct, best.max(b.value)))
}

fn radix(windows: u64, per: u64, sides: u64) -> (u64, u64) {
    let mut kept: Vec<Parts> = Vec::new();
    for w in 0..windows {
        for side in 0..sides {
            let mut parts: Parts = (0..PARTS)
                .map(|_| Vec::with_capacity(per as usize / PARTS * 5 / 4))
                .collect();
            for i in w * per..(w + 1) * per {
                let key = name(i, side);
                let hash = mix(
                    u64::from_le_bytes(key[..8].try_into().unwrap()),
                    u64::from_le_bytes(key[8..].try_into().unwrap()),
                );
                parts[(hash >> 56) as usize].push((hash, key));
            }
            kept.push(parts);
        }
    }
    let (mut distinct, mut best) = (0, 0);
    let mut scratch = Vec::new();
    for part in kept.iter().flatten() {
        scratch.clear();
        scratch.resize((part.len() * 3 / 2).max(16), EMPTY);
        for &(hash, key) in part {
            // The top byte chose the partition: home by the rest.
            insert(&mut scratch, key, hash << 8);
        }
        for slot in scratch.iter().filter(|s| s.count > 0) {
            distinct += 1;
            best = best.max(u64::from(slot.count));
        }
    }
    (distinct, best)
}

fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let (windows, per, sides) = (arg(1, 24), arg(2, 1_770_000), arg(3, 1));
    let all = (windows * per * sides) as f64;
    for (name, way) in [("tables", tables as fn(_, _, _) -> _), ("radix", radix)] {
        let start = Instant::now();
        let (distinct, best) = way(windows, per, sides);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {secs:.3} s, {:.1} ns a host ({distinct} distinct, busiest {best})",
            secs * 1e9 / all
        );
    }
}
