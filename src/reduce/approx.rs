//! Approximate per-window state: sketches whose size is fixed by a memory
//! budget, whatever the number of lines or hosts.
//!
//! - Busiest: per side asked (initiators, receivers), a [`SpaceSaving`]
//!   summary of `k` counters and a [`Hll`] of the hosts on that side, both fed
//!   on every counted line (the HyperLogLog only for hosts the summary does
//!   not track).
//! - Lists: the hosts matching `--to_host`/`--from_host` are usually few, so
//!   a list stays an exact set, through merges too, until it outgrows a share
//!   of its buffer; then its hosts are replayed, sorted, into a [`BloomList`],
//!   which spills to a temporary file beyond its buffer. A listed host always qualified; a bloom false
//!   positive can only drop one, with the probability `missed_rate`.
//!
//! How the budget is split is [`ApproxSettings::from_budget`]'s job, and
//! `docs/accuracy.md` says what each sketch guarantees.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use super::exact::utf8_host;
use super::Reducer;
use crate::hosts::rank::{best_unlisted, rank, Counted};
use crate::hosts::HostSet;
use crate::parse::{fold_case_into, Record};
use crate::partial::codec::{Decoder, Encoder};
use crate::partial::{Body, BodyIn, DecodeError};
use crate::query::{ApproxSettings, Query};
use crate::report::{Answer, Bounds, Busiest, HostList, Hosts};
use crate::sketch::{BloomList, Hll, SpaceSaving};
use crate::timestamp::HOUR_MS;

/// Hours a wave's partial may touch at once, for sizing: a wave is 64 MiB of
/// log, which spans one or two hours in any log large enough to matter.
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
/// The largest `--memory_limit`, in MiB.
const MAX_BUDGET_MIB: usize = 1 << 30;

/// What a run asks of its sketches, beyond the budget: the inputs of
/// [`ApproxSettings::from_budget`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SketchRequest<'q> {
    /// One window per hour (`--hourly`, `--tail`).
    pub hourly: bool,
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
    /// Under the watermark at most `2 + late / 1 h` hourly windows are open
    /// (one whole run's window without `--hourly`), and each of the
    /// [`WAVES_IN_FLIGHT`] waves parsed side by side holds a partial state for
    /// each hour it touches (two, for sizing); any of them may grow to full
    /// size (a wave's list is promoted to a bloom filter when it outgrows its
    /// share). Each of these holders gets an equal share. The thread count
    /// plays no part. In a share, each busiest side takes a Space-Saving
    /// summary of `k` counters (the most that fit in a quarter of the share,
    /// at most 4096 unless `--top` needs more) and a HyperLogLog; each list
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

    /// The split of [`Self::from_budget`], or why it does not fit.
    fn split(budget: usize, req: &SketchRequest<'_>) -> Result<ApproxSettings, Misfit> {
        let query = req.query;
        let hll_precision = req.hll_precision.unwrap_or(15);
        let hll = Hll::memory_bytes(hll_precision);
        let open = if req.hourly {
            2 + usize::try_from(req.late_ms.max(0) / HOUR_MS).unwrap_or(usize::MAX / 4)
        } else {
            1
        };
        let holders = open.saturating_add(WAVES_IN_FLIGHT * HOURS_PER_WAVE);
        let share = budget / holders;
        let sides = usize::from(query.busiest_from) + usize::from(query.busiest_to);
        // Ranking `--top` hosts takes at least that many counters, past the
        // default cap when the share holds them.
        let wanted_k = DEFAULT_TOP_K.max(query.top.next_power_of_two());
        let derived = req.top_k.is_none();
        let top_k = req.top_k.unwrap_or_else(|| {
            let mut k = MIN_TOP_K;
            while k < wanted_k
                && sides * (SpaceSaving::bytes_for(k * 2, HOST_LEN) + hll) <= share / 4
            {
                k *= 2;
            }
            k
        });
        let summary =
            sides.saturating_mul(SpaceSaving::bytes_for(top_k, HOST_LEN).saturating_add(hll));
        let lists = usize::from(query.to_host.is_some()) + usize::from(query.from_host.is_some());
        let per_list = share.saturating_sub(summary + hll * lists) / lists.max(1);
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
        let bits = (bloom_bytes * 8) as f64;
        // The hosts at which the filter reaches the target rate: n = -m ln²2 / ln p.
        let fp = req.fp_rate.unwrap_or(1e-3);
        let bloom_items = (bits * std::f64::consts::LN_2.powi(2) / -fp.ln()).max(1.0) as usize;
        Ok(ApproxSettings {
            top_k,
            hll_precision,
            bloom_bytes,
            bloom_items,
            spill_buffer,
        })
    }
}

/// Approximate answers in bounded memory.
pub struct ApproxReducer {
    query: Query,
    settings: ApproxSettings,
    /// The first failure to spill a list, on any thread: it ends the run as
    /// soon as the engine sees it, since a list that cannot spill can only
    /// be wrong from then on.
    failure: Mutex<Option<io::Error>>,
    failed: AtomicBool,
}

impl ApproxReducer {
    /// A reducer answering `query` with sketches of `settings`.
    pub fn new(query: Query, settings: ApproxSettings) -> Self {
        ApproxReducer {
            query,
            settings,
            failure: Mutex::new(None),
            failed: AtomicBool::new(false),
        }
    }

    fn fail(&self, e: io::Error) {
        let mut first = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.failed.swap(true, Ordering::Relaxed) {
            *first = Some(e);
        }
    }

    /// Hosts an exact list may hold before it becomes a bloom list: at about
    /// 30 bytes a host, an exact set that size takes about the spill buffer's
    /// memory, so few matches stay exact and a flood does not break the budget.
    fn promote_at(&self) -> usize {
        self.settings.spill_buffer / 32
    }

    /// Replays an exact list, sorted, into a new bloom list.
    fn promote(&self, set: HostSet) -> io::Result<BloomList> {
        let mut bloom = self.new_list();
        for host in set.into_sorted() {
            bloom.insert(host.as_bytes())?;
        }
        Ok(bloom)
    }

    fn new_talkers(&self) -> Talkers {
        Talkers {
            summary: SpaceSaving::new(self.settings.top_k),
            distinct: Hll::new(self.settings.hll_precision),
        }
    }

    fn new_list(&self) -> BloomList {
        let s = &self.settings;
        BloomList::with_bitmap_bytes(
            s.bloom_bytes,
            s.bloom_items,
            s.spill_buffer,
            s.hll_precision,
        )
    }

    /// Folds `other` into `into`, promoting `into` to a bloom list first.
    fn merge_list(&self, into: &mut List, other: List) -> io::Result<()> {
        match (&mut *into, other) {
            // Small lists stay exact: no filter to allocate, nothing missed.
            (List::Exact(mine), List::Exact(theirs)) => {
                mine.merge(theirs);
                if mine.len() > self.promote_at() {
                    *into = List::Bloom(Box::new(self.promote(std::mem::take(mine))?));
                }
                Ok(())
            }
            // Sorted, so the filter sees hosts in an order that does not
            // depend on how a chunk's hash table happened to lay them out.
            (List::Bloom(bloom), List::Exact(set)) => insert_sorted(bloom, set),
            (List::Exact(set), List::Bloom(mut bloom)) => {
                insert_sorted(&mut bloom, std::mem::take(set))?;
                *into = List::Bloom(bloom);
                Ok(())
            }
            (List::Bloom(bloom), List::Bloom(other)) => bloom.merge(*other),
        }
    }
}

fn insert_sorted(bloom: &mut BloomList, set: HostSet) -> io::Result<()> {
    for host in set.into_sorted() {
        bloom.insert(host.as_bytes())?;
    }
    Ok(())
}

/// A list in one window: exact while it is small, a bloom list once it
/// outgrows a share of its buffer.
enum List {
    Exact(HostSet),
    Bloom(Box<BloomList>),
}

/// The busiest hosts on one side of a window's lines.
struct Talkers {
    summary: SpaceSaving,
    distinct: Hll,
}

impl Talkers {
    /// Counts one line of `host` (case folded).
    #[inline]
    fn add(&mut self, host: &[u8]) {
        // Every host the summary tracks is already in the HyperLogLog (an
        // insert is idempotent, and merges carry both along), so only the
        // untracked ones pay for the HyperLogLog's own hash (DataSketches'
        // MurmurHash3, which partials from other machines must share) and
        // insert.
        if !self.summary.add(host) {
            self.distinct.insert(host);
        }
    }

    fn merge(&mut self, other: Talkers) {
        self.summary.merge(other.summary);
        self.distinct.merge(&other.distinct);
    }

    /// The `top` busiest hosts, each with what the sketch proves about it.
    fn finish(self, top: usize) -> Option<Busiest> {
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

/// A list as a partial's field: `0`, then its hosts, while exact; `1`, the
/// filter's bits, the HyperLogLog and the listed hosts once a bloom list.
/// Hosts are sorted ascending, with their count first.
fn encode_list(list: List) -> io::Result<Vec<u8>> {
    let mut e = Encoder::new();
    match list {
        List::Exact(set) => {
            let hosts = set.sorted_bytes();
            e.uint(0).uint(hosts.len() as u64);
            for host in hosts {
                e.bytes(host);
            }
        }
        List::Bloom(bloom) => {
            e.uint(1).bytes(bloom.bits()).bytes(&bloom.hll().to_bytes());
            e.uint(bloom.listed());
            for host in bloom.into_sorted()? {
                e.bytes(host?.as_bytes());
            }
        }
    }
    Ok(e.finish())
}

impl ApproxReducer {
    fn decode_list(&self, bytes: &[u8]) -> Result<List, DecodeError> {
        let mut d = Decoder::new(bytes);
        let list = match d.uint()? {
            0 => {
                let mut set = HostSet::new();
                for _ in 0..d.count(1)? {
                    set.insert(utf8_host(d.bytes()?)?);
                }
                List::Exact(set)
            }
            1 => {
                let bits = d.bytes()?;
                let hll = self.decode_hll(d.bytes()?)?;
                let n = d.count(1)?;
                let mut hosts = Vec::with_capacity(n);
                for _ in 0..n {
                    hosts.push(utf8_host(d.bytes()?)?);
                }
                let bloom = BloomList::from_parts(self.new_list(), bits, hll, hosts)
                    .map_err(|e| e.to_string())?;
                List::Bloom(Box::new(bloom))
            }
            tag => return Err(format!("list kind {tag} is neither 0 nor 1").into()),
        };
        d.end()?;
        Ok(list)
    }

    fn decode_hll(&self, bytes: &[u8]) -> Result<Hll, DecodeError> {
        let hll = Hll::from_bytes(bytes).map_err(|e| format!("HyperLogLog: {e}"))?;
        if hll.precision() != self.settings.hll_precision {
            return Err(format!(
                "a HyperLogLog of precision {} in partials of precision {}",
                hll.precision(),
                self.settings.hll_precision
            )
            .into());
        }
        Ok(hll)
    }

    /// The union of one window's lists from several partials: exact while
    /// the union is small, else one bloom list holding every listed host.
    fn union_lists(&self, lists: Vec<List>) -> io::Result<List> {
        let mut sets = Vec::new();
        let mut blooms = Vec::new();
        for list in lists {
            match list {
                List::Exact(set) => sets.push(set),
                List::Bloom(bloom) => blooms.push(*bloom),
            }
        }
        let mut union = HostSet::new();
        for set in &sets {
            for host in set.sorted_bytes() {
                union.insert(host);
            }
        }
        if blooms.is_empty() && union.len() <= self.promote_at() {
            return Ok(List::Exact(union));
        }
        let sorted: Vec<Vec<u8>> = union
            .sorted_bytes()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let bloom = BloomList::union_all(self.new_list(), blooms, &[sorted])?;
        Ok(List::Bloom(Box::new(bloom)))
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

/// One window's approximate state.
pub struct ApproxState {
    lines: u64,
    to: Option<List>,
    from: Option<List>,
    initiators: Option<Talkers>,
    receivers: Option<Talkers>,
    scratch: Vec<u8>,
}

impl Reducer for ApproxReducer {
    type State = ApproxState;

    fn new_state(&self) -> ApproxState {
        let list = || List::Exact(HostSet::new());
        ApproxState {
            lines: 0,
            to: self.query.to_host.as_ref().map(|_| list()),
            from: self.query.from_host.as_ref().map(|_| list()),
            initiators: self.query.busiest_from.then(|| self.new_talkers()),
            receivers: self.query.busiest_to.then(|| self.new_talkers()),
            scratch: Vec::new(),
        }
    }

    #[inline]
    fn add(&self, state: &mut ApproxState, rec: &Record<'_>) {
        state.lines += 1;
        for (list, query, key, value) in [
            (&mut state.to, &self.query.to_host, rec.to, rec.from),
            (&mut state.from, &self.query.from_host, rec.from, rec.to),
        ] {
            if let (Some(list), Some(q)) = (list, query) {
                if key.eq_ignore_ascii_case(q) {
                    let result = match list {
                        List::Exact(set) => {
                            set.insert(value);
                            if set.len() > self.promote_at() {
                                self.promote(std::mem::take(set))
                                    .map(|bloom| *list = List::Bloom(Box::new(bloom)))
                            } else {
                                Ok(())
                            }
                        }
                        List::Bloom(bloom) => bloom
                            .insert(fold_case_into(value, &mut state.scratch))
                            .map(drop),
                    };
                    if let Err(e) = result {
                        self.fail(e);
                    }
                }
            }
        }
        if let Some(talkers) = &mut state.initiators {
            talkers.add(fold_case_into(rec.from, &mut state.scratch));
        }
        if let Some(talkers) = &mut state.receivers {
            talkers.add(fold_case_into(rec.to, &mut state.scratch));
        }
    }

    fn lines(&self, state: &ApproxState) -> u64 {
        state.lines
    }

    fn merge(&self, into: &mut ApproxState, other: ApproxState) {
        into.lines += other.lines;
        for (mine, theirs) in [(&mut into.to, other.to), (&mut into.from, other.from)] {
            if let (Some(mine), Some(theirs)) = (mine, theirs) {
                if let Err(e) = self.merge_list(mine, theirs) {
                    self.fail(e);
                }
            }
        }
        for (mine, theirs) in [
            (&mut into.initiators, other.initiators),
            (&mut into.receivers, other.receivers),
        ] {
            if let (Some(mine), Some(theirs)) = (mine, theirs) {
                mine.merge(theirs);
            }
        }
    }

    fn encode(&self, state: ApproxState) -> io::Result<Body> {
        let mut body = Body::new();
        body.count("lines", state.lines);
        for (name, list) in [("to", state.to), ("from", state.from)] {
            if let Some(list) = list {
                body.binary(name, encode_list(list)?);
            }
        }
        for (name, hll_name, talkers) in [
            ("initiators", "initiators_hll", state.initiators),
            ("receivers", "receivers_hll", state.receivers),
        ] {
            if let Some(t) = talkers {
                let counters = t.summary.sorted_counters();
                let mut e = Encoder::new();
                e.uint(t.summary.total()).uint(counters.len() as u64);
                for (host, count, error) in counters {
                    e.bytes(host).uint(count).uint(error);
                }
                body.binary(name, e.finish());
                // Apart, as DataSketches' own bytes: Spark SQL reads them.
                body.binary(hll_name, t.distinct.to_bytes());
            }
        }
        Ok(body)
    }

    fn decode(&self, mut body: BodyIn<'_>) -> Result<ApproxState, DecodeError> {
        let lines = body.count("lines")?;
        let mut state = self.new_state();
        state.lines = lines;
        for (name, list) in [("to", &mut state.to), ("from", &mut state.from)] {
            if let Some(list) = list {
                *list = self
                    .decode_list(&body.required(name)?)
                    .map_err(|e| format!("{name}: {e}"))?;
            }
        }
        for (name, hll_name, talkers) in [
            ("initiators", "initiators_hll", &mut state.initiators),
            ("receivers", "receivers_hll", &mut state.receivers),
        ] {
            if let Some(t) = talkers {
                let bytes = body.required(name)?;
                let mut d = Decoder::new(&bytes);
                let total = d.uint()?;
                if total != lines {
                    return Err(format!("{name}: {total} hosts counted in {lines} lines").into());
                }
                let n = d.count(3)?;
                let mut counters = Vec::with_capacity(n);
                for _ in 0..n {
                    counters.push((utf8_host(d.bytes()?)?, d.uint()?, d.uint()?));
                }
                d.end()?;
                t.summary = SpaceSaving::from_parts(self.settings.top_k, total, &counters)
                    .map_err(|e| format!("{name}: {e}"))?;
                t.distinct = self.decode_hll(&body.required(hll_name)?)?;
            }
        }
        body.end()?;
        Ok(state)
    }

    fn merge_partials(&self, states: Vec<ApproxState>) -> io::Result<ApproxState> {
        let mut out = self.new_state();
        let mut to = Vec::new();
        let mut from = Vec::new();
        let mut talkers = Vec::new();
        for state in states {
            out.lines += state.lines;
            to.extend(state.to);
            from.extend(state.from);
            talkers.push((state.initiators, state.receivers));
        }
        // Lists: one union of all, independent of how merges are grouped.
        if out.to.is_some() {
            out.to = Some(self.union_lists(to)?);
        }
        if out.from.is_some() {
            out.from = Some(self.union_lists(from)?);
        }
        // Talkers: pairwise, in the order given (the caller's canonical one).
        for (initiators, receivers) in talkers {
            for (mine, theirs) in [
                (&mut out.initiators, initiators),
                (&mut out.receivers, receivers),
            ] {
                if let (Some(mine), Some(theirs)) = (mine, theirs) {
                    mine.merge(theirs);
                }
            }
        }
        Ok(out)
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    fn take_failure(&self) -> Option<io::Error> {
        if !self.failed() {
            return None;
        }
        let mut first = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        Some(
            first
                .take()
                .unwrap_or_else(|| io::Error::other("an earlier spill failed")),
        )
    }

    fn finish(&self, state: ApproxState) -> io::Result<Answer> {
        if let Some(e) = self.take_failure() {
            return Err(e);
        }
        let list = |list: Option<List>, q: &Option<Vec<u8>>| -> io::Result<Option<HostList>> {
            let (Some(list), Some(q)) = (list, q) else {
                return Ok(None);
            };
            let host = String::from_utf8_lossy(q).into_owned();
            Ok(Some(match list {
                List::Exact(set) => HostList {
                    host,
                    distinct: set.len() as u64,
                    hosts: set.into_sorted().into(),
                    missed_rate: Some(0.0),
                },
                // Streamed from the spilled runs as it is printed, so a huge
                // list never has to fit in memory at once.
                List::Bloom(bloom) => HostList {
                    host,
                    distinct: bloom.distinct(),
                    missed_rate: Some(bloom.missed_rate()),
                    hosts: Hosts::Streamed {
                        count: bloom.listed(),
                        source: RefCell::new(Some(Box::new(bloom.into_sorted()?))),
                    },
                },
            }))
        };
        Ok(Answer {
            lines: state.lines,
            to_host: list(state.to, &self.query.to_host)?,
            from_host: list(state.from, &self.query.from_host)?,
            busiest_from: state.initiators.map(|t| t.finish(self.query.top)),
            busiest_to: state.receivers.map(|t| t.finish(self.query.top)),
            approximate: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &Query) -> SketchRequest<'_> {
        SketchRequest {
            hourly: true,
            late_ms: 300_000,
            query,
            top_k: None,
            hll_precision: None,
            fp_rate: None,
        }
    }

    fn settings() -> ApproxSettings {
        let q = Query::new(Some("x"), Some("x"), true);
        ApproxSettings::from_budget(256 << 20, &request(&q)).unwrap()
    }

    #[test]
    fn default_budget_split() {
        let s = settings();
        assert_eq!(s.top_k, 4096, "{s:?}");
        assert_eq!(s.hll_precision, 15);
        // 256 MiB over 2 open hours and 8 waves of 2 hours: 18 shares.
        assert!(s.bloom_bytes >= 4 << 20, "{s:?}");
        assert!(s.spill_buffer >= 3 << 19, "{s:?}");
    }

    #[test]
    fn tiny_or_impossible_budgets_are_refused() {
        let q = Query::new(Some("x"), None, true);
        let err = ApproxSettings::from_budget(1 << 20, &request(&q)).unwrap_err();
        assert!(err.contains("--memory_limit 1 MiB is too small"), "{err}");
        let huge = SketchRequest {
            top_k: Some(1 << 40),
            ..request(&q)
        };
        let err = ApproxSettings::from_budget(1 << 20, &huge).unwrap_err();
        assert!(err.contains("lower --top"), "{err}");
    }

    /// The "too small" message names the least budget that works, not a
    /// multiple of the one given.
    #[test]
    fn too_small_names_the_real_minimum() {
        for (to, from, busiest) in [
            (Some("x"), None, false),
            (Some("x"), Some("y"), true),
            (None, None, true),
        ] {
            let q = Query::new(to, from, busiest);
            let req = request(&q);
            let err = ApproxSettings::from_budget(1 << 20, &req).unwrap_err();
            let min: usize = err
                .split("--memory_limit ")
                .nth(2)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no minimum in {err}"));
            assert!(
                ApproxSettings::from_budget(min << 20, &req).is_ok(),
                "{err}"
            );
            assert!(
                ApproxSettings::from_budget((min - 1) << 20, &req).is_err(),
                "{err}"
            );
        }
    }

    #[test]
    fn lists_become_bloom_lists_only_when_they_outgrow_their_share() {
        let r = ApproxReducer::new(Query::new(Some("x"), None, false), settings());
        let (mut a, mut b) = (r.new_state(), r.new_state());
        let n = r.promote_at();
        let hosts: Vec<String> = (0..n + 10).map(|i| format!("h{i}")).collect();
        for (i, h) in hosts.iter().enumerate() {
            let state = if i % 2 == 0 { &mut a } else { &mut b };
            r.add(state, &Record::of(0, h, "x"));
        }
        assert!(matches!(a.to, Some(List::Exact(_))));
        r.merge(&mut a, b);
        assert!(matches!(a.to, Some(List::Bloom(_))));
        let list = r.finish(a).unwrap().to_host.unwrap();
        assert!(matches!(list.hosts, Hosts::Streamed { .. }));
        assert_eq!(list.hosts.len(), n as u64 + 10);
        let mut expect = hosts.clone();
        expect.sort();
        assert_eq!(list.hosts.to_vec().unwrap(), expect);
    }

    #[test]
    fn merged_answers_agree_with_exact() {
        let r = ApproxReducer::new(Query::new(Some("Zyla"), Some("alice"), true), settings());
        let mut a = r.new_state();
        let mut b = r.new_state();
        let mut c = r.new_state();
        r.add(&mut a, &Record::of(0, "Alice", "zyla"));
        r.add(&mut a, &Record::of(0, "bob", "ZYLA"));
        r.add(&mut b, &Record::of(0, "alice", "carol"));
        r.add(&mut b, &Record::of(0, "Bob", "zyla"));
        r.add(&mut c, &Record::of(0, "alice", "dave"));
        r.merge(&mut a, b);
        r.merge(&mut a, c);
        assert!(
            matches!(a.to, Some(List::Exact(_))),
            "small lists stay exact"
        );
        let ans = r.finish(a).unwrap();
        assert!(ans.approximate);
        assert_eq!(ans.lines, 5);
        let to = ans.to_host.unwrap();
        assert_eq!(
            (to.hosts.to_vec().unwrap(), to.distinct),
            (vec!["alice".to_string(), "bob".into()], 2)
        );
        assert!(to.missed_rate.unwrap() < 1e-9);
        let from = ans.from_host.unwrap();
        assert_eq!(from.hosts.to_vec().unwrap(), vec!["carol", "dave", "zyla"]);
        let busiest = ans.busiest_from.unwrap().unwrap();
        assert_eq!(
            (
                busiest.host.as_str(),
                busiest.connections,
                busiest.error,
                busiest.distinct
            ),
            ("alice", 3, Some(0), 2)
        );
    }

    fn talkers(k: usize, lines: &[&str]) -> Talkers {
        let mut t = Talkers {
            summary: SpaceSaving::new(k),
            distinct: Hll::new(12),
        };
        for h in lines {
            t.add(h.as_bytes());
        }
        t
    }

    #[test]
    fn an_exact_summary_guarantees_its_whole_list_even_with_ties_at_the_cut() {
        let t = talkers(64, &["a", "a", "a", "b", "b", "c", "c", "d"]);
        let b = t.finish(2).unwrap();
        let listed: Vec<(&str, u64, Option<Bounds>)> = b
            .top
            .iter()
            .map(|t| (t.host.as_str(), t.connections, t.bounds))
            .collect();
        let sure = Some(Bounds {
            error: 0,
            guaranteed: true,
        });
        // b and c tie at 2; b ranks first by name, and no error clouds it.
        assert_eq!(listed, [("a", 3, sure), ("b", 2, sure)]);
        assert_eq!((b.cut_tied, b.error, b.distinct), (1, Some(0), 4));
    }

    #[test]
    fn a_host_within_the_error_of_the_cut_is_not_guaranteed() {
        // Two counters over a stream that keeps evicting: estimates carry
        // errors, and the unlisted counters bound what may hide below the cut.
        let mut lines = vec!["big"; 50];
        for i in 0..40 {
            lines.push(["p", "q", "r", "s"][i % 4]);
        }
        let t = talkers(3, &lines);
        let b = t.finish(2).unwrap();
        assert_eq!(b.top[0].host, "big");
        assert!(b.top[0].bounds.unwrap().guaranteed, "{b:?}");
        let second = b.top[1].bounds.unwrap();
        assert!(second.error > 0 && !second.guaranteed, "{b:?}");
    }
}
