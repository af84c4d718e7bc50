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

/// Ranks the hosts `hosts` yields (each host once) and keeps the best `n`.
///
/// One pass with a heap of `n` entries, so a window with millions of hosts
/// costs O(hosts · log n) and no copy. The ties at the cut are known only once
/// the cut is, so the pass also counts, per count value, the hosts at or
/// above the heap's smallest count at the time: that minimum only grows, so
/// every host with the final cut's count is among them. `None` when there is
/// no host.
pub(crate) fn rank<'a, E: Copy>(
    n: usize,
    hosts: impl Iterator<Item = Counted<'a, E>>,
) -> Option<Ranking<'a, E>> {
    let n = n.max(1);
    let mut heap: BinaryHeap<Reverse<ByRank<'a, E>>> = BinaryHeap::with_capacity(n + 1);
    let mut at_count: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut best_count, mut at_best) = (0u64, 0u64);
    for item in hosts {
        match item.count.cmp(&best_count) {
            Ordering::Greater => (best_count, at_best) = (item.count, 1),
            Ordering::Equal => at_best += 1,
            Ordering::Less => {}
        }
        if heap.len() < n {
            *at_count.entry(item.count).or_default() += 1;
            heap.push(Reverse(ByRank(item)));
        } else if let Some(worst) = heap.peek() {
            if item.count >= worst.0 .0.count {
                *at_count.entry(item.count).or_default() += 1;
                if item.outranks(&worst.0 .0) {
                    heap.pop();
                    heap.push(Reverse(ByRank(item)));
                }
            }
        }
    }
    let mut top: Vec<Counted<'a, E>> = heap.into_iter().map(|Reverse(ByRank(c))| c).collect();
    top.sort_unstable_by(|a, b| b.cmp_rank(a));
    let last = top.last()?.count;
    let listed_at_last = top.iter().filter(|c| c.count == last).count() as u64;
    Some(Ranking {
        tied: at_best - 1,
        cut_tied: at_count.get(&last).copied().unwrap_or(0) - listed_at_last,
        top,
    })
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
