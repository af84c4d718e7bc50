//! Ranking counted hosts: the `--top` N with the ties around them.
//!
//! Exact counters and the approximate heavy-hitter sketch rank the same way, so
//! both modes share this: hosts by count descending, then by name ascending
//! (bytes), which makes every list a pure function of the counts.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

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
    /// The best unlisted host, if any: it bounds every host below the cut.
    pub(crate) next: Option<Counted<'a, E>>,
}

/// Ranks the hosts `hosts()` yields (each host once) and keeps the best `n`.
///
/// Two passes: the first selects the top `n` with a heap of `n` entries, so a
/// window with millions of hosts costs O(hosts · log n) and no copy; the
/// second counts the ties at the cut, which are known only once the cut is.
/// `None` when there is no host.
pub(crate) fn rank<'a, E: Copy, I>(n: usize, hosts: impl Fn() -> I) -> Option<Ranking<'a, E>>
where
    I: Iterator<Item = Counted<'a, E>>,
{
    let n = n.max(1);
    let mut heap: BinaryHeap<Reverse<ByRank<'a, E>>> = BinaryHeap::with_capacity(n + 1);
    let (mut best_count, mut at_best) = (0u64, 0u64);
    for item in hosts() {
        match item.count.cmp(&best_count) {
            Ordering::Greater => (best_count, at_best) = (item.count, 1),
            Ordering::Equal => at_best += 1,
            Ordering::Less => {}
        }
        if heap.len() < n {
            heap.push(Reverse(ByRank(item)));
        } else if heap.peek().is_some_and(|worst| item.outranks(&worst.0 .0)) {
            heap.pop();
            heap.push(Reverse(ByRank(item)));
        }
    }
    let mut top: Vec<Counted<'a, E>> = heap.into_iter().map(|Reverse(ByRank(c))| c).collect();
    top.sort_unstable_by(|a, b| b.cmp_rank(a));
    let last = *top.last()?;
    let (mut cut_tied, mut next) = (0u64, None::<Counted<'a, E>>);
    for item in hosts() {
        if last.outranks(&item) {
            cut_tied += u64::from(item.count == last.count);
            if next.as_ref().is_none_or(|b| item.outranks(b)) {
                next = Some(item);
            }
        }
    }
    Some(Ranking {
        top,
        tied: at_best - 1,
        cut_tied,
        next,
    })
}

impl<E> Ranking<'_, E> {
    /// The answer this ranking gives over `distinct` hosts; `bounds` says what
    /// a sketch proves about each listed host (nothing, in exact mode).
    pub(crate) fn into_busiest(
        self,
        distinct: u64,
        bounds: impl Fn(&Counted<'_, E>, &Self) -> Option<Bounds>,
    ) -> Busiest {
        let top: Vec<Talker> = self
            .top
            .iter()
            .map(|c| Talker {
                host: String::from_utf8_lossy(c.host).into_owned(),
                connections: c.count,
                bounds: bounds(c, &self),
            })
            .collect();
        let leader = &top[0];
        Busiest {
            host: leader.host.clone(),
            connections: leader.connections,
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
        let r = rank(4, || v.iter().copied()).unwrap();
        assert_eq!(names(&r), [("a", 5), ("b", 5), ("c", 3), ("d", 2)]);
        assert_eq!(r.tied, 1, "b has a's count");
        assert_eq!(r.cut_tied, 2, "e and f have d's count but are not listed");
        assert_eq!(r.next.map(|c| c.host), Some(&b"e"[..]));
    }

    #[test]
    fn fewer_hosts_than_asked_lists_them_all_with_nothing_cut() {
        let v = hosts(&[("x", 1), ("y", 1)]);
        let r = rank(10, || v.iter().copied()).unwrap();
        assert_eq!(names(&r), [("x", 1), ("y", 1)]);
        assert_eq!((r.tied, r.cut_tied, r.next), (1, 0, None));
        assert!(rank(3, || hosts(&[]).into_iter()).is_none());
    }

    #[test]
    fn the_first_of_a_ranking_is_the_leader_whatever_n() {
        let v = hosts(&[("m", 4), ("k", 4), ("z", 9), ("a", 1)]);
        for n in 1..6 {
            let r = rank(n, || v.iter().copied()).unwrap();
            assert_eq!(r.top[0].host, b"z");
            assert_eq!(r.top.len(), n.min(4));
            assert_eq!(r.tied, 0);
        }
        let r = rank(2, || v.iter().copied()).unwrap();
        assert_eq!(names(&r), [("z", 9), ("k", 4)]);
        assert_eq!(r.cut_tied, 1);
    }
}
