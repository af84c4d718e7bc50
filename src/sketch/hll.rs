//! HyperLogLog++ distinct counts with one fixed-seed hash shared by every
//! sketch.
//!
//! A thin wrapper over the `hyperloglogplus` crate. The crate hashes through a
//! `BuildHasher` given to each sketch; sketches built with different random
//! hashers would see the same host as different values and a merge would
//! count it twice. Here every sketch hashes hosts with [`super::hash_host`]
//! (fixed seeds) and hands the crate the finished 64-bit value through a
//! pass-through hasher, so sketches from any thread merge exactly, and a
//! caller that already hashed a host for another sketch can reuse the hash
//! ([`Hll::insert_hash`]).
//!
//! With precision `p` the sketch has `2^p` six-bit registers and a relative
//! standard error of about `1.04 / sqrt(2^p)` (0.81 % at 14, 0.57 % at 15,
//! 0.41 % at 16); below a few thousand distinct hosts the crate's sparse
//! form is far more accurate than that.

use std::hash::{BuildHasher, Hasher};

use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};

use super::hash_host;

/// Hands the crate the hash it is given: the value hashed is a `u64` that is
/// already [`hash_host`] of a host.
#[derive(Debug, Clone, Copy, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    #[inline]
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    /// Only `u64`s are inserted, so this is never reached; it still mixes the
    /// bytes in rather than ignoring them, in case a future crate version
    /// hashes through it.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`PassThrough`] hashers.
#[derive(Debug, Clone, Copy, Default)]
struct PassThroughBuilder;

impl BuildHasher for PassThroughBuilder {
    type Hasher = PassThrough;

    #[inline]
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

/// A HyperLogLog++ estimate of the number of distinct hosts.
#[derive(Debug, Clone)]
pub struct Hll {
    inner: HyperLogLogPlus<u64, PassThroughBuilder>,
    precision: u8,
}

impl Hll {
    /// The smallest precision the crate accepts.
    pub const MIN_PRECISION: u8 = 4;
    /// The largest precision the crate accepts.
    pub const MAX_PRECISION: u8 = 18;

    /// An empty sketch with `2^precision` registers.
    ///
    /// # Panics
    ///
    /// If `precision` is outside `MIN_PRECISION..=MAX_PRECISION` (the
    /// configuration validates it first).
    pub fn new(precision: u8) -> Self {
        let inner = HyperLogLogPlus::new(precision, PassThroughBuilder)
            .unwrap_or_else(|e| panic!("HyperLogLog precision {precision}: {e}"));
        Hll { inner, precision }
    }

    /// The precision it was built with.
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// Counts `host` (already case folded).
    #[inline]
    pub fn insert(&mut self, host: &[u8]) {
        self.insert_hash(hash_host(host));
    }

    /// Counts the host whose [`hash_host`] is `hash`.
    #[inline]
    pub fn insert_hash(&mut self, hash: u64) {
        self.inner.insert_any(&hash);
    }

    /// Folds `other` in: register-wise maximum (or union of the sparse
    /// forms), so the result is the sketch of both inputs together.
    ///
    /// # Panics
    ///
    /// If the precisions differ.
    pub fn merge(&mut self, other: &Hll) {
        self.inner
            .merge(&other.inner)
            .unwrap_or_else(|e| panic!("merging HyperLogLogs: {e}"));
    }

    /// The estimated number of distinct hosts.
    ///
    /// Takes `&mut self` because the crate first folds its buffer of recent
    /// insertions into the sorted sparse form (a sort). Call it once per
    /// window when answering, never per line.
    pub fn estimate(&mut self) -> u64 {
        self.inner.count().round() as u64
    }

    /// An upper bound on the heap bytes of one sketch of `precision`,
    /// including the transient peaks of an insertion or a merge.
    ///
    /// The crate keeps, besides the `4 * ceil(2^p / 5)` bytes of packed
    /// registers, a sparse byte vector of up to about that size (its
    /// capacity is not released when the sketch turns dense, and it is
    /// rebuilt beside the old one), and a hash set of recent codes that a
    /// merge of two sparse sketches can fill with one code per sparse byte.
    /// The bound is about 147 KiB at precision 14 and doubles with each step;
    /// most of it is that merge-time hash set, so a sketch that was never
    /// merged while sparse stays near a third of it.
    pub fn memory_bytes(precision: u8) -> usize {
        let registers = 4 * (1usize << precision).div_ceil(5);
        // The crate's threshold: it turns dense past this many sparse bytes
        // and folds its buffer of codes when it exceeds a hundredth of it.
        let threshold = 4 * (1usize << precision) / 5;
        let flush = threshold / 100 + 1;
        let sparse = 2 * (threshold + 5 * flush);
        let codes = threshold + 2 * flush;
        let set = (codes * 8 / 7 + 1).next_power_of_two() * (std::mem::size_of::<u32>() + 1) + 16;
        std::mem::size_of::<Self>() + registers + 2 * sparse + set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(i: u64) -> Vec<u8> {
        format!("host-{i}.example.net").into_bytes()
    }

    fn relative_error(estimate: u64, exact: u64) -> f64 {
        (estimate as f64 - exact as f64).abs() / exact as f64
    }

    #[test]
    fn estimates_within_a_few_percent_from_a_thousand_to_a_million() {
        for n in [1_000u64, 10_000, 100_000, 1_000_000] {
            let mut h = Hll::new(14);
            for i in 0..n {
                h.insert(&host(i));
                // Repeats must not count.
                if i % 3 == 0 {
                    h.insert(&host(i / 2));
                }
            }
            let est = h.estimate();
            assert!(
                relative_error(est, n) < 0.03,
                "{n} distinct hosts estimated as {est}"
            );
        }
    }

    #[test]
    fn small_counts_are_nearly_exact() {
        let mut h = Hll::new(14);
        assert_eq!(h.estimate(), 0);
        for i in 0..100 {
            h.insert(&host(i));
            h.insert(&host(i));
        }
        assert_eq!(h.estimate(), 100);
    }

    #[test]
    fn insert_hash_is_insert() {
        let (mut a, mut b) = (Hll::new(12), Hll::new(12));
        for i in 0..5_000 {
            a.insert(&host(i));
            b.insert_hash(hash_host(&host(i)));
        }
        assert_eq!(a.estimate(), b.estimate());
    }

    /// Merging parts gives the sketch of the whole, in the sparse and in the
    /// dense form, and whichever way the parts are split and ordered.
    #[test]
    fn merge_of_parts_equals_the_whole() {
        for n in [500u64, 3_000, 200_000] {
            let mut whole = Hll::new(14);
            let mut parts = [Hll::new(14), Hll::new(14), Hll::new(14)];
            for i in 0..n {
                let h = host(i * 7 % n);
                whole.insert(&h);
                parts[(i % 5 % 3) as usize].insert(&h);
                // An overlap between parts must not double-count.
                parts[(i % 2) as usize].insert(&h);
            }
            let [a, b, c] = parts;
            let mut ab_c = a.clone();
            ab_c.merge(&b);
            ab_c.merge(&c);
            let mut c_ba = c.clone();
            let mut ba = b.clone();
            ba.merge(&a);
            c_ba.merge(&ba);
            let expected = whole.estimate();
            assert_eq!(ab_c.estimate(), expected, "{n}");
            assert_eq!(c_ba.estimate(), expected, "{n}");
        }
    }

    #[test]
    fn merging_an_empty_sketch_changes_nothing() {
        let mut a = Hll::new(14);
        for i in 0..1_000 {
            a.insert(&host(i));
        }
        let before = a.estimate();
        a.merge(&Hll::new(14));
        assert_eq!(a.estimate(), before);
        let mut empty = Hll::new(14);
        empty.merge(&a);
        assert_eq!(empty.estimate(), before);
    }

    #[test]
    #[should_panic(expected = "merging HyperLogLogs")]
    fn merging_different_precisions_panics() {
        Hll::new(12).merge(&Hll::new(14));
    }

    #[test]
    #[should_panic(expected = "precision 3")]
    fn precision_out_of_range_panics() {
        Hll::new(3);
    }

    #[test]
    fn memory_bound_grows_with_precision() {
        let b14 = Hll::memory_bytes(14);
        assert!(b14 > 4 * (1 << 14) / 5, "{b14}");
        assert!(b14 < 256 * 1024, "{b14}");
        assert!(Hll::memory_bytes(16) > 3 * b14);
    }
}
