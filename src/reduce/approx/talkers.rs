//! The approximate count part: a Space-Saving summary of the busiest hosts
//! on one side, and a HyperLogLog of every host on it, behind a table of
//! exact counts while the hosts fit a share of the budget.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{sketch_host, ApproxKit, WAVES_IN_FLIGHT};
use crate::hosts::fold::{fold_short, sketch_form, MAX_SKETCH_HOST};
use crate::hosts::rank::{best_unlisted, rank, Counted};
use crate::hosts::HostCounter;
use crate::partial::codec::{Decoder, Encoder};
use crate::partial::{Body, DecodeError};
use crate::reduce::part::{CountPart, CountSlot, Fields, Part};
use crate::report::{Bounds, Busiest};
use crate::sketch::{keep_largest, Hll, SpaceSaving, Tracked, WeightedSpaceSaving};

/// The busiest hosts on one side of a window's lines.
pub struct Talkers {
    pub(super) summary: Summary,
    pub(super) distinct: Hll,
    /// The latest lines' hosts, counted exactly, when the budget gives this
    /// side room for them.
    front: Option<Front>,
    /// Reused buffer for a host's case-folded form.
    scratch: Vec<u8>,
}

/// Exact counts in front of the sketches.
///
/// A Space-Saving update and a HyperLogLog insert for every line cost more
/// than the exact mode's table, whose inserts are pipelined, and a window's
/// hosts repeat (the benchmark log's hours bring 8 lines a host). So lines
/// are counted in that table while its short hosts fit in [`Front::most`]
/// (and its long ones in [`Front::long_bytes`]), a share of the budget.
/// When it is full, and before a window is answered, merged or written, it
/// is spilled: every host goes into the HyperLogLog once, and the `k`
/// largest counts, exact (ties to the smaller host), make a summary whose
/// errors are 0 and whose untracked bound is its smallest count. That
/// summary merges into the window's as any other side's would, so every
/// guarantee is the merge's ([`SpaceSaving::merge`]); a window whose hosts
/// never fill the table is answered exactly. The HyperLogLog sees the same
/// hosts, in the same form, as when every line updated it.
///
/// Where nearly every line brings a new host, the table saves nothing and
/// its spills cost more than the sketches' own updates: a fill that has
/// seen fewer than [`REPEATS`] lines a host by its first sixteenth stops
/// the front for the rest of the window's wave. Every choice depends on the
/// state's own lines, never on the thread count.
struct Front {
    counts: HostCounter,
    /// The bytes it was given: a spare table serves a front of as many.
    bytes: usize,
    /// The most short hosts `counts` holds before it spills: its table of
    /// them then stays within its limit.
    most: usize,
    /// The short hosts at which the next check is made.
    next: usize,
    /// Lines added since the last spill.
    lines: usize,
    /// The most bytes its long hosts take before it spills.
    long_bytes: usize,
}

/// Lines a host, at least, for the front to go on: the benchmark log's
/// hours had 3.4 at their first 12,000 hosts, a log of nearly all new hosts
/// 1.02.
const REPEATS: (usize, usize) = (3, 2);

/// The most emptied front tables that wait, one a worker thread, for the
/// next wave's windows (fresh pages cost more than a table's inserts): the
/// budget counts them beside the fronts of the states in flight.
pub(super) const SPARES: usize = WAVES_IN_FLIGHT;

/// Emptied tables waiting, over all threads.
static SPARES_HELD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's emptied table and the bytes it was limited to.
    static SPARE: RefCell<Option<(usize, HostCounter)>> = const { RefCell::new(None) };
}

impl Front {
    /// A front in `bytes`, or none when they hold no table: three quarters for
    /// the table of short hosts, and an eighth for long hosts, whose arena
    /// and table may double once past the check.
    fn new(bytes: usize) -> Option<Front> {
        let mut counts = SPARE
            .with(|spare| spare.borrow_mut().take())
            .and_then(|(limit, counts)| {
                SPARES_HELD.fetch_sub(1, Ordering::Relaxed);
                (limit == bytes).then_some(counts)
            })
            .unwrap_or_default();
        let most = counts.limit(bytes / 4 * 3);
        (most > 0).then(|| Front {
            counts,
            bytes,
            most,
            next: Front::first_check(most),
            lines: 0,
            long_bytes: bytes / 8,
        })
    }

    /// A sixteenth of the most, but no fewer than 64 hosts (or all of a
    /// smaller front): a handful of hosts says nothing about repeats.
    fn first_check(most: usize) -> usize {
        (most / 16).max(most.min(64))
    }

    /// Keeps the emptied table for this thread's next front, when few
    /// enough wait.
    fn retire(self) {
        debug_assert_eq!(self.lines, 0, "retiring a front that was not spilled");
        if SPARES_HELD.fetch_add(1, Ordering::Relaxed) >= SPARES {
            SPARES_HELD.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let replaced = SPARE.with(|spare| spare.borrow_mut().replace((self.bytes, self.counts)));
        if replaced.is_some() {
            SPARES_HELD.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A side's heavy-hitter summary: one per line for connections, whose
/// buckets make an add O(1); weighted for bytes and packets, whose adds
/// move a counter past any number of others.
pub(super) enum Summary {
    /// Connections.
    Lines(SpaceSaving),
    /// Bytes or packets.
    Weighted(WeightedSpaceSaving),
}

impl Summary {
    /// A summary of `k` counters over `total` holding `counters` (host,
    /// count), exact counts sorted by ascending count, then host.
    fn exact(weighted: bool, k: usize, total: u64, counters: &[(&[u8], u64, u64)]) -> Summary {
        let summary = if weighted {
            WeightedSpaceSaving::from_parts(k, total, counters).map(Summary::Weighted)
        } else {
            SpaceSaving::from_parts(k, total, counters).map(Summary::Lines)
        };
        // Distinct hosts, each counted at least once per line (weighted:
        // at least 0), adding up to `total`, which the window keeps within
        // 64 bits (`Parts::add`).
        summary.expect("exact counts make a summary")
    }

    fn k(&self) -> usize {
        match self {
            Summary::Lines(s) => s.k(),
            Summary::Weighted(s) => s.k(),
        }
    }

    /// Adds `weight` to `host`, returning whether it was tracked. The
    /// connections' summary counts every line once: its weight is 1.
    #[inline(always)]
    fn add(&mut self, host: &[u8], weight: u64) -> bool {
        match self {
            Summary::Lines(s) => s.add(host),
            Summary::Weighted(s) => s.add(host, weight),
        }
    }

    /// Every tracked host with its estimate and error.
    fn counters(&self) -> Vec<(&[u8], u64, u64)> {
        match self {
            Summary::Lines(s) => s.iter().collect(),
            Summary::Weighted(s) => s.iter().collect(),
        }
    }

    fn sorted_counters(&self) -> Vec<(&[u8], u64, u64)> {
        match self {
            Summary::Lines(s) => s.sorted_counters(),
            Summary::Weighted(s) => s.sorted_counters(),
        }
    }

    /// The most any untracked host can have.
    fn untracked_bound(&self) -> u64 {
        match self {
            Summary::Lines(s) => s.untracked_bound(),
            Summary::Weighted(s) => s.untracked_bound(),
        }
    }

    /// The sum of everything added.
    pub(super) fn total(&self) -> u64 {
        match self {
            Summary::Lines(s) => s.total(),
            Summary::Weighted(s) => s.total(),
        }
    }

    fn merge(&mut self, other: Summary) {
        match (self, other) {
            (Summary::Lines(a), Summary::Lines(b)) => a.merge(b),
            (Summary::Weighted(a), Summary::Weighted(b)) => a.merge(b),
            // One reducer makes every summary of one kind.
            _ => {}
        }
    }

    #[cfg(test)]
    pub(super) fn memory_bytes(&self) -> usize {
        match self {
            Summary::Lines(s) => s.memory_bytes(),
            Summary::Weighted(s) => s.memory_bytes(),
        }
    }
}

impl Talkers {
    /// Empty sketches of `k` counters and `precision`, weighted when the
    /// busiest rank by bytes or packets, behind exact counts in `front_bytes`.
    pub(super) fn new(k: usize, precision: u8, weighted: bool, front_bytes: usize) -> Self {
        Talkers {
            summary: if weighted {
                Summary::Weighted(WeightedSpaceSaving::new(k))
            } else {
                Summary::Lines(SpaceSaving::new(k))
            },
            distinct: Hll::new(precision),
            front: Front::new(front_bytes),
            scratch: Vec::new(),
        }
    }

    /// Adds `weight` of the host `host` names: inlined into the line
    /// loop, as the exact mode's counter is.
    #[inline(always)]
    fn insert(&mut self, host: &[u8], weight: u64) {
        if let Some(front) = &mut self.front {
            front.lines += 1;
            if host.len() <= HostCounter::INLINE_MAX {
                front.counts.add_weighted(host, weight);
                if front.counts.short_hosts() >= front.next {
                    self.check();
                }
            } else {
                let host = if host.len() <= MAX_SKETCH_HOST {
                    host
                } else {
                    sketch_form(host, &mut self.scratch)
                };
                front.counts.add_weighted(host, weight);
                if front.counts.long_bytes() > front.long_bytes {
                    self.spill();
                }
            }
        } else {
            self.sketch(host, weight);
        }
    }

    /// Spills a full front, or stops one whose hosts rarely repeat (see
    /// [`Front`]).
    #[inline(never)]
    fn check(&mut self) {
        let Some(front) = &mut self.front else {
            return;
        };
        let hosts = front.counts.short_hosts();
        if front.lines * REPEATS.1 < hosts * REPEATS.0 {
            self.stop_front();
        } else if hosts >= front.most {
            self.spill();
        } else {
            front.next = front.most;
        }
    }

    /// Spills the front and counts the window's next lines in the sketches.
    fn stop_front(&mut self) {
        self.spill();
        if let Some(front) = self.front.take() {
            front.retire();
        }
    }

    /// Adds `weight` of `host` to the sketches themselves.
    #[inline(never)]
    fn sketch(&mut self, host: &[u8], weight: u64) {
        let mut short = [0; 16];
        let host = if host.len() <= 16 {
            fold_short(host, &mut short)
        } else {
            sketch_form(host, &mut self.scratch)
        };
        // Every host the summary tracks is already in the HyperLogLog (an
        // insert is idempotent, and merges carry both along), so only the
        // untracked ones pay for the HyperLogLog's own hash (DataSketches'
        // MurmurHash3, which partials from other machines must share) and
        // insert.
        if !self.summary.add(host, weight) {
            self.distinct.insert(host);
        }
    }
}

impl Talkers {
    /// Moves the front's exact counts into the sketches (see [`Front`]).
    #[inline(never)]
    fn spill(&mut self) {
        let Talkers {
            summary,
            distinct,
            front: Some(front),
            ..
        } = self
        else {
            return;
        };
        front.lines = 0;
        front.next = Front::first_check(front.most);
        let hosts = front.counts.len();
        if hosts == 0 {
            return;
        }
        let k = summary.k();
        // The k largest counts are found among the counts of at least
        // `least`, which the first pass finds from their histogram: a few
        // thousand hosts to order, where most of a window's are seen once
        // or twice and equal counts would be ordered by their bytes.
        let mut total = 0u64;
        let mut at_least = [0usize; 256];
        for (host, count) in front.counts.unordered() {
            distinct.insert(host);
            total += count;
            at_least[count.min(255) as usize] += 1;
        }
        let mut least = 0;
        if hosts > k {
            let mut above = 0;
            least = 255;
            while least > 0 {
                above += at_least[least];
                if above >= k {
                    break;
                }
                least -= 1;
            }
        }
        let mut top: Vec<(&[u8], u64, u64)> = front
            .counts
            .unordered()
            .filter(|&(_, count)| count >= least as u64)
            .map(|(host, count)| (host, count, 0))
            .collect();
        keep_largest(&mut top, k, |e| e.1, |e| e.0);
        let weighted = matches!(summary, Summary::Weighted(_));
        summary.merge(Summary::exact(weighted, k, total, &top));
        drop(top);
        front.counts.clear();
    }
}

impl Part<ApproxKit> for Talkers {
    type Slot = CountSlot;

    fn new(kit: &ApproxKit) -> Self {
        Talkers::new(
            kit.settings.top_k,
            kit.settings.hll_precision,
            kit.weighted,
            kit.settings.front_bytes,
        )
    }

    fn merge(&mut self, _: &ApproxKit, mut other: Self) -> io::Result<()> {
        other.spill();
        self.summary.merge(other.summary);
        self.distinct.merge(&other.distinct);
        Ok(())
    }

    /// The summary's total (lines, or bytes or packets), then each
    /// counter's host, count and error in the summary's canonical order; the HyperLogLog in a field of its own,
    /// as DataSketches' own bytes (Spark SQL reads them).
    fn encode(mut self, _: &ApproxKit, slot: CountSlot, body: &mut Body) -> io::Result<()> {
        self.spill();
        let counters = self.summary.sorted_counters();
        let mut e = Encoder::new();
        e.uint(self.summary.total()).uint(counters.len() as u64);
        for (host, count, error) in counters {
            e.bytes(host).uint(count).uint(error);
        }
        body.binary(slot.field(), e.finish());
        body.binary(slot.distinct_field(), self.distinct.to_bytes());
        Ok(())
    }

    fn decode(kit: &ApproxKit, slot: CountSlot, from: &mut Fields) -> Result<Self, DecodeError> {
        let name = slot.field();
        let bytes = from.take(name)?;
        let mut d = Decoder::new(&bytes);
        let (total, want) = (d.uint()?, from.total());
        if total != want {
            return Err(format!("{name}: a summary of {total} where the window has {want}").into());
        }
        let n = d.count(3)?;
        let mut counters = Vec::with_capacity(n);
        for _ in 0..n {
            counters.push((sketch_host(d.bytes()?)?, d.uint()?, d.uint()?));
        }
        d.end()?;
        let k = kit.settings.top_k;
        let summary = if kit.weighted {
            WeightedSpaceSaving::from_parts(k, total, &counters).map(Summary::Weighted)
        } else {
            SpaceSaving::from_parts(k, total, &counters).map(Summary::Lines)
        }
        .map_err(|e| format!("{name}: {e}"))?;
        let distinct = kit.decode_hll(&from.take(slot.distinct_field())?)?;
        // Every host the summary tracks went into the HyperLogLog too.
        if distinct.is_empty() && !counters.is_empty() {
            return Err(format!("{name}: an empty HyperLogLog beside tracked hosts").into());
        }
        Ok(Talkers {
            summary,
            distinct,
            front: None,
            scratch: Vec::new(),
        })
    }
}

impl CountPart<ApproxKit> for Talkers {
    #[inline(always)]
    fn add(&mut self, host: &[u8]) {
        self.insert(host, 1);
    }

    #[inline(always)]
    fn add_weighted(&mut self, host: &[u8], weight: u64) {
        self.insert(host, weight);
    }

    /// Spills the front while the wave's worker still holds the state:
    /// merges run one at a time, and the front is only merged from now on.
    fn settle(&mut self) {
        self.stop_front();
    }

    /// The `top` busiest hosts, each with what the sketch proves about it.
    fn finish(mut self, _: &ApproxKit, top: usize) -> Option<Busiest> {
        self.spill();
        let summary = &self.summary;
        let tracked = summary.counters();
        let counters = || {
            tracked.iter().map(|&(host, count, error)| Counted {
                host,
                count,
                extra: error,
            })
        };
        let ranking = rank(top, counters())?;
        let next = best_unlisted(&ranking, counters());
        let untracked = summary.untracked_bound();
        Some(ranking.into_busiest(self.distinct.estimate(), |c| {
            Some(Bounds {
                error: c.extra,
                guaranteed: proves_listed(c, next.as_ref(), untracked),
            })
        }))
    }
}

/// Whether no host outside the list can rank above `c`, a listed host.
///
/// `c` has at least `count - error` (connections, bytes or packets). An unlisted tracked host
/// has at most its estimate, and the best of them is `next`: `c` outranks
/// it with more connections, or as many and a smaller name. An untracked host
/// has at most `untracked` (0 when the summary never dropped one), and its name
/// is unknown, so `c` must have strictly more.
fn proves_listed(c: &Counted<'_, u64>, next: Option<&Counted<'_, u64>>, untracked: u64) -> bool {
    let lower = c.count - c.extra;
    let beats_tracked =
        next.is_none_or(|n| lower > n.count || (lower == n.count && c.host < n.host));
    beats_tracked && (untracked == 0 || lower > untracked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::fold::MAX_SKETCH_HOST;

    /// Each host's true count in `lines`.
    fn truth(lines: &[String]) -> std::collections::HashMap<&str, u64> {
        let mut t = std::collections::HashMap::new();
        for h in lines {
            *t.entry(h.as_str()).or_default() += 1;
        }
        t
    }

    fn answer(talkers: Talkers, top: usize) -> Busiest {
        let kit = ApproxKit {
            settings: crate::query::ApproxSettings {
                top_k: talkers.summary.k(),
                hll_precision: 12,
                bloom_bytes: 0,
                bloom_items: 0,
                spill_buffer: 0,
                front_bytes: 0,
            },
            weighted: false,
        };
        CountPart::finish(talkers, &kit, top).unwrap()
    }

    #[test]
    fn a_window_whose_hosts_fit_the_front_is_answered_exactly() {
        // 40 hosts, host i seen i + 1 times, in 4 counters: the summary
        // alone overcounts; the front counts them all and ranks them exactly.
        let lines: Vec<String> = (0..40)
            .flat_map(|i| (0..=i).map(move |_| format!("h{i}")))
            .rev()
            .collect();
        for (front, exact) in [(0, false), (1 << 16, true)] {
            let mut t = Talkers::new(4, 12, false, front);
            lines.iter().for_each(|h| t.add(h.as_bytes()));
            let busiest = answer(t, 3);
            let listed: Vec<(String, u64, u64)> = busiest
                .top
                .iter()
                .map(|t| (t.host.clone(), t.value, t.bounds.unwrap().error))
                .collect();
            if exact {
                assert_eq!(
                    listed,
                    [
                        ("h39".into(), 40, 0),
                        ("h38".into(), 39, 0),
                        ("h37".into(), 38, 0)
                    ]
                );
                assert_eq!(busiest.distinct, 40);
            } else {
                assert!(listed.iter().any(|l| l.2 > 0), "{listed:?}");
            }
        }
    }

    #[test]
    fn spilled_fronts_keep_the_summary_bounds() {
        // A front of 31 hosts spilled again and again into 8 counters:
        // every estimate brackets the truth within total / k, and hosts
        // above the bound are kept.
        let mut x = 7u64;
        let lines: Vec<String> = (0..20_000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let r = (x >> 33) % 1000;
                format!("h{}", if r < 500 { r % 5 } else { r })
            })
            .collect();
        let truth = truth(&lines);
        let mut t = Talkers::new(8, 12, false, 2048);
        assert_eq!(t.front.as_ref().unwrap().most, 31);
        lines.iter().for_each(|h| t.add(h.as_bytes()));
        assert!(t.front.is_some(), "hosts that repeat keep the front");
        assert!(t.summary.total() > 0, "the front never spilled");
        t.spill();
        assert_eq!(t.summary.total(), lines.len() as u64);
        let bound = t.summary.total() / 8;
        for (host, count, error) in t.summary.counters() {
            let real = truth[std::str::from_utf8(host).unwrap()];
            assert!(
                count - error <= real && real <= count && error <= bound,
                "{host:?}"
            );
        }
        let kept: Vec<_> = t.summary.counters().iter().map(|c| c.0.to_vec()).collect();
        for (host, n) in &truth {
            assert!(
                *n <= bound || kept.contains(&host.as_bytes().to_vec()),
                "{host}"
            );
        }
    }

    #[test]
    fn a_front_of_hosts_that_do_not_repeat_stops() {
        let mut t = Talkers::new(64, 12, false, 1 << 16);
        let most = t.front.as_ref().unwrap().most;
        for i in 0..most {
            t.add(format!("new{i}").as_bytes());
        }
        assert!(t.front.is_none(), "a front of all-new hosts goes on");
        assert_eq!(t.summary.total(), most as u64);
        // Hosts seen three times each keep it, through its spills.
        let mut t = Talkers::new(64, 12, false, 1 << 16);
        for i in 0..most * 4 {
            t.add(format!("again{}", i / 3).as_bytes());
        }
        assert!(t.front.is_some());
        assert!(t.summary.total() > 0);
    }

    #[test]
    fn a_thread_keeps_one_spare_front_at_most() {
        std::thread::spawn(|| {
            let before = SPARES_HELD.load(Ordering::Relaxed);
            for _ in 0..3 {
                let mut t = Talkers::new(64, 12, false, 1 << 16);
                t.add(b"a");
                CountPart::settle(&mut t);
                assert!(t.front.is_none());
                assert!(SPARES_HELD.load(Ordering::Relaxed) <= before + 1);
            }
            // The spare is taken by the next front of its size.
            let t = Talkers::new(64, 12, false, 1 << 16);
            assert!(t.front.is_some());
            assert_eq!(SPARES_HELD.load(Ordering::Relaxed), before);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn what_a_summary_keeps_of_a_host_is_bounded() {
        // 400 distinct hosts of 100 KB, each seen ten times: the summary
        // keeps at most MAX_SKETCH_HOST bytes of each, not 40 MB of them.
        for weighted in [false, true] {
            let mut talkers = Talkers::new(64, 12, weighted, 0);
            for round in 0..10u64 {
                for i in 0..400 {
                    let host = format!("h{i}-{}", "x".repeat(100_000));
                    talkers.insert(host.as_bytes(), 1);
                }
                assert_eq!(talkers.summary.total(), 400 * (round + 1));
            }
            let bound = 64 * (MAX_SKETCH_HOST * 4 + 256);
            assert!(
                talkers.summary.memory_bytes() < bound,
                "{} bytes for 64 counters",
                talkers.summary.memory_bytes()
            );
            assert!(talkers
                .summary
                .counters()
                .iter()
                .all(|(h, _, _)| h.len() <= MAX_SKETCH_HOST));
        }
    }
}
