//! The approximate count part: a Space-Saving summary of the busiest hosts
//! on one side, and a HyperLogLog of every host on it.

use std::io;

use super::{sketch_host, ApproxKit};
use crate::hosts::fold::{fold_short, sketch_form};
use crate::hosts::rank::{best_unlisted, rank, Counted};
use crate::partial::codec::{Decoder, Encoder};
use crate::partial::{Body, DecodeError};
use crate::reduce::part::{CountPart, CountSlot, Fields, Part};
use crate::report::{Bounds, Busiest};
use crate::sketch::{Hll, SpaceSaving, Tracked, WeightedSpaceSaving};

/// The busiest hosts on one side of a window's lines.
pub struct Talkers {
    pub(super) summary: Summary,
    pub(super) distinct: Hll,
    /// Reused buffer for a host's case-folded form.
    scratch: Vec<u8>,
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
    /// busiest rank by bytes or packets.
    pub(super) fn new(k: usize, precision: u8, weighted: bool) -> Self {
        Talkers {
            summary: if weighted {
                Summary::Weighted(WeightedSpaceSaving::new(k))
            } else {
                Summary::Lines(SpaceSaving::new(k))
            },
            distinct: Hll::new(precision),
            scratch: Vec::new(),
        }
    }

    /// Adds `weight` of the host `host` names.
    #[inline]
    fn insert(&mut self, host: &[u8], weight: u64) {
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

impl Part<ApproxKit> for Talkers {
    type Slot = CountSlot;

    fn new(kit: &ApproxKit) -> Self {
        Talkers::new(kit.settings.top_k, kit.settings.hll_precision, kit.weighted)
    }

    fn merge(&mut self, _: &ApproxKit, other: Self) -> io::Result<()> {
        self.summary.merge(other.summary);
        self.distinct.merge(&other.distinct);
        Ok(())
    }

    /// The summary's total (lines, or bytes or packets), then each
    /// counter's host, count and error in the summary's canonical order; the HyperLogLog in a field of its own,
    /// as DataSketches' own bytes (Spark SQL reads them).
    fn encode(self, _: &ApproxKit, slot: CountSlot, body: &mut Body) -> io::Result<()> {
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
            scratch: Vec::new(),
        })
    }
}

impl CountPart<ApproxKit> for Talkers {
    #[inline]
    fn add(&mut self, host: &[u8]) {
        self.insert(host, 1);
    }

    #[inline]
    fn add_weighted(&mut self, host: &[u8], weight: u64) {
        self.insert(host, weight);
    }

    /// The `top` busiest hosts, each with what the sketch proves about it.
    fn finish(self, _: &ApproxKit, top: usize) -> Option<Busiest> {
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

    #[test]
    fn what_a_summary_keeps_of_a_host_is_bounded() {
        // 400 distinct hosts of 100 KB, each seen ten times: the summary
        // keeps at most MAX_SKETCH_HOST bytes of each, not 40 MB of them.
        for weighted in [false, true] {
            let mut talkers = Talkers::new(64, 12, weighted);
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
