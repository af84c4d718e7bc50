//! Distinct counts as Apache DataSketches HLL sketches, so that a partial's
//! HyperLogLog is the same sketch Spark SQL (`hll_union_agg`,
//! `hll_sketch_estimate`), Druid, Hive and the Python, Java and C++
//! libraries read and merge.
//!
//! A thin wrapper over the `datasketches` crate's [`HllSketch`] (target type
//! HLL_8, Spark's). Hosts are hashed as DataSketches hashes a string's UTF-8
//! bytes (MurmurHash3_x64_128, seed 9001), on every machine and build alike.
//! A sketch starts as an exact list of 32-bit coupons, then a hash set of
//! them, and turns into `2^p` one-byte registers past `3/4 * 2^(p-3)`
//! coupons; coupons are nearly exact, registers have a relative standard
//! error of about `1.04 / sqrt(2^p)` (0.81 % at 14, 0.57 % at 15, 0.41 % at
//! 16). `docs/accuracy.md` has the measured errors.
//!
//! Two rules make every answer independent of how lines were split into
//! chunks, waves, runs and merges:
//!
//! - The estimate of a register sketch is always DataSketches' *composite*
//!   estimator, a function of the registers alone. DataSketches also keeps a
//!   HIP estimate while a single stream updates a sketch in order, but it
//!   depends on the order of the updates and is dropped by every union of two
//!   register sketches, so a run cut into chunks could not reproduce it.
//! - [`Hll::to_bytes`] writes one canonical image per content: coupons as
//!   DataSketches lays them out when they arrive in ascending order, and
//!   registers marked out of order (composite), with the register sums
//!   recomputed. Any reader merges it with HllUnion as it would any sketch.

use datasketches::hash::value::raw_bytes;
use datasketches::hll::{HllSketch, HllType, HllUnion};

/// The DataSketches HLL family id.
const FAMILY_HLL: u8 = 7;
const SERIAL_VERSION: u8 = 1;
const FLAG_EMPTY: u8 = 4;
const FLAG_COMPACT: u8 = 8;
const FLAG_OUT_OF_ORDER: u8 = 16;
const MODE_LIST: u8 = 0;
const MODE_SET: u8 = 1;
const MODE_HLL: u8 = 2;
const TARGET_HLL8: u8 = 2;
/// Preamble lengths, in 32-bit words, of each mode's image.
const LIST_PREINTS: u8 = 2;
const SET_PREINTS: u8 = 3;
const HLL_PREINTS: u8 = 10;
const LIST_HEADER: usize = 8;
const SET_HEADER: usize = 12;
const HLL_HEADER: usize = 40;
/// A list holds up to 7 coupons (it is promoted when its 8 slots fill).
const LIST_SLOTS: usize = 8;
const LG_LIST: u8 = 3;
/// A hash set starts with 32 slots and doubles past 3/4 full.
const LG_MIN_SET: u8 = 5;
/// Precisions below this skip the hash set: a full list turns into registers.
const LG_MIN_K_FOR_SET: u8 = 8;
const KEY_MASK_26: u32 = (1 << 26) - 1;

/// A HyperLogLog estimate of the number of distinct hosts.
#[derive(Clone)]
pub struct Hll {
    sketch: HllSketch,
}

impl std::fmt::Debug for Hll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hll")
            .field("precision", &self.precision())
            .field("estimate", &self.estimate())
            .finish()
    }
}

/// What a sketch holds, whatever its image looked like.
enum Content {
    /// Distinct coupons, ascending.
    Coupons(Vec<u32>),
    /// One register per slot, each at most 63.
    Registers(Vec<u8>),
}

impl Hll {
    /// The smallest precision accepted.
    pub(crate) const MIN_PRECISION: u8 = 4;
    /// The largest precision accepted (DataSketches goes to 21; a window's
    /// sketch of 2^18 bytes is already far finer than connspy needs).
    pub(crate) const MAX_PRECISION: u8 = 18;

    /// An empty sketch with `2^precision` registers.
    ///
    /// # Panics
    ///
    /// If `precision` is outside `MIN_PRECISION..=MAX_PRECISION` (the
    /// configuration validates it first).
    pub fn new(precision: u8) -> Self {
        assert!(
            (Self::MIN_PRECISION..=Self::MAX_PRECISION).contains(&precision),
            "HyperLogLog precision {precision} is outside {}..={}",
            Self::MIN_PRECISION,
            Self::MAX_PRECISION
        );
        let sketch = HllSketch::new(precision, HllType::Hll8)
            .unwrap_or_else(|e| panic!("HyperLogLog precision {precision}: {e}"));
        Hll { sketch }
    }

    /// The precision it was built with.
    pub fn precision(&self) -> u8 {
        self.sketch.lg_config_k()
    }

    /// Whether no host was counted.
    pub fn is_empty(&self) -> bool {
        self.sketch.is_empty()
    }

    /// Counts `host` (already case folded), hashed as DataSketches hashes the
    /// string's UTF-8 bytes, so Python's `hll_sketch.update(host)` makes the
    /// same coupon. Like DataSketches' string update, an empty host is not
    /// counted.
    #[inline]
    pub fn insert(&mut self, host: &[u8]) {
        if !host.is_empty() {
            self.sketch.update(raw_bytes::from_slice(host));
        }
    }

    /// Folds `other` in with DataSketches' HllUnion: coupons and registers
    /// as every DataSketches union combines them (register-wise maximum), so
    /// the result holds both inputs together.
    ///
    /// # Panics
    ///
    /// If the precisions differ (a union would silently lower the precision;
    /// callers check it, [`Hll::from_bytes`]'s included).
    pub fn merge(&mut self, other: &Hll) {
        assert_eq!(
            self.precision(),
            other.precision(),
            "merging HyperLogLogs of different precisions"
        );
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.sketch = other.sketch.clone();
            return;
        }
        let mut union = HllUnion::new(self.precision()).expect("precision checked at creation");
        union.update(&self.sketch);
        union.update(&other.sketch);
        self.sketch = union.to_sketch(HllType::Hll8);
    }

    /// The estimated number of distinct hosts, rounded (as Spark's
    /// `hll_sketch_estimate` rounds): DataSketches' coupon estimate while the
    /// sketch holds coupons, its composite estimate once it holds registers.
    ///
    /// O(2^p) for a register sketch (it reads the canonical image): call it
    /// once per window when answering, never per line.
    pub fn estimate(&self) -> u64 {
        canonical_sketch(&self.to_bytes()).estimate().round() as u64
    }

    /// The DataSketches compact image, target type HLL_8, canonical: equal
    /// contents give equal bytes, however they were inserted and merged.
    pub fn to_bytes(&self) -> Vec<u8> {
        let image = self.sketch.serialize();
        let content = parse(&image).expect("the crate's own image parses");
        canonical_image(self.precision(), &content)
    }

    /// Reads a DataSketches HLL image (compact or updatable, as any
    /// DataSketches library writes it; registers only as HLL_8), checking
    /// every field: it comes from another machine. Never panics; allocates
    /// at most about `4 * 2^p` bytes for the image's precision `p`.
    ///
    /// The caller checks the precision against its own.
    ///
    /// # Errors
    /// A message saying what is wrong with the bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Hll, String> {
        let content = parse(bytes)?;
        let precision = bytes[3];
        let sketch = canonical_sketch(&canonical_image(precision, &content));
        Ok(Hll { sketch })
    }

    /// An upper bound on the heap bytes of one sketch of `precision`,
    /// including the transient peaks of an insertion, a merge or an
    /// estimate.
    ///
    /// The registers take `2^p` bytes; the hash set they replace reaches at
    /// most `2^(p-1)` (`2^(p-3)` four-byte slots), and both live while it
    /// turns into registers. A merge holds the union's copy and the result
    /// beside the sketch, and an estimate or [`Hll::to_bytes`] the image and
    /// a sketch read back from it: at most three register arrays and their
    /// 40-byte headers at once. About 48 KiB at precision 14, doubling with
    /// each step.
    pub fn memory_bytes(precision: u8) -> usize {
        std::mem::size_of::<Self>() + 3 * ((1usize << precision) + HLL_HEADER) + 64
    }
}

/// The sketch read back from an image this module made (valid by
/// construction).
fn canonical_sketch(image: &[u8]) -> HllSketch {
    HllSketch::deserialize(image).expect("a canonical image deserializes")
}

/// The content of a DataSketches HLL image, every field checked.
fn parse(bytes: &[u8]) -> Result<Content, String> {
    let Some(header) = bytes.get(..8) else {
        return Err(format!(
            "an HLL sketch image has at least 8 bytes; this has {}",
            bytes.len()
        ));
    };
    let [preints, version, family, lg_k, lg_arr, flags, state, mode] = header else {
        unreachable!("eight bytes")
    };
    let (preints, lg_k, lg_arr, flags, state, mode) =
        (*preints, *lg_k, *lg_arr, *flags, *state, *mode);
    if *family != FAMILY_HLL {
        return Err(format!(
            "not an HLL sketch: DataSketches family {family} (HLL is {FAMILY_HLL})"
        ));
    }
    if *version != SERIAL_VERSION {
        return Err(format!(
            "HLL serial version {version}, expected {SERIAL_VERSION}"
        ));
    }
    if !(Hll::MIN_PRECISION..=Hll::MAX_PRECISION).contains(&lg_k) {
        return Err(format!(
            "HLL precision (lg_k) {lg_k} is outside {}..={}",
            Hll::MIN_PRECISION,
            Hll::MAX_PRECISION
        ));
    }
    let target = (mode >> 2) & 3;
    if mode >> 4 != 0 || target == 3 {
        return Err(format!("HLL mode byte {mode:#04x} is not a known mode"));
    }
    let empty = flags & FLAG_EMPTY != 0;
    let compact = flags & FLAG_COMPACT != 0;
    let body = |header: usize, slots: usize, count: usize| -> Result<&[u8], String> {
        let expected = header + 4 * if compact { count } else { slots };
        if bytes.len() != expected {
            return Err(format!(
                "HLL image of {} bytes; its header says {expected}",
                bytes.len()
            ));
        }
        Ok(&bytes[header..])
    };
    match mode & 3 {
        MODE_LIST => {
            if preints != LIST_PREINTS || lg_arr != LG_LIST {
                return Err(format!(
                    "HLL list preamble ({preints} words, {lg_arr} lg slots) is not 2 words, 3"
                ));
            }
            let count = usize::from(state);
            if count > LIST_SLOTS || empty != (count == 0) {
                return Err(format!(
                    "HLL list of {count} coupons (empty flag {empty}) is inconsistent"
                ));
            }
            coupons(body(LIST_HEADER, LIST_SLOTS, count)?, count)
        }
        MODE_SET => {
            let max_lg = lg_k.saturating_sub(3);
            if preints != SET_PREINTS
                || lg_k < LG_MIN_K_FOR_SET
                || !(LG_MIN_SET..=max_lg).contains(&lg_arr)
            {
                return Err(format!(
                    "HLL set preamble ({preints} words, {lg_arr} lg slots at lg_k {lg_k}) is invalid"
                ));
            }
            let count = u32::from_le_bytes(
                bytes
                    .get(8..12)
                    .ok_or("HLL set image is truncated")?
                    .try_into()
                    .expect("4 bytes"),
            );
            let slots = 1usize << lg_arr;
            let count = count as usize;
            if count >= slots || count == 0 {
                return Err(format!(
                    "HLL set of {count} coupons in {slots} slots is inconsistent"
                ));
            }
            coupons(body(SET_HEADER, slots, count)?, count)
        }
        MODE_HLL => {
            if preints != HLL_PREINTS {
                return Err(format!(
                    "HLL register preamble of {preints} words, expected 10"
                ));
            }
            if target != TARGET_HLL8 {
                return Err(format!(
                    "HLL_{} register sketch: connspy reads HLL_8 registers (Spark's default)",
                    [4, 6][usize::from(target)]
                ));
            }
            let k = 1usize << lg_k;
            if bytes.len() != HLL_HEADER + k {
                return Err(format!(
                    "HLL_8 image of {} bytes; {} expected at lg_k {lg_k}",
                    bytes.len(),
                    HLL_HEADER + k
                ));
            }
            let registers = &bytes[HLL_HEADER..];
            if let Some(bad) = registers.iter().find(|&&r| r > 63) {
                return Err(format!("HLL register value {bad} is above 63"));
            }
            Ok(Content::Registers(registers.to_vec()))
        }
        _ => Err(format!("HLL mode byte {mode:#04x} is not a known mode")),
    }
}

/// The `count` distinct coupons of a coupon image body (compact: exactly
/// them; updatable: a table whose empty slots are zero), ascending.
fn coupons(body: &[u8], count: usize) -> Result<Content, String> {
    let mut coupons: Vec<u32> = body
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .filter(|&c| c != 0)
        .collect();
    if coupons.len() != count {
        return Err(format!(
            "HLL image holds {} coupons; its header says {count}",
            coupons.len()
        ));
    }
    if let Some(bad) = coupons.iter().find(|&&c| c >> 26 == 0) {
        return Err(format!("HLL coupon {bad:#010x} has no register value"));
    }
    coupons.sort_unstable();
    if coupons.windows(2).any(|w| w[0] == w[1]) {
        return Err("HLL image repeats a coupon".to_string());
    }
    Ok(Content::Coupons(coupons))
}

/// The largest number of coupons a hash set of `2^lg` slots holds before
/// it grows: 3/4 full.
fn set_holds(lg: u8) -> usize {
    3 * (1usize << lg) / 4
}

/// The canonical compact image of `content` at precision `lg_k`: what
/// DataSketches serializes for a sketch that received the same coupons in
/// ascending order (list, then hash set, then registers at the same counts),
/// and for registers, the out-of-order image its union writes.
fn canonical_image(lg_k: u8, content: &Content) -> Vec<u8> {
    let header = |preints: u8, lg_arr: u8, flags: u8, state: u8, mode: u8| {
        vec![
            preints,
            SERIAL_VERSION,
            FAMILY_HLL,
            lg_k,
            lg_arr,
            flags,
            state,
            mode | TARGET_HLL8 << 2,
        ]
    };
    match content {
        Content::Coupons(c) if c.len() < LIST_SLOTS => {
            let flags = FLAG_COMPACT | if c.is_empty() { FLAG_EMPTY } else { 0 };
            let mut image = header(LIST_PREINTS, LG_LIST, flags, c.len() as u8, MODE_LIST);
            image.extend(c.iter().flat_map(|c| c.to_le_bytes()));
            image
        }
        Content::Coupons(c) if lg_k >= LG_MIN_K_FOR_SET && c.len() <= set_holds(lg_k - 3) => {
            let (lg_arr, table) = set_layout(c);
            let mut image = header(SET_PREINTS, lg_arr, FLAG_COMPACT, 0, MODE_SET);
            image.extend((c.len() as u32).to_le_bytes());
            image.extend(
                table
                    .iter()
                    .filter(|&&c| c != 0)
                    .flat_map(|c| c.to_le_bytes()),
            );
            image
        }
        Content::Coupons(c) => {
            let mask = (1u32 << lg_k) - 1;
            let mut registers = vec![0u8; 1 << lg_k];
            for &c in c {
                let slot = &mut registers[((c & KEY_MASK_26) & mask) as usize];
                *slot = (*slot).max((c >> 26) as u8);
            }
            register_image(
                header(
                    HLL_PREINTS,
                    0,
                    FLAG_COMPACT | FLAG_OUT_OF_ORDER,
                    0,
                    MODE_HLL,
                ),
                &registers,
            )
        }
        Content::Registers(r) => register_image(
            header(
                HLL_PREINTS,
                0,
                FLAG_COMPACT | FLAG_OUT_OF_ORDER,
                0,
                MODE_HLL,
            ),
            r,
        ),
    }
}

/// An HLL_8 image: the header, no HIP estimate (out of order), the register
/// sums the composite estimator reads, recomputed in slot order as
/// DataSketches rebuilds them after a union, the count of zero registers,
/// and the registers.
fn register_image(mut image: Vec<u8>, registers: &[u8]) -> Vec<u8> {
    let (mut kxq0, mut kxq1, mut zeros) = (0.0f64, 0.0f64, 0u32);
    for &r in registers {
        if r == 0 {
            zeros += 1;
            kxq0 += 1.0;
        } else if r < 32 {
            kxq0 += 1.0 / (1u64 << r) as f64;
        } else {
            kxq1 += 1.0 / (1u64 << r) as f64;
        }
    }
    image.reserve(HLL_HEADER - image.len() + registers.len());
    image.extend(0.0f64.to_le_bytes());
    image.extend(kxq0.to_le_bytes());
    image.extend(kxq1.to_le_bytes());
    image.extend(zeros.to_le_bytes());
    image.extend(0u32.to_le_bytes());
    image.extend_from_slice(registers);
    image
}

/// The hash set DataSketches builds from `coupons` inserted in this order:
/// 32 slots, linear probing with an odd stride from the coupon's high bits,
/// doubled (re-inserting in slot order) whenever more than 3/4 full.
fn set_layout(coupons: &[u32]) -> (u8, Vec<u32>) {
    let mut lg = LG_MIN_SET;
    let mut table = vec![0u32; 1 << lg];
    for (n, &c) in coupons.iter().enumerate() {
        set_insert(&mut table, lg, c);
        if n + 1 > set_holds(lg) {
            lg += 1;
            let mut grown = vec![0u32; 1 << lg];
            for &old in table.iter().filter(|&&c| c != 0) {
                set_insert(&mut grown, lg, old);
            }
            table = grown;
        }
    }
    (lg, table)
}

fn set_insert(table: &mut [u32], lg: u8, coupon: u32) {
    let mask = (1u32 << lg) - 1;
    let stride = ((coupon & KEY_MASK_26) >> lg) | 1;
    let mut probe = coupon & mask;
    while table[probe as usize] != 0 {
        probe = (probe + stride) & mask;
    }
    table[probe as usize] = coupon;
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
            // Four standard errors at precision 14.
            assert!(
                relative_error(est, n) < 4.0 * 1.04 / 128.0,
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
        // An empty host is not a host (as in DataSketches' string update).
        h.insert(b"");
        assert_eq!(h.estimate(), 100);
    }

    /// Merging parts gives the sketch of the whole, bytes and estimate, in
    /// the list, set and register forms, whichever way the parts are split,
    /// grouped and ordered.
    #[test]
    fn merge_of_parts_equals_the_whole() {
        for (p, n) in [
            (14u8, 5u64),
            (14, 500),
            (14, 3_000),
            (12, 3_000),
            (14, 200_000),
            (7, 50),
        ] {
            let mut whole = Hll::new(p);
            let mut parts = [Hll::new(p), Hll::new(p), Hll::new(p)];
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
            let expected = whole.to_bytes();
            assert_eq!(ab_c.to_bytes(), expected, "{p} {n}");
            assert_eq!(c_ba.to_bytes(), expected, "{p} {n}");
            assert_eq!(ab_c.estimate(), whole.estimate(), "{p} {n}");
        }
    }

    #[test]
    fn merging_an_empty_sketch_changes_nothing() {
        for n in [3u64, 1_000, 50_000] {
            let mut a = Hll::new(14);
            for i in 0..n {
                a.insert(&host(i));
            }
            let before = a.to_bytes();
            a.merge(&Hll::new(14));
            assert_eq!(a.to_bytes(), before);
            let mut empty = Hll::new(14);
            empty.merge(&a);
            assert_eq!(empty.to_bytes(), before);
        }
        let mut empty = Hll::new(12);
        empty.merge(&Hll::new(12));
        assert!(empty.is_empty());
        assert_eq!(empty.estimate(), 0);
        assert_eq!(empty.to_bytes(), Hll::new(12).to_bytes());
    }

    #[test]
    fn bytes_round_trip_in_every_form() {
        for (p, n) in [
            (4u8, 0u64),
            (4, 3),
            (4, 100),
            (12, 0),
            (12, 5),
            (12, 300),
            (12, 100_000),
            (18, 40_000),
        ] {
            let mut h = Hll::new(p);
            for i in 0..n {
                h.insert(&host(i));
            }
            let bytes = h.to_bytes();
            let back = Hll::from_bytes(&bytes).unwrap();
            assert_eq!(back.precision(), p);
            assert_eq!(back.to_bytes(), bytes, "{p} {n}");
            assert_eq!(back.estimate(), h.estimate(), "{p} {n}");
        }
    }

    #[test]
    fn from_bytes_rejects_garbage_without_panicking() {
        let mut images = Vec::new();
        for n in [0u64, 5, 300, 10_000] {
            let mut h = Hll::new(12);
            (0..n).for_each(|i| h.insert(&host(i)));
            images.push(h.to_bytes());
        }
        for image in &images {
            // Every truncation, and every single-byte change: an error or a
            // valid sketch, never a panic.
            for len in 0..image.len() {
                assert!(
                    Hll::from_bytes(&image[..len]).is_err(),
                    "truncated to {len}"
                );
            }
            let mut longer = image.clone();
            longer.push(0);
            assert!(Hll::from_bytes(&longer).is_err());
            for at in 0..image.len().min(64) {
                for bit in 0..8 {
                    let mut bad = image.clone();
                    bad[at] ^= 1 << bit;
                    // What it accepts is a sketch like any other: it
                    // re-encodes canonically and a union with itself
                    // changes nothing (as fuzz/fuzz_targets/hll_from_bytes.rs
                    // checks on arbitrary bytes).
                    if let Ok(h) = Hll::from_bytes(&bad) {
                        let bytes = h.to_bytes();
                        let back = Hll::from_bytes(&bytes).unwrap();
                        assert_eq!(back.to_bytes(), bytes);
                        assert_eq!(back.estimate(), h.estimate());
                        let mut twice = h.clone();
                        twice.merge(&back);
                        assert_eq!(twice.to_bytes(), bytes);
                    }
                }
            }
        }
        let msg = |b: &[u8]| Hll::from_bytes(b).unwrap_err();
        assert!(msg(b"").contains("at least 8 bytes"), "{}", msg(b""));
        let mut wrong_family = images[1].clone();
        wrong_family[2] = 3; // Theta
        assert!(
            msg(&wrong_family).contains("family 3"),
            "{}",
            msg(&wrong_family)
        );
        let mut high = images[0].clone();
        high[3] = 21;
        assert!(msg(&high).contains("lg_k) 21"), "{}", msg(&high));
        let mut dense = images[3].clone();
        dense[HLL_HEADER] = 64;
        assert!(msg(&dense).contains("above 63"), "{}", msg(&dense));
        let mut hll4 = images[3].clone();
        hll4[7] = MODE_HLL;
        assert!(msg(&hll4).contains("HLL_4"), "{}", msg(&hll4));
        let mut repeated = images[1].clone();
        let first: [u8; 4] = repeated[8..12].try_into().unwrap();
        repeated[12..16].copy_from_slice(&first);
        assert!(msg(&repeated).contains("repeats"), "{}", msg(&repeated));
    }

    #[test]
    #[should_panic(expected = "different precisions")]
    fn merging_different_precisions_panics() {
        Hll::new(12).merge(&Hll::new(14));
    }

    #[test]
    #[should_panic(expected = "precision 3")]
    fn precision_out_of_range_panics() {
        Hll::new(3);
    }

    /// The bound covers the registers three times over, and the sketch
    /// really stays inside it once dense.
    #[test]
    fn memory_bound_grows_with_precision() {
        let b14 = Hll::memory_bytes(14);
        assert!(b14 > 3 * (1 << 14), "{b14}");
        assert!(b14 < 64 * 1024, "{b14}");
        assert!(Hll::memory_bytes(16) > 3 * b14);
        let mut h = Hll::new(14);
        (0..100_000).for_each(|i| h.insert(&host(i)));
        assert!(h.sketch.estimated_size() <= b14 / 3);
    }
}
