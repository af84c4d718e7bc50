//! Space-Saving: the busiest hosts of a window in a fixed number of counters.
//!
//! Space-Saving (Metwally, Agrawal, El Abbadi, "Efficient computation of
//! frequent and top-k elements in data streams", ICDT 2005) keeps `k`
//! (host, count, error) counters. A tracked host's counter is incremented; an
//! untracked host takes over a counter with the smallest count `m`, with count
//! `m + 1` and error `m`. Over `N` items:
//!
//! - every estimate overcounts, by at most its error: `count - error <= true
//!   count <= count`;
//! - every error is at most `N / k`, so every estimate is within `N / k`;
//! - every host whose true count exceeds `N / k` is tracked (an untracked host
//!   has a true count of at most the smallest counter, which is at most
//!   `N / k` because the counters add up to at most `N`).
//!
//! Summaries built on different chunks merge with the mergeable-summaries rule
//! (Agarwal, Cormode, Huang, Phillips, Wei, Yi, "Mergeable summaries", PODS
//! 2012; the Space-Saving form is the one of Cafaro, Pulimeno, Tempesta's
//! parallel Space-Saving): counts and errors of common hosts add up, a host
//! missing from one side gets that side's smallest counter (when that side is
//! full) added to its count and its error, and the `k` largest are kept. The
//! three guarantees above then hold for the merged summary with `N` the sum of
//! both sides' items; see [`SpaceSaving::merge`] for why.
//!
//! # Layout
//!
//! The update is on the per-line hot path, so it is O(1) and allocation-free
//! for tracked hosts: the counters sit in the stream-summary structure of the
//! paper, a list of buckets sorted by count, each holding the counters with
//! that count in a doubly linked list (indices, not pointers). Incrementing a
//! counter moves it to the next bucket; the smallest counter is the head of the
//! first bucket. Host bytes live back to back in one arena that is compacted
//! when replaced hosts have left enough garbage, and a `hashbrown` table of
//! counter indices (fixed-seed hashes, see [`super::hash_host`]) finds a host.

use hashbrown::HashTable;

use super::hash_host;
use crate::hash::load_upto16;

/// "No counter" / "no bucket" in the index-linked lists.
pub(super) const NIL: u32 = u32::MAX;

/// The smallest key arena allocated, so that tiny summaries do not compact
/// after every replacement.
pub(super) const MIN_ARENA: usize = 256;

/// Hosts up to this long live in their counter, zero padded: most hosts do,
/// and then a lookup compares two words it already loaded instead of
/// following an offset into the arena.
pub(super) const INLINE: usize = 16;

/// One tracked host.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counter {
    /// `hash_host(key)`, kept so the table never hashes a key twice.
    hash: u64,
    /// Upper bound on `count - true count`.
    error: u64,
    /// The key's bytes, zero padded, when it is at most [`INLINE`] bytes;
    /// else where they start in the arena, as the first eight bytes.
    key: [u8; INLINE],
    /// The key's length.
    key_len: u32,
    /// The bucket holding this counter (its count is the bucket's).
    bucket: u32,
    /// Neighbours in the bucket's list.
    prev: u32,
    next: u32,
}

/// All counters with one count.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    count: u64,
    /// Oldest and newest counter with this count: the oldest is replaced first.
    head: u32,
    tail: u32,
    /// Neighbours in the bucket list, sorted by ascending count; `next` also
    /// links the free list.
    prev: u32,
    next: u32,
}

/// The host with the highest estimate in a [`SpaceSaving`] summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// The host with the highest estimate; the smallest name (bytes) among
    /// equals.
    pub host: String,
    /// Its estimated count: never below the true count.
    pub count: u64,
    /// Bound on `count - true count`; at most `total / k`.
    pub error: u64,
    /// How many other tracked hosts have the same estimate.
    pub tied: u64,
}

/// Space-Saving heavy-hitter summary with `k` counters over case-folded hosts.
///
/// See the [module documentation](self) for the guarantees.
#[derive(Debug, Clone)]
pub struct SpaceSaving {
    k: usize,
    /// Items added, including those of merged summaries.
    total: u64,
    /// Counter `i` is the one the table points at with `i`; `len() <= k`.
    counters: Vec<Counter>,
    /// Bucket pool; freed buckets are chained from `free`.
    buckets: Vec<Bucket>,
    free: u32,
    /// Bucket with the smallest / largest count, `NIL` when empty.
    min: u32,
    max: u32,
    /// Counter indices, hashed by their host.
    table: HashTable<u32>,
    /// Bytes of the counters' hosts longer than [`INLINE`], plus those of
    /// replaced hosts (`garbage`).
    arena: Vec<u8>,
    garbage: usize,
}

impl SpaceSaving {
    /// An empty summary with `k` counters.
    ///
    /// Nothing is allocated up front: a window that sees few hosts stays
    /// small, and the vectors grow (by doubling, capped at `k`) only until
    /// the summary is full, after which an add never allocates.
    ///
    /// # Panics
    ///
    /// If `k` is 0 or does not fit in 32 bits less one.
    pub fn new(k: usize) -> Self {
        assert!(
            k >= 1 && k < NIL as usize,
            "Space-Saving needs 1 to 2^32-2 counters"
        );
        SpaceSaving {
            k,
            total: 0,
            counters: Vec::new(),
            buckets: Vec::new(),
            free: NIL,
            min: NIL,
            max: NIL,
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

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// Items added, including those of merged summaries.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The largest error any estimate can have: `total / k`, rounded down
    /// (errors are whole numbers at most `total / k`).
    #[cfg(test)]
    pub(crate) fn error_bound(&self) -> u64 {
        self.total / self.k as u64
    }

    /// The most any untracked host can have occurred: the smallest count when
    /// all `k` counters are in use, else 0 (a summary that never filled up
    /// never dropped a host, so it is exact).
    pub(crate) fn untracked_bound(&self) -> u64 {
        if self.counters.len() == self.k {
            self.buckets[self.min as usize].count
        } else {
            0
        }
    }

    /// Counts one item of `host` (already case folded), and returns whether
    /// `host` was already tracked (the approximate reducer then knows it is
    /// already in its HyperLogLog).
    #[inline]
    pub fn add(&mut self, host: &[u8]) -> bool {
        let hash = hash_host(host);
        let padded = pad(host);
        self.total += 1;
        if let Some(id) = self.find_padded(host, &padded, hash) {
            self.increment(id);
            return true;
        }
        if self.counters.len() < self.k {
            self.insert_new(host, padded, hash);
        } else {
            self.replace_min(host, padded, hash);
        }
        false
    }

    /// Tracks a new host with count 1 while counters are still free.
    fn insert_new(&mut self, host: &[u8], padded: [u8; INLINE], hash: u64) {
        let id = self.counters.len() as u32;
        let key = self.store_key(host, padded);
        reserve_up_to(&mut self.counters, self.k);
        self.counters.push(Counter {
            hash,
            error: 0,
            key,
            key_len: key_len(host),
            bucket: NIL,
            prev: NIL,
            next: NIL,
        });
        let b = if self.min != NIL && self.buckets[self.min as usize].count == 1 {
            self.min
        } else {
            self.new_bucket(1, NIL, self.min)
        };
        self.attach(id, b);
        let counters = &self.counters;
        self.table
            .insert_unique(hash, id, |&i| counters[i as usize].hash);
    }

    /// Gives the oldest smallest counter (count `m`) to `host`, with count
    /// `m + 1` and error `m`.
    fn replace_min(&mut self, host: &[u8], padded: [u8; INLINE], hash: u64) {
        let victim = self.buckets[self.min as usize].head;
        let m = self.buckets[self.min as usize].count;
        let old = self.counters[victim as usize];
        if let Ok(entry) = self.table.find_entry(old.hash, |&i| i == victim) {
            entry.remove();
        }
        if old.key_len as usize > INLINE {
            self.garbage += old.key_len as usize;
        }
        // Its bytes are garbage now: a compaction in `push_key` skips them.
        self.counters[victim as usize].key_len = 0;
        let key = self.store_key(host, padded);
        let c = &mut self.counters[victim as usize];
        c.hash = hash;
        c.error = m;
        c.key = key;
        c.key_len = key_len(host);
        let counters = &self.counters;
        self.table
            .insert_unique(hash, victim, |&i| counters[i as usize].hash);
        self.increment(victim);
    }

    /// Moves counter `id` to the bucket of its count plus one.
    #[inline]
    fn increment(&mut self, id: u32) {
        let b = self.counters[id as usize].bucket;
        let bucket = self.buckets[b as usize];
        let count = bucket.count + 1;
        let next = bucket.next;
        if next != NIL && self.buckets[next as usize].count == count {
            if self.detach(id) {
                self.free_bucket(b);
            }
            self.attach(id, next);
        } else if bucket.head == id && bucket.tail == id {
            // Alone in its bucket and the next count is absent: the bucket
            // itself can take the new count without breaking the order.
            self.buckets[b as usize].count = count;
        } else {
            self.detach(id);
            let nb = self.new_bucket(count, b, next);
            self.attach(id, nb);
        }
    }

    /// Appends counter `id` to bucket `b`'s list.
    #[inline]
    fn attach(&mut self, id: u32, b: u32) {
        let tail = self.buckets[b as usize].tail;
        let c = &mut self.counters[id as usize];
        c.bucket = b;
        c.prev = tail;
        c.next = NIL;
        if tail == NIL {
            self.buckets[b as usize].head = id;
        } else {
            self.counters[tail as usize].next = id;
        }
        self.buckets[b as usize].tail = id;
    }

    /// Takes counter `id` out of its bucket's list; true if the bucket is now
    /// empty.
    #[inline]
    fn detach(&mut self, id: u32) -> bool {
        let Counter {
            bucket, prev, next, ..
        } = self.counters[id as usize];
        if prev == NIL {
            self.buckets[bucket as usize].head = next;
        } else {
            self.counters[prev as usize].next = next;
        }
        if next == NIL {
            self.buckets[bucket as usize].tail = prev;
        } else {
            self.counters[next as usize].prev = prev;
        }
        self.buckets[bucket as usize].head == NIL
    }

    /// A new empty bucket with `count`, linked between `prev` and `next`.
    #[inline]
    fn new_bucket(&mut self, count: u64, prev: u32, next: u32) -> u32 {
        let bucket = Bucket {
            count,
            head: NIL,
            tail: NIL,
            prev,
            next,
        };
        let b = if self.free != NIL {
            let b = self.free;
            self.free = self.buckets[b as usize].next;
            self.buckets[b as usize] = bucket;
            b
        } else {
            reserve_up_to(&mut self.buckets, self.k);
            self.buckets.push(bucket);
            (self.buckets.len() - 1) as u32
        };
        self.join(prev, next, b, b);
        b
    }

    /// Points the neighbours `prev` and `next` (or the list's ends, where
    /// one is [`NIL`]) at `after_prev` and `before_next`: linking a bucket
    /// between them, or unlinking the one that was.
    #[inline]
    fn join(&mut self, prev: u32, next: u32, after_prev: u32, before_next: u32) {
        if prev == NIL {
            self.min = after_prev;
        } else {
            self.buckets[prev as usize].next = after_prev;
        }
        if next == NIL {
            self.max = before_next;
        } else {
            self.buckets[next as usize].prev = before_next;
        }
    }

    /// Unlinks empty bucket `b` and puts it on the free list.
    #[inline]
    fn free_bucket(&mut self, b: u32) {
        let Bucket { prev, next, .. } = self.buckets[b as usize];
        self.join(prev, next, next, prev);
        self.buckets[b as usize].next = self.free;
        self.free = b;
    }

    /// What a counter keeps of `host` (`padded` is [`pad`]`(host)`): the
    /// padded bytes, or the offset where the arena now holds them.
    #[inline]
    fn store_key(&mut self, host: &[u8], padded: [u8; INLINE]) -> [u8; INLINE] {
        if host.len() <= INLINE {
            return padded;
        }
        let mut key = [0; INLINE];
        key[..8].copy_from_slice(&(self.push_key(host) as u64).to_le_bytes());
        key
    }

    /// Stores `key` in the arena and returns its offset.
    ///
    /// When the arena is full and at least half of it is garbage, the live
    /// keys are copied into a fresh arena of twice their size instead of
    /// growing: each compaction copies the live bytes once after at least as
    /// many bytes were appended, so it costs O(1) per appended byte, and the
    /// arena stays within about twice the live key bytes.
    fn push_key(&mut self, key: &[u8]) -> usize {
        if self.arena.len() + key.len() > self.arena.capacity() {
            let live = self.arena.len() - self.garbage;
            let cap = (2 * (live + key.len())).max(MIN_ARENA);
            if self.garbage > 0 && self.garbage >= live {
                let mut fresh = Vec::with_capacity(cap);
                for c in &mut self.counters {
                    if let Some(off) = arena_offset(c) {
                        let moved = fresh.len() as u64;
                        fresh.extend_from_slice(&self.arena[off..off + c.key_len as usize]);
                        c.key[..8].copy_from_slice(&moved.to_le_bytes());
                    }
                }
                self.arena = fresh;
                self.garbage = 0;
            } else {
                self.arena.reserve_exact(cap - self.arena.len());
            }
        }
        let off = self.arena.len();
        self.arena.extend_from_slice(key);
        off
    }

    /// The host with the highest estimate (the smallest name among equals),
    /// or `None` when nothing was added. O(hosts sharing the top estimate).
    pub fn top(&self) -> Option<Leader> {
        if self.max == NIL {
            return None;
        }
        let bucket = self.buckets[self.max as usize];
        let (mut best, mut id, mut tied) = (bucket.head, bucket.head, 0u64);
        loop {
            id = self.counters[id as usize].next;
            if id == NIL {
                break;
            }
            tied += 1;
            if self.key(id) < self.key(best) {
                best = id;
            }
        }
        Some(Leader {
            host: String::from_utf8_lossy(self.key(best)).into_owned(),
            count: bucket.count,
            error: self.counters[best as usize].error,
            tied,
        })
    }

    /// Folds `other` into this summary (mergeable summaries, see the module
    /// documentation).
    ///
    /// For every host tracked on either side, its new count (error) is the sum
    /// over both sides of its count (error) there, or, where it is untracked,
    /// of that side's [`Self::untracked_bound`]; then the `k` largest counts
    /// are kept, ties going to the smallest host bytes. The result depends
    /// only on the two summaries, not on which one is `self`.
    ///
    /// Why the guarantees survive, with `N = N1 + N2`:
    /// - each side contributes at least the host's true count there, and
    ///   `count - error` is at most it, so the merged estimate overcounts by
    ///   at most its error;
    /// - a side contributes either its error or its bound, both at most
    ///   `Ni / k`, so every error is at most `N / k`;
    /// - on each side, the kept `k` hosts add up to at most `Ni` (swapping a
    ///   counter for a bound never increases the sum, since the bound is the
    ///   smallest counter), so the kept counts add up to at most `N` and the
    ///   smallest, which bounds every dropped or never-seen host, is at most
    ///   `N / k`.
    ///
    /// # Panics
    ///
    /// If the two summaries have different `k` (the argument above needs both
    /// sides to keep as many counters as the result).
    pub fn merge(&mut self, other: SpaceSaving) {
        assert_eq!(
            self.k, other.k,
            "merging Space-Saving summaries of different k"
        );
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other;
            return;
        }
        let merged = merge_counters(self, &other, self.k);
        let total = self.total + other.total;
        let out = SpaceSaving::build(self.k, total, merged.len(), merged.iter().copied());
        *self = out;
    }

    /// A summary of `k` counters over `total` items holding `entries`
    /// (host, hash, count, error), which must be distinct hosts sorted by
    /// ascending count, equal counts by ascending host, at most `k` of them.
    fn build<'h>(
        k: usize,
        total: u64,
        len: usize,
        entries: impl Iterator<Item = (&'h [u8], u64, u64, u64)> + Clone,
    ) -> SpaceSaving {
        let mut out = SpaceSaving::new(k);
        out.total = total;
        out.counters.reserve_exact(len);
        out.buckets.reserve_exact(len);
        out.table
            .reserve(len, |_| unreachable!("the table is empty"));
        let long: usize = entries
            .clone()
            .map(|e| e.0.len())
            .filter(|&n| n > INLINE)
            .sum();
        if long > 0 {
            out.arena = Vec::with_capacity((2 * long).max(MIN_ARENA));
        }
        for (host, hash, count, error) in entries {
            let id = out.counters.len() as u32;
            let key = out.store_key(host, pad(host));
            out.counters.push(Counter {
                hash,
                error,
                key,
                key_len: key_len(host),
                bucket: NIL,
                prev: NIL,
                next: NIL,
            });
            let b = if out.max != NIL && out.buckets[out.max as usize].count == count {
                out.max
            } else {
                out.new_bucket(count, out.max, NIL)
            };
            out.attach(id, b);
            let counters = &out.counters;
            out.table
                .insert_unique(hash, id, |&i| counters[i as usize].hash);
        }
        out
    }

    /// The summary of `k` counters over `total` items whose counters are
    /// `counters` (host, estimate, error), as [`Tracked::sorted_counters`]
    /// gave them: the inverse of writing a summary into a partial.
    ///
    /// # Errors
    ///
    /// Counters that no summary could hold: more than `k`, out of order or
    /// repeated, an error above its estimate, a zero estimate, or estimates
    /// adding up to more than `total` allows.
    pub(crate) fn from_parts(
        k: usize,
        total: u64,
        counters: &[(&[u8], u64, u64)],
    ) -> Result<SpaceSaving, String> {
        check_parts(k, total, counters, false, "items")?;
        let entries = counters
            .iter()
            .map(|&(host, count, error)| (host, hash_host(host), count, error));
        Ok(SpaceSaving::build(k, total, counters.len(), entries))
    }

    /// Heap bytes in use now: counters, buckets, table and key arena
    /// (allocated capacity, not just length).
    #[cfg(test)]
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.counters.capacity() * std::mem::size_of::<Counter>()
            + self.buckets.capacity() * std::mem::size_of::<Bucket>()
            + table_bytes(self.table.capacity())
            + self.arena.capacity()
    }

    /// An upper estimate of the peak heap bytes of one summary with `k`
    /// counters over hosts of `avg_host_len` bytes on average, for sizing `k`
    /// from a memory budget.
    ///
    /// It counts the fixed part (counters, buckets, table: about 90 bytes a
    /// counter) and four times the key bytes: the arena holds up to twice the
    /// live keys, and a compaction briefly holds the old arena beside the new
    /// one. A [`Self::merge`] briefly holds both inputs and the result, so a
    /// caller merging should budget for three.
    pub(crate) fn bytes_for(k: usize, avg_host_len: usize) -> usize {
        std::mem::size_of::<Self>()
            + k * (std::mem::size_of::<Counter>() + std::mem::size_of::<Bucket>())
            + table_bytes(k)
            + 4 * (k * avg_host_len).max(MIN_ARENA)
            + 2 * avg_host_len
    }
}

/// What both summaries share: counters in a vector, indexed by a table of
/// their hosts' hashes, long hosts in an arena. Lookups, listing and the
/// merge are written once here; each summary supplies its eviction order's
/// view of a count.
pub(crate) trait Tracked {
    /// The summary's counter.
    type Counter: Keyed;

    /// The counters, by index.
    fn counters(&self) -> &[Self::Counter];
    /// Counter indices, filed by their hosts' hashes.
    fn table(&self) -> &HashTable<u32>;
    /// The bytes of hosts longer than [`INLINE`].
    fn arena(&self) -> &[u8];
    /// Counter `id`'s estimate.
    fn count_of(&self, id: u32) -> u64;
    /// The most an untracked host can have.
    fn floor(&self) -> u64;

    /// Counter `id`'s host.
    #[inline]
    fn key(&self, id: u32) -> &[u8] {
        host_of(&self.counters()[id as usize], self.arena())
    }

    /// Counter `id`'s error.
    #[inline]
    fn error_of(&self, id: u32) -> u64 {
        self.counters()[id as usize].error()
    }

    /// The counter of `host`, whose hash is `hash`, if it is tracked.
    fn find(&self, host: &[u8], hash: u64) -> Option<u32> {
        self.find_padded(host, &pad(host), hash)
    }

    /// The counter of `host`, whose [`pad`] is `padded`.
    #[inline]
    fn find_padded(&self, host: &[u8], padded: &[u8; INLINE], hash: u64) -> Option<u32> {
        find_host(
            self.table(),
            self.counters(),
            self.arena(),
            host,
            padded,
            hash,
        )
    }

    /// The estimate and error of `host` (case folded) if it is tracked.
    #[cfg(test)]
    fn estimate(&self, host: &[u8]) -> Option<(u64, u64)> {
        self.find(host, hash_host(host))
            .map(|id| (self.count_of(id), self.error_of(id)))
    }

    /// Every tracked host with its estimate and error, by ascending
    /// estimate, equal estimates by ascending host: the order a partial
    /// writes and `from_parts` reads.
    fn sorted_counters(&self) -> Vec<(&[u8], u64, u64)> {
        let mut v: Vec<(&[u8], u64, u64)> = self.iter().collect();
        v.sort_unstable_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    /// Every tracked host with its estimate and error, in no particular
    /// order.
    fn iter(&self) -> impl Iterator<Item = (&[u8], u64, u64)> + '_ {
        (0..self.counters().len() as u32)
            .map(|id| (self.key(id), self.count_of(id), self.error_of(id)))
    }
}

impl Tracked for SpaceSaving {
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
        self.buckets[self.counters[id as usize].bucket as usize].count
    }
    fn floor(&self) -> u64 {
        self.untracked_bound()
    }
}

/// The counters (host, hash, estimate, error) of `a` and `b` merged by the
/// mergeable-summaries rule (see [`SpaceSaving::merge`]): for every host
/// tracked on either side, the sums over both sides of its estimate (error)
/// there, or where it is untracked of that side's floor; the `k` largest,
/// ascending as [`keep_largest`] leaves them. Sums saturate: no summary
/// whose totals add up in 64 bits reaches the bound.
pub(super) fn merge_counters<'s, S: Tracked>(
    a: &'s S,
    b: &'s S,
    k: usize,
) -> Vec<(&'s [u8], u64, u64, u64)> {
    let (floor_a, floor_b) = (a.floor(), b.floor());
    let mut merged = Vec::with_capacity(a.counters().len() + b.counters().len());
    for id in 0..a.counters().len() as u32 {
        let (host, hash) = (a.key(id), a.counters()[id as usize].host_hash());
        let (count, error) = match b.find(host, hash) {
            Some(o) => (b.count_of(o), b.error_of(o)),
            None => (floor_b, floor_b),
        };
        merged.push((
            host,
            hash,
            a.count_of(id).saturating_add(count),
            a.error_of(id).saturating_add(error),
        ));
    }
    for id in 0..b.counters().len() as u32 {
        let (host, hash) = (b.key(id), b.counters()[id as usize].host_hash());
        if a.find(host, hash).is_none() {
            merged.push((
                host,
                hash,
                b.count_of(id).saturating_add(floor_a),
                b.error_of(id).saturating_add(floor_a),
            ));
        }
    }
    keep_largest(&mut merged, k, |e| e.2, |e| e.0);
    merged
}

/// Keeps the `k` entries of `merged` with the largest `count`, ties to the
/// smallest `host`, and sorts them by ascending count, equal counts by
/// ascending host: the counters a merge keeps, in the order it rebuilds them.
///
/// Equal counts go by host, not by which side a counter came from, so the
/// counter that is replaced first among equals is the same whichever side
/// was `self`.
pub(crate) fn keep_largest<'h, E>(
    merged: &mut Vec<E>,
    k: usize,
    count: impl Fn(&E) -> u64,
    host: impl Fn(&E) -> &'h [u8],
) {
    if merged.len() > k {
        merged.select_nth_unstable_by(k - 1, |a, b| {
            count(b).cmp(&count(a)).then_with(|| host(a).cmp(host(b)))
        });
        merged.truncate(k);
    }
    merged.sort_unstable_by(|a, b| count(a).cmp(&count(b)).then_with(|| host(a).cmp(host(b))));
}

/// Checks counters (host, estimate, error) read from a partial, which
/// another machine wrote, against what a summary of `k` counters over a
/// total of `total` could hold, before anything is allocated for them.
/// `zero_counts` allows an estimate of 0 (a weighted summary tracks hosts
/// whose lines weighed nothing); `unit` names what `total` counts, for the
/// messages.
///
/// # Errors
///
/// A `k` outside 1 to 2^32-2; more than `k` counters; counters out of order
/// or repeated; an error above its estimate; an estimate above `total`, or
/// of 0 unless allowed; or estimates adding up to more than `total` allows.
pub(super) fn check_parts(
    k: usize,
    total: u64,
    counters: &[(&[u8], u64, u64)],
    zero_counts: bool,
    unit: &str,
) -> Result<(), String> {
    if k == 0 || k >= NIL as usize {
        return Err(format!("{k} counters is outside 1 to 2^32-2"));
    }
    if counters.len() > k {
        return Err(format!("{} counters in a summary of {k}", counters.len()));
    }
    for pair in counters.windows(2) {
        if (pair[0].1, pair[0].0) >= (pair[1].1, pair[1].0) {
            return Err("counters out of order or repeated".into());
        }
    }
    let mut tracked = 0u64;
    for &(_, count, error) in counters {
        // No counter counts more than the whole total: so no merge of
        // summaries whose totals add up can overflow a count.
        if (count == 0 && !zero_counts) || error > count || count > total {
            return Err(format!(
                "a counter of {count} with error {error} in a summary of {total} {unit}"
            ));
        }
        // Each counter's true part (count - error) was counted once in
        // `total`; more than that is no summary's state.
        tracked = tracked
            .checked_add(count - error)
            .filter(|&t| t <= total)
            .ok_or_else(|| format!("counters add up to more than the {unit} counted"))?;
    }
    Ok(())
}

/// `host` zero padded to [`INLINE`] bytes when it fits, else zeros.
#[inline(always)]
pub(super) fn pad(host: &[u8]) -> [u8; INLINE] {
    let mut padded = [0; INLINE];
    if host.len() <= INLINE {
        let (a, b) = load_upto16(host);
        padded[..8].copy_from_slice(&a.to_le_bytes());
        padded[8..].copy_from_slice(&b.to_le_bytes());
    }
    padded
}

/// A host's length as a counter keeps it. Hosts come from log lines and
/// partials, both far below 4 GiB.
#[inline(always)]
pub(super) fn key_len(host: &[u8]) -> u32 {
    u32::try_from(host.len()).unwrap_or(u32::MAX)
}

/// A counter as both summaries keep one: its host's hash, and the host's
/// bytes zero padded in its key when they fit in [`INLINE`] bytes, else the
/// offset where an arena holds them, in the key's first eight bytes.
pub(crate) trait Keyed {
    /// `hash_host` of the host.
    fn host_hash(&self) -> u64;
    /// The padded bytes, or the arena offset.
    fn host_key(&self) -> &[u8; INLINE];
    /// The host's length.
    fn host_len(&self) -> u32;
    /// The most its estimate may exceed the host's true count.
    fn error(&self) -> u64;
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

/// Where counter `c`'s host starts in the arena, if it lives there.
#[inline(always)]
pub(super) fn arena_offset(c: &impl Keyed) -> Option<usize> {
    (c.host_len() as usize > INLINE).then(|| {
        let off = u64::from_le_bytes(c.host_key()[..8].try_into().expect("eight bytes"));
        off as usize
    })
}

/// Counter `c`'s host: in its key, or at its offset in `arena`.
#[inline]
pub(super) fn host_of<'a>(c: &'a impl Keyed, arena: &'a [u8]) -> &'a [u8] {
    let len = c.host_len() as usize;
    match arena_offset(c) {
        Some(off) => &arena[off..off + len],
        None => &c.host_key()[..len],
    }
}

/// The index in `counters` of the counter of `host` (whose [`pad`] is
/// `padded` and whose hash is `hash`) that `table` files: a host of at most
/// [`INLINE`] bytes is one 16-byte compare with its counter's key.
#[inline]
pub(super) fn find_host<C: Keyed>(
    table: &HashTable<u32>,
    counters: &[C],
    arena: &[u8],
    host: &[u8],
    padded: &[u8; INLINE],
    hash: u64,
) -> Option<u32> {
    let len = key_len(host);
    table
        .find(hash, |&id| {
            let c = &counters[id as usize];
            c.host_hash() == hash
                && c.host_len() == len
                && match arena_offset(c) {
                    None => c.host_key() == padded,
                    Some(off) => &arena[off..off + host.len()] == host,
                }
        })
        .copied()
}

/// Makes room for one more element, doubling but never past `k` elements
/// (neither counters nor live buckets ever outnumber the `k` counters).
#[inline]
pub(super) fn reserve_up_to<T>(v: &mut Vec<T>, k: usize) {
    if v.len() == v.capacity() {
        let room = k.saturating_sub(v.len()).max(1);
        v.reserve_exact(v.capacity().max(8).min(room));
    }
}

/// Heap bytes of a `hashbrown` table of `u32` sized for `items`: a power of
/// two of buckets at most 7/8 full, four bytes and one control byte each,
/// plus a group of trailing control bytes.
pub(super) fn table_bytes(items: usize) -> usize {
    if items == 0 {
        return 0;
    }
    let buckets = if items < 8 {
        if items < 4 {
            4
        } else {
            8
        }
    } else {
        (items * 8 / 7).next_power_of_two()
    };
    buckets * (std::mem::size_of::<u32>() + 1) + 16
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Exact counts of a stream.
    fn exact<'a>(stream: impl IntoIterator<Item = &'a [u8]>) -> HashMap<Vec<u8>, u64> {
        let mut m = HashMap::new();
        for h in stream {
            *m.entry(h.to_vec()).or_insert(0) += 1;
        }
        m
    }

    /// A skewed stream: host `j` has probability about `1 / (j (j + 1))`,
    /// a Zipf-like law with a long tail of rare hosts.
    fn zipfish(values: &[u32], scale: u32) -> Vec<Vec<u8>> {
        values
            .iter()
            .map(|&v| format!("host-{}.example.com", scale / v.max(1)).into_bytes())
            .collect()
    }

    /// A deterministic pseudo-random sequence (xorshift), for tests that need
    /// volume rather than shrinking.
    fn pseudo_random(n: usize, mut seed: u64, below: u32) -> Vec<u32> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % u64::from(below)) as u32 + 1
            })
            .collect()
    }

    /// Checks the documented guarantees of `ss` against the exact counts of
    /// the `n` items it summarises.
    fn check_guarantees(ss: &SpaceSaving, truth: &HashMap<Vec<u8>, u64>, n: u64) {
        let k = ss.k() as u64;
        assert_eq!(ss.total(), n);
        assert!(ss.len() <= ss.k());
        let bound = n / k;
        assert_eq!(ss.error_bound(), bound);
        let mut sum = 0;
        let mut tracked = HashMap::new();
        for (host, count, error) in ss.iter() {
            let t = truth.get(host).copied().unwrap_or(0);
            assert!(count >= t, "{host:?}: estimate {count} < true {t}");
            assert!(count - error <= t, "{host:?}: {count} - {error} > true {t}");
            assert!(error <= bound, "{host:?}: error {error} > N/k = {bound}");
            assert!(
                tracked.insert(host.to_vec(), count).is_none(),
                "tracked twice"
            );
            sum += count;
        }
        assert!(sum <= n, "counts add up to {sum} > {n}");
        assert!(ss.untracked_bound() <= bound);
        for (host, &t) in truth {
            if t * k > n {
                assert!(
                    tracked.contains_key(host),
                    "{host:?} ({t} of {n}) not tracked"
                );
            }
            if !tracked.contains_key(host) {
                assert!(t <= ss.untracked_bound(), "{host:?} untracked with {t}");
            }
        }
        // The leader is the largest estimate, ties to the smallest host.
        match ss.top() {
            None => assert_eq!(n, 0),
            Some(l) => {
                let top = tracked.values().copied().max().unwrap();
                let mut at_top: Vec<&Vec<u8>> = tracked
                    .iter()
                    .filter(|(_, &c)| c == top)
                    .map(|(h, _)| h)
                    .collect();
                at_top.sort();
                assert_eq!(l.count, top);
                assert_eq!(l.host.as_bytes(), at_top[0].as_slice());
                assert_eq!(l.tied, at_top.len() as u64 - 1);
                assert_eq!(ss.estimate(at_top[0]), Some((l.count, l.error)));
            }
        }
    }

    /// (host, count, error) sorted, for comparing summaries.
    fn state(ss: &SpaceSaving) -> Vec<(Vec<u8>, u64, u64)> {
        let mut v: Vec<_> = ss.iter().map(|(h, c, e)| (h.to_vec(), c, e)).collect();
        v.sort();
        v
    }

    fn summary<'a>(k: usize, stream: impl IntoIterator<Item = &'a [u8]>) -> SpaceSaving {
        let mut ss = SpaceSaving::new(k);
        for h in stream {
            ss.add(h);
        }
        ss
    }

    #[test]
    fn exact_while_the_counters_suffice() {
        let ss = summary(4, ["b", "a", "c", "b", "a", "d"].map(str::as_bytes));
        assert_eq!(
            state(&ss),
            vec![
                (b"a".to_vec(), 2, 0),
                (b"b".to_vec(), 2, 0),
                (b"c".to_vec(), 1, 0),
                (b"d".to_vec(), 1, 0)
            ]
        );
        assert_eq!(ss.untracked_bound(), 1);
        assert_eq!(
            ss.top(),
            Some(Leader {
                host: "a".into(),
                count: 2,
                error: 0,
                tied: 1
            })
        );
        assert_eq!(SpaceSaving::new(3).top(), None);
        assert!(SpaceSaving::new(3).is_empty());
        assert_eq!(summary(3, [b"x".as_slice()]).untracked_bound(), 0);
    }

    #[test]
    fn an_untracked_host_takes_over_the_oldest_smallest_counter() {
        // b and c both have count 1; b is older, so d replaces b.
        let mut ss = summary(3, ["a", "a", "b", "c"].map(str::as_bytes));
        ss.add(b"d");
        assert_eq!(
            state(&ss),
            vec![
                (b"a".to_vec(), 2, 0),
                (b"c".to_vec(), 1, 0),
                (b"d".to_vec(), 2, 1)
            ]
        );
        assert_eq!(ss.estimate(b"b"), None);
        let top = ss.top().unwrap();
        assert_eq!(
            (top.host.as_str(), top.count, top.error, top.tied),
            ("a", 2, 0, 1)
        );
        // One counter: every host lands in it.
        let one = summary(1, ["a", "b", "b", "c"].map(str::as_bytes));
        assert_eq!(state(&one), vec![(b"c".to_vec(), 4, 3)]);
    }

    #[test]
    fn guarantees_hold_on_a_long_skewed_stream() {
        let stream = zipfish(&pseudo_random(200_000, 7, 1_000_000), 1_000_000);
        let truth = exact(stream.iter().map(Vec::as_slice));
        for k in [1, 16, 256] {
            let ss = summary(k, stream.iter().map(Vec::as_slice));
            check_guarantees(&ss, &truth, stream.len() as u64);
        }
        // The top host of a Zipf stream is found, with a count close to true.
        let ss = summary(256, stream.iter().map(Vec::as_slice));
        let top = ss.top().unwrap();
        assert_eq!(top.host, "host-1.example.com");
        let t = truth[top.host.as_bytes()];
        assert!(top.count - t <= top.error && top.error <= ss.error_bound());
    }

    #[test]
    fn merge_is_symmetric_and_keeps_the_guarantees() {
        let stream = zipfish(&pseudo_random(50_000, 11, 100_000), 100_000);
        let truth = exact(stream.iter().map(Vec::as_slice));
        let (left, right) = stream.split_at(20_000);
        let a = summary(64, left.iter().map(Vec::as_slice));
        let b = summary(64, right.iter().map(Vec::as_slice));
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(state(&ab), state(&ba));
        assert_eq!(ab.top(), ba.top());
        check_guarantees(&ab, &truth, stream.len() as u64);
        // The merged summary keeps working as a summary.
        let mut more = ab.clone();
        for h in &stream {
            more.add(h);
        }
        let twice = exact(stream.iter().chain(&stream).map(Vec::as_slice));
        check_guarantees(&more, &twice, 2 * stream.len() as u64);
    }

    #[test]
    fn merging_summaries_that_never_filled_is_exact() {
        let a = summary(8, ["a", "b", "a"].map(str::as_bytes));
        let b = summary(8, ["b", "c"].map(str::as_bytes));
        let mut m = a.clone();
        m.merge(b);
        assert_eq!(
            state(&m),
            vec![
                (b"a".to_vec(), 2, 0),
                (b"b".to_vec(), 2, 0),
                (b"c".to_vec(), 1, 0)
            ]
        );
        let mut e = SpaceSaving::new(8);
        e.merge(a.clone());
        assert_eq!(state(&e), state(&a));
        let mut a2 = a.clone();
        a2.merge(SpaceSaving::new(8));
        assert_eq!(state(&a2), state(&a));
        assert_eq!(a2.total(), 3);
    }

    #[test]
    fn merge_adds_the_other_sides_floor_to_missing_hosts() {
        // Side one is full with floor 1; side two is full with floor 2.
        let one = summary(2, ["a", "a", "a", "b"].map(str::as_bytes));
        let two = summary(2, ["c", "c", "c", "a", "a"].map(str::as_bytes));
        assert_eq!((one.untracked_bound(), two.untracked_bound()), (1, 2));
        let mut m = one;
        m.merge(two);
        // a: 3 + 2; c: 3 + floor 1 (error 1); b: 1 + floor 2 (error 2), dropped.
        assert_eq!(
            state(&m),
            vec![(b"a".to_vec(), 5, 0), (b"c".to_vec(), 4, 1)]
        );
        assert_eq!(m.total(), 9);
    }

    #[test]
    #[should_panic(expected = "different k")]
    fn merging_different_k_panics() {
        let mut a = summary(2, [b"a".as_slice()]);
        a.merge(summary(3, [b"a".as_slice()]));
    }

    #[test]
    fn long_and_unicode_hosts_round_trip() {
        let long = "x".repeat(70_000);
        let mut ss = SpaceSaving::new(2);
        for h in [long.as_str(), "zoë", long.as_str(), "a", "a", "a"] {
            ss.add(h.as_bytes());
        }
        assert_eq!(ss.top().unwrap().host, "a");
        assert_eq!(ss.estimate(long.as_bytes()), Some((2, 0)));
    }

    #[test]
    fn memory_stays_bounded_through_many_replacements() {
        // Hosts of 21 bytes live in the arena, which compacts as they are
        // replaced; those of 11 bytes live in their counters.
        for width in [20, 10] {
            let k = 512;
            let len = width + 1;
            let mut ss = SpaceSaving::new(k);
            for i in 0..200_000u32 {
                ss.add(format!("h{:0width$}", i % 100_003).as_bytes());
            }
            assert_eq!(ss.len(), k);
            let arena = if len > INLINE { 2 * (k * len + len) } else { 0 };
            assert!(
                ss.arena.capacity() <= arena,
                "arena {}",
                ss.arena.capacity()
            );
            assert!(ss.memory_bytes() <= SpaceSaving::bytes_for(k, len));
            // Keys survived the compactions.
            let truth_tail = format!("h{:0width$}", (200_000 - 1) % 100_003);
            assert!(ss.estimate(truth_tail.as_bytes()).is_some());
            let mut seen = std::collections::HashSet::new();
            for (h, _, _) in ss.iter() {
                assert!(h.starts_with(b"h") && h.len() == len, "{h:?}");
                assert!(seen.insert(h.to_vec()));
            }
        }
        assert!(SpaceSaving::bytes_for(4096, 12) < 600 * 1024);
    }

    #[test]
    fn a_window_with_few_hosts_stays_small() {
        let mut ss = SpaceSaving::new(65_536);
        for h in ["a", "b", "a", "c"] {
            ss.add(h.as_bytes());
        }
        assert!(ss.memory_bytes() < 4096, "{}", ss.memory_bytes());
        // Growth stops at k.
        let mut ss = SpaceSaving::new(100);
        for i in 0..1_000 {
            ss.add(format!("h{i}").as_bytes());
        }
        assert_eq!(ss.counters.capacity(), 100);
        assert!(ss.buckets.capacity() <= 100);
    }

    /// The industrial reference: Apache DataSketches' frequent-items sketch
    /// with about as many counters finds the same leader, and both stay
    /// within their stated error of the true count.
    #[test]
    fn agrees_with_datasketches_on_the_leader() {
        use datasketches::frequencies::FrequentItemsSketch;
        let stream = zipfish(&pseudo_random(100_000, 3, 1_000_000), 1_000_000);
        let truth = exact(stream.iter().map(Vec::as_slice));
        let ss = summary(768, stream.iter().map(Vec::as_slice));
        // Map size 1024 holds 0.75 * 1024 = 768 counters.
        let mut ds = FrequentItemsSketch::<&[u8]>::new(1024).unwrap();
        for h in &stream {
            ds.update(h.as_slice());
        }
        let top = ss.top().unwrap();
        let ds_top = truth
            .keys()
            .max_by_key(|h| (ds.estimate(&h.as_slice()), std::cmp::Reverse(*h)))
            .unwrap();
        assert_eq!(top.host.as_bytes(), ds_top.as_slice());
        let t = truth[ds_top];
        assert!(ds.lower_bound(&ds_top.as_slice()) <= t && t <= ds.upper_bound(&ds_top.as_slice()));
        assert!(top.count >= t && top.count - t <= top.error);
    }

    /// A naive Space-Saving: a plain vector, the victim found by scanning.
    /// Counters remember when they reached their count (`seq`), which is the
    /// order of the real structure's bucket lists.
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

        fn add(&mut self, host: &[u8], seq: &mut u64) {
            *seq += 1;
            self.total += 1;
            if let Some(c) = self.counters.iter_mut().find(|c| c.0 == host) {
                c.1 += 1;
                c.3 = *seq;
            } else if self.counters.len() < self.k {
                self.counters.push((host.to_vec(), 1, 0, *seq));
            } else {
                let v = (0..self.k)
                    .min_by_key(|&i| (self.counters[i].1, self.counters[i].3))
                    .unwrap();
                let m = self.counters[v].1;
                self.counters[v] = (host.to_vec(), m + 1, m, *seq);
            }
        }

        fn merge(&mut self, other: Model, seq: &mut u64) {
            if other.total == 0 {
                return;
            }
            if self.total == 0 {
                *self = other;
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
                all.push((c.0.clone(), c.1 + oc, c.2 + oe));
            }
            for o in &other.counters {
                if !self.counters.iter().any(|c| c.0 == o.0) {
                    all.push((o.0.clone(), o.1 + f1, o.2 + f1));
                }
            }
            all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            all.truncate(self.k);
            all.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            self.total += other.total;
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
        Add(usize, u8),
        Merge(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..3usize, 0..40u8).prop_map(|(s, h)| Op::Add(s, h)),
            1 => (0..3usize, 0..3usize).prop_map(|(a, b)| Op::Merge(a, b)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The structure behaves exactly like the naive model, through adds
        /// and merges, on a skewed pool of hosts.
        #[test]
        fn matches_the_naive_model(k in 1usize..6, ops in prop::collection::vec(op(), 0..300)) {
            // Even ranks are long enough to live in the arena, odd ones
            // in their counters.
            let host = |h: u8| {
                let rank = 40 / (h as u32 + 1);
                let tail = if rank % 2 == 0 { ".a-long-name.example" } else { "" };
                format!("h{rank}{tail}").into_bytes()
            };
            let mut real: Vec<SpaceSaving> = (0..3).map(|_| SpaceSaving::new(k)).collect();
            let mut model: Vec<Model> = (0..3).map(|_| Model::new(k)).collect();
            let mut seq = 0;
            for op in ops {
                match op {
                    Op::Add(s, h) => {
                        real[s].add(&host(h));
                        model[s].add(&host(h), &mut seq);
                    }
                    Op::Merge(a, b) if a != b => {
                        let other = std::mem::replace(&mut real[b], SpaceSaving::new(k));
                        real[a].merge(other);
                        let other = std::mem::replace(&mut model[b], Model::new(k));
                        model[a].merge(other, &mut seq);
                    }
                    Op::Merge(..) => {}
                }
                for (r, m) in real.iter().zip(&model) {
                    prop_assert_eq!(state(r), m.state());
                    prop_assert_eq!(r.total(), m.total);
                }
            }
        }

        /// The guarantees hold on random skewed streams, for one summary and
        /// for summaries of a random split merged in a random order.
        #[test]
        fn guarantees_hold_after_merging_random_splits(
            k in 1usize..40,
            values in prop::collection::vec(1u32..5_000, 1..3_000),
            parts in prop::collection::vec(0usize..4, 3_000),
            order in Just([0usize, 1, 2, 3]).prop_shuffle(),
        ) {
            let stream = zipfish(&values, 5_000);
            let truth = exact(stream.iter().map(Vec::as_slice));
            let n = stream.len() as u64;
            check_guarantees(&summary(k, stream.iter().map(Vec::as_slice)), &truth, n);

            let mut split: Vec<SpaceSaving> = (0..4).map(|_| SpaceSaving::new(k)).collect();
            for (h, &p) in stream.iter().zip(&parts) {
                split[p].add(h);
            }
            let mut merged = SpaceSaving::new(k);
            for &i in &order {
                merged.merge(std::mem::replace(&mut split[i], SpaceSaving::new(k)));
            }
            check_guarantees(&merged, &truth, n);
        }
    }
}
