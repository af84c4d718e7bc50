//! Compact hash tables keyed by case-folded host names.
//!
//! Exact mode keeps one table per hour and per query, and a multi-gigabyte log
//! has tens of millions of (hour, host) pairs, so the layout matters more than
//! anything else for memory: keys live back to back in one arena (a LEB128
//! length, then the bytes), and the table holds only an arena offset and a
//! value. That is about 30 bytes per distinct host where a
//! `HashMap<Box<[u8]>, u64>` needs twice that, and it frees in one go.
//!
//! Hashing uses fixed seeds so that tables built on different threads agree and
//! a run is reproducible.

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::parse::fold_case_into;

/// Fixed seeds: every table in every thread hashes a host to the same value.
fn hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
}

/// A table from case-folded host to a small copyable value.
struct HostTable<V> {
    table: HashTable<(u64, V)>,
    arena: Vec<u8>,
    hasher: ahash::RandomState,
    /// Reused buffer for the case-folded form of the host being looked up.
    scratch: Vec<u8>,
}

impl<V: Copy> HostTable<V> {
    fn new() -> Self {
        HostTable {
            table: HashTable::new(),
            arena: Vec::new(),
            hasher: hasher(),
            scratch: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    /// Folds the case of `host` and upserts it (see [`Self::upsert_folded`]).
    #[inline]
    fn upsert_raw(&mut self, host: &[u8], new: V, existing: impl FnOnce(&mut V)) {
        let mut scratch = std::mem::take(&mut self.scratch);
        self.upsert_folded(fold_case_into(host, &mut scratch), new, existing);
        self.scratch = scratch;
    }

    /// Stores `new` for `key` if it is absent, else calls `existing` on its value.
    #[inline]
    fn upsert_folded(&mut self, key: &[u8], new: V, existing: impl FnOnce(&mut V)) {
        let hash = self.hasher.hash_one(key);
        let (arena, hasher) = (&self.arena, &self.hasher);
        match self.table.entry(
            hash,
            |&(off, _)| key_at(arena, off) == key,
            |&(off, _)| hasher.hash_one(key_at(arena, off)),
        ) {
            Entry::Occupied(mut e) => existing(&mut e.get_mut().1),
            Entry::Vacant(e) => {
                let off = self.arena.len() as u64;
                push_key(&mut self.arena, key);
                e.insert((off, new));
            }
        }
    }

    /// Adds every entry of `other`, combining the values of hosts in both.
    fn merge(&mut self, mut other: Self, combine: impl Fn(&mut V, V)) {
        // Moving the smaller table into the larger one is the cheaper direction.
        if other.len() > self.len() {
            std::mem::swap(self, &mut other);
        }
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.table
            .reserve(other.len(), |&(off, _)| hasher.hash_one(key_at(arena, off)));
        for &(off, v) in &other.table {
            self.upsert_folded(key_at(&other.arena, off), v, |mine| combine(mine, v));
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], V)> + '_ {
        self.table
            .iter()
            .map(|&(off, v)| (key_at(&self.arena, off), v))
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

#[inline]
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
        self.0.merge(other.0, |_, _| {});
    }

    /// The number of distinct hosts.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// The hosts, sorted ascending by bytes.
    pub fn into_sorted(self) -> Vec<String> {
        sorted_strings(self.0.iter().map(|(h, ())| h))
    }
}

impl Default for HostSet {
    fn default() -> Self {
        Self::new()
    }
}

/// The leader of a [`HostCounter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// The host with the highest count; the smallest name (bytes) among equals.
    pub host: String,
    /// Its count.
    pub count: u64,
    /// How many other hosts have the same count.
    pub tied: u64,
    /// How many distinct hosts were counted.
    pub distinct: u64,
}

/// Connection counts per host, for the busiest query.
pub struct HostCounter(HostTable<u64>);

impl HostCounter {
    /// An empty counter.
    pub fn new() -> Self {
        HostCounter(HostTable::new())
    }

    /// Counts one connection of `host` (case folded here).
    #[inline]
    pub fn add(&mut self, host: &[u8]) {
        self.0.upsert_raw(host, 1, |c| *c += 1);
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: HostCounter) {
        self.0.merge(other.0, |mine, theirs| *mine += theirs);
    }

    /// The host with the highest count, or `None` when nothing was counted.
    pub fn leader(&self) -> Option<Leader> {
        let mut best: Option<(&[u8], u64)> = None;
        let mut tied = 0;
        for (host, count) in self.0.iter() {
            match best {
                Some((_, c)) if count < c => {}
                Some((h, c)) if count == c => {
                    tied += 1;
                    if host < h {
                        best = Some((host, count));
                    }
                }
                _ => {
                    best = Some((host, count));
                    tied = 0;
                }
            }
        }
        best.map(|(host, count)| Leader {
            host: String::from_utf8_lossy(host).into_owned(),
            count,
            tied,
            distinct: self.0.len() as u64,
        })
    }
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
        assert_eq!(
            c.leader(),
            Some(Leader {
                host: "a".into(),
                count: 2,
                tied: 1,
                distinct: 4
            })
        );
        assert_eq!(HostCounter::new().leader(), None);
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
        let l = a.leader().unwrap();
        assert_eq!(
            (l.host.as_str(), l.count, l.tied, l.distinct),
            ("x", 8, 0, 102)
        );
    }
}
