//! Compact hash tables keyed by case-folded host names.
//!
//! Exact mode keeps one table per hour and per query, and a multi-gigabyte log
//! has tens of millions of (hour, host) pairs, so the layout decides both
//! memory and speed. A host of up to 15 bytes (most names, every IPv4 address)
//! lives inline in its table entry: case-folded eight bytes at a time, hashed
//! with one multiply, compared as two words, with no pointer to chase. Longer
//! hosts go to an arena shared by the table, and the entry keeps their offset
//! and hash. Counts are `u32` (an entry is 20 bytes), and the rare host that
//! passes 2^32 in one window carries the excess in a side table, so counts stay
//! exact.
//!
//! Hashing uses fixed seeds so that tables built on different threads agree and
//! a run is reproducible.

use ahash::AHashMap;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
#[cfg(target_os = "linux")]
use memmap2::Advice;
use memmap2::MmapMut;

use super::rank::{rank, Counted};
use crate::hash::{folded_multiply, load_upto16};
use crate::parse::{fold_case_into, fold_word};
use crate::report::Busiest;

const SEED0: u64 = 0x243f_6a88_85a3_08d3;
const SEED1: u64 = 0x1319_8a2e_0370_7344;

/// The longest host stored inline.
const INLINE_MAX: usize = 15;
/// Byte 15 of a key: the inline length (0 to 15), or this for an arena key.
const LONG: u8 = 0xff;

/// A case-folded host as a table key.
///
/// Inline: the bytes, zero padded, with the length in byte 15. Long: the arena
/// offset in bytes 0..8, 56 bits of the hash in bytes 8..15, [`LONG`] in byte 15.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key([u8; 16]);

impl Key {
    #[inline(always)]
    fn from_words(w0: u64, w1: u64) -> Key {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&w0.to_le_bytes());
        k[8..].copy_from_slice(&w1.to_le_bytes());
        Key(k)
    }

    #[inline(always)]
    fn words(&self) -> (u64, u64) {
        let (a, b) = self.0.split_at(8);
        (
            u64::from_le_bytes(a.try_into().expect("eight bytes")),
            u64::from_le_bytes(b.try_into().expect("eight bytes")),
        )
    }

    #[inline(always)]
    fn is_long(&self) -> bool {
        self.0[15] == LONG
    }

    /// The hash the table files this key under.
    #[inline(always)]
    fn table_hash(&self) -> u64 {
        let (w0, w1) = self.words();
        if self.is_long() {
            // Only the 56 stored bits are known without the arena; mixing them
            // again spreads them over all 64 bits, which hashbrown needs.
            folded_multiply(w1 & 0x00ff_ffff_ffff_ffff, SEED1)
        } else {
            folded_multiply(w0 ^ SEED0, w1 ^ SEED1)
        }
    }

    /// The host's case-folded bytes.
    fn bytes<'a>(&'a self, arena: &'a [u8]) -> &'a [u8] {
        if self.is_long() {
            let (off, _) = self.words();
            key_at(arena, off)
        } else {
            &self.0[..usize::from(self.0[15])]
        }
    }
}

/// The inline key of a host of at most [`INLINE_MAX`] bytes, case folded.
#[inline(always)]
fn inline_key(host: &[u8]) -> Key {
    let n = host.len();
    let (w0, w1) = load_upto16(host);
    Key::from_words(fold_word(w0), fold_word(w1) | ((n as u64) << 56))
}

/// A table from case-folded host to a small copyable value.
struct HostTable<V> {
    table: HashTable<(Key, V)>,
    /// Bytes of the hosts longer than [`INLINE_MAX`].
    arena: Vec<u8>,
    long_hasher: ahash::RandomState,
    /// Reused buffer for the case-folded form of a long host.
    scratch: Vec<u8>,
}

impl<V: Copy> HostTable<V> {
    fn new() -> Self {
        HostTable {
            table: HashTable::new(),
            arena: Vec::new(),
            long_hasher: ahash::RandomState::with_seeds(SEED0, SEED1, !SEED0, !SEED1),
            scratch: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    /// Stores `new` for `host` (case folded here) if it is absent, else calls
    /// `existing` on its value.
    #[inline(always)]
    fn upsert_raw(&mut self, host: &[u8], new: V, existing: impl FnOnce(&mut V)) {
        if host.len() <= INLINE_MAX {
            self.upsert_inline(inline_key(host), new, existing);
        } else {
            let mut scratch = std::mem::take(&mut self.scratch);
            self.upsert_long(fold_case_into(host, &mut scratch), new, existing);
            self.scratch = scratch;
        }
    }

    #[inline(always)]
    fn upsert_inline(&mut self, key: Key, new: V, existing: impl FnOnce(&mut V)) {
        match self.table.entry(
            key.table_hash(),
            |(k, _)| *k == key,
            |(k, _)| k.table_hash(),
        ) {
            Entry::Occupied(mut e) => existing(&mut e.get_mut().1),
            Entry::Vacant(e) => {
                e.insert((key, new));
            }
        }
    }

    fn upsert_long(&mut self, host: &[u8], new: V, existing: impl FnOnce(&mut V)) {
        let hash_bits = self.long_hasher.hash_one(host) & 0x00ff_ffff_ffff_ffff;
        let probe = Key::from_words(0, hash_bits | (u64::from(LONG) << 56));
        let arena = &self.arena;
        match self.table.entry(
            probe.table_hash(),
            |(k, _)| k.0[8..] == probe.0[8..] && k.bytes(arena) == host,
            |(k, _)| k.table_hash(),
        ) {
            Entry::Occupied(mut e) => existing(&mut e.get_mut().1),
            Entry::Vacant(e) => {
                let off = self.arena.len() as u64;
                push_key(&mut self.arena, host);
                e.insert((Key::from_words(off, probe.words().1), new));
            }
        }
    }

    /// Adds every entry of `other`, combining the values of hosts in both.
    fn merge(&mut self, mut other: Self, mut combine: impl FnMut(&[u8], &mut V, V)) {
        // Moving the smaller table into the larger one is the cheaper direction.
        if other.len() > self.len() {
            std::mem::swap(self, &mut other);
        }
        self.table.reserve(other.len(), |(k, _)| k.table_hash());
        for (key, v) in &other.table {
            let host = key.bytes(&other.arena);
            if key.is_long() {
                self.upsert_long(host, *v, |mine| combine(host, mine, *v));
            } else {
                self.upsert_inline(*key, *v, |mine| combine(host, mine, *v));
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], V)> + '_ {
        self.table.iter().map(|(k, v)| (k.bytes(&self.arena), *v))
    }
}

fn push_key(arena: &mut Vec<u8>, key: &[u8]) {
    let mut len = key.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            arena.push(byte);
            break;
        }
        arena.push(byte | 0x80);
    }
    arena.extend_from_slice(key);
}

fn key_at(arena: &[u8], off: u64) -> &[u8] {
    let mut pos = off as usize;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let byte = arena[pos];
        pos += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    &arena[pos..pos + len]
}

/// Hosts as valid UTF-8 strings, sorted ascending by bytes.
fn sorted_strings<'a>(hosts: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    let mut v: Vec<&[u8]> = hosts.collect();
    v.sort_unstable();
    // The parser rejects lines whose hosts are not UTF-8, so this is lossless.
    v.into_iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect()
}

/// The distinct hosts of one list query in one window.
pub(crate) struct HostSet(HostTable<()>);

impl HostSet {
    /// An empty set.
    pub fn new() -> Self {
        HostSet(HostTable::new())
    }

    /// Adds `host` (case folded here).
    #[inline]
    pub fn insert(&mut self, host: &[u8]) {
        self.0.upsert_raw(host, (), |_| {});
    }

    /// Adds every host of `other`.
    pub fn merge(&mut self, other: HostSet) {
        self.0.merge(other.0, |_, _, _| {});
    }

    /// The number of distinct hosts.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The hosts, sorted ascending by bytes.
    pub fn into_sorted(self) -> Vec<String> {
        sorted_strings(self.0.iter().map(|(h, ())| h))
    }

    /// The hosts as bytes, sorted ascending: a partial's canonical order.
    pub(crate) fn sorted_bytes(&self) -> Vec<&[u8]> {
        let mut v: Vec<&[u8]> = self.0.iter().map(|(h, ())| h).collect();
        v.sort_unstable();
        v
    }
}

impl Default for HostSet {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts keyed by inline hosts, in a table built for the per-line insert.
///
/// A window's counter can hold hundreds of thousands of hosts, so nearly every
/// insert is a cache miss; one miss at a time, that latency is the whole cost
/// of counting. Here an insert first prefetches its slot and waits in a short
/// queue while the next lines are parsed, so [`PIPELINE`] misses are in flight
/// at once. Open addressing with linear probing keeps key and count in one
/// slot (one miss, where a control-byte table takes two). The all-zero key is
/// the empty slot: it is the inline key of the empty host, which the parser
/// never yields and [`HostCounter`] stores elsewhere.
struct InlineCounts {
    slots: Slots,
    /// 64 minus log2 of the slot count: a key's home slot is the top bits
    /// of its hash, so slot order follows hash order at every table size.
    shift: u32,
    /// Occupied slots.
    len: usize,
    /// Inserts waiting for their prefetched slot, oldest first.
    queue: [(Key, u64); PIPELINE],
    queued: usize,
    head: usize,
    /// Slots looked at by inserts and moves: tests bound it to prove that
    /// no operation degrades to quadratic work without timing anything.
    #[cfg(test)]
    probes: std::cell::Cell<u64>,
}

/// Inserts in flight: enough to overlap the misses of a memory-bound insert.
/// On a warm table of 2^20 slots, 8 took 24.7 ns an insert, 16 took 20.7 ns,
/// and 24 or 32 were no faster (docs/benchmarks.md).
const PIPELINE: usize = 16;
/// A probe run this long grows a table that is at least 3/8 full.
///
/// Keys that come in hash order (another table's slots, a partial's list)
/// home by the same top bits here, so they arrive as a sweep over this
/// table. Where the sweep brings more keys than a region has slots, before
/// the load alone would grow the table, one run lengthens with every insert:
/// quadratic work. At the load this table keeps, a run this long is rare by
/// chance, and doubling halves the sweep's density. The 3/8 floor stops
/// hosts chosen to collide from growing the table past twice its keys'
/// worth: growing cannot shorten their run.
const LONG_RUN: usize = 128;
const EMPTY: Key = Key([0; 16]);
const EMPTY_SLOT: Slot = Slot {
    key: EMPTY,
    count: 0,
};

/// `repr(C)`: all-zero bytes, as a fresh map holds, are the empty slot.
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    key: Key,
    count: u32,
}

impl InlineCounts {
    fn new() -> Self {
        InlineCounts {
            slots: Slots::default(),
            shift: 63,
            len: 0,
            queue: [(EMPTY, 0); PIPELINE],
            queued: 0,
            head: 0,
            #[cfg(test)]
            probes: std::cell::Cell::new(0),
        }
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        // The top bits: folded multiplies mix the high half best, and slots
        // in hash order make a canonical order cheap (see `by_hash`).
        (hash >> self.shift) as usize
    }

    /// Queues `key` to be counted once, calling `wrapped` with it at the
    /// moment its count passes 2^32 (possibly during a later call).
    #[inline(always)]
    fn add(&mut self, key: Key, wrapped: impl FnMut(Key)) {
        let hash = key.table_hash();
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(hash)]);
        }
        if self.queued == PIPELINE {
            let (old, old_hash) = self.queue[self.head];
            self.queue[self.head] = (key, hash);
            self.head = (self.head + 1) % PIPELINE;
            self.insert(old, old_hash, 1, wrapped);
        } else {
            self.queue[(self.head + self.queued) % PIPELINE] = (key, hash);
            self.queued += 1;
        }
    }

    /// Counts every queued key.
    fn flush(&mut self, mut wrapped: impl FnMut(Key)) {
        while self.queued > 0 {
            let (key, hash) = self.queue[self.head];
            self.head = (self.head + 1) % PIPELINE;
            self.queued -= 1;
            self.insert(key, hash, 1, &mut wrapped);
        }
    }

    /// Adds `n` to `key`'s count.
    #[inline(always)]
    fn insert(&mut self, key: Key, hash: u64, n: u32, mut wrapped: impl FnMut(Key)) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.mask();
        let home = self.home(hash);
        let mut i = home;
        loop {
            #[cfg(test)]
            self.probes.set(self.probes.get() + 1);
            let slot = &mut self.slots[i];
            if slot.key == key {
                let (sum, w) = slot.count.overflowing_add(n);
                slot.count = sum;
                if w {
                    wrapped(key);
                }
                return;
            }
            if slot.key == EMPTY {
                *slot = Slot { key, count: n };
                self.len += 1;
                if (i.wrapping_sub(home) & mask) > LONG_RUN && self.len * 8 >= self.slots.len() * 3
                {
                    self.grow();
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    #[cold]
    fn grow(&mut self) {
        self.resize((self.slots.len() * 2).max(64));
    }

    /// Makes room for `more` keys without growing on the way.
    fn reserve(&mut self, more: usize) {
        let size = (self.len + more)
            .saturating_mul(4)
            .div_ceil(3)
            .next_power_of_two()
            .max(64);
        if size > self.slots.len() {
            self.resize(size);
        }
    }

    /// Moves every key into a table of `size` slots, a power of two.
    fn resize(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.slots, Slots::empty(size));
        debug_assert!(size.is_power_of_two() && size > 1);
        self.shift = 64 - size.trailing_zeros();
        let mask = self.mask();
        for &slot in old.iter().filter(|s| s.key != EMPTY) {
            let mut i = self.home(slot.key.table_hash());
            while self.slots[i].key != EMPTY {
                i = (i + 1) & mask;
                #[cfg(test)]
                self.probes.set(self.probes.get() + 1);
            }
            self.slots[i] = slot;
        }
    }

    /// Every counted key and count in ascending order of (hash, key
    /// bytes), which depends on the keys alone.
    ///
    /// Homes are the top bits of the hash, so the slots hold keys nearly in
    /// that order already: only keys pushed along a cluster are out of
    /// place, by a few slots, and the cluster that wraps past the end
    /// starts the table. One pass lifts those out and an insertion pass
    /// puts the rest right: linear time on memory read in order, where a
    /// comparison sort of a window's hundreds of thousands of hosts cost
    /// more than encoding them.
    fn by_hash(&self) -> Vec<(u64, Key, u32)> {
        debug_assert_eq!(self.queued, 0, "iterating a counter with queued inserts");
        let mut sorted: Vec<(u64, Key, u32)> = Vec::with_capacity(self.len);
        let Some(first_empty) = self.slots.iter().position(|s| s.key == EMPTY) else {
            return Vec::new();
        };
        let mut wrapped = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.key == EMPTY {
                continue;
            }
            let entry = (slot.key.table_hash(), slot.key, slot.count);
            if i < first_empty && self.home(entry.0) > i {
                wrapped.push(entry);
            } else {
                sorted.push(entry);
            }
        }
        sorted.append(&mut wrapped);
        let _moves = sort_nearly_sorted(&mut sorted, |e| (e.0, e.1 .0));
        #[cfg(test)]
        self.probes.set(self.probes.get() + _moves as u64);
        sorted
    }

    /// Every counted key; queued inserts must have been flushed.
    fn iter(&self) -> impl Iterator<Item = (Key, u32)> + '_ {
        debug_assert_eq!(self.queued, 0, "iterating a counter with queued inserts");
        self.slots
            .iter()
            .filter(|s| s.key != EMPTY)
            .map(|s| (s.key, s.count))
    }
}

/// Sorts `v` by `key`, in linear time when every element is a few places
/// from its own: returns the moves the insertion pass made.
///
/// An insertion pass moves each element as far as it is out of place, which
/// for a table's slots is the length of a probe run. Runs are short at the
/// load a table keeps, but hosts chosen to collide make one run hold most
/// keys, and the pass would then cost the square of its length. Past a
/// budget of moves linear in the length, a comparison sort finishes the job.
fn sort_nearly_sorted<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) -> usize {
    let budget = v.len().saturating_mul(4).saturating_add(64);
    let mut moves = 0;
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j]) < key(&v[j - 1]) {
            if moves == budget {
                v.sort_unstable_by_key(|e| key(e));
                return moves;
            }
            v.swap(j - 1, j);
            j -= 1;
            moves += 1;
        }
    }
    moves
}

/// A counter's slots: on the heap while small, in pages of their own once
/// they pass a huge page.
///
/// A window's counter reaches tens of megabytes and every insert lands on a
/// random slot. Filling a new table with `EMPTY` would fault every page in and
/// then zero it a second time; an anonymous map is zeroed by the kernel on
/// first touch, and all-zero bytes are empty slots. The map also asks for
/// huge pages (Linux): random inserts then miss the TLB far less often, and a
/// fault brings in 2 MiB instead of 4 KiB. A map of its own, rather than
/// zeroed memory from the allocator, because an allocator may hand back a
/// block it freed before, which it must then zero by hand, and a map gives
/// its pages back to the kernel when the table grows or is dropped.
enum Slots {
    Heap(Vec<Slot>),
    /// The map and the number of slots in it.
    Mapped(MmapMut, usize),
}

/// The size from which a table gets pages of its own: one huge page.
const HUGE_PAGE: usize = 2 << 20;

impl Slots {
    /// `n` empty slots.
    fn empty(n: usize) -> Slots {
        let bytes = n * std::mem::size_of::<Slot>();
        if bytes < HUGE_PAGE {
            return Slots::Heap(vec![EMPTY_SLOT; n]);
        }
        match MmapMut::map_anon(bytes) {
            Ok(map) => {
                #[cfg(target_os = "linux")]
                // A hint: a kernel without transparent huge pages says no.
                let _ = map.advise(Advice::HugePage);
                Slots::Mapped(map, n)
            }
            // Out of address space or map count: the heap may still manage.
            Err(_) => Slots::Heap(vec![EMPTY_SLOT; n]),
        }
    }
}

impl Default for Slots {
    fn default() -> Self {
        Slots::Heap(Vec::new())
    }
}

impl std::ops::Deref for Slots {
    type Target = [Slot];

    #[inline(always)]
    fn deref(&self) -> &[Slot] {
        match self {
            Slots::Heap(v) => v,
            Slots::Mapped(map, n) => {
                // SAFETY: the map is page aligned (more than a `Slot` needs),
                // holds at least `n` slots' bytes, lives as long as `self`,
                // and any bytes are a valid `Slot` (plain bytes and a u32).
                unsafe { std::slice::from_raw_parts(map.as_ptr().cast::<Slot>(), *n) }
            }
        }
    }
}

impl std::ops::DerefMut for Slots {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [Slot] {
        match self {
            Slots::Heap(v) => v,
            Slots::Mapped(map, n) => {
                // SAFETY: as in `deref`, and `&mut self` makes it unique.
                unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr().cast::<Slot>(), *n) }
            }
        }
    }
}

/// Asks for the cache line of `slot` ahead of its use: a hint, never a fault.
#[inline(always)]
fn prefetch(slot: &Slot) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching has no effect on memory or program state; the
    // pointer comes from a reference, so it is valid anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

/// Connection counts per host, for the busiest queries.
pub struct HostCounter {
    /// Hosts of 1 to [`INLINE_MAX`] bytes: nearly all.
    inline: InlineCounts,
    /// The others (and the empty host, which only tests count).
    long: HostTable<u32>,
    /// Multiples of 2^32 for hosts whose count wrapped: exactness at the cost
    /// of a map that real logs never fill.
    carries: AHashMap<Vec<u8>, u64>,
}

impl HostCounter {
    /// An empty counter.
    pub fn new() -> Self {
        HostCounter {
            inline: InlineCounts::new(),
            long: HostTable::new(),
            carries: AHashMap::new(),
        }
    }

    /// An empty counter with room for as many hosts as `self` holds, for the
    /// window after `self`'s. A window of a log with hundreds of thousands of
    /// hosts an hour would otherwise grow its table a dozen times, and each
    /// step takes fresh pages and rehashes every host.
    pub(crate) fn new_like(&self) -> Self {
        let mut counter = HostCounter::new();
        counter.reserve(self.inline.len);
        counter
    }

    /// Counts one connection of `host` (case folded here).
    #[inline(always)]
    pub fn add(&mut self, host: &[u8]) {
        if (1..=INLINE_MAX).contains(&host.len()) {
            let carries = &mut self.carries;
            self.inline
                .add(inline_key(host), |key| carry(carries, key.bytes(&[]), 1));
            return;
        }
        let mut wrapped = false;
        self.long.upsert_raw(host, 1, |c| {
            (*c, wrapped) = c.overflowing_add(1);
        });
        if wrapped {
            carry(&mut self.carries, host, 1);
        }
    }

    /// Slots looked at by inserts and moves so far.
    #[cfg(test)]
    pub(crate) fn probes(&self) -> u64 {
        self.inline.probes.get()
    }

    /// Counts every queued insert: before anything reads the counts.
    fn flush(&mut self) {
        let carries = &mut self.carries;
        self.inline.flush(|key| carry(carries, key.bytes(&[]), 1));
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, mut other: HostCounter) {
        self.flush();
        other.flush();
        // Moving the smaller table into the larger one is the cheaper direction.
        if other.inline.len > self.inline.len {
            std::mem::swap(&mut self.inline, &mut other.inline);
        }
        for (host, extra) in other.carries {
            *self.carries.entry(host).or_default() += extra;
        }
        let carries = &mut self.carries;
        for (key, n) in other.inline.iter() {
            self.inline.insert(key, key.table_hash(), n, |key| {
                carry(carries, key.bytes(&[]), 1);
            });
        }
        let mut wrapped = Vec::new();
        self.long.merge(other.long, |host, mine, theirs| {
            let (sum, w) = mine.overflowing_add(theirs);
            *mine = sum;
            if w {
                wrapped.push(host.to_vec());
            }
        });
        for host in wrapped {
            carry(&mut self.carries, &host, 1);
        }
    }

    /// Makes room for `more` hosts, so that adding a partial's counts
    /// does not rehash the table again and again as it grows.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.inline.reserve(more);
    }

    /// Adds `n` connections of `host` (case folded here) at once: a
    /// partial's counts, merged without replaying them one by one.
    pub(crate) fn add_count(&mut self, host: &[u8], n: u64) {
        // The low 32 bits go to the table; the rest, and a wrap of the low
        // part, to the carries, as a one-by-one count would have put them.
        let (low, high) = (n as u32, n >> 32);
        if (1..=INLINE_MAX).contains(&host.len()) {
            let key = inline_key(host);
            let carries = &mut self.carries;
            self.inline.insert(key, key.table_hash(), low, |key| {
                carry(carries, key.bytes(&[]), 1);
            });
        } else {
            let mut wrapped = false;
            self.long.upsert_raw(host, low, |c| {
                (*c, wrapped) = c.overflowing_add(low);
            });
            if wrapped {
                carry(&mut self.carries, host, 1);
            }
        }
        if high > 0 {
            carry(&mut self.carries, host, high);
        }
    }

    /// Calls `f` with every counted host and its count, in a partial's
    /// canonical order: hosts of up to [`INLINE_MAX`] bytes ascending by
    /// their table hash (then bytes), then the longer ones ascending by bytes.
    /// The order depends on the hosts alone, not on how they were counted.
    pub(crate) fn for_each_sorted(&mut self, mut f: impl FnMut(&[u8], u64)) {
        self.flush();
        for (_, key, n) in self.inline.by_hash() {
            let host = key.bytes(&[]);
            f(host, self.total(host, n));
        }
        let mut long: Vec<(&[u8], u32)> = self.long.iter().collect();
        long.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (host, n) in long {
            f(host, self.total(host, n));
        }
    }

    /// The whole count of `host`, whose table holds its low 32 bits.
    #[inline(always)]
    fn total(&self, host: &[u8], low: u32) -> u64 {
        u64::from(low)
            + if self.carries.is_empty() {
                0
            } else {
                self.carries.get(host).copied().unwrap_or(0)
            }
    }

    /// Every counted host with its count, in no particular order.
    fn counts(&self) -> impl Iterator<Item = Counted<'_, ()>> + '_ {
        let inline = self.inline.slots.iter().filter(|s| s.key != EMPTY);
        inline
            .map(|s| (s.key.bytes(&[]), s.count))
            .chain(self.long.iter())
            .map(move |(host, low)| Counted {
                host,
                count: self.total(host, low),
                extra: (),
            })
    }

    /// The `n` hosts with the highest counts, or `None` when nothing was
    /// counted.
    pub fn busiest(&mut self, n: usize) -> Option<Busiest> {
        self.flush();
        let distinct = self.len() as u64;
        rank(n, self.counts()).map(|r| r.into_busiest(distinct, |_| None))
    }

    /// How many distinct hosts were counted.
    pub fn len(&mut self) -> usize {
        self.flush();
        self.inline.len + self.long.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
}

#[cold]
fn carry(carries: &mut AHashMap<Vec<u8>, u64>, host: &[u8], times: u64) {
    let folded = fold_case_into(host, &mut Vec::new()).to_vec();
    *carries.entry(folded).or_default() += times << 32;
}

impl Default for HostCounter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_folds_case_and_sorts_by_bytes() {
        let mut s = HostSet::new();
        for h in [
            "Bob",
            "alice",
            "BOB",
            "Zoë",
            "10.0.0.7",
            "web-01.Example.com",
        ] {
            s.insert(h.as_bytes());
        }
        assert_eq!(s.len(), 5);
        assert_eq!(
            s.into_sorted(),
            vec!["10.0.0.7", "alice", "bob", "web-01.example.com", "zoë"]
        );
    }

    #[test]
    fn word_case_folding_matches_the_byte_rule() {
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b, b'A', b'z', b'@', b'[', 0x80 | b'A', b, b'Z']);
            let expect = u64::from_le_bytes(
                [b, b'A', b'z', b'@', b'[', 0x80 | b'A', b, b'Z'].map(|c| c.to_ascii_lowercase()),
            );
            assert_eq!(fold_word(x), expect, "{b:#x}");
        }
    }

    #[test]
    fn inline_keys_fold_case_and_keep_lengths_apart() {
        for len in 0..=INLINE_MAX {
            let host: Vec<u8> = (0..len).map(|i| b'A' + i as u8).collect();
            let key = inline_key(&host);
            assert_eq!(key.bytes(&[]), host.to_ascii_lowercase().as_slice());
            assert_eq!(key, inline_key(&host.to_ascii_lowercase()));
        }
        // Zero bytes are data, not padding: the length tells them apart.
        assert!(inline_key(b"a") != inline_key(b"a\0"));
    }

    #[test]
    fn inline_and_long_hosts_mix_in_one_table() {
        let mut s = HostSet::new();
        let hosts: Vec<String> = (0..40).map(|n| "H".repeat(n + 1)).collect();
        for h in hosts.iter().chain(&hosts) {
            s.insert(h.as_bytes());
        }
        assert_eq!(s.len(), 40);
        let mut expect: Vec<String> = hosts.iter().map(|h| h.to_lowercase()).collect();
        expect.sort();
        assert_eq!(s.into_sorted(), expect);
    }

    /// The leader's host, count and ties.
    fn leader(c: &mut HostCounter) -> Option<(String, u64, u64)> {
        c.busiest(1).map(|b| (b.host, b.connections, b.tied))
    }

    #[test]
    fn counts_past_u32_stay_exact() {
        let (mut a, mut b) = (HostCounter::new(), HostCounter::new());
        let big = inline_key(b"big");
        a.inline
            .insert(big, big.table_hash(), u32::MAX - 1, |_| unreachable!());
        b.inline
            .insert(big, big.table_hash(), u32::MAX, |_| unreachable!());
        let long = "l".repeat(INLINE_MAX + 1);
        a.long.upsert_raw(long.as_bytes(), u32::MAX, |_| {});
        // Past 2^32 in an add (queued, then flushed), in a merge, and in a
        // long host's table.
        a.add(b"big");
        a.add(b"Big");
        a.add(long.to_uppercase().as_bytes());
        b.add(b"small");
        a.merge(b);
        let (host, count, _) = leader(&mut a).unwrap();
        assert_eq!(
            (host.as_str(), count, a.len()),
            ("big", 2 * u64::from(u32::MAX) + 1, 3)
        );
        let busiest = a.busiest(3).unwrap();
        assert_eq!(busiest.top[1].host, long);
        assert_eq!(busiest.top[1].connections, u64::from(u32::MAX) + 1);
    }

    #[test]
    fn counters_of_many_hosts_equal_a_naive_count_through_growth_and_merges() {
        use std::collections::BTreeMap;
        let mut naive: BTreeMap<String, u64> = BTreeMap::new();
        let (mut a, mut b) = (HostCounter::new(), HostCounter::new());
        // Inline and long hosts, in mixed case, some in both halves; the
        // empty host is stored apart from the empty slot it would alias.
        for i in 0..60_000u64 {
            let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 20_011;
            let host = match x % 7 {
                0 => format!("Long-Host-Name-{x}"),
                1 if x % 1000 == 1 => String::new(),
                _ => format!("h{x}"),
            };
            *naive.entry(host.to_ascii_lowercase()).or_default() += 1;
            if i % 3 == 0 { &mut a } else { &mut b }.add(host.as_bytes());
        }
        a.merge(b);
        assert_eq!(a.len(), naive.len());
        let got = a.busiest(naive.len()).unwrap();
        let mut expect: Vec<(String, u64)> = naive.into_iter().collect();
        expect.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        let got: Vec<(String, u64)> = got
            .top
            .into_iter()
            .map(|t| (t.host, t.connections))
            .collect();
        assert_eq!(got, expect);
    }

    /// A counter's hosts and counts in a partial's order.
    fn listed(c: &mut HostCounter) -> Vec<(Vec<u8>, u64)> {
        let mut v = Vec::new();
        c.for_each_sorted(|h, n| v.push((h.to_vec(), n)));
        v
    }

    #[test]
    fn a_table_in_pages_of_its_own_counts_like_one_on_the_heap() {
        // 200,000 hosts take a table of 2^19 slots (10 MiB): mapped, past
        // a huge page. A counter of 40 hosts stays on the heap.
        let host = |i: u64| format!("h{}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 1_000_003);
        let mut big = HostCounter::new();
        let mut naive = std::collections::HashMap::<Vec<u8>, u64>::new();
        for i in 0..300_000u64 {
            big.add(host(i % 200_000).as_bytes());
            *naive.entry(host(i % 200_000).into_bytes()).or_default() += 1;
        }
        big.flush();
        assert!(matches!(big.inline.slots, Slots::Mapped(..)));
        assert_eq!(big.inline.slots.len(), 1 << 19);
        let mut small = HostCounter::new();
        for i in 0..40 {
            small.add(host(i).as_bytes());
        }
        small.flush();
        assert!(matches!(small.inline.slots, Slots::Heap(_)));
        let mut expect: Vec<(Vec<u8>, u64)> = naive.into_iter().collect();
        let mut got = listed(&mut big);
        expect.sort();
        got.sort();
        assert_eq!(got, expect);
    }

    #[test]
    fn a_counter_sized_like_the_last_starts_big_and_counts_the_same() {
        let mut last = HostCounter::new();
        for i in 0..100_000u32 {
            last.add(format!("h{i}").as_bytes());
        }
        last.flush();
        let (mut sized, mut fresh) = (last.new_like(), HostCounter::new());
        assert!(
            sized.inline.slots.len() * 3 >= 100_000 * 4,
            "room for the last"
        );
        assert_eq!((sized.len(), sized.busiest(3)), (0, None));
        for i in 0..5_000u32 {
            let host = format!("x{}", i % 1_700);
            sized.add(host.as_bytes());
            fresh.add(host.as_bytes());
        }
        assert_eq!(listed(&mut sized), listed(&mut fresh));
        assert_eq!(sized.busiest(5), fresh.busiest(5));
    }

    #[test]
    fn long_keys_round_trip_through_the_arena() {
        let long = "x".repeat(70_000);
        let mut s = HostSet::new();
        s.insert(long.as_bytes());
        s.insert(b"a");
        s.insert(long.as_bytes());
        assert_eq!(s.into_sorted(), vec!["a".to_string(), long]);
    }

    #[test]
    fn merged_sets_equal_the_set_of_the_whole() {
        let (mut a, mut b, mut whole) = (HostSet::new(), HostSet::new(), HostSet::new());
        for i in 0..1000 {
            let h = format!("h{}", i % 300);
            if i % 3 == 0 { &mut a } else { &mut b }.insert(h.as_bytes());
            whole.insert(h.as_bytes());
        }
        a.merge(b);
        assert_eq!(a.into_sorted(), whole.into_sorted());
    }

    #[test]
    fn leader_counts_ties_and_breaks_them_by_name() {
        let mut c = HostCounter::new();
        for h in ["b", "a", "c", "B", "A", "d"] {
            c.add(h.as_bytes());
        }
        assert_eq!(leader(&mut c), Some(("a".into(), 2, 1)));
        assert_eq!(c.len(), 4);
        assert_eq!(leader(&mut HostCounter::new()), None);
    }

    #[test]
    fn merged_counters_add_up() {
        let (mut a, mut b) = (HostCounter::new(), HostCounter::new());
        for _ in 0..5 {
            a.add(b"x");
        }
        for _ in 0..3 {
            b.add(b"x");
            b.add(b"y");
        }
        for i in 0..100 {
            b.add(format!("z{i}").as_bytes());
        }
        a.merge(b);
        assert_eq!(leader(&mut a), Some(("x".into(), 8, 0)));
        assert_eq!(a.len(), 102);
    }

    #[test]
    fn a_cluster_wrapping_past_the_end_still_sorts_by_hash() {
        // Hosts whose home is the last of 64 slots: all but the first of
        // them wrap to the table's start.
        let last: Vec<String> = (0..)
            .map(|i| format!("h{i}"))
            .filter(|h| inline_key(h.as_bytes()).table_hash() >> 58 == 63)
            .take(4)
            .collect();
        let mut c = HostCounter::new();
        for h in last.iter().chain(&["a".to_owned(), "b".to_owned()]) {
            c.add(h.as_bytes());
        }
        c.flush();
        assert_eq!(c.inline.slots.len(), 64);
        assert!(c.inline.slots[0].key != EMPTY, "nothing wrapped");
        let hashes: Vec<u64> = c
            .inline
            .by_hash()
            .iter()
            .map(|e| e.1.table_hash())
            .collect();
        assert_eq!(hashes.len(), 6);
        assert!(hashes.windows(2).all(|w| w[0] < w[1]), "{hashes:x?}");
    }

    /// `n` distinct hosts, none of them in another call's with another `tag`.
    fn hosts(tag: &str, n: u64) -> Vec<String> {
        (0..n).map(|i| format!("{tag}{i}")).collect()
    }

    #[test]
    fn merging_two_full_counters_of_one_size_does_linear_work() {
        // Two tables of 2^17 slots at load 0.61: read in hash order, the
        // other's keys sweep this table at a density of 1.2 per slot.
        let (mut a, mut b) = (HostCounter::new(), HostCounter::new());
        for h in hosts("a", 80_000) {
            a.add(h.as_bytes());
        }
        for h in hosts("b", 80_000) {
            b.add(h.as_bytes());
        }
        a.flush();
        b.flush();
        assert_eq!(
            (a.inline.slots.len(), b.inline.slots.len()),
            (1 << 17, 1 << 17)
        );
        a.inline.probes.set(0);
        b.inline.probes.set(0);
        a.merge(b);
        let probes = a.inline.probes.get();
        assert!(
            probes < 8 * 160_000,
            "{probes} probes to merge 160,000 keys"
        );
        assert_eq!(a.len(), 160_000);
    }

    #[test]
    fn hosts_that_share_a_home_list_in_order_without_quadratic_moves() {
        // 1,500 hosts whose hashes share their top 11 bits: they all home
        // to slot 0 or 1, one run in the order they came, not hash order.
        // The long run grows the table once, to 2^12 slots, and no more:
        // growing cannot shorten it, and the load is then under 3/8.
        let colliding: Vec<String> = (0u64..)
            .map(|i| format!("c{i}"))
            .filter(|h| inline_key(h.as_bytes()).table_hash() >> 53 == 0)
            .take(1_500)
            .collect();
        let mut c = HostCounter::new();
        for h in &colliding {
            c.add(h.as_bytes());
        }
        c.flush();
        assert_eq!(c.inline.slots.len(), 1 << 12);
        c.inline.probes.set(0);
        let listed = c.inline.by_hash();
        let moves = c.inline.probes.get();
        assert!(moves <= 4 * 1_500 + 64, "{moves} moves to list 1,500 keys");
        let order: Vec<(u64, [u8; 16])> = listed.iter().map(|e| (e.0, e.1 .0)).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(order.len(), 1_500);
    }

    #[test]
    fn sorting_a_reversed_run_falls_back_within_its_budget() {
        let mut v: Vec<u32> = (0..10_000).rev().collect();
        let moves = sort_nearly_sorted(&mut v, |&x| x);
        assert!(moves <= 4 * 10_000 + 64, "{moves}");
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        let mut near: Vec<u32> = (0..10_000).map(|x| x ^ 1).collect();
        assert_eq!(sort_nearly_sorted(&mut near, |&x| x), 5_000);
        assert!(near.windows(2).all(|w| w[0] < w[1]));
    }

    proptest::proptest! {
        /// A partial's order: every host once with its whole count (wrapped
        /// counts included), short hosts by hash and long ones by bytes,
        /// and the same sequence however the hosts were counted: in another
        /// order, or split between counters that are then merged.
        #[test]
        fn sorted_counts_are_whole_and_in_one_order_however_counted(
            hosts in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(b"\0aAb\xff".to_vec()), 0..20),
                0..300,
            ),
            big in proptest::collection::vec((0usize..300, 1u64..=u64::from(u32::MAX) * 3), 0..5),
            cut in 0usize..300,
        ) {
            let mut model = std::collections::BTreeMap::<Vec<u8>, u64>::new();
            let (mut whole, mut a, mut b) = (HostCounter::new(), HostCounter::new(), HostCounter::new());
            for (i, h) in hosts.iter().enumerate() {
                whole.add(h);
                // The other pair sees the hosts in reverse, split at `cut`.
                let r = &hosts[hosts.len() - 1 - i];
                if i < cut { &mut a } else { &mut b }.add(r);
                *model.entry(h.to_ascii_lowercase()).or_default() += 1;
            }
            for &(i, n) in &big {
                if let Some(h) = hosts.get(i) {
                    whole.add_count(h, n);
                    b.add_count(h, n);
                    *model.entry(h.to_ascii_lowercase()).or_default() += n;
                }
            }
            a.merge(b);
            let got = listed(&mut whole);
            proptest::prop_assert_eq!(&got, &listed(&mut a));
            let split = got.iter().position(|(h, _)| h.is_empty() || h.len() > INLINE_MAX);
            let (short, long) = got.split_at(split.unwrap_or(got.len()));
            let hash = |h: &[u8]| (inline_key(h).table_hash(), inline_key(h).0);
            proptest::prop_assert!(short.windows(2).all(|w| hash(&w[0].0) < hash(&w[1].0)));
            proptest::prop_assert!(long.windows(2).all(|w| w[0].0 < w[1].0));
            let mut sorted = got.clone();
            sorted.sort();
            proptest::prop_assert_eq!(sorted, model.into_iter().collect::<Vec<_>>());
        }
    }
}
