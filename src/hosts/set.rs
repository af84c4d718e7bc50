//! Sets of hosts, and the table under them that long hosts share with
//! the counters.

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use super::key::{inline_key, push_key, Key, INLINE_MAX, LONG, SEED0, SEED1};
use crate::hosts::fold::fold_case_into;

/// A table from case-folded host to a small copyable value.
pub(super) struct HostTable<V> {
    table: HashTable<(Key, V)>,
    /// Bytes of the hosts longer than [`INLINE_MAX`].
    arena: Vec<u8>,
    long_hasher: ahash::RandomState,
    /// Reused buffer for the case-folded form of a long host.
    scratch: Vec<u8>,
}

impl<V: Copy> HostTable<V> {
    pub(super) fn new() -> Self {
        HostTable {
            table: HashTable::new(),
            arena: Vec::new(),
            long_hasher: ahash::RandomState::with_seeds(SEED0, SEED1, !SEED0, !SEED1),
            scratch: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// Heap bytes held, about: the table's buckets (an eighth more than its
    /// capacity) with their control bytes, and the arena.
    pub(super) fn bytes(&self) -> usize {
        let buckets = self.table.capacity() / 7 * 8 + 16;
        buckets * (std::mem::size_of::<(Key, V)>() + 1) + self.arena.capacity()
    }

    /// Stores `new` for `host` (case folded here) if it is absent, else calls
    /// `existing` on its value.
    #[inline(always)]
    pub(super) fn upsert_raw(&mut self, host: &[u8], new: V, existing: impl FnOnce(&mut V)) {
        if host.len() <= INLINE_MAX {
            self.upsert_inline(inline_key(host), new, existing);
        } else {
            let mut scratch = std::mem::take(&mut self.scratch);
            self.upsert_long(fold_case_into(host, &mut scratch), new, existing);
            self.scratch = scratch;
        }
    }

    #[inline(always)]
    pub(super) fn upsert_inline(&mut self, key: Key, new: V, existing: impl FnOnce(&mut V)) {
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

    pub(super) fn upsert_long(&mut self, host: &[u8], new: V, existing: impl FnOnce(&mut V)) {
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
    pub(super) fn merge(&mut self, mut other: Self, mut combine: impl FnMut(&[u8], &mut V, V)) {
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

    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], V)> + '_ {
        self.table.iter().map(|(k, v)| (k.bytes(&self.arena), *v))
    }
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
pub struct HostSet(HostTable<()>);

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

    /// Whether no host was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
