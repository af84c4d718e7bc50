//! The approximate host list of `--to_host` / `--from_host`.
//!
//! A bloom filter (crate `bloomfilter`, fixed seeds) answers "was this host
//! already listed?". A host it has not seen is appended to an in-memory
//! buffer; when the buffer passes its byte limit it is sorted and written as
//! one sorted run to an anonymous temporary file, so a list of tens of
//! millions of hosts costs disk, not memory. The answer is a k-way merge of
//! the runs and the sorted buffer ([`BloomList::into_sorted`]).
//!
//! What this promises:
//! - no false host: a host is only ever listed by an [`BloomList::insert`]
//!   of that host (or a merge of a list that did), and at most once, because
//!   a bloom filter never forgets a host it has set;
//! - a false positive of the filter can only drop a qualifying host. The
//!   chance of that for one host is at most the filter's false-positive rate
//!   when the list ends, `fill ^ hashes`, reported as
//!   [`BloomList::missed_rate`]; the expected number of dropped hosts is at
//!   most `missed_rate * distinct`;
//! - `distinct` is a HyperLogLog estimate over every inserted host, dropped
//!   ones included, so it estimates the true number of qualifying hosts
//!   (which the list's length may fall short of).
//!
//! The bloom filter hashes a host with SipHash twice per call (about 100 ns),
//! so callers only insert hosts of lines that match the queried host.

use std::io;

use bloomfilter::Bloom;

use super::runs::{span, SortedHosts, Spill};
use super::Hll;

/// The bloom filter's SipHash keys: fixed, so lists built on any thread
/// agree and a run is reproducible.
const SEED: [u8; 32] = [
    0x63, 0x6f, 0x6e, 0x6e, 0x73, 0x70, 0x79, 0x2d, 0x62, 0x6c, 0x6f, 0x6f, 0x6d, 0x2d, 0x6c, 0x69,
    0x73, 0x74, 0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15, 0xf3, 0x9c, 0xc0, 0x60, 0x5c, 0xed,
];

/// Bytes of one buffered host's index entry (offset and length).
const SPAN_BYTES: usize = std::mem::size_of::<(u32, u32)>();

/// The distinct hosts of one list query in one window, in bounded memory.
pub struct BloomList {
    bloom: Bloom<[u8]>,
    hll: Hll,
    /// First-seen hosts not yet spilled, back to back, in insertion order.
    buffer: Vec<u8>,
    /// (offset, length) of each host in `buffer`.
    spans: Vec<(u32, u32)>,
    buffer_limit: usize,
    spill: Option<Spill>,
    listed: u64,
    /// A spill failed: the list is incomplete and takes no more hosts (a
    /// full buffer would otherwise be sorted again on every insert).
    broken: bool,
}

impl BloomList {
    /// A list sized for `expected_items` distinct hosts at false-positive
    /// rate `fp_rate`, spilling when its buffer passes `buffer_limit` bytes,
    /// with a HyperLogLog of `hll_precision` for `distinct`.
    ///
    /// # Panics
    ///
    /// If `fp_rate` is not strictly between 0 and 1, or `hll_precision` is
    /// outside the range of [`Hll::new`].
    pub fn new(
        expected_items: usize,
        fp_rate: f64,
        buffer_limit: usize,
        hll_precision: u8,
    ) -> Self {
        let expected = expected_items.max(1);
        Self::with_bitmap_bytes(
            Self::bitmap_bytes_for(expected, fp_rate),
            expected,
            buffer_limit,
            hll_precision,
        )
    }

    /// A list whose filter has `bitmap_bytes` bytes, with the number of
    /// hashes that is best for `expected_items` hosts (`bits / items * ln 2`,
    /// at least 1); for sizing from a memory budget.
    ///
    /// # Panics
    ///
    /// If `hll_precision` is outside the range of [`Hll::new`].
    pub(crate) fn with_bitmap_bytes(
        bitmap_bytes: usize,
        expected_items: usize,
        buffer_limit: usize,
        hll_precision: u8,
    ) -> Self {
        let bloom = Bloom::new_with_seed(bitmap_bytes.max(1), expected_items.max(1), &SEED)
            .expect("bloomfilter's seeded constructor does not fail");
        BloomList {
            bloom,
            hll: Hll::new(hll_precision),
            buffer: Vec::new(),
            spans: Vec::new(),
            buffer_limit,
            spill: None,
            listed: 0,
            broken: false,
        }
    }

    /// Filter bytes for `expected_items` hosts at false-positive rate
    /// `fp_rate`: `-n ln p / (8 ln^2 2)`, about 1.2 bytes per host at 1 %
    /// and 1.8 at 0.1 %.
    ///
    /// # Panics
    ///
    /// If `fp_rate` is not strictly between 0 and 1.
    pub(crate) fn bitmap_bytes_for(expected_items: usize, fp_rate: f64) -> usize {
        assert!(
            fp_rate > 0.0 && fp_rate < 1.0,
            "bloom false-positive rate {fp_rate} is not between 0 and 1"
        );
        Bloom::<[u8]>::compute_bitmap_size(expected_items.max(1), fp_rate).max(1)
    }

    /// An upper bound on the heap bytes of a list built with `bitmap_bytes`,
    /// `buffer_limit` and `hll_precision`: the filter, the HyperLogLog's
    /// bound, twice the buffer limit (the buffer's vectors grow by doubling
    /// and keep their capacity across spills) and a spill's write buffer. The
    /// spill file itself is on disk; its index costs 16 bytes a run.
    /// [`Self::into_sorted`] adds read buffers of about `buffer_limit` in all
    /// (4 KiB to 1 MiB a run).
    #[cfg(test)]
    pub(crate) fn bytes_for(bitmap_bytes: usize, buffer_limit: usize, hll_precision: u8) -> usize {
        std::mem::size_of::<Self>()
            + bloomfilter_header()
            + bitmap_bytes
            + Hll::memory_bytes(hll_precision)
            + 2 * buffer_limit
            + super::runs::IO_BUF
    }

    /// Heap bytes in use now (allocated capacity), the HyperLogLog counted at
    /// its bound.
    #[cfg(test)]
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.bloom.as_slice().len()
            + Hll::memory_bytes(self.hll.precision())
            + self.buffer.capacity()
            + self.spans.capacity() * SPAN_BYTES
            + self.spill.as_ref().map_or(0, Spill::memory_bytes)
    }

    /// Notes `host` (already case folded) as qualifying; true if it is newly
    /// listed, false if the filter says it was listed before (or, rarely,
    /// wrongly believes so).
    ///
    /// Costs two SipHash passes for the filter and one hash for the
    /// HyperLogLog; allocates only when the buffer grows.
    ///
    /// # Errors
    ///
    /// If writing a sorted run to the temporary file fails, or the host is
    /// longer than 4 GiB.
    pub fn insert(&mut self, host: &[u8]) -> io::Result<bool> {
        self.hll.insert(host);
        self.list_if_new(host)
    }

    /// Lists `host` unless the filter has seen it; the HyperLogLog is not
    /// touched (merges fold it separately).
    fn list_if_new(&mut self, host: &[u8]) -> io::Result<bool> {
        if self.bloom.check_and_set(host) {
            return Ok(false);
        }
        self.push(host)?;
        Ok(true)
    }

    fn push(&mut self, host: &[u8]) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("an earlier spill of this list failed"));
        }
        let len = u32::try_from(host.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "host longer than 4 GiB"))?;
        if self.buffer.len() + host.len() > u32::MAX as usize {
            self.spill()?;
        }
        self.spans.push((self.buffer.len() as u32, len));
        self.buffer.extend_from_slice(host);
        self.listed += 1;
        if self.buffer.len() + self.spans.len() * SPAN_BYTES > self.buffer_limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the buffer as one sorted run and clears it (keeping its
    /// capacity, so the buffer does not allocate again).
    fn spill(&mut self) -> io::Result<()> {
        if self.spans.is_empty() {
            return Ok(());
        }
        let result = self.write_run();
        self.broken = result.is_err();
        result
    }

    fn write_run(&mut self) -> io::Result<()> {
        let buffer = &self.buffer;
        self.spans
            .sort_unstable_by(|&a, &b| span(buffer, a).cmp(span(buffer, b)));
        let spill = match &mut self.spill {
            Some(s) => s,
            None => self.spill.insert(Spill::new()?),
        };
        spill.write_run(self.spans.iter().map(|&s| span(buffer, s)))?;
        self.buffer.clear();
        self.spans.clear();
        Ok(())
    }

    /// Folds `other` in: its listed hosts (spilled runs in run order, then
    /// its buffer in insertion order) are checked against this filter and
    /// listed if it has not seen them; the HyperLogLogs merge.
    ///
    /// The side that listed more hosts is kept and the other replayed into
    /// it, which is cheaper and makes the result the same whichever list is
    /// `self` unless both listed as many. The result depends only on the two
    /// lists, never on timing. Both lists should be built with the same
    /// settings; the kept side's filter and buffer limit remain.
    ///
    /// Because a filter false positive drops a host, the merged list is
    /// always a subset of the union of both lists, and equal to it when the
    /// filter is generous.
    ///
    /// # Errors
    ///
    /// If reading the other list's runs or spilling this one fails.
    ///
    /// # Panics
    ///
    /// If the HyperLogLog precisions differ.
    pub fn merge(&mut self, mut other: BloomList) -> io::Result<()> {
        if other.listed > self.listed {
            std::mem::swap(self, &mut other);
        }
        self.hll.merge(&other.hll);
        if let Some(spill) = other.spill.take() {
            spill.replay(|host| self.list_if_new(host).map(drop))?;
        }
        for &s in &other.spans {
            self.list_if_new(span(&other.buffer, s))?;
        }
        Ok(())
    }

    /// How many hosts are listed.
    pub fn listed(&self) -> u64 {
        self.listed
    }

    /// Whether no host is listed.
    pub fn is_empty(&self) -> bool {
        self.listed == 0
    }

    /// How many sorted runs were spilled to the temporary file.
    pub fn runs(&self) -> usize {
        self.spill.as_ref().map_or(0, Spill::runs)
    }

    /// The HyperLogLog estimate of how many distinct hosts were inserted,
    /// dropped ones included. O(HyperLogLog size): call it once when
    /// answering.
    pub fn distinct(&self) -> u64 {
        self.hll.estimate()
    }

    /// The estimated probability that a qualifying host was dropped: the
    /// filter's false-positive rate now, `(set bits / bits) ^ hashes`. The
    /// filter only fills up, so this bounds the rate at every earlier check.
    ///
    /// Counts the filter's set bits: O(filter size), call it once when
    /// answering.
    pub fn missed_rate(&self) -> f64 {
        let bits = self.bloom.len();
        let slice = self.bloom.as_slice();
        let bitmap = &slice[slice.len() - (bits / 8) as usize..];
        let mut chunks = bitmap.chunks_exact(8);
        let mut set: u64 = (&mut chunks)
            .map(|c| u64::from(u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones()))
            .sum();
        set += chunks
            .remainder()
            .iter()
            .map(|b| u64::from(b.count_ones()))
            .sum::<u64>();
        (set as f64 / bits as f64).powi(self.bloom.number_of_hash_functions() as i32)
    }

    /// The listed hosts, sorted ascending by bytes, as a k-way merge of the
    /// spilled runs and the sorted buffer: it holds one read buffer per run
    /// (together about the buffer limit) and one host per run, never the
    /// whole list.
    ///
    /// # Errors
    ///
    /// If reading the first host of a run fails; later read errors come out
    /// of the iterator, which then ends.
    pub fn into_sorted(self) -> io::Result<SortedHosts> {
        let BloomList {
            buffer,
            mut spans,
            spill,
            buffer_limit,
            ..
        } = self;
        spans.sort_unstable_by(|&a, &b| span(&buffer, a).cmp(span(&buffer, b)));
        SortedHosts::new(spill, buffer, spans, buffer_limit)
    }

    /// The filter's bits (without the `bloomfilter` crate's header), for a
    /// partial; [`Self::from_parts`] is the inverse.
    pub(crate) fn bits(&self) -> &[u8] {
        let slice = self.bloom.as_slice();
        &slice[slice.len() - (self.bloom.len() / 8) as usize..]
    }

    /// The list's HyperLogLog of inserted hosts.
    pub(crate) fn hll(&self) -> &Hll {
        &self.hll
    }

    /// A list of the same settings as `template` (a fresh list: its filter
    /// size, hashes, buffer and precision) holding a partial's parts: the
    /// filter's `bits`, the HyperLogLog and the listed hosts, which must be
    /// strictly ascending.
    ///
    /// # Errors
    /// Bits of another filter size, a HyperLogLog of another precision,
    /// hosts out of order (as `InvalidData`), or a failed spill.
    pub(crate) fn from_parts<'h>(
        template: BloomList,
        bits: &[u8],
        hll: Hll,
        hosts: impl IntoIterator<Item = &'h [u8]>,
    ) -> io::Result<BloomList> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
        let mut list = template;
        if bits.len() != list.bits().len() {
            return Err(invalid(format!(
                "a bloom filter of {} bytes where these settings make {}",
                bits.len(),
                list.bits().len()
            )));
        }
        if hll.precision() != list.hll.precision() {
            return Err(invalid("a HyperLogLog of another precision".into()));
        }
        list.or_bits(bits);
        list.hll = hll;
        let mut last: Option<&[u8]> = None;
        for host in hosts {
            if last.is_some_and(|l| l >= host) {
                return Err(invalid("listed hosts out of order or repeated".into()));
            }
            list.push(host)?;
            last = Some(host);
        }
        Ok(list)
    }

    /// Sets every bit that is set in `bits` (a filter of the same size).
    fn or_bits(&mut self, bits: &[u8]) {
        let mut bytes = self.bloom.to_bytes();
        let start = bytes.len() - bits.len();
        for (mine, theirs) in bytes[start..].iter_mut().zip(bits) {
            *mine |= theirs;
        }
        self.bloom = Bloom::from_bytes(bytes).expect("the crate's own bytes, with bits changed");
    }

    /// The union of `lists` and of the exact `sets` (each sorted ascending)
    /// into `template`, a fresh list of the same settings: the filters' bits
    /// OR'ed (and every host of `sets` set), the HyperLogLogs merged, and as
    /// listed hosts every host any of them listed, once.
    ///
    /// Unlike [`Self::merge`], no listed host is checked against another
    /// filter, so none is dropped: the result depends only on which hosts
    /// and bits the inputs hold, not on how unions are grouped, and a
    /// listed host still always qualified.
    ///
    /// # Errors
    /// Reading back a list's spilled runs, or spilling the result.
    pub(crate) fn union_all(
        template: BloomList,
        lists: Vec<BloomList>,
        sets: &[Vec<Vec<u8>>],
    ) -> io::Result<BloomList> {
        let mut out = template;
        let mut streams: Vec<Box<dyn Iterator<Item = io::Result<Vec<u8>>>>> = Vec::new();
        for list in lists {
            out.or_bits(list.bits());
            out.hll.merge(&list.hll);
            streams.push(Box::new(
                list.into_sorted()?.map(|h| h.map(String::into_bytes)),
            ));
        }
        for set in sets {
            for host in set {
                out.bloom.set(host.as_slice());
                out.hll.insert(host);
            }
            streams.push(Box::new(set.iter().cloned().map(Ok)));
        }
        // A k-way merge: the next host of each stream, smallest first.
        let mut heads: Vec<Option<Vec<u8>>> = streams
            .iter_mut()
            .map(|s| s.next().transpose())
            .collect::<io::Result<_>>()?;
        let mut last: Option<Vec<u8>> = None;
        while let Some((i, _)) = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|h| (i, h)))
            .min_by(|a, b| a.1.cmp(b.1))
        {
            let host = heads[i].take().expect("chosen because it is set");
            heads[i] = streams[i].next().transpose()?;
            if last.as_ref() != Some(&host) {
                out.push(&host)?;
                last = Some(host);
            }
        }
        Ok(out)
    }

    /// [`Self::into_sorted`] collected: the whole list in memory. Fine for
    /// lists that fit; the iterator is the bounded path.
    ///
    /// # Errors
    ///
    /// If reading a run fails.
    #[cfg(test)]
    pub(crate) fn into_sorted_vec(self) -> io::Result<Vec<String>> {
        self.into_sorted()?.collect()
    }
}

/// The header the bloomfilter 3.x bitmap carries before its bits.
#[cfg(test)]
fn bloomfilter_header() -> usize {
    1 + 8 + 4 + 32
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::sketch::runs::MIN_RUN_BUF;

    fn host(i: u64) -> Vec<u8> {
        format!("10.{}.{}.{}", i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff).into_bytes()
    }

    fn strings(set: &BTreeSet<Vec<u8>>) -> Vec<String> {
        set.iter()
            .map(|h| String::from_utf8(h.clone()).unwrap())
            .collect()
    }

    /// Inserts `hosts`, checking `insert`'s answer against the list's count,
    /// and returns the exact set.
    fn fill(list: &mut BloomList, hosts: impl IntoIterator<Item = Vec<u8>>) -> BTreeSet<Vec<u8>> {
        let mut exact = BTreeSet::new();
        for h in hosts {
            let before = list.listed();
            let new = list.insert(&h).unwrap();
            assert_eq!(list.listed(), before + u64::from(new));
            // A filter never forgets: a host seen before is never new again.
            assert!(!(new && exact.contains(&h)), "{h:?} listed twice");
            exact.insert(h);
        }
        exact
    }

    fn assert_sorted_subset(list: &[String], exact: &BTreeSet<Vec<u8>>) {
        for w in list.windows(2) {
            assert!(w[0].as_bytes() < w[1].as_bytes(), "{w:?} not ascending");
        }
        for h in list {
            assert!(exact.contains(h.as_bytes()), "{h} never inserted");
        }
    }

    #[test]
    fn a_generous_filter_lists_exactly_the_set() {
        let mut list = BloomList::new(20_000, 1e-6, 1 << 20, 14);
        let exact = fill(&mut list, (0..30_000).map(|i| host(i * 7 % 10_000)));
        assert_eq!(list.listed(), 10_000);
        assert_eq!(list.runs(), 0);
        assert!(list.missed_rate() < 1e-6, "{}", list.missed_rate());
        let distinct = list.distinct();
        assert!(distinct.abs_diff(10_000) < 300, "{distinct}");
        assert_eq!(list.into_sorted_vec().unwrap(), strings(&exact));
    }

    #[test]
    fn a_tiny_filter_drops_hosts_but_never_invents_one() {
        let mut list = BloomList::with_bitmap_bytes(16, 100, 1 << 20, 14);
        let exact = fill(&mut list, (0..2_000).map(host));
        assert!(list.listed() < 2_000);
        assert!(list.missed_rate() > 1e-3, "{}", list.missed_rate());
        // distinct counts dropped hosts too.
        let distinct = list.distinct();
        assert!(distinct.abs_diff(2_000) < 60, "{distinct}");
        let out = list.into_sorted_vec().unwrap();
        assert!(out.len() < 2_000);
        assert_sorted_subset(&out, &exact);
    }

    #[test]
    fn spilling_lists_the_same_hosts_as_keeping_them_in_memory() {
        let hosts: Vec<Vec<u8>> = (0..5_000).map(|i| host(i * 7919 % 3_000)).collect();
        let mut memory = BloomList::new(10_000, 1e-4, usize::MAX, 12);
        let exact = fill(&mut memory, hosts.clone());
        assert_eq!(memory.runs(), 0);
        let expected = memory.into_sorted_vec().unwrap();
        assert_sorted_subset(&expected, &exact);
        for limit in [0, 1, 100, 4_000] {
            let mut spilled = BloomList::new(10_000, 1e-4, limit, 12);
            fill(&mut spilled, hosts.clone());
            assert!(spilled.runs() > 1, "limit {limit}: {} runs", spilled.runs());
            assert_eq!(
                spilled.into_sorted_vec().unwrap(),
                expected,
                "limit {limit}"
            );
        }
    }

    #[test]
    fn hosts_longer_than_a_read_buffer_survive_a_spill() {
        let long: Vec<Vec<u8>> = (0..5u8)
            .map(|i| vec![b'a' + i; MIN_RUN_BUF * 3 + usize::from(i)])
            .collect();
        let mut list = BloomList::new(100, 1e-6, 10, 12);
        let mut exact = fill(&mut list, long.iter().rev().cloned());
        exact.extend(fill(&mut list, [b"zz".to_vec(), b"a".to_vec()]));
        assert!(list.runs() >= 5);
        assert_eq!(list.into_sorted_vec().unwrap(), strings(&exact));
    }

    #[test]
    fn merged_parts_list_the_whole_set_with_a_generous_filter() {
        let make = || BloomList::new(10_000, 1e-7, 2_000, 14);
        let (mut a, mut b, mut c) = (make(), make(), make());
        let mut exact = BTreeSet::new();
        for i in 0..9_000u64 {
            let h = host(i * 31 % 6_000);
            let part = match i % 7 {
                0..=2 => &mut a,
                3..=5 => &mut b,
                _ => &mut c,
            };
            part.insert(&h).unwrap();
            exact.insert(h);
        }
        assert!(a.runs() > 0 && b.runs() > 0);
        a.merge(b).unwrap();
        a.merge(c).unwrap();
        assert_eq!(a.listed(), exact.len() as u64);
        let distinct = a.distinct();
        assert!(distinct.abs_diff(6_000) < 150, "{distinct}");
        assert_eq!(a.into_sorted_vec().unwrap(), strings(&exact));
    }

    #[test]
    fn merge_does_not_depend_on_which_side_is_self_when_sizes_differ() {
        let build = |range: std::ops::Range<u64>| {
            let mut l = BloomList::with_bitmap_bytes(64, 200, 50, 12);
            fill(&mut l, range.map(host));
            l
        };
        let mut ab = build(0..300);
        ab.merge(build(200..260)).unwrap();
        let mut ba = build(200..260);
        ba.merge(build(0..300)).unwrap();
        assert_eq!(ab.missed_rate(), ba.missed_rate());
        let (ab, ba) = (ab.into_sorted_vec().unwrap(), ba.into_sorted_vec().unwrap());
        assert_eq!(ab, ba);
        assert_sorted_subset(&ab, &(0..300).map(host).collect());
    }

    #[test]
    fn empty_lists_and_empty_merges() {
        let mut empty = BloomList::new(10, 0.01, 100, 10);
        assert!(empty.is_empty());
        assert_eq!(empty.distinct(), 0);
        assert_eq!(empty.missed_rate(), 0.0);
        empty.merge(BloomList::new(10, 0.01, 100, 10)).unwrap();
        assert_eq!(empty.into_sorted().unwrap().count(), 0);
    }

    #[test]
    fn results_are_reproducible() {
        let run = || {
            let mut l = BloomList::with_bitmap_bytes(32, 100, 64, 12);
            fill(&mut l, (0..1_000).map(|i| host(i * 13 % 700)));
            (l.missed_rate(), l.into_sorted_vec().unwrap())
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn memory_stays_within_the_stated_bound() {
        let bitmap = BloomList::bitmap_bytes_for(50_000, 1e-3);
        assert!((85_000..95_000).contains(&bitmap), "{bitmap}");
        let mut list = BloomList::with_bitmap_bytes(bitmap, 50_000, 64 << 10, 14);
        fill(&mut list, (0..50_000).map(host));
        assert!(list.runs() > 1);
        assert!(list.memory_bytes() <= BloomList::bytes_for(bitmap, 64 << 10, 14));
    }

    #[test]
    #[should_panic(expected = "not between 0 and 1")]
    fn a_false_positive_rate_of_one_panics() {
        BloomList::new(10, 1.0, 100, 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the sizing and the inserts: the output is a subset of the
        /// inserted hosts, ascending by bytes without duplicates, as long as
        /// the count of hosts `insert` called new; and merging lists of a
        /// random split keeps all of that.
        #[test]
        fn lists_are_sorted_subsets_of_what_was_inserted(
            bitmap in 1usize..256,
            limit in 0usize..300,
            hosts in prop::collection::vec(0u64..500, 0..600),
            parts in prop::collection::vec(0usize..3, 600),
        ) {
            let make = || BloomList::with_bitmap_bytes(bitmap, 100, limit, 10);
            let mut whole = make();
            let mut new = 0;
            let mut split = [make(), make(), make()];
            for (&h, &p) in hosts.iter().zip(&parts) {
                new += u64::from(whole.insert(&host(h)).unwrap());
                split[p].insert(&host(h)).unwrap();
            }
            let exact: BTreeSet<Vec<u8>> = hosts.iter().map(|&h| host(h)).collect();
            prop_assert_eq!(whole.listed(), new);
            let out = whole.into_sorted_vec().unwrap();
            prop_assert_eq!(out.len() as u64, new);
            assert_sorted_subset(&out, &exact);

            let [a, b, c] = split;
            let mut merged = c;
            merged.merge(a).unwrap();
            merged.merge(b).unwrap();
            let listed = merged.listed();
            let out = merged.into_sorted_vec().unwrap();
            prop_assert_eq!(out.len() as u64, listed);
            assert_sorted_subset(&out, &exact);
        }
    }
}
