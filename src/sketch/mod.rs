//! Sketches for the approximate mode: per-window state of a size fixed in
//! advance, whatever the number of lines or hosts, that merges across chunks
//! and threads deterministically.
//!
//! - [`SpaceSaving`] names the busiest initiator. With `k` counters over `N`
//!   lines, every host with more than `N / k` connections is tracked, and
//!   every estimate overcounts its true count by at most its stated error,
//!   itself at most `N / k`; both survive merges.
//! - [`WeightedSpaceSaving`] does the same by bytes or packets: each line adds
//!   its weight to a host, and the bounds hold with `N` the total weight.
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
mod runs;
pub mod space_saving;
pub mod weighted;

pub use bloom_list::BloomList;
pub use hll::Hll;
pub use runs::SortedHosts;
pub(crate) use space_saving::{keep_largest, Tracked};
pub use space_saving::{Leader, SpaceSaving};
pub use weighted::WeightedSpaceSaving;

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
        send::<WeightedSpaceSaving>();
        send::<Hll>();
        send::<BloomList>();
        send::<SortedHosts>();
    }
}
