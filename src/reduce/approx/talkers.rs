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
use crate::sketch::{Hll, SpaceSaving};

/// The busiest hosts on one side of a window's lines.
pub struct Talkers {
    pub(super) summary: SpaceSaving,
    pub(super) distinct: Hll,
    /// Reused buffer for a host's case-folded form.
    scratch: Vec<u8>,
}

impl Talkers {
    /// Empty sketches of `k` counters and `precision`.
    pub(super) fn new(k: usize, precision: u8) -> Self {
        Talkers {
            summary: SpaceSaving::new(k),
            distinct: Hll::new(precision),
            scratch: Vec::new(),
        }
    }
}

impl Part<ApproxKit> for Talkers {
    type Slot = CountSlot;

    fn new(kit: &ApproxKit) -> Self {
        Talkers::new(kit.settings.top_k, kit.settings.hll_precision)
    }

    fn merge(&mut self, _: &ApproxKit, other: Self) -> io::Result<()> {
        self.summary.merge(other.summary);
        self.distinct.merge(&other.distinct);
        Ok(())
    }

    /// The summary's total, then each counter's host, count and error in
    /// the summary's canonical order; the HyperLogLog in a field of its own,
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
        let (total, lines) = (d.uint()?, from.lines());
        if total != lines {
            return Err(format!("{name}: {total} hosts counted in {lines} lines").into());
        }
        let n = d.count(3)?;
        let mut counters = Vec::with_capacity(n);
        for _ in 0..n {
            counters.push((sketch_host(d.bytes()?)?, d.uint()?, d.uint()?));
        }
        d.end()?;
        let summary = SpaceSaving::from_parts(kit.settings.top_k, total, &counters)
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
        if !self.summary.add(host) {
            self.distinct.insert(host);
        }
    }

    /// The `top` busiest hosts, each with what the sketch proves about it.
    fn finish(self, _: &ApproxKit, top: usize) -> Option<Busiest> {
        let summary = &self.summary;
        let counters = || {
            summary.iter().map(|(host, count, error)| Counted {
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
/// `c` has at least `count - error` connections. An unlisted tracked host
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
        let mut talkers = Talkers::new(64, 12);
        for round in 0..10u64 {
            for i in 0..400 {
                let host = format!("h{i}-{}", "x".repeat(100_000));
                talkers.add(host.as_bytes());
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
            .iter()
            .all(|(h, _, _)| h.len() <= MAX_SKETCH_HOST));
    }
}
