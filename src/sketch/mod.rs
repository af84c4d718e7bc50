//! Sketches for the approximate mode: per-window state of a size fixed in
//! advance, whatever the number of lines or hosts, that merges across chunks
//! and threads deterministically.
//!
//! - [`SpaceSaving`] names the busiest initiator. With `k` counters over `N`
//!   lines, every host with more than `N / k` connections is tracked, and
//!   every estimate overcounts its true count by at most its stated error,
//!   itself at most `N / k`; both survive merges.
//! - [`Hll`] estimates how many distinct hosts were seen (an Apache
//!   DataSketches HLL sketch), with a relative standard error of about
//!   `1.04 / sqrt(2^precision)`. Every sketch hashes as DataSketches does,
//!   on any machine, so merging sketches of overlapping parts, here or in
//!   Spark, counts each host once.
//! - [`BloomList`] lists the hosts that connected to (or from) a queried
//!   host. A bloom filter decides whether a host is already listed, so a
//!   listed host always qualified and is listed once; a false positive can
//!   only drop a qualifying host, with a probability reported as
//!   [`BloomList::missed_rate`]. First-seen hosts spill to a temporary file
//!   in sorted runs, so a huge list does not break the memory bound.
//!
//! All hashing is seeded with constants: a run's answers depend only on the
//! input, the settings and the order in which partial states are merged.

use crate::hash::{folded_multiply, load_upto16};

pub(crate) mod bloom_list;
pub mod hll;
pub mod space_saving;

pub use bloom_list::{BloomList, SortedHosts};
pub use hll::Hll;
pub use space_saving::{Leader, SpaceSaving};

/// Fixed seeds, distinct from those of the exact tables: every sketch in
/// every thread hashes a host to the same value.
static HOST_HASHER: ahash::RandomState = ahash::RandomState::with_seeds(
    0xa409_3822_299f_31d0,
    0x2ffd_72db_d01a_dfb7,
    0xb8e1_afed_6a26_7e96,
    0xba7c_9045_f12c_7f99,
);

/// The 64-bit hash of a case-folded host that [`SpaceSaving`] files it
/// under; it never leaves the process.
///
/// Hosts of up to 16 bytes are hashed inline (two folded multiplies), the
/// same on every build. Longer ones go through `ahash`, which picks its
/// algorithm at compile time (AES instructions or not): two builds for
/// different CPU features may hash those differently, but every run of one
/// binary agrees.
#[inline(always)]
pub fn hash_host(host: &[u8]) -> u64 {
    // Most hosts fit in two words: two folded multiplies mix them fully (the
    // HyperLogLog needs every bit uniform) without a call per line.
    if host.len() <= 16 {
        let (a, b) = load_upto16(host);
        let h = folded_multiply(a ^ SHORT_SEEDS[0], b ^ SHORT_SEEDS[1]);
        folded_multiply(h ^ SHORT_SEEDS[2] ^ host.len() as u64, SHORT_SEEDS[3])
    } else {
        HOST_HASHER.hash_one(host)
    }
}

/// Seeds of the short-host hash (hexadecimal digits of pi, past those above).
const SHORT_SEEDS: [u64; 4] = [
    0x9216_d5d9_8979_fb1b,
    0xd131_0ba6_98df_b5ac,
    0x2ffd_72db_d01a_dfb7,
    0xb8e1_afed_6a26_7e96,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-window states move between the engine's threads.
    #[test]
    fn sketches_are_send() {
        fn send<T: Send>() {}
        send::<SpaceSaving>();
        send::<Hll>();
        send::<BloomList>();
        send::<SortedHosts>();
    }
}

/// Rough per-operation timings on Zipf streams of 12-byte hosts, ignored by
/// default. They only mean something in an optimised build:
/// `CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo test --lib sketch::timing -- --ignored
/// --nocapture --test-threads=1`. `benches/sketch.rs` measures the same with
/// criterion.
#[cfg(test)]
mod timing {
    use std::hint::black_box;
    use std::time::Instant;

    use rand::SeedableRng;
    use rand_distr::{Distribution, Zipf};
    use rand_pcg::Pcg64Mcg;

    use super::*;
    use crate::reduce::hosts::HostCounter;

    /// `n` hosts named `h-` and ten digits, drawn from a Zipf law of
    /// exponent `s` over `distinct` names, back to back in one buffer.
    fn stream(n: usize, distinct: u64, s: f64) -> (Vec<u8>, Vec<(usize, usize)>) {
        let mut rng = Pcg64Mcg::seed_from_u64(42);
        let zipf = Zipf::new(distinct as f64, s).unwrap();
        let mut bytes = Vec::with_capacity(n * 12);
        let mut spans = Vec::with_capacity(n);
        for _ in 0..n {
            let rank = zipf.sample(&mut rng) as u64;
            // Scramble ranks so that busy hosts are not neighbours in name.
            let name = rank.wrapping_mul(2_654_435_761) % 10_000_000_000;
            let start = bytes.len();
            bytes.extend_from_slice(format!("h-{name:010}").as_bytes());
            spans.push((start, bytes.len() - start));
        }
        (bytes, spans)
    }

    fn time(label: &str, n: usize, mut run: impl FnMut()) {
        let best = (0..3)
            .map(|_| {
                let t = Instant::now();
                run();
                t.elapsed()
            })
            .min()
            .unwrap();
        eprintln!("{label}: {:.1} ns/op", best.as_nanos() as f64 / n as f64);
    }

    #[test]
    #[ignore = "timing; run by hand in an optimised build"]
    fn per_operation_costs() {
        let n = 2_000_000;
        for (distinct, s) in [(1_000_000u64, 1.1), (10_000_000, 0.8)] {
            let (bytes, spans) = stream(n, distinct, s);
            let hosts = || spans.iter().map(|&(o, l)| &bytes[o..o + l]);
            eprintln!("-- {n} items, Zipf({s}) over {distinct} names");
            time("SpaceSaving k=4096 add", n, || {
                let mut ss = SpaceSaving::new(4096);
                hosts().for_each(|h| {
                    ss.add(h);
                });
                black_box(ss.top());
            });
            time("SpaceSaving k=65536 add", n, || {
                let mut ss = SpaceSaving::new(65_536);
                hosts().for_each(|h| {
                    ss.add(h);
                });
                black_box(ss.top());
            });
            time(
                "SpaceSaving k=4096 add + Hll p=14 insert if untracked",
                n,
                || {
                    let mut ss = SpaceSaving::new(4096);
                    let mut hll = Hll::new(14);
                    for h in hosts() {
                        if !ss.add(h) {
                            hll.insert(h);
                        }
                    }
                    black_box((ss.top(), hll.estimate()));
                },
            );
            time("Hll p=14 insert", n, || {
                let mut hll = Hll::new(14);
                hosts().for_each(|h| hll.insert(h));
                black_box(hll.estimate());
            });
            time("BloomList insert (1% fp for 10^6, 8 MiB buffer)", n, || {
                let mut list = BloomList::new(1_000_000, 0.01, 8 << 20, 14);
                for h in hosts() {
                    list.insert(h).unwrap();
                }
                black_box(list.listed());
            });
            time("datasketches FrequentItems (map 8192) update", n, || {
                let mut ds =
                    datasketches::frequencies::FrequentItemsSketch::<&[u8]>::new(8192).unwrap();
                hosts().for_each(|h| ds.update(h));
                black_box(ds.maximum_error());
            });
            time("exact HostCounter add (folds case)", n, || {
                let mut c = HostCounter::new();
                hosts().for_each(|h| c.add(h));
                black_box(c.busiest(1));
            });
        }
    }

    #[test]
    #[ignore = "timing; run by hand in an optimised build"]
    fn merge_and_output_costs() {
        let n = 2_000_000;
        let (bytes, spans) = stream(n, 10_000_000, 0.8);
        let hosts = || spans.iter().map(|&(o, l)| &bytes[o..o + l]);
        let halves = |k| {
            let (mut a, mut b) = (SpaceSaving::new(k), SpaceSaving::new(k));
            for (i, h) in hosts().enumerate() {
                if i % 2 == 0 { &mut a } else { &mut b }.add(h);
            }
            (a, b)
        };
        for k in [4096, 65_536] {
            let (a, b) = halves(k);
            let t = Instant::now();
            let mut m = a.clone();
            m.merge(b.clone());
            black_box(m.top());
            eprintln!("SpaceSaving k={k} merge: {:?}", t.elapsed());
        }
        let mut list = BloomList::new(n, 0.001, 1 << 20, 14);
        let t = Instant::now();
        for h in hosts() {
            list.insert(h).unwrap();
        }
        let listed = list.listed();
        eprintln!(
            "BloomList {listed} listed, {} runs of 1 MiB: insert {:?}",
            list.runs(),
            t.elapsed()
        );
        let t = Instant::now();
        let out = list.into_sorted().unwrap().count();
        eprintln!("BloomList k-way merge of {out} hosts: {:?}", t.elapsed());
    }

    /// How often a HyperLogLog lands within 2 % of the truth, by precision:
    /// the target is 99 % of windows.
    #[test]
    #[ignore = "accuracy sweep; run by hand in an optimised build"]
    fn hll_error_distribution() {
        for p in [14u8, 15, 16] {
            let (mut within, mut worst, trials) = (0, 0.0f64, 400u64);
            for t in 0..trials {
                let n = 20_000 + t * 500;
                let mut hll = Hll::new(p);
                for i in 0..n {
                    hll.insert(format!("t{t}-host-{i}").as_bytes());
                }
                let err = (hll.estimate() as f64 - n as f64).abs() / n as f64;
                within += u64::from(err <= 0.02);
                worst = worst.max(err);
            }
            eprintln!(
                "precision {p}: {within}/{trials} within 2 %, worst {:.2} %",
                worst * 100.0
            );
        }
    }
}
