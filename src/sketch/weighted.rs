//! Weighted Space-Saving: the heaviest hosts of a window, by bytes or
//! packets, in a fixed number of counters.
//!
//! [`SpaceSaving`](super::SpaceSaving) generalised to weights (Metwally,
//! Agrawal, El Abbadi, ICDT 2005; their analysis carries over unchanged when
//! an item adds `w` instead of 1). Each log line brings a host and a weight
//! `w >= 0`, and `k` (host, count, error) counters are kept. A tracked
//! host's count grows by `w`. An untracked host takes a free counter, with
//! count `w` and error 0, while there is one; once all `k` are in use, it
//! takes over the counter with the smallest count `m` (among equals, the one
//! that reached its count first), with count `m + w` and error `m`. An
//! untracked host of weight 0 leaves a full summary alone: its true weight,
//! 0, is already within every bound below. Over a total weight `W`:
//!
//! - every estimate overcounts, by at most its error: `count - error <= true
//!   weight <= count`;
//! - every error is at most `W / k`: an error is the smallest count at the
//!   time, and the `k` counts add up to exactly `W` (every add puts its `w`
//!   into one counter, or nowhere when `w` is 0 and nothing changes);
//! - every host whose true weight exceeds `W / k` is tracked: a host leaves
//!   with a true weight at most its count, then the smallest, and the
//!   smallest count never decreases; so an untracked host weighs at most
//!   `untracked_bound`, at most `W / k`.
//!
//! Summaries merge with the same mergeable-summaries rule as the unit one
//! (Agarwal et al., PODS 2012; Cafaro, Pulimeno, Tempesta): counts and errors
//! of common hosts add up, a host missing from one side gets that side's
//! smallest counter (when that side is full) added to its count and error,
//! and the `k` largest are kept. The guarantees hold for the result with `W`
//! the sum of both sides' weights; see [`WeightedSpaceSaving::merge`].
//!
//! # Layout
//!
//! A weight moves a count by any amount, so the unit summary's list of
//! buckets, where an increment steps to the next bucket, would have to be
//! searched for the new count's place. Here the eviction order is an indexed
//! binary min-heap of (count, stamp) slots instead: O(log k) for any weight.
//! The stamp is taken from a per-summary clock whenever a count changes, so
//! among equal counts the heap's minimum is the counter that reached its
//! count first, the order of the unit summary's buckets. Slots hold the count
//! and stamp next to the counter index, so sifting compares adjacent memory
//! and touches a counter only to note its new position.
//!
//! Hosts of at most 16 bytes live in their counter, zero padded; longer ones
//! live in an arena of records (owning counter, length, bytes) that is
//! compacted in place, by sliding live records down, when replaced hosts
//! have left at least as much garbage as live bytes. Once full and warmed
//! up, an add allocates nothing, but for the lookup table, which may grow
//! once when tombstones of replaced hosts pile up (see `bytes_for`).

use hashbrown::HashTable;

use super::hash_host;
use super::space_saving::{
    arena_offset, check_parts, key_len, merge_counters, pad, reserve_up_to, table_bytes, Keyed,
    Tracked, INLINE, MIN_ARENA, NIL,
};

/// Bytes before a long host's bytes in the arena: the owning counter and
/// the length, both `u32` little endian. The owner lets a compaction walk
/// the arena in order and tell each moved counter where its host went; a
/// replaced host's owner becomes [`NIL`], which marks it garbage.
const HEADER: usize = 8;

/// One tracked host. Its count lives in its heap slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counter {
    /// `hash_host(key)`, kept so the table never hashes a key twice.
    hash: u64,
    /// Upper bound on `count - true weight`.
    error: u64,
    /// The key's bytes, zero padded, when it is at most [`INLINE`] bytes;
    /// else where they start in the arena (past the header), as the first
    /// eight bytes.
    key: [u8; INLINE],
    /// The key's length.
    key_len: u32,
    /// Where this counter's slot is in the heap.
    pos: u32,
}

/// A counter's place in the eviction order.
#[derive(Debug, Clone, Copy)]
struct Slot {
    count: u64,
    /// When `count` last changed, from the summary's clock: unique within a
    /// summary, so (count, seq) orders the slots totally.
    seq: u64,
    /// The counter.
    id: u32,
}

impl Slot {
    /// Whether this slot is evicted before `other`.
    #[inline(always)]
    fn before(&self, other: &Slot) -> bool {
        (self.count, self.seq) < (other.count, other.seq)
    }
}

/// Weighted Space-Saving heavy-hitter summary with `k` counters over
/// case-folded hosts.
///
/// See the [module documentation](self) for the guarantees.
#[derive(Debug, Clone)]
pub struct WeightedSpaceSaving {
    k: usize,
    /// Weight added, including that of merged summaries.
    total: u64,
    /// The next stamp for a slot whose count changes.
    seq: u64,
    /// Counter `i` is the one the table and its slot point at with `i`;
    /// `len() <= k`.
    counters: Vec<Counter>,
    /// Min-heap of the counters' slots by (count, seq).
    heap: Vec<Slot>,
    /// Counter indices, hashed by their host.
    table: HashTable<u32>,
    /// Records of the counters' hosts longer than [`INLINE`], plus those of
    /// replaced hosts (`garbage` bytes, headers included).
    arena: Vec<u8>,
    garbage: usize,
}

impl WeightedSpaceSaving {
    /// An empty summary with `k` counters.
    ///
    /// Nothing is allocated up front: a window that sees few hosts stays
    /// small, and the vectors grow (by doubling, capped at `k`) only until
    /// the summary is full.
    ///
    /// # Panics
    ///
    /// If `k` is 0 or does not fit in 32 bits less one.
    pub fn new(k: usize) -> Self {
        assert!(
            k >= 1 && k < NIL as usize,
            "Space-Saving needs 1 to 2^32-2 counters"
        );
        WeightedSpaceSaving {
            k,
            total: 0,
            seq: 0,
            counters: Vec::new(),
            heap: Vec::new(),
            table: HashTable::new(),
            arena: Vec::new(),
            garbage: 0,
        }
    }

    /// The number of counters.
    pub fn k(&self) -> usize {
        self.k
    }

    /// How many hosts are tracked (at most `k`).
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// Whether no host is tracked: nothing was added (hosts added with
    /// weight 0 are tracked too, while counters are free).
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// Weight added, including that of merged summaries.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The most any untracked host can weigh: the smallest count when all
    /// `k` counters are in use, else 0 (a summary that never filled up never
    /// dropped a host, so it is exact).
    pub(crate) fn untracked_bound(&self) -> u64 {
        if self.counters.len() == self.k {
            self.heap[0].count
        } else {
            0
        }
    }

    /// Adds weight `w` to `host` (already case folded), and returns whether
    /// `host` was already tracked (the approximate reducer then knows it is
    /// already in its HyperLogLog).
    ///
    /// The caller keeps the window's total weight within `u64`; past it,
    /// counts and the total saturate rather than wrap.
    #[inline]
    pub fn add(&mut self, host: &[u8], w: u64) -> bool {
        let hash = hash_host(host);
        let padded = pad(host);
        self.total = self.total.saturating_add(w);
        if let Some(id) = self.find_padded(host, &padded, hash) {
            // A count that does not change keeps its stamp: the counter
            // still reached that count when it first did.
            if w > 0 {
                let pos = self.counters[id as usize].pos as usize;
                let seq = self.stamp();
                let slot = &mut self.heap[pos];
                slot.count = slot.count.saturating_add(w);
                slot.seq = seq;
                self.sift_down(pos);
            }
            return true;
        }
        if self.counters.len() < self.k {
            self.insert_new(host, padded, hash, w);
        } else if w > 0 {
            self.replace_min(host, padded, hash, w);
        }
        false
    }

    /// The next stamp. A summary would need 2^64 adds to run out.
    #[inline]
    fn stamp(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    /// Tracks a new host with count `w` while counters are still free.
    fn insert_new(&mut self, host: &[u8], padded: [u8; INLINE], hash: u64, w: u64) {
        let id = self.counters.len() as u32;
        let key = self.store_key(id, host, padded);
        reserve_up_to(&mut self.counters, self.k);
        reserve_up_to(&mut self.heap, self.k);
        self.counters.push(Counter {
            hash,
            error: 0,
            key,
            key_len: key_len(host),
            pos: self.heap.len() as u32,
        });
        let seq = self.stamp();
        self.heap.push(Slot { count: w, seq, id });
        self.sift_up(self.heap.len() - 1);
        let counters = &self.counters;
        self.table
            .insert_unique(hash, id, |&i| counters[i as usize].hash);
    }

    /// Gives the oldest smallest counter (count `m`) to `host`, with count
    /// `m + w` and error `m`.
    fn replace_min(&mut self, host: &[u8], padded: [u8; INLINE], hash: u64, w: u64) {
        let Slot { count: m, id, .. } = self.heap[0];
        let old_hash = self.counters[id as usize].hash;
        if let Ok(entry) = self.table.find_entry(old_hash, |&i| i == id) {
            entry.remove();
        }
        // Before storing the new key: a compaction then skips the old one.
        self.drop_key(id);
        let key = self.store_key(id, host, padded);
        let c = &mut self.counters[id as usize];
        c.hash = hash;
        c.error = m;
        c.key = key;
        c.key_len = key_len(host);
        let counters = &self.counters;
        self.table
            .insert_unique(hash, id, |&i| counters[i as usize].hash);
        let seq = self.stamp();
        self.heap[0].count = m.saturating_add(w);
        self.heap[0].seq = seq;
        self.sift_down(0);
    }

    /// Moves the slot at `pos`, whose key grew, down to its place.
    #[inline]
    fn sift_down(&mut self, mut pos: usize) {
        let slot = self.heap[pos];
        let n = self.heap.len();
        loop {
            let mut child = 2 * pos + 1;
            if child >= n {
                break;
            }
            if child + 1 < n && self.heap[child + 1].before(&self.heap[child]) {
                child += 1;
            }
            if !self.heap[child].before(&slot) {
                break;
            }
            self.place(pos, self.heap[child]);
            pos = child;
        }
        self.place(pos, slot);
    }

    /// Moves the slot at `pos`, which may precede its parents, up to its
    /// place.
    fn sift_up(&mut self, mut pos: usize) {
        let slot = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !slot.before(&self.heap[parent]) {
                break;
            }
            self.place(pos, self.heap[parent]);
            pos = parent;
        }
        self.place(pos, slot);
    }

    #[inline(always)]
    fn place(&mut self, pos: usize, slot: Slot) {
        self.heap[pos] = slot;
        self.counters[slot.id as usize].pos = pos as u32;
    }

    /// What counter `id` keeps of `host` (`padded` is [`pad`]`(host)`): the
    /// padded bytes, or the offset where the arena now holds them.
    #[inline]
    fn store_key(&mut self, id: u32, host: &[u8], padded: [u8; INLINE]) -> [u8; INLINE] {
        if host.len() <= INLINE {
            return padded;
        }
        let mut key = [0; INLINE];
        key[..8].copy_from_slice(&(self.push_key(id, host) as u64).to_le_bytes());
        key
    }

    /// Appends a record of `key` owned by counter `id` to the arena and
    /// returns where its bytes start.
    ///
    /// When the arena is full and at least half of it is garbage, the live
    /// records slide down over the garbage instead: each compaction moves
    /// the live bytes once after at least as many bytes were appended, so it
    /// costs O(1) per appended byte, and needs no second buffer. The arena
    /// grows only when live records need it, to twice their size, so its
    /// capacity stays within about twice the largest live size.
    fn push_key(&mut self, id: u32, key: &[u8]) -> usize {
        let need = HEADER + key.len();
        if self.arena.len() + need > self.arena.capacity() {
            let live = self.arena.len() - self.garbage;
            if self.garbage > 0 && self.garbage >= live {
                self.compact();
            }
            if self.arena.len() + need > self.arena.capacity() {
                let cap = (2 * (live + need)).max(MIN_ARENA);
                self.arena.reserve_exact(cap - self.arena.len());
            }
        }
        self.arena.extend_from_slice(&id.to_le_bytes());
        self.arena.extend_from_slice(&key_len(key).to_le_bytes());
        let off = self.arena.len();
        self.arena.extend_from_slice(key);
        off
    }

    /// Marks counter `id`'s key garbage, if it lives in the arena.
    fn drop_key(&mut self, id: u32) {
        let c = &self.counters[id as usize];
        if let Some(off) = arena_offset(c) {
            let header = off - HEADER;
            self.arena[header..header + 4].copy_from_slice(&NIL.to_le_bytes());
            self.garbage += HEADER + c.key_len as usize;
        }
    }

    /// Slides the live records to the front of the arena, in their order,
    /// and points their counters at their new place.
    fn compact(&mut self) {
        let (mut read, mut write) = (0, 0);
        while read < self.arena.len() {
            let owner = read_u32(&self.arena[read..]);
            let end = read + HEADER + read_u32(&self.arena[read + 4..]) as usize;
            if owner != NIL {
                self.arena.copy_within(read..end, write);
                let moved = (write + HEADER) as u64;
                self.counters[owner as usize].key[..8].copy_from_slice(&moved.to_le_bytes());
                write += end - read;
            }
            read = end;
        }
        self.arena.truncate(write);
        self.garbage = 0;
    }

    /// Folds `other` into this summary (mergeable summaries, see the module
    /// documentation).
    ///
    /// For every host tracked on either side, its new count (error) is the
    /// sum over both sides of its count (error) there, or, where it is
    /// untracked, of that side's `untracked_bound`; then the `k`
    /// largest counts are kept, ties going to the smallest host bytes, and
    /// stamped in ascending (count, host) order, so that among equal counts
    /// the smallest host is replaced first. The result depends only on the
    /// two summaries, not on which one is `self`. When one side tracks
    /// nothing, the other is kept as it is, stamps and all.
    ///
    /// Why the guarantees survive, with `W = W1 + W2`:
    /// - each side contributes at least the host's true weight there (its
    ///   count, or the bound on every host it does not track), and that
    ///   contribution minus its contributed error (the count's error, or the
    ///   whole bound) is at most the true weight, so the merged estimate
    ///   overcounts by at most its error;
    /// - a side contributes either its error or its bound, both at most
    ///   `Wi / k` (the bound is the smallest of `k` counts that add up to at
    ///   most `Wi`), so every error is at most `W / k`;
    /// - on each side, the kept `k` hosts' contributions add up to at most
    ///   `Wi` (they are distinct counts of that side, or its bound, which is
    ///   no more than any of its counts), so the kept counts add up to at
    ///   most `W` and the smallest, which bounds every dropped or never-seen
    ///   host, is at most `W / k`.
    ///
    /// # Panics
    ///
    /// If the two summaries have different `k` (the argument above needs
    /// both sides to keep as many counters as the result).
    pub fn merge(&mut self, other: WeightedSpaceSaving) {
        assert_eq!(
            self.k, other.k,
            "merging weighted Space-Saving summaries of different k"
        );
        let total = self.total.saturating_add(other.total);
        // Not `total == 0`: hosts of weight 0 are tracked, and kept.
        if other.is_empty() {
            self.total = total;
            return;
        }
        if self.is_empty() {
            *self = other;
            self.total = total;
            return;
        }
        let merged = merge_counters(self, &other, self.k);
        let out = WeightedSpaceSaving::build(self.k, total, merged.len(), merged.iter().copied());
        *self = out;
    }

    /// A summary of `k` counters over `total` weight holding `entries`
    /// (host, hash, count, error), which must be distinct hosts sorted by
    /// ascending count, equal counts by ascending host, at most `k` of them.
    /// They are stamped in that order, which also makes the slots, as they
    /// come, a valid heap.
    fn build<'h>(
        k: usize,
        total: u64,
        len: usize,
        entries: impl Iterator<Item = (&'h [u8], u64, u64, u64)> + Clone,
    ) -> WeightedSpaceSaving {
        let mut out = WeightedSpaceSaving::new(k);
        out.total = total;
        out.counters.reserve_exact(len);
        out.heap.reserve_exact(len);
        out.table
            .reserve(len, |_| unreachable!("the table is empty"));
        let long: usize = entries
            .clone()
            .map(|e| e.0.len())
            .filter(|&n| n > INLINE)
            .map(|n| HEADER + n)
            .sum();
        // Room for all: no compaction runs while counters are missing.
        if long > 0 {
            out.arena = Vec::with_capacity((2 * long).max(MIN_ARENA));
        }
        for (host, hash, count, error) in entries {
            let id = out.counters.len() as u32;
            let key = out.store_key(id, host, pad(host));
            out.counters.push(Counter {
                hash,
                error,
                key,
                key_len: key_len(host),
                pos: id,
            });
            out.heap.push(Slot {
                count,
                seq: u64::from(id),
                id,
            });
            let counters = &out.counters;
            out.table
                .insert_unique(hash, id, |&i| counters[i as usize].hash);
        }
        out.seq = out.counters.len() as u64;
        out
    }

    /// The summary of `k` counters over `total` weight whose counters are
    /// `counters` (host, estimate, error), as [`Tracked::sorted_counters`]
    /// gave them: the inverse of writing a summary into a partial. Equal
    /// estimates are replaced smallest host first, as after a merge.
    ///
    /// # Errors
    ///
    /// Counters that no summary could hold, checked before anything is
    /// allocated: a `k` outside 1 to 2^32-2, more than `k` counters, out of
    /// order or repeated, an error above its estimate, an estimate above
    /// `total`, or estimates adding up to more than `total` allows. An
    /// estimate of 0 is fine: a host whose lines weighed nothing.
    pub(crate) fn from_parts(
        k: usize,
        total: u64,
        counters: &[(&[u8], u64, u64)],
    ) -> Result<WeightedSpaceSaving, String> {
        check_parts(k, total, counters, true, "weight units")?;
        let entries = counters
            .iter()
            .map(|&(host, count, error)| (host, hash_host(host), count, error));
        Ok(WeightedSpaceSaving::build(
            k,
            total,
            counters.len(),
            entries,
        ))
    }

    /// Heap bytes in use now: counters, slots, table and key arena
    /// (allocated capacity, not just length).
    #[cfg(test)]
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.counters.capacity() * std::mem::size_of::<Counter>()
            + self.heap.capacity() * std::mem::size_of::<Slot>()
            + table_bytes(self.table.capacity())
            + self.arena.capacity()
    }

    /// An upper estimate of the peak heap bytes of one summary with `k`
    /// counters over hosts of `avg_host_len` bytes on average, for sizing `k`
    /// from a memory budget.
    ///
    /// It counts the counters and slots (64 bytes a counter); the table
    /// twice, at `k` and at `2k` items, because the tombstones replaced
    /// hosts leave can make it double once, holding both while it moves;
    /// and four times the key records: the arena holds up to twice the live
    /// records, and while it grows the old buffer sits beside the new one.
    /// A [`Self::merge`] briefly holds both inputs and the result, so a
    /// caller merging should budget for three.
    pub(crate) fn bytes_for(k: usize, avg_host_len: usize) -> usize {
        let record = HEADER + avg_host_len;
        std::mem::size_of::<Self>()
            + k * (std::mem::size_of::<Counter>() + std::mem::size_of::<Slot>())
            + table_bytes(k)
            + table_bytes(2 * k)
            + 4 * (k * record).max(MIN_ARENA)
            + 2 * record
    }
}

impl Tracked for WeightedSpaceSaving {
    type Counter = Counter;

    #[inline(always)]
    fn counters(&self) -> &[Counter] {
        &self.counters
    }
    #[inline(always)]
    fn table(&self) -> &HashTable<u32> {
        &self.table
    }
    #[inline(always)]
    fn arena(&self) -> &[u8] {
        &self.arena
    }
    #[inline]
    fn count_of(&self, id: u32) -> u64 {
        self.heap[self.counters[id as usize].pos as usize].count
    }
    fn floor(&self) -> u64 {
        self.untracked_bound()
    }
}

impl Keyed for Counter {
    #[inline(always)]
    fn host_hash(&self) -> u64 {
        self.hash
    }
    #[inline(always)]
    fn host_key(&self) -> &[u8; INLINE] {
        &self.key
    }
    #[inline(always)]
    fn host_len(&self) -> u32 {
        self.key_len
    }
    #[inline(always)]
    fn error(&self) -> u64 {
        self.error
    }
}

/// The little-endian `u32` at the start of `b`.
#[inline]
fn read_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("four bytes"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::sketch::SpaceSaving;

    /// Checks the structure's own invariants: the heap order and positions,
    /// the table, and the arena's records and garbage count.
    fn check_structure(ss: &WeightedSpaceSaving) {
        let n = ss.heap.len();
        assert_eq!(n, ss.counters.len());
        assert!(n <= ss.k);
        for pos in 1..n {
            assert!(
                !ss.heap[pos].before(&ss.heap[(pos - 1) / 2]),
                "heap order at {pos}"
            );
        }
        for (pos, slot) in ss.heap.iter().enumerate() {
            assert_eq!(ss.counters[slot.id as usize].pos as usize, pos);
            assert!(slot.seq < ss.seq);
        }
        let mut seqs: Vec<u64> = ss.heap.iter().map(|s| s.seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), n, "repeated stamps");
        assert_eq!(ss.table.len(), n);
        for id in 0..n as u32 {
            let c = &ss.counters[id as usize];
            assert_eq!(c.hash, hash_host(ss.key(id)));
            assert_eq!(ss.find(ss.key(id), c.hash), Some(id));
        }
        let (mut at, mut garbage) = (0, 0);
        while at < ss.arena.len() {
            let owner = read_u32(&ss.arena[at..]);
            let len = read_u32(&ss.arena[at + 4..]) as usize;
            if owner == NIL {
                garbage += HEADER + len;
            } else {
                assert_eq!(
                    arena_offset(&ss.counters[owner as usize]),
                    Some(at + HEADER)
                );
            }
            at += HEADER + len;
        }
        assert_eq!(at, ss.arena.len());
        assert_eq!(garbage, ss.garbage);
    }

    /// Exact weights of a weighted stream.
    fn exact<'a>(stream: impl IntoIterator<Item = (&'a [u8], u64)>) -> HashMap<Vec<u8>, u64> {
        let mut m = HashMap::new();
        for (h, w) in stream {
            *m.entry(h.to_vec()).or_insert(0) += w;
        }
        m
    }

    /// A deterministic pseudo-random sequence (xorshift), for tests that need
    /// volume rather than shrinking.
    fn pseudo_random(n: usize, mut seed: u64, below: u64) -> Vec<u64> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % below
            })
            .collect()
    }

    /// A skewed weighted stream: host `j` has probability about
    /// `1 / (j (j + 1))`, and weights are heavy tailed (mostly small, a few
    /// zeros, now and then a huge one), not tied to the host.
    fn skewed(n: usize, seed: u64) -> Vec<(Vec<u8>, u64)> {
        let hosts = pseudo_random(n, seed, 1_000_000);
        let weights = pseudo_random(n, seed ^ 0x5555, 1_000);
        hosts
            .iter()
            .zip(&weights)
            .map(|(&v, &w)| {
                let host = format!("host-{}.example.com", 1_000_000 / (v + 1)).into_bytes();
                let w = match w {
                    0..=49 => 0,
                    950.. => w * 1_000_000,
                    _ => w,
                };
                (host, w)
            })
            .collect()
    }

    /// Checks the documented guarantees of `ss` against the exact weights
    /// of the stream of total weight `w` it summarises.
    fn check_guarantees(ss: &WeightedSpaceSaving, truth: &HashMap<Vec<u8>, u64>, w: u64) {
        check_structure(ss);
        let k = ss.k() as u128;
        let big_w = u128::from(w);
        assert_eq!(ss.total(), w);
        let mut sum = 0u128;
        let mut tracked = HashMap::new();
        for (host, count, error) in ss.iter() {
            let t = truth.get(host).copied().unwrap_or(0);
            assert!(count >= t, "{host:?}: estimate {count} < true {t}");
            assert!(count - error <= t, "{host:?}: {count} - {error} > true {t}");
            assert!(
                u128::from(error) * k <= big_w,
                "{host:?}: error {error} > W/k = {w}/{k}"
            );
            assert!(tracked.insert(host.to_vec(), count).is_none());
            assert_eq!(ss.estimate(host), Some((count, error)));
            sum += u128::from(count);
        }
        assert!(sum <= big_w, "counts add up to {sum} > {w}");
        assert!(u128::from(ss.untracked_bound()) * k <= big_w);
        for (host, &t) in truth {
            if u128::from(t) * k > big_w {
                assert!(
                    tracked.contains_key(host),
                    "{host:?} ({t} of {w}) untracked"
                );
            }
            if !tracked.contains_key(host) {
                assert!(t <= ss.untracked_bound(), "{host:?} untracked with {t}");
                assert_eq!(ss.estimate(host), None);
            }
        }
    }

    /// (host, count, error) sorted, for comparing summaries.
    fn state(ss: &WeightedSpaceSaving) -> Vec<(Vec<u8>, u64, u64)> {
        let mut v: Vec<_> = ss.iter().map(|(h, c, e)| (h.to_vec(), c, e)).collect();
        v.sort();
        v
    }

    fn unit_state(ss: &SpaceSaving) -> Vec<(Vec<u8>, u64, u64)> {
        let mut v: Vec<_> = ss.iter().map(|(h, c, e)| (h.to_vec(), c, e)).collect();
        v.sort();
        v
    }

    fn summary<'a>(
        k: usize,
        stream: impl IntoIterator<Item = (&'a [u8], u64)>,
    ) -> WeightedSpaceSaving {
        let mut ss = WeightedSpaceSaving::new(k);
        for (h, w) in stream {
            ss.add(h, w);
        }
        ss
    }

    fn owned(v: &[(&str, u64, u64)]) -> Vec<(Vec<u8>, u64, u64)> {
        v.iter()
            .map(|&(h, c, e)| (h.as_bytes().to_vec(), c, e))
            .collect()
    }

    #[test]
    fn exact_while_the_counters_suffice() {
        let ss = summary(
            4,
            [("b", 5), ("a", 0), ("c", 7), ("b", 1), ("a", 3), ("d", 0)]
                .map(|(h, w)| (h.as_bytes(), w)),
        );
        assert_eq!(
            state(&ss),
            owned(&[("a", 3, 0), ("b", 6, 0), ("c", 7, 0), ("d", 0, 0)])
        );
        assert_eq!(ss.total(), 16);
        assert_eq!(ss.untracked_bound(), 0);
        assert_eq!(ss.estimate(b"d"), Some((0, 0)));
        assert_eq!(ss.estimate(b"e"), None);
        assert!(WeightedSpaceSaving::new(3).is_empty());
        assert_eq!(summary(3, [(b"x".as_slice(), 9)]).untracked_bound(), 0);
    }

    #[test]
    fn an_untracked_host_takes_over_the_oldest_smallest_counter() {
        // b and c both weigh 4; b got there first, so d replaces it.
        let mut ss = summary(
            3,
            [("a", 9), ("c", 1), ("b", 4), ("c", 3)].map(|(h, w)| (h.as_bytes(), w)),
        );
        assert!(!ss.add(b"d", 10));
        assert_eq!(state(&ss), owned(&[("a", 9, 0), ("c", 4, 0), ("d", 14, 4)]));
        // A weight of 0 does not make a the newest at 4: d replaces a.
        let mut ss = summary(
            3,
            [("a", 4), ("b", 4), ("c", 9)].map(|(h, w)| (h.as_bytes(), w)),
        );
        assert!(ss.add(b"a", 0));
        assert!(!ss.add(b"d", 1));
        assert_eq!(state(&ss), owned(&[("b", 4, 0), ("c", 9, 0), ("d", 5, 4)]));
        // An untracked host of weight 0 changes nothing in a full summary.
        let before = state(&ss);
        assert!(!ss.add(b"f", 0));
        assert_eq!(state(&ss), before);
        assert_eq!(ss.total(), 18);
        // One counter: every host lands in it.
        let one = summary(
            1,
            [("a", 2), ("b", 3), ("b", 0), ("c", 1)].map(|(h, w)| (h.as_bytes(), w)),
        );
        assert_eq!(state(&one), owned(&[("c", 6, 5)]));
    }

    #[test]
    fn guarantees_hold_on_a_long_skewed_weighted_stream() {
        let stream = skewed(200_000, 7);
        let truth = exact(stream.iter().map(|(h, w)| (h.as_slice(), *w)));
        let w: u64 = stream.iter().map(|e| e.1).sum();
        for k in [1, 16, 256] {
            let ss = summary(k, stream.iter().map(|(h, w)| (h.as_slice(), *w)));
            assert_eq!(ss.len(), k);
            check_guarantees(&ss, &truth, w);
        }
        // The heaviest host is found, with an estimate close to its weight.
        let ss = summary(256, stream.iter().map(|(h, w)| (h.as_slice(), *w)));
        let (heaviest, &t) = truth.iter().max_by_key(|e| e.1).unwrap();
        let top = ss.iter().max_by_key(|e| e.1).unwrap();
        assert_eq!(top.0, heaviest.as_slice());
        assert!(top.1 - t <= top.2 && top.2 <= w / 256);
    }

    #[test]
    fn merge_is_symmetric_and_keeps_the_guarantees() {
        let stream = skewed(50_000, 11);
        let truth = exact(stream.iter().map(|(h, w)| (h.as_slice(), *w)));
        let w: u64 = stream.iter().map(|e| e.1).sum();
        let (left, right) = stream.split_at(20_000);
        let a = summary(64, left.iter().map(|(h, w)| (h.as_slice(), *w)));
        let b = summary(64, right.iter().map(|(h, w)| (h.as_slice(), *w)));
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(state(&ab), state(&ba));
        assert_eq!(ab.sorted_counters(), ba.sorted_counters());
        check_guarantees(&ab, &truth, w);
        // Both evict alike afterwards: the stamps do not depend on the side.
        let (mut ab2, mut ba2) = (ab.clone(), ba);
        for (h, w) in &stream[..5_000] {
            assert_eq!(ab2.add(h, *w), ba2.add(h, *w));
        }
        assert_eq!(state(&ab2), state(&ba2));
        // The merged summary keeps working as a summary.
        let mut more = ab;
        for (h, w) in &stream {
            more.add(h, *w);
        }
        let twice = exact(
            stream
                .iter()
                .chain(&stream)
                .map(|(h, w)| (h.as_slice(), *w)),
        );
        check_guarantees(&more, &twice, 2 * w);
    }

    #[test]
    fn merging_summaries_that_never_filled_is_exact() {
        let a = summary(
            8,
            [("a", 5), ("b", 0), ("a", 2)].map(|(h, w)| (h.as_bytes(), w)),
        );
        let b = summary(8, [("b", 3), ("c", 0)].map(|(h, w)| (h.as_bytes(), w)));
        let mut m = a.clone();
        m.merge(b.clone());
        let want = owned(&[("a", 7, 0), ("b", 3, 0), ("c", 0, 0)]);
        assert_eq!(state(&m), want);
        assert_eq!(m.total(), 10);
        let mut m = b;
        m.merge(a.clone());
        assert_eq!(state(&m), want);
        let mut e = WeightedSpaceSaving::new(8);
        e.merge(a.clone());
        assert_eq!(state(&e), state(&a));
        let mut a2 = a.clone();
        a2.merge(WeightedSpaceSaving::new(8));
        assert_eq!(state(&a2), state(&a));
        assert_eq!(a2.total(), 7);
        // A side that tracks nothing still brings its total.
        let mut t = WeightedSpaceSaving::from_parts(8, 5, &[]).unwrap();
        t.merge(a.clone());
        assert_eq!((state(&t), t.total()), (state(&a), 12));
        // Hosts of weight 0 alone still merge in.
        let mut z = summary(8, [(b"z".as_slice(), 0)]);
        z.merge(summary(8, [(b"y".as_slice(), 0)]));
        assert_eq!(state(&z), owned(&[("y", 0, 0), ("z", 0, 0)]));
        assert_eq!(z.total(), 0);
    }

    #[test]
    fn merge_adds_the_other_sides_floor_to_missing_hosts() {
        // Side one is full with floor 10; side two with floor 20.
        let one = summary(2, [("a", 30), ("b", 10)].map(|(h, w)| (h.as_bytes(), w)));
        let two = summary(2, [("c", 30), ("a", 20)].map(|(h, w)| (h.as_bytes(), w)));
        assert_eq!((one.untracked_bound(), two.untracked_bound()), (10, 20));
        let mut m = one;
        m.merge(two);
        // a: 30 + 20; c: 30 + floor 10 (error 10); b: 10 + floor 20
        // (error 20), dropped.
        assert_eq!(state(&m), owned(&[("a", 50, 0), ("c", 40, 10)]));
        assert_eq!(m.total(), 90);
    }

    #[test]
    fn a_merge_stamps_equal_counts_by_host() {
        let one = summary(
            3,
            [("b", 5), ("a", 5), ("x", 9)].map(|(h, w)| (h.as_bytes(), w)),
        );
        let two = summary(3, [("a", 0)].map(|(h, w)| (h.as_bytes(), w)));
        // b reached 5 before a, but after a merge a is replaced first.
        let mut m = one;
        m.merge(two);
        assert_eq!(m.untracked_bound(), 5);
        m.add(b"c", 1);
        assert_eq!(m.estimate(b"a"), None);
        assert_eq!(m.estimate(b"b"), Some((5, 0)));
        assert_eq!(m.estimate(b"c"), Some((6, 5)));
    }

    #[test]
    #[should_panic(expected = "different k")]
    fn merging_different_k_panics() {
        let mut a = summary(2, [(b"a".as_slice(), 1)]);
        a.merge(summary(3, [(b"a".as_slice(), 1)]));
    }

    #[test]
    fn from_parts_round_trips() {
        let stream = skewed(20_000, 5);
        for k in [1, 7, 64, 50_000] {
            let ss = summary(k, stream.iter().map(|(h, w)| (h.as_slice(), *w)));
            let parts = ss.sorted_counters();
            let back = WeightedSpaceSaving::from_parts(k, ss.total(), &parts).unwrap();
            check_structure(&back);
            assert_eq!(back.sorted_counters(), parts);
            assert_eq!(back.total(), ss.total());
            assert_eq!(back.untracked_bound(), ss.untracked_bound());
        }
        // Zero counts, long hosts, an empty summary.
        let long = "l".repeat(200);
        let parts: [(&[u8], u64, u64); 3] = [(b"a", 0, 0), (long.as_bytes(), 0, 0), (b"b", 4, 1)];
        let back = WeightedSpaceSaving::from_parts(3, 4, &parts).unwrap();
        assert_eq!(back.sorted_counters(), parts);
        assert_eq!(back.estimate(long.as_bytes()), Some((0, 0)));
        let empty = WeightedSpaceSaving::from_parts(3, 0, &[]).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn from_parts_rejects_what_no_summary_holds() {
        let from = |k, total, parts: &[(&str, u64, u64)]| {
            let parts: Vec<(&[u8], u64, u64)> = parts
                .iter()
                .map(|&(h, c, e)| (h.as_bytes(), c, e))
                .collect();
            WeightedSpaceSaving::from_parts(k, total, &parts)
        };
        let fine = [("a", 0, 0), ("b", 0, 0), ("a", 3, 2)];
        assert!(from(3, 5, &fine).is_ok());
        /// (host, estimate, error)
        type Counters<'a> = &'a [(&'a str, u64, u64)];
        let bad: [(&str, usize, u64, Counters); 9] = [
            ("k of 0", 0, 5, &[]),
            ("k past 2^32-2", NIL as usize, 5, &[]),
            ("more than k", 2, 5, &fine),
            ("out of order", 3, 5, &[("b", 0, 0), ("a", 0, 0)]),
            ("counts out of order", 3, 5, &[("a", 3, 0), ("b", 2, 0)]),
            ("repeated", 3, 5, &[("a", 1, 0), ("a", 1, 0)]),
            ("error above count", 3, 5, &[("a", 1, 2)]),
            ("count above total", 3, 5, &[("a", 6, 6)]),
            ("sums past total", 3, 5, &[("a", 3, 0), ("b", 3, 0)]),
        ];
        for (why, k, total, parts) in bad {
            assert!(from(k, total, parts).is_err(), "{why}");
        }
        // Overflow in the sum: wrapping, it would pass as MAX - 1.
        let max = u64::MAX;
        assert!(from(3, max, &[("a", max, 0), ("b", max, 0)]).is_err());
        assert!(from(3, max, &[("a", max, 0), ("b", max, max)]).is_ok());
    }

    #[test]
    fn long_and_unicode_hosts_round_trip() {
        let long = "x".repeat(crate::hosts::fold::MAX_SKETCH_HOST);
        let mut ss = WeightedSpaceSaving::new(2);
        for (h, w) in [
            (long.as_str(), 3),
            ("zoë", 1),
            (long.as_str(), 4),
            ("a", 100),
        ] {
            ss.add(h.as_bytes(), w);
        }
        check_structure(&ss);
        assert_eq!(ss.estimate(long.as_bytes()), Some((7, 0)));
        assert_eq!(ss.estimate("a".as_bytes()), Some((101, 1)));
    }

    #[test]
    fn memory_stays_bounded_through_many_replacements() {
        use crate::hosts::fold::MAX_SKETCH_HOST;
        // Hosts of 21 bytes live in the arena, which compacts as they are
        // replaced; those of 11 bytes live in their counters.
        let k = 512;
        for width in [20, 10] {
            let len = width + 1;
            let mut ss = WeightedSpaceSaving::new(k);
            let add = |ss: &mut WeightedSpaceSaving, i: u32| {
                ss.add(
                    format!("h{:0width$}", i % 100_003).as_bytes(),
                    u64::from(i % 7 + 1),
                );
            };
            for i in 0..100_000u32 {
                add(&mut ss, i);
            }
            assert_eq!(ss.len(), k);
            // Warmed up, replacements allocate nothing more.
            let caps = (
                ss.counters.capacity(),
                ss.heap.capacity(),
                ss.arena.capacity(),
            );
            for i in 100_000..300_000u32 {
                add(&mut ss, i);
            }
            assert_eq!(
                caps,
                (
                    ss.counters.capacity(),
                    ss.heap.capacity(),
                    ss.arena.capacity()
                )
            );
            check_structure(&ss);
            let arena = if len > INLINE {
                2 * k * (HEADER + len)
            } else {
                0
            };
            assert!(
                ss.arena.capacity() <= arena,
                "arena {}",
                ss.arena.capacity()
            );
            assert!(ss.memory_bytes() <= WeightedSpaceSaving::bytes_for(k, len));
            let last = format!("h{:0width$}", (300_000 - 1) % 100_003);
            assert!(ss.estimate(last.as_bytes()).is_some());
            for (h, _, _) in ss.iter() {
                assert!(h.starts_with(b"h") && h.len() == len, "{h:?}");
            }
        }
        // Hosts of every length up to the longest a sketch sees: the arena
        // stays within twice the largest live records.
        let mut ss = WeightedSpaceSaving::new(k);
        let lengths = pseudo_random(300_000, 3, MAX_SKETCH_HOST as u64 - INLINE as u64);
        for (i, &l) in lengths.iter().enumerate() {
            let host = format!("{i:x}-{}", "y".repeat(l as usize + INLINE));
            ss.add(
                &host.as_bytes()[..l as usize + INLINE + 1],
                1 + i as u64 % 3,
            );
        }
        check_structure(&ss);
        assert!(ss.arena.capacity() <= 2 * (k + 1) * (HEADER + MAX_SKETCH_HOST));
        assert!(ss.memory_bytes() <= WeightedSpaceSaving::bytes_for(k, MAX_SKETCH_HOST));
    }

    #[test]
    fn a_window_with_few_hosts_stays_small() {
        let mut ss = WeightedSpaceSaving::new(65_536);
        for h in ["a", "b", "a", "c"] {
            ss.add(h.as_bytes(), 1_500);
        }
        assert!(ss.memory_bytes() < 4096, "{}", ss.memory_bytes());
        // Growth stops at k.
        let mut ss = WeightedSpaceSaving::new(100);
        for i in 0..1_000 {
            ss.add(format!("h{i}").as_bytes(), i);
        }
        assert_eq!(ss.counters.capacity(), 100);
        assert_eq!(ss.heap.capacity(), 100);
        assert!(WeightedSpaceSaving::bytes_for(4096, 12) < 1024 * 1024);
    }

    /// A naive weighted Space-Saving: a plain vector, the victim found by
    /// scanning for the smallest (count, seq), where `seq` says when a
    /// counter reached its count.
    #[derive(Debug, Clone)]
    struct Model {
        k: usize,
        total: u64,
        counters: Vec<(Vec<u8>, u64, u64, u64)>,
    }

    impl Model {
        fn new(k: usize) -> Self {
            Model {
                k,
                total: 0,
                counters: Vec::new(),
            }
        }

        fn floor(&self) -> u64 {
            if self.counters.len() == self.k {
                self.counters.iter().map(|c| c.1).min().unwrap()
            } else {
                0
            }
        }

        fn add(&mut self, host: &[u8], w: u64, seq: &mut u64) -> bool {
            self.total = self.total.saturating_add(w);
            if let Some(c) = self.counters.iter_mut().find(|c| c.0 == host) {
                if w > 0 {
                    *seq += 1;
                    c.1 = c.1.saturating_add(w);
                    c.3 = *seq;
                }
                return true;
            }
            if self.counters.len() < self.k {
                *seq += 1;
                self.counters.push((host.to_vec(), w, 0, *seq));
            } else if w > 0 {
                *seq += 1;
                let v = (0..self.k)
                    .min_by_key(|&i| (self.counters[i].1, self.counters[i].3))
                    .unwrap();
                let m = self.counters[v].1;
                self.counters[v] = (host.to_vec(), m.saturating_add(w), m, *seq);
            }
            false
        }

        fn merge(&mut self, other: Model, seq: &mut u64) {
            let total = self.total.saturating_add(other.total);
            if other.counters.is_empty() {
                self.total = total;
                return;
            }
            if self.counters.is_empty() {
                *self = other;
                self.total = total;
                return;
            }
            let (f1, f2) = (self.floor(), other.floor());
            let mut all: Vec<(Vec<u8>, u64, u64)> = Vec::new();
            for c in &self.counters {
                let (oc, oe) = other
                    .counters
                    .iter()
                    .find(|o| o.0 == c.0)
                    .map_or((f2, f2), |o| (o.1, o.2));
                all.push((c.0.clone(), c.1.saturating_add(oc), c.2.saturating_add(oe)));
            }
            for o in &other.counters {
                if !self.counters.iter().any(|c| c.0 == o.0) {
                    all.push((o.0.clone(), o.1.saturating_add(f1), o.2.saturating_add(f1)));
                }
            }
            all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            all.truncate(self.k);
            all.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            self.total = total;
            self.counters = all
                .into_iter()
                .map(|(h, c, e)| {
                    *seq += 1;
                    (h, c, e, *seq)
                })
                .collect();
        }

        fn state(&self) -> Vec<(Vec<u8>, u64, u64)> {
            let mut v: Vec<_> = self
                .counters
                .iter()
                .map(|c| (c.0.clone(), c.1, c.2))
                .collect();
            v.sort();
            v
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, u8, u64),
        Merge(usize, usize),
    }

    fn weight() -> impl Strategy<Value = u64> {
        prop_oneof![
            8 => 0..=1_000u64,
            2 => Just(0u64),
            1 => 1_000_000_000_000u64..=1_000_000_000_100,
        ]
    }

    fn op(weight: impl Strategy<Value = u64>) -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..3usize, 0..40u8, weight).prop_map(|(s, h, w)| Op::Add(s, h, w)),
            1 => (0..3usize, 0..3usize).prop_map(|(a, b)| Op::Merge(a, b)),
        ]
    }

    /// A skewed pool of hosts: even ranks are long enough to live in the
    /// arena, odd ones in their counters.
    fn host(h: u8) -> Vec<u8> {
        let rank = 40 / (u32::from(h) + 1);
        let tail = if rank % 2 == 0 {
            ".a-long-name.example"
        } else {
            ""
        };
        format!("h{rank}{tail}").into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The structure behaves exactly like the naive model, through
        /// weighted adds and merges.
        #[test]
        fn matches_the_naive_model(k in 1usize..6, ops in prop::collection::vec(op(weight()), 0..300)) {
            let mut real: Vec<WeightedSpaceSaving> = (0..3).map(|_| WeightedSpaceSaving::new(k)).collect();
            let mut model: Vec<Model> = (0..3).map(|_| Model::new(k)).collect();
            let mut seq = 0;
            for op in ops {
                match op {
                    Op::Add(s, h, w) => {
                        let was = real[s].add(&host(h), w);
                        prop_assert_eq!(was, model[s].add(&host(h), w, &mut seq));
                    }
                    Op::Merge(a, b) if a != b => {
                        let other = std::mem::replace(&mut real[b], WeightedSpaceSaving::new(k));
                        real[a].merge(other);
                        let other = std::mem::replace(&mut model[b], Model::new(k));
                        model[a].merge(other, &mut seq);
                    }
                    Op::Merge(..) => {}
                }
                for (r, m) in real.iter().zip(&model) {
                    check_structure(r);
                    prop_assert_eq!(state(r), m.state());
                    prop_assert_eq!(r.total(), m.total);
                    prop_assert_eq!(r.untracked_bound(), m.floor());
                }
            }
        }

        /// With every weight 1 it is the unit summary: same hosts, counts
        /// and errors, through adds and merges.
        #[test]
        fn unit_weights_match_space_saving(k in 1usize..6, ops in prop::collection::vec(op(Just(1u64)), 0..300)) {
            let mut weighted: Vec<WeightedSpaceSaving> = (0..3).map(|_| WeightedSpaceSaving::new(k)).collect();
            let mut unit: Vec<SpaceSaving> = (0..3).map(|_| SpaceSaving::new(k)).collect();
            for op in ops {
                match op {
                    Op::Add(s, h, w) => {
                        prop_assert_eq!(weighted[s].add(&host(h), w), unit[s].add(&host(h)));
                    }
                    Op::Merge(a, b) if a != b => {
                        let other = std::mem::replace(&mut weighted[b], WeightedSpaceSaving::new(k));
                        weighted[a].merge(other);
                        let other = std::mem::replace(&mut unit[b], SpaceSaving::new(k));
                        unit[a].merge(other);
                    }
                    Op::Merge(..) => {}
                }
                for (w, u) in weighted.iter().zip(&unit) {
                    prop_assert_eq!(state(w), unit_state(u));
                    prop_assert_eq!(w.total(), u.total());
                    prop_assert_eq!(w.untracked_bound(), u.untracked_bound());
                }
            }
        }

        /// The guarantees hold on random skewed weighted streams, for one
        /// summary and for summaries of a random split merged in a random
        /// order.
        #[test]
        fn guarantees_hold_after_merging_random_splits(
            k in 1usize..40,
            values in prop::collection::vec((1u32..5_000, weight()), 1..3_000),
            parts in prop::collection::vec(0usize..4, 3_000),
            order in Just([0usize, 1, 2, 3]).prop_shuffle(),
        ) {
            let stream: Vec<(Vec<u8>, u64)> = values
                .iter()
                .map(|&(v, w)| (format!("host-{}.example.com", 5_000 / v).into_bytes(), w))
                .collect();
            let truth = exact(stream.iter().map(|(h, w)| (h.as_slice(), *w)));
            let w: u64 = stream.iter().map(|e| e.1).sum();
            check_guarantees(&summary(k, stream.iter().map(|(h, w)| (h.as_slice(), *w))), &truth, w);

            let mut split: Vec<WeightedSpaceSaving> = (0..4).map(|_| WeightedSpaceSaving::new(k)).collect();
            for ((h, w), &p) in stream.iter().zip(&parts) {
                split[p].add(h, *w);
            }
            let mut merged = WeightedSpaceSaving::new(k);
            for &i in &order {
                merged.merge(std::mem::replace(&mut split[i], WeightedSpaceSaving::new(k)));
            }
            check_guarantees(&merged, &truth, w);
        }
    }
}
