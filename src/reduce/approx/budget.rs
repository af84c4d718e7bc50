//! How `--memory_limit` becomes sketch sizes: every holder of a full set of
//! sketches gets an equal share, whatever the thread count.

use super::talkers::SPARES;
use crate::query::{ApproxSettings, Query};
use crate::sketch::{Hll, SpaceSaving, WeightedSpaceSaving};
use crate::timestamp::HOUR_MS;

/// Hours of log a wave's partial may touch at once, for sizing: a wave is
/// 64 MiB of log, which spans one or two hours in any log large enough to
/// matter.
const HOURS_PER_WAVE: usize = 2;
/// Waves whose partial states approximate mode holds at once, whatever the
/// thread count: the engine parses at most this many side by side, and the
/// budget is split as if all of them were held. A fixed number, so that the
/// sketch sizes, and with them every answer, do not depend on `--threads` or
/// on the machine's cores.
pub(crate) const WAVES_IN_FLIGHT: usize = 8;
/// Assumed average host length, to turn bytes into Space-Saving counters.
const HOST_LEN: usize = 16;
/// The smallest sketches worth running: below this the budget is refused.
const MIN_TOP_K: usize = 64;
/// Counters by default: every host above 1/4096 of a window's lines is found.
/// More cost time on every line (the summary outgrows the cache, and each
/// wave's merge is O(k)) for a guarantee that rarely needs to be finer.
const DEFAULT_TOP_K: usize = 4096;
const MIN_BLOOM_BYTES: usize = 64 << 10;
/// The largest `--memory_limit`, in MiB (`cli.rs` accepts up to this).
const MAX_BUDGET_MIB: usize = 1 << 30;
/// The most Space-Saving counters (`--top_k`'s bound in `cli.rs`).
const MAX_TOP_K: usize = 1 << 30;
/// The lowest `--bloom_fp_rate` (`cli.rs`): about 30 hashes per insert. A
/// lower rate would let a filter hash a host thousands of times.
pub(crate) const MIN_FP_RATE: f64 = 1e-9;
/// The default `--bloom_fp_rate`.
const DEFAULT_FP_RATE: f64 = 1e-3;

/// What a run asks of its sketches, beyond the budget: the inputs of
/// [`ApproxSettings::from_budget`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SketchRequest<'q> {
    /// The bin width in milliseconds (`--bin`, `--hourly`, `--tail`), or
    /// `None` for one window over the range.
    pub bin: Option<i64>,
    /// `--max_log_late_seconds` in milliseconds.
    pub late_ms: i64,
    /// The queries asked.
    pub query: &'q Query,
    /// `--top_k`, when given.
    pub top_k: Option<usize>,
    /// `--hll_precision`, when given.
    pub hll_precision: Option<u8>,
    /// `--bloom_fp_rate`, when given.
    pub fp_rate: Option<f64>,
}

/// Why a budget does not fit a request.
enum Misfit {
    /// A larger budget would hold these sketches.
    TooSmall(&'static str),
    /// A larger budget would hold the counters `--top` needs; the budget
    /// holds this many.
    TooFewCounters(usize),
    /// No budget helps: the message says which flag to change.
    Other(String),
}

impl ApproxSettings {
    /// Splits `budget` bytes between every state that can hold a full set of
    /// sketches at once: the open windows and the partials of the waves in
    /// flight.
    ///
    /// Under the watermark at most `2 + late / bin` windows are open (one
    /// whole run's window without bins), and each of the [`WAVES_IN_FLIGHT`]
    /// waves parsed side by side holds a partial state for each bin it
    /// touches (those of two hours, and at least two, for sizing); any of them may grow to full
    /// size (a wave's list is promoted to a bloom filter when it outgrows its
    /// share). Each of these holders gets an equal share. The thread count
    /// plays no part. In a share, each busiest side takes a Space-Saving
    /// summary of `k` counters (the most that fit in a quarter of the share,
    /// at most 4096 unless `--top` needs more) and a HyperLogLog, and the
    /// busiest sides share the rest of half the share (all of it without
    /// lists) for their exact counts in front of those sketches; each list
    /// takes a HyperLogLog and splits what is left, three quarters for the
    /// bloom filter and a quarter for the spill buffer. `top_k`,
    /// `hll_precision` and `fp_rate` override the derived values.
    ///
    /// # Errors
    /// A message when the budget cannot hold one window's sketches, naming
    /// the smallest `--memory_limit` that can.
    pub(crate) fn from_budget(
        budget: usize,
        req: &SketchRequest<'_>,
    ) -> Result<ApproxSettings, String> {
        let misfit = match Self::split(budget, req) {
            Ok(settings) => return Ok(settings),
            Err(misfit) => misfit,
        };
        let fits = |mib: usize| Self::split(mib << 20, req).is_ok();
        let least = fits(MAX_BUDGET_MIB).then(|| {
            // The split only grows with the budget: search for the least that fits.
            let (mut lo, mut hi) = (1usize, MAX_BUDGET_MIB);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if fits(mid) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            lo
        });
        let mib = budget >> 20;
        Err(match (misfit, least) {
            (Misfit::Other(msg), _) => msg,
            (_, None) => "no --memory_limit can hold these sketches: lower --top, --top_k or \
                          --hll_precision"
                .to_string(),
            (Misfit::TooFewCounters(holds), Some(least)) => format!(
                "--top {top} needs at least {top} heavy-hitter counters per window, and \
                 --memory_limit {mib} MiB holds {holds}: give --memory_limit {least} or more",
                top = req.query.top
            ),
            (Misfit::TooSmall(what), Some(least)) => format!(
                "--memory_limit {mib} MiB is too small for {what}; give at least \
                 --memory_limit {least} or ask fewer queries"
            ),
        })
    }

    /// Checks that some `--memory_limit` and `--bloom_fp_rate` the command line
    /// accepts give these sizes, as settings read from a partial must: sizes
    /// no run writes could make a tiny partial allocate gigabytes, or hash
    /// each host millions of times.
    ///
    /// Every split gives the bloom filter three times the spill buffer, and
    /// the filter's hosts follow from its bytes and a rate of at least
    /// [`MIN_FP_RATE`] (fewer hosts for the same bytes mean more hashes).
    /// `lists` says whether the query asks host lists, whose filters are never
    /// below [`MIN_BLOOM_BYTES`].
    ///
    /// # Errors
    /// A message naming the first size no run writes.
    pub(crate) fn check_written(&self, lists: bool) -> Result<(), String> {
        let most_spill = (MAX_BUDGET_MIB << 20) / (1 + WAVES_IN_FLIGHT * HOURS_PER_WAVE) / 4;
        if !(MIN_TOP_K..=MAX_TOP_K).contains(&self.top_k) {
            return Err(format!(
                "top_k={} is outside {MIN_TOP_K} to {MAX_TOP_K}",
                self.top_k
            ));
        }
        if self.spill_buffer > most_spill
            || Some(self.bloom_bytes) != self.spill_buffer.checked_mul(3)
        {
            return Err(format!(
                "bloom_bytes={} and spill_buffer={} are not a split of any --memory_limit",
                self.bloom_bytes, self.spill_buffer
            ));
        }
        if lists && self.bloom_bytes < MIN_BLOOM_BYTES {
            return Err(format!(
                "bloom_bytes={} is below the {MIN_BLOOM_BYTES} bytes every host list gets",
                self.bloom_bytes
            ));
        }
        let fewest = bloom_items_for(self.bloom_bytes, MIN_FP_RATE);
        if self.bloom_items < fewest {
            return Err(format!(
                "bloom_items={} for a filter of {} bytes is a false-positive rate below \
                 --bloom_fp_rate's least, {MIN_FP_RATE:e} (at least {fewest} items)",
                self.bloom_items, self.bloom_bytes
            ));
        }
        Ok(())
    }

    /// The split of [`Self::from_budget`], or why it does not fit.
    fn split(budget: usize, req: &SketchRequest<'_>) -> Result<ApproxSettings, Misfit> {
        let query = req.query;
        let hll_precision = req.hll_precision.unwrap_or(15);
        let hll = Hll::memory_bytes(hll_precision);
        // A wave touches the bins of two hours, and at least two bins.
        let (open, per_wave) = match req.bin {
            Some(bin) => (
                2 + usize::try_from(req.late_ms.max(0) / bin).unwrap_or(usize::MAX / 4),
                (HOURS_PER_WAVE * HOUR_MS as usize)
                    .div_ceil(usize::try_from(bin.max(1)).unwrap_or(usize::MAX))
                    .max(2),
            ),
            None => (1, HOURS_PER_WAVE),
        };
        let holders = open.saturating_add(WAVES_IN_FLIGHT.saturating_mul(per_wave));
        let share = budget / holders;
        let sides = usize::from(query.busiest_from) + usize::from(query.busiest_to);
        // Ranking `--top` hosts takes at least that many counters, past the
        // default cap when the share holds them.
        let wanted_k = DEFAULT_TOP_K.max(query.top.next_power_of_two());
        let bytes_for = |k: usize| {
            if query.by.weighted() {
                WeightedSpaceSaving::bytes_for(k, HOST_LEN)
            } else {
                SpaceSaving::bytes_for(k, HOST_LEN)
            }
        };
        let derived = req.top_k.is_none();
        let top_k = req.top_k.unwrap_or_else(|| {
            let mut k = MIN_TOP_K;
            while k < wanted_k && sides * (bytes_for(k * 2) + hll) <= share / 4 {
                k *= 2;
            }
            k
        });
        let summary = sides.saturating_mul(bytes_for(top_k).saturating_add(hll));
        let lists = usize::from(query.to_host.is_some()) + usize::from(query.from_host.is_some());
        // The busiest sides count exactly in front of their sketches while
        // their hosts fit (talkers.rs): in half the share when lists share
        // it, else in all of it. Lists keep at least what the smallest
        // filter needs, so that a budget holds the queries it held before.
        let lists_least = lists * (hll + MIN_BLOOM_BYTES.div_ceil(3) * 4);
        let counts = match (sides, lists) {
            (0, _) => 0,
            (_, 0) => share,
            _ => (share / 2).min(share.saturating_sub(lists_least)),
        }
        .max(summary);
        // Besides a front a side in each holder, up to `SPARES` emptied
        // ones wait for the next wave's windows.
        let fronts = holders.saturating_mul(sides);
        let per_side = counts.saturating_sub(summary) / sides.max(1);
        let front_bytes =
            usize::try_from(per_side as u128 * fronts as u128 / (fronts as u128 + SPARES as u128))
                .unwrap_or(per_side);
        // Without lists, their sizes are written in partials all the same:
        // the split they would have had, which no memory backs.
        let per_list = match lists {
            0 => share.saturating_sub(summary),
            _ => share.saturating_sub(counts + hll * lists) / lists,
        };
        let bloom_bytes = per_list / 4 * 3;
        let spill_buffer = per_list / 4;
        if sides > 0 && (top_k < MIN_TOP_K || summary > share) {
            return Err(Misfit::TooSmall("one window's heavy-hitter sketch"));
        }
        if sides > 0 && top_k < query.top {
            return Err(if derived {
                Misfit::TooFewCounters(top_k)
            } else {
                Misfit::Other(format!(
                    "--top {} is more hosts than --top_k {top_k} counters can rank: \
                     give --top_k {} or more",
                    query.top, query.top
                ))
            });
        }
        if lists > 0 && bloom_bytes < MIN_BLOOM_BYTES {
            return Err(Misfit::TooSmall("one window's bloom filters"));
        }
        let bloom_items = bloom_items_for(bloom_bytes, req.fp_rate.unwrap_or(DEFAULT_FP_RATE));
        Ok(ApproxSettings {
            top_k,
            hll_precision,
            bloom_bytes,
            bloom_items,
            spill_buffer,
            front_bytes,
        })
    }
}

/// The hosts at which a filter of `bloom_bytes` reaches false-positive rate
/// `fp`: `n = -m ln²2 / ln p`, at least 1.
fn bloom_items_for(bloom_bytes: usize, fp: f64) -> usize {
    let bits = (bloom_bytes as f64) * 8.0;
    (bits * std::f64::consts::LN_2.powi(2) / -fp.ln()).max(1.0) as usize
}
