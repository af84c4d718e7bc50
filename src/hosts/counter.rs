//! Connection counts per host: the exact busiest queries' table.

use ahash::AHashMap;
#[cfg(target_os = "linux")]
use memmap2::Advice;
use memmap2::MmapMut;
use rayon::prelude::*;

use super::key::{inline_key, Key, INLINE_MAX};
use super::rank::{rank, Counted, Ranker};
use super::set::HostTable;
use crate::hosts::fold::fold_case_into;
use crate::report::Busiest;

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
pub(super) struct InlineCounts {
    pub(super) slots: Slots,
    /// The slot count. A key's home is its hash scaled to it (the top bits
    /// when it is a power of two), so slot order follows hash order at
    /// every size, and a table can be sized to the keys it will hold.
    size: usize,
    /// Occupied slots.
    len: usize,
    /// Inserts waiting for their prefetched slot, oldest first: key, hash
    /// and what to add.
    queue: [(Key, u64, u32); PIPELINE],
    queued: usize,
    head: usize,
    /// The most slots a long probe run may grow the table to (see
    /// [`HostCounter::limit`]); growth by load ignores it.
    most_slots: usize,
    /// Slots looked at by inserts and moves: tests bound it to prove that
    /// no operation degrades to quadratic work without timing anything.
    #[cfg(test)]
    pub(super) probes: Probes,
}

/// Inserts in flight: enough to overlap the misses of a memory-bound insert.
/// On a warm table of 2^20 slots, 8 took 24.7 ns an insert, 16 took 20.7 ns,
/// and 24 or 32 were no faster (docs/benchmarks.md).
const PIPELINE: usize = 16;
/// The fewest hosts in each of two tables for a merge to keep them apart
/// (see [`HostCounter::apart`]): below it, a merge costs little.
pub(super) const APART_MIN: usize = 1 << 20;
/// The most tables a counter keeps apart besides its own: each host of one
/// is looked up in the others, so many would cost more than one merge.
pub(super) const MOST_APART: usize = 3;
/// How many slots ahead a ranking over tables kept apart prefetches.
const AHEAD: usize = 16;
/// A probe run this long grows a table that is at least 3/8 full.
///
/// Keys that come in hash order (another table's slots, a partial's list)
/// home by the same scaled hash here, so they arrive as a sweep over this
/// table. Where the sweep brings more keys than a region has slots, before
/// the load alone would grow the table, one run lengthens with every insert:
/// quadratic work. At the load this table keeps, a run this long is rare by
/// chance, and doubling halves the sweep's density. The 3/8 floor stops
/// hosts chosen to collide from growing the table past twice its keys'
/// worth: growing cannot shorten their run.
const LONG_RUN: usize = 128;
pub(super) const EMPTY: Key = Key([0; 16]);
const EMPTY_SLOT: Slot = Slot {
    key: EMPTY,
    count: 0,
};

/// `repr(C)`: all-zero bytes, as a fresh map holds, are the empty slot.
#[derive(Clone, Copy)]
#[repr(C)]
pub(super) struct Slot {
    pub(super) key: Key,
    pub(super) count: u32,
}

impl InlineCounts {
    fn new() -> Self {
        InlineCounts {
            slots: Slots::default(),
            size: 0,
            len: 0,
            queue: [(EMPTY, 0, 0); PIPELINE],
            queued: 0,
            head: 0,
            most_slots: usize::MAX,
            #[cfg(test)]
            probes: Probes::default(),
        }
    }

    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        // The high half: folded multiplies mix it best, and slots in hash
        // order make a canonical order cheap (see `by_hash`).
        ((u128::from(hash) * self.size as u128) >> 64) as usize
    }

    /// The slot after `i`, wrapping past the end.
    #[inline(always)]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.size {
            0
        } else {
            i + 1
        }
    }

    /// Queues `n` to be added to `key`'s count, calling `wrapped` with it
    /// at the moment its count passes 2^32 (possibly during a later call).
    #[inline(always)]
    fn add(&mut self, key: Key, n: u32, wrapped: impl FnMut(Key)) {
        let hash = key.table_hash();
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(hash)]);
        }
        if self.queued == PIPELINE {
            let (old, old_hash, old_n) = self.queue[self.head];
            self.queue[self.head] = (key, hash, n);
            self.head = (self.head + 1) % PIPELINE;
            self.insert(old, old_hash, old_n, wrapped);
        } else {
            self.queue[(self.head + self.queued) % PIPELINE] = (key, hash, n);
            self.queued += 1;
        }
    }

    /// Counts every queued key.
    fn flush(&mut self, mut wrapped: impl FnMut(Key)) {
        while self.queued > 0 {
            let (key, hash, n) = self.queue[self.head];
            self.head = (self.head + 1) % PIPELINE;
            self.queued -= 1;
            self.insert(key, hash, n, &mut wrapped);
        }
    }

    /// Adds `n` to `key`'s count.
    #[inline(always)]
    pub(super) fn insert(&mut self, key: Key, hash: u64, n: u32, mut wrapped: impl FnMut(Key)) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
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
                let run = if i >= home {
                    i - home
                } else {
                    i + self.size - home
                };
                if run > LONG_RUN
                    && self.len * 8 >= self.slots.len() * 3
                    && self.slots.len() < self.most_slots
                {
                    self.grow();
                }
                return;
            }
            i = self.next(i);
        }
    }

    #[cold]
    fn grow(&mut self) {
        self.resize((self.slots.len() * 2).max(64));
    }

    /// Makes room for `more` keys without growing on the way: a table of
    /// tens of millions of hosts is sized to them, not to the next power
    /// of two (up to twice the memory, every page of it fresh).
    fn reserve(&mut self, more: usize) {
        let size = (self.len + more)
            .saturating_mul(4)
            .div_ceil(3)
            .next_multiple_of(64)
            .max(64);
        if size > self.slots.len() {
            self.resize(size);
        }
    }

    /// Moves every key into a table of `size` slots.
    fn resize(&mut self, size: usize) {
        if size > self.slots.len() && self.grow_in_place(size) {
            return;
        }
        let old = std::mem::replace(&mut self.slots, Slots::empty(size));
        debug_assert!(size > 1);
        self.size = size;
        for &slot in old.iter().filter(|s| s.key != EMPTY) {
            self.place(slot);
        }
    }

    /// Puts a key this table does not hold in the first free slot from its
    /// home on.
    fn place(&mut self, slot: Slot) {
        let mut i = self.home(slot.key.table_hash());
        while self.slots[i].key != EMPTY {
            i = self.next(i);
            #[cfg(test)]
            self.probes.set(self.probes.get() + 1);
        }
        self.slots[i] = slot;
    }

    /// Grows a table in pages of its own to `size` slots where it lies: the
    /// map is extended (the kernel may move it, copying no page) and keys
    /// move up to their new homes, so that only the added pages are fresh
    /// memory. Fresh pages cost more than anything else in a table of tens
    /// of millions of hosts (docs/benchmarks.md, "Every cardinality"); a
    /// table rebuilt elsewhere touches the old and the new in full.
    ///
    /// A new home is at least the old one scaled up, so keys are moved from the
    /// top down, each to the first free slot from its new home on: the
    /// slots from the one moved up are all in the new layout. The few keys
    /// whose new home lies below their old slot (the first slots' runs, and
    /// a run that wrapped past the end) wait aside, as do keys whose run
    /// would wrap, and are inserted last. Returns false, having changed
    /// nothing, when the table is on the heap or the map cannot grow.
    fn grow_in_place(&mut self, size: usize) -> bool {
        let old = self.slots.len();
        debug_assert!(size > old);
        if !self.slots.extend(size) {
            return false;
        }
        self.size = size;
        let mut aside = Vec::new();
        for i in (0..old).rev() {
            let slot = self.slots[i];
            if slot.key == EMPTY {
                continue;
            }
            self.slots[i] = EMPTY_SLOT;
            let home = self.home(slot.key.table_hash());
            if home < i {
                aside.push(slot);
                continue;
            }
            let mut j = home;
            while j < size && self.slots[j].key != EMPTY {
                j += 1;
                #[cfg(test)]
                self.probes.set(self.probes.get() + 1);
            }
            match self.slots.get_mut(j) {
                Some(free) => *free = slot,
                None => aside.push(slot),
            }
        }
        for slot in aside {
            self.place(slot);
        }
        true
    }

    /// Every counted key and count in ascending order of (hash, key
    /// bytes), which depends on the keys alone.
    ///
    /// Homes are the hash scaled to the slot count, so the slots hold keys nearly in
    /// that order already: only keys pushed along a cluster are out of
    /// place, by a few slots, and the cluster that wraps past the end
    /// starts the table. One pass lifts those out and an insertion pass
    /// puts the rest right: linear time on memory read in order, where a
    /// comparison sort of a window's hundreds of thousands of hosts cost
    /// more than encoding them.
    pub(super) fn by_hash(&self) -> Vec<(u64, Key, u32)> {
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

    /// `key`'s count, if counted; queued inserts must have been flushed.
    #[inline(always)]
    fn get(&self, key: Key, hash: u64) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let mut i = self.home(hash);
        loop {
            #[cfg(test)]
            self.probes.set(self.probes.get() + 1);
            let slot = &self.slots[i];
            if slot.key == key {
                return Some(slot.count);
            }
            if slot.key == EMPTY {
                return None;
            }
            i = self.next(i);
        }
    }

    /// Asks for the cache line of `hash`'s home slot ahead of a [`Self::get`].
    #[inline(always)]
    fn prefetch_home(&self, hash: u64) {
        if self.len > 0 {
            prefetch(&self.slots[self.home(hash)]);
        }
    }

    /// Empties the table, keeping its slots.
    fn clear(&mut self) {
        self.slots.fill(EMPTY_SLOT);
        self.len = 0;
        self.queued = 0;
        self.head = 0;
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
pub(super) fn sort_nearly_sorted<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) -> usize {
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
pub(super) enum Slots {
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

impl Slots {
    /// Extends mapped slots to `n`, the new ones empty; false, having
    /// changed nothing, for slots on the heap or a map that cannot grow.
    fn extend(&mut self, n: usize) -> bool {
        #[cfg(target_os = "linux")]
        if let Slots::Mapped(map, len) = self {
            let options = memmap2::RemapOptions::new().may_move(true);
            // SAFETY: the map is anonymous, so the bytes it gains are zero
            // (empty slots), not past the end of a file; nothing borrows it
            // (`&mut self`), and `len` follows the new length.
            if unsafe { map.remap(n * std::mem::size_of::<Slot>(), options) }.is_ok() {
                *len = n;
                return true;
            }
        }
        let _ = n;
        false
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

/// A count of slots looked at, for tests; atomic so that a counter can be
/// ranked from several threads.
#[cfg(test)]
#[derive(Default)]
pub(super) struct Probes(std::sync::atomic::AtomicU64);

#[cfg(test)]
impl Probes {
    pub(super) fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn set(&self, n: u64) {
        self.0.store(n, std::sync::atomic::Ordering::Relaxed);
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
    pub(super) inline: InlineCounts,
    /// Tables of the same hosts merged in but kept apart: a host's count is
    /// its count in `inline` plus its counts in these. Merging two tables of
    /// tens of millions of hosts grows one by the other's size in fresh
    /// pages, the costliest memory there is here (docs/benchmarks.md), and
    /// sweeps every key of the other into it on one thread; a ranking reads
    /// both tables instead, and only a partial's encoding puts them together.
    pub(super) apart: Vec<InlineCounts>,
    /// The others (and the empty host, which only tests count).
    pub(super) long: HostTable<u32>,
    /// Multiples of 2^32 for hosts whose count wrapped: exactness at the cost
    /// of a map that real logs never fill.
    carries: AHashMap<Vec<u8>, u64>,
}

impl HostCounter {
    /// An empty counter.
    pub fn new() -> Self {
        HostCounter {
            inline: InlineCounts::new(),
            apart: Vec::new(),
            long: HostTable::new(),
            carries: AHashMap::new(),
        }
    }

    /// An empty counter with room for as many hosts as `self` holds, for the
    /// window after `self`'s. A window of a log with hundreds of thousands of
    /// hosts an hour would otherwise grow its table a dozen times, and each
    /// step takes fresh pages and rehashes every host.
    pub fn new_like(&self) -> Self {
        let mut counter = HostCounter::new();
        // An eighth more: a window a little larger than the last one then
        // does not double its table for its last few hosts.
        let hosts = self.tables().map(|t| t.len).max().unwrap_or(0);
        counter.reserve(hosts + hosts / 8);
        counter
    }

    /// Counts one connection of `host` (case folded here).
    #[inline(always)]
    pub fn add(&mut self, host: &[u8]) {
        self.add_low(host, 1);
    }

    /// Adds `n` to `host`'s count (case folded here): a connection's bytes
    /// or packets, or a partial's count. A host added with 0 is counted as
    /// seen, with 0.
    #[inline(always)]
    pub fn add_weighted(&mut self, host: &[u8], n: u64) {
        // The low 32 bits go through the table; the rest, rare, straight to
        // the carries, as 2^32 wraps of the low part would have put them.
        let high = n >> 32;
        if high > 0 {
            carry(&mut self.carries, host, high);
        }
        self.add_low(host, n as u32);
    }

    /// Adds `n` to `host`'s count, through the pipeline for inline hosts.
    #[inline(always)]
    fn add_low(&mut self, host: &[u8], n: u32) {
        if (1..=INLINE_MAX).contains(&host.len()) {
            let carries = &mut self.carries;
            self.inline
                .add(inline_key(host), n, |key| carry(carries, key.bytes(&[]), 1));
            return;
        }
        let mut wrapped = false;
        self.long.upsert_raw(host, n, |c| {
            (*c, wrapped) = c.overflowing_add(n);
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
    pub(super) fn flush(&mut self) {
        let carries = &mut self.carries;
        self.inline.flush(|key| carry(carries, key.bytes(&[]), 1));
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, mut other: HostCounter) {
        self.flush();
        other.flush();
        for (host, extra) in std::mem::take(&mut other.carries) {
            *self.carries.entry(host).or_default() += extra;
        }
        let apart = self.apart.len() + 1 + other.apart.len();
        if self.inline.len.min(other.inline.len) >= APART_MIN && apart <= MOST_APART {
            self.apart.push(other.inline);
            self.apart.append(&mut other.apart);
        } else {
            // Moving the smaller table into the larger one is the cheaper
            // direction.
            if other.inline.len > self.inline.len {
                std::mem::swap(&mut self.inline, &mut other.inline);
            }
            for table in std::iter::once(other.inline).chain(other.apart) {
                self.absorb(table);
            }
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

    /// Adds the counts of `table` to `inline`.
    fn absorb(&mut self, table: InlineCounts) {
        let carries = &mut self.carries;
        for (key, n) in table.iter() {
            self.inline.insert(key, key.table_hash(), n, |key| {
                carry(carries, key.bytes(&[]), 1);
            });
        }
    }

    /// Puts the tables kept apart into `inline`.
    fn consolidate(&mut self) {
        self.flush();
        for table in std::mem::take(&mut self.apart) {
            if table.len > self.inline.len {
                let smaller = std::mem::replace(&mut self.inline, table);
                self.absorb(smaller);
            } else {
                self.absorb(table);
            }
        }
    }

    /// `inline` and the tables kept apart.
    fn tables(&self) -> impl Iterator<Item = &InlineCounts> {
        std::iter::once(&self.inline).chain(&self.apart)
    }

    /// Makes room for `more` hosts, so that adding a partial's counts
    /// does not rehash the table again and again as it grows.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.inline.reserve(more);
    }

    /// Calls `f` with every counted host and its count, in a partial's
    /// canonical order: hosts of up to [`INLINE_MAX`] bytes ascending by
    /// their table hash (then bytes), then the longer ones ascending by bytes.
    /// The order depends on the hosts alone, not on how they were counted.
    pub(crate) fn for_each_sorted(&mut self, mut f: impl FnMut(&[u8], u64)) {
        self.consolidate();
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
        u64::from(low) + self.carried(host)
    }

    /// The multiples of 2^32 `host`'s count wrapped past in a table.
    #[inline(always)]
    fn carried(&self, host: &[u8]) -> u64 {
        if self.carries.is_empty() {
            0
        } else {
            self.carries.get(host).copied().unwrap_or(0)
        }
    }

    /// Every counted host with its count, in no particular order, when no
    /// table is kept apart: [`Self::counts_of`]'s lookups into the other
    /// tables, even skipped, cost a one-table ranking 2.7 % of a Q2a run and
    /// 6.5 % of a `--busiest_to_host --top 10` run (cachegrind).
    fn counts(&self) -> impl Iterator<Item = Counted<'_, ()>> + '_ {
        debug_assert!(self.apart.is_empty());
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

    /// The hosts of part `p` with their counts, each host in one part only:
    /// part `i` of `inline` and the tables apart lists the hosts of that
    /// table that no table before it holds, the last part the long hosts.
    /// Queued inserts must have been flushed.
    ///
    /// A host's counts in the tables after its own are added (as 64-bit
    /// numbers: the low parts of one host may add past 2^32 here, where a
    /// merge would have carried). The lookups into the other tables are
    /// misses in tables this large, so each is prefetched [`AHEAD`] slots
    /// before it is made.
    fn counts_of(&self, p: usize) -> impl Iterator<Item = Counted<'_, ()>> + '_ {
        let n = 1 + self.apart.len();
        let table = move |j: usize| {
            if j == 0 {
                &self.inline
            } else {
                &self.apart[j - 1]
            }
        };
        let slots: &[Slot] = if p < n { &table(p).slots } else { &[] };
        let inline = slots.iter().enumerate().filter_map(move |(at, slot)| {
            if n > 1 {
                if let Some(ahead) = slots.get(at + AHEAD).filter(|s| s.key != EMPTY) {
                    let hash = ahead.key.table_hash();
                    (0..n)
                        .filter(|&j| j != p)
                        .for_each(|j| table(j).prefetch_home(hash));
                }
            }
            if slot.key == EMPTY {
                return None;
            }
            let hash = slot.key.table_hash();
            if (0..p).any(|j| table(j).get(slot.key, hash).is_some()) {
                return None;
            }
            let low = (p + 1..n)
                .filter_map(|j| table(j).get(slot.key, hash))
                .fold(u64::from(slot.count), |sum, c| sum + u64::from(c));
            Some((slot.key.bytes(&[]), low))
        });
        let long = (p == n).then(|| self.long.iter().map(|(host, low)| (host, u64::from(low))));
        inline
            .chain(long.into_iter().flatten())
            .map(move |(host, low)| Counted {
                host,
                count: low + self.carried(host),
                extra: (),
            })
    }

    /// The `n` hosts with the highest counts, or `None` when nothing was
    /// counted. The parts of a counter with tables apart are ranked on
    /// threads of their own, and the rankings merged.
    pub fn busiest(&mut self, n: usize) -> Option<Busiest> {
        self.flush();
        if self.apart.is_empty() {
            let distinct = (self.inline.len + self.long.len()) as u64;
            return rank(n, self.counts()).map(|r| r.into_busiest(distinct, |_| None));
        }
        let this = &*self;
        let (ranker, distinct) = (0..this.apart.len() + 2)
            .into_par_iter()
            .map(|p| {
                let mut ranker = Ranker::new(n);
                let mut distinct = 0u64;
                for c in this.counts_of(p) {
                    ranker.push(c);
                    distinct += 1;
                }
                (ranker, distinct)
            })
            .reduce(|| (Ranker::new(n), 0), |(a, m), (b, k)| (a.merge(b), m + k));
        Some(ranker.finish()?.into_busiest(distinct, |_| None))
    }

    /// Keeps the table of short hosts within `bytes`, and returns how many
    /// the counter may then hold (see [`Self::short_hosts`]) before it must
    /// be emptied: three quarters of the slots, less the inserts in flight,
    /// so that growth by load never passes the limit either. 0 when
    /// `bytes` holds no table.
    pub(crate) fn limit(&mut self, bytes: usize) -> usize {
        let fit = bytes / std::mem::size_of::<Slot>();
        if fit < 64 {
            return 0;
        }
        let slots = 1 << fit.ilog2();
        self.inline.most_slots = slots;
        (slots / 4 * 3).saturating_sub(PIPELINE + 1)
    }

    /// The longest host kept in the table of short hosts.
    pub(crate) const INLINE_MAX: usize = INLINE_MAX;

    /// Short hosts counted, less up to [`PIPELINE`] inserts still in
    /// flight: a cheap bound to check after every add.
    #[inline(always)]
    pub(crate) fn short_hosts(&self) -> usize {
        self.inline.len
    }

    /// Bytes held by hosts longer than [`INLINE_MAX`] and their table.
    pub(crate) fn long_bytes(&self) -> usize {
        self.long.bytes()
    }

    /// Every counted host with its count, in no particular order.
    pub(crate) fn unordered(&mut self) -> impl Iterator<Item = (&[u8], u64)> + '_ {
        self.consolidate();
        self.counts().map(|c| (c.host, c.count))
    }

    /// Forgets every host, keeping the table's memory for the next ones.
    pub(crate) fn clear(&mut self) {
        self.inline.clear();
        self.apart.clear();
        self.long = HostTable::new();
        self.carries.clear();
    }

    /// How many distinct hosts were counted.
    pub fn len(&mut self) -> usize {
        self.consolidate();
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
