//! Ranking counted hosts: the `--top` N with the ties around them.
//!
//! Exact counters and the approximate heavy-hitter sketch rank the same way, so
//! both modes share this: hosts by count descending, then by name ascending
//! (bytes), which makes every list a pure function of the counts.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

use crate::report::{Bounds, Busiest, Talker};

/// One counted host, with what the caller keeps beside its count (the
/// sketch's error in approximate mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted<'a, E> {
    pub(crate) host: &'a [u8],
    pub(crate) count: u64,
    pub(crate) extra: E,
}

impl<E> Counted<'_, E> {
    /// Ranks above `other`: more connections, or as many and a smaller name.
    fn outranks(&self, other: &Self) -> bool {
        self.cmp_rank(other) == Ordering::Greater
    }

    fn cmp_rank(&self, other: &Self) -> Ordering {
        self.count
            .cmp(&other.count)
            .then_with(|| other.host.cmp(self.host))
    }
}

/// Heap entry ordered by rank alone, so that the payload needs no `Ord`.
struct ByRank<'a, E>(Counted<'a, E>);

impl<E> PartialEq for ByRank<'_, E> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<E> Eq for ByRank<'_, E> {}
impl<E> PartialOrd for ByRank<'_, E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for ByRank<'_, E> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_rank(&other.0)
    }
}

/// The top of a ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ranking<'a, E> {
    /// At most N hosts, best first.
    pub(crate) top: Vec<Counted<'a, E>>,
    /// Other hosts with the leader's count.
    pub(crate) tied: u64,
    /// Unlisted hosts with the last listed host's count.
    pub(crate) cut_tied: u64,
}

/// Ranks the hosts `hosts` yields (each host once) and keeps the best `n`;
/// `None` when there is no host. See [`Ranker`].
pub(crate) fn rank<'a, E: Copy>(
    n: usize,
    hosts: impl Iterator<Item = Counted<'a, E>>,
) -> Option<Ranking<'a, E>> {
    let mut ranker = Ranker::new(n);
    for item in hosts {
        ranker.push(item);
    }
    ranker.finish()
}

/// A ranking under way: hosts go in one at a time, and rankers of disjoint
/// hosts merge.
///
/// One pass with a heap of `n` entries, so a window with millions of hosts
/// costs O(hosts · log n) and no copy. The ties at the cut are known only once
/// the cut is, so the pass also counts, per count value, the hosts at or
/// above the heap's smallest count at the time: that minimum only grows, so
/// every host with the final cut's count is among them. A merged cut is at
/// least either side's, so the sum of both sides' tallies is whole there too.
pub(crate) struct Ranker<'a, E> {
    n: usize,
    heap: BinaryHeap<Reverse<ByRank<'a, E>>>,
    at_count: BTreeMap<u64, u64>,
    /// The best count pushed, and how many hosts have it.
    best_count: u64,
    at_best: u64,
}

impl<'a, E: Copy> Ranker<'a, E> {
    /// A ranking of the best `n` (at least one).
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        Ranker {
            n,
            heap: BinaryHeap::with_capacity(n + 1),
            at_count: BTreeMap::new(),
            best_count: 0,
            at_best: 0,
        }
    }

    /// Ranks one more host, which no host pushed before names. Inlined into
    /// the loops over a window's hosts: as a call it cost 10 instructions a
    /// host.
    #[inline(always)]
    pub(crate) fn push(&mut self, item: Counted<'a, E>) {
        match item.count.cmp(&self.best_count) {
            Ordering::Greater => (self.best_count, self.at_best) = (item.count, 1),
            Ordering::Equal => self.at_best += 1,
            Ordering::Less => {}
        }
        if self.heap.len() < self.n {
            *self.at_count.entry(item.count).or_default() += 1;
            self.heap.push(Reverse(ByRank(item)));
        } else if let Some(worst) = self.heap.peek() {
            if item.count >= worst.0 .0.count {
                *self.at_count.entry(item.count).or_default() += 1;
                if item.outranks(&worst.0 .0) {
                    self.heap.pop();
                    self.heap.push(Reverse(ByRank(item)));
                }
            }
        }
    }

    /// The ranking of both rankers' hosts, which no two share.
    pub(crate) fn merge(mut self, other: Self) -> Self {
        match other.best_count.cmp(&self.best_count) {
            Ordering::Greater => {
                (self.best_count, self.at_best) = (other.best_count, other.at_best)
            }
            Ordering::Equal => self.at_best += other.at_best,
            Ordering::Less => {}
        }
        for (count, hosts) in other.at_count {
            *self.at_count.entry(count).or_default() += hosts;
        }
        for item in other.heap {
            self.heap.push(item);
            if self.heap.len() > self.n {
                self.heap.pop();
            }
        }
        self
    }

    /// The best `n` and the ties around them, or `None` when no host was
    /// pushed.
    pub(crate) fn finish(self) -> Option<Ranking<'a, E>> {
        let mut top: Vec<Counted<'a, E>> =
            self.heap.into_iter().map(|Reverse(ByRank(c))| c).collect();
        top.sort_unstable_by(|a, b| b.cmp_rank(a));
        let last = top.last()?.count;
        let listed_at_last = top.iter().filter(|c| c.count == last).count() as u64;
        Some(Ranking {
            tied: self.at_best - 1,
            cut_tied: self.at_count.get(&last).copied().unwrap_or(0) - listed_at_last,
            top,
        })
    }
}

/// The best of `hosts` (the ones ranked, again) that `r` does not list: it
/// bounds every host below the cut. A second pass, for the sketch's proofs.
pub(crate) fn best_unlisted<'a, E: Copy>(
    r: &Ranking<'a, E>,
    hosts: impl Iterator<Item = Counted<'a, E>>,
) -> Option<Counted<'a, E>> {
    let last = r.top.last()?;
    hosts
        .filter(|item| last.outranks(item))
        .reduce(|best, item| if item.outranks(&best) { item } else { best })
}

impl<E> Ranking<'_, E> {
    /// The answer this ranking gives over `distinct` hosts; `bounds` says what
    /// a sketch proves about each listed host (nothing, in exact mode).
    pub(crate) fn into_busiest(
        self,
        distinct: u64,
        bounds: impl Fn(&Counted<'_, E>) -> Option<Bounds>,
    ) -> Busiest {
        let top: Vec<Talker> = self
            .top
            .iter()
            .map(|c| Talker {
                host: String::from_utf8_lossy(c.host).into_owned(),
                value: c.count,
                bounds: bounds(c),
            })
            .collect();
        let leader = &top[0];
        Busiest {
            host: leader.host.clone(),
            value: leader.value,
            error: leader.bounds.map(|b| b.error),
            tied: self.tied,
            distinct,
            cut_tied: self.cut_tied,
            top,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(counts: &[(&'static str, u64)]) -> Vec<Counted<'static, ()>> {
        counts
            .iter()
            .map(|&(h, c)| Counted {
                host: h.as_bytes(),
                count: c,
                extra: (),
            })
            .collect()
    }

    fn names<'a, E>(r: &Ranking<'a, E>) -> Vec<(&'a str, u64)> {
        r.top
            .iter()
            .map(|c| (std::str::from_utf8(c.host).unwrap(), c.count))
            .collect()
    }

    #[test]
    fn orders_by_count_then_name_and_counts_ties_at_both_ends() {
        let v = hosts(&[
            ("d", 2),
            ("b", 5),
            ("a", 5),
            ("e", 2),
            ("c", 3),
            ("f", 2),
            ("g", 1),
        ]);
        let r = rank(4, v.iter().copied()).unwrap();
        assert_eq!(names(&r), [("a", 5), ("b", 5), ("c", 3), ("d", 2)]);
        assert_eq!(r.tied, 1, "b has a's count");
        assert_eq!(r.cut_tied, 2, "e and f have d's count but are not listed");
        let next = best_unlisted(&r, v.iter().copied());
        assert_eq!(next.map(|c| c.host), Some(&b"e"[..]));
    }

    #[test]
    fn fewer_hosts_than_asked_lists_them_all_with_nothing_cut() {
        let v = hosts(&[("x", 1), ("y", 1)]);
        let r = rank(10, v.iter().copied()).unwrap();
        assert_eq!(names(&r), [("x", 1), ("y", 1)]);
        assert_eq!((r.tied, r.cut_tied), (1, 0));
        assert_eq!(best_unlisted(&r, v.iter().copied()), None);
        assert!(rank(3, hosts(&[]).into_iter()).is_none());
    }

    #[test]
    fn ties_at_the_cut_are_counted_whatever_order_the_hosts_come_in() {
        // The cut's count is reached late, after the heap's minimum rose past
        // hosts that turn out to tie with it: they must still be counted.
        let mut v = hosts(&[("p", 1), ("q", 1), ("r", 3), ("s", 3), ("t", 2)]);
        for _ in 0..v.len() {
            v.rotate_left(1);
            let r = rank(3, v.iter().copied()).unwrap();
            assert_eq!(names(&r), [("r", 3), ("s", 3), ("t", 2)]);
            assert_eq!(r.cut_tied, 0);
            let r = rank(4, v.iter().copied()).unwrap();
            assert_eq!(names(&r)[3], ("p", 1));
            assert_eq!(r.cut_tied, 1, "q");
        }
    }

    proptest::proptest! {
        /// Rankers of disjoint hosts, merged in any grouping, rank as one
        /// ranker of all the hosts: the same list, leader ties and cut ties.
        #[test]
        fn merged_rankers_rank_as_one(
            counts in proptest::collection::vec(0u64..6, 0..60),
            part_of in proptest::collection::vec(0usize..4, 60),
            n in 1usize..8,
        ) {
            let names: Vec<String> = (0..counts.len()).map(|i| format!("h{i}")).collect();
            let all: Vec<Counted<'_, ()>> = counts
                .iter()
                .zip(&names)
                .map(|(&count, h)| Counted { host: h.as_bytes(), count, extra: () })
                .collect();
            let mut parts: Vec<Ranker<'_, ()>> = (0..4).map(|_| Ranker::new(n)).collect();
            for (i, &c) in all.iter().enumerate() {
                parts[part_of[i]].push(c);
            }
            let [a, b, c, d]: [Ranker<'_, ()>; 4] = parts.try_into().ok().unwrap();
            let merged = a.merge(b).merge(c.merge(d)).finish();
            proptest::prop_assert_eq!(merged, rank(n, all.iter().copied()));
        }
    }

    #[test]
    fn the_first_of_a_ranking_is_the_leader_whatever_n() {
        let v = hosts(&[("m", 4), ("k", 4), ("z", 9), ("a", 1)]);
        for n in 1..6 {
            let r = rank(n, v.iter().copied()).unwrap();
            assert_eq!(r.top[0].host, b"z");
            assert_eq!(r.top.len(), n.min(4));
            assert_eq!(r.tied, 0);
        }
        let r = rank(2, v.iter().copied()).unwrap();
        assert_eq!(names(&r), [("z", 9), ("k", 4)]);
        assert_eq!(r.cut_tied, 1);
    }
}
