//! Approximate per-window state: sketches whose size is fixed by a memory
//! budget, whatever the number of lines or hosts.
//!
//! - Busiest: per side asked (initiators, receivers), a [`SpaceSaving`]
//!   summary of `k` counters and a [`Hll`] of the hosts on that side, behind
//!   exact counts of a wave's lines while its hosts fit a share of the
//!   budget, spilled into both (talkers.rs); where hosts rarely repeat, both
//!   are fed on every counted line (the HyperLogLog only for hosts the
//!   summary does not track).
//! - Lists: the hosts matching `--to_host`/`--from_host` are usually few, so
//!   a list stays an exact set, through merges too, until it outgrows a share
//!   of its buffer; then its hosts are replayed, sorted, into a [`BloomList`],
//!   which spills to a temporary file beyond its buffer. A listed host always qualified; a bloom false
//!   positive can only drop one, with the probability `missed_rate`.
//!
//! How the budget is split is [`ApproxSettings::from_budget`]'s job, and
//! `docs/accuracy.md` says what each sketch guarantees.

mod budget;
mod list;
mod talkers;

pub(crate) use budget::{SketchRequest, MIN_FP_RATE, WAVES_IN_FLIGHT};

use list::List;
use talkers::Talkers;

use super::part::{partial_host, Kit};
use super::state::Parts;
use crate::hosts::fold::MAX_SKETCH_HOST;
use crate::partial::DecodeError;
use crate::query::{ApproxSettings, Query};
use crate::sketch::{BloomList, Hll};

/// What approximate parts share: the sketch sizes, and whether the busiest
/// rank by bytes or packets.
pub struct ApproxKit {
    settings: ApproxSettings,
    weighted: bool,
}

impl Kit for ApproxKit {
    const APPROXIMATE: bool = true;
}

impl ApproxKit {
    /// Hosts an exact list may hold before it becomes a bloom list: at about
    /// 30 bytes a host, an exact set that size takes about the spill buffer's
    /// memory, so few matches stay exact and a flood does not break the budget.
    fn promote_at(&self) -> usize {
        self.settings.spill_buffer / 32
    }

    fn new_bloom(&self) -> BloomList {
        let s = &self.settings;
        BloomList::with_bitmap_bytes(
            s.bloom_bytes,
            s.bloom_items,
            s.spill_buffer,
            s.hll_precision,
        )
    }

    /// A HyperLogLog from a partial, of this run's precision.
    fn decode_hll(&self, bytes: &[u8]) -> Result<Hll, DecodeError> {
        let hll = Hll::from_bytes(bytes).map_err(|e| format!("HyperLogLog: {e}"))?;
        as_set(
            "HyperLogLog precision",
            hll.precision(),
            self.settings.hll_precision,
        )?;
        Ok(hll)
    }
}

/// Checks that a size read from a partial is the one its settings make.
fn as_set<T: PartialEq + std::fmt::Display>(
    what: &str,
    got: T,
    want: T,
) -> Result<(), DecodeError> {
    if got == want {
        return Ok(());
    }
    Err(format!("{what} {got} where the settings make {want}").into())
}

/// A host read from an approximate partial: as [`partial_host`] checks it,
/// and no longer than approximate mode keeps a host.
fn sketch_host(host: &[u8]) -> Result<&[u8], DecodeError> {
    if host.len() > MAX_SKETCH_HOST {
        return Err(format!(
            "a host of {} bytes, where approximate mode keeps at most {MAX_SKETCH_HOST}",
            host.len()
        )
        .into());
    }
    partial_host(host)
}

/// Approximate answers in bounded memory.
pub type ApproxReducer = Parts<ApproxKit, List, Talkers>;

impl ApproxReducer {
    /// A reducer answering `query` with sketches of `settings`.
    pub fn new(query: Query, settings: ApproxSettings) -> Self {
        let weighted = query.by.weighted();
        Parts::with_kit(query, ApproxKit { settings, weighted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reduce::part::CountPart;
    use crate::reduce::Reducer;
    use crate::reduce::Weighed;
    use crate::report::{Bounds, Hosts};

    fn request(query: &Query) -> SketchRequest<'_> {
        SketchRequest {
            bin: Some(crate::timestamp::HOUR_MS),
            late_ms: 300_000,
            query,
            top_k: None,
            hll_precision: None,
            fp_rate: None,
        }
    }

    fn kit() -> ApproxKit {
        ApproxKit {
            settings: settings(),
            weighted: false,
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
        // 256 MiB over 2 open hours and 8 waves of 2 hours: 18 shares of
        // 14.9 MB, half for the two lists, half for the busiest side.
        assert!(s.bloom_bytes >= 5 << 19, "{s:?}");
        assert!(s.spill_buffer >= 3 << 18, "{s:?}");
        // The side's front, less the summary, shared with 8 spares: 18/26.
        assert!(s.front_bytes >= 4 << 20, "{s:?}");
        let per_holder = |s: &ApproxSettings| 4 * s.bloom_bytes / 3 + s.front_bytes;
        assert!(per_holder(&s) < (256 << 20) / 18, "{s:?}");
        // Without lists, the whole share.
        let busiest = Query::new(None, None, true);
        let alone = ApproxSettings::from_budget(256 << 20, &request(&busiest)).unwrap();
        assert!(
            alone.front_bytes >= 2 * s.front_bytes - (1 << 20),
            "{alone:?}"
        );
        // Without a busiest side, none, and the lists' split as it was.
        let lists = Query::new(Some("x"), Some("x"), false);
        let lists = ApproxSettings::from_budget(256 << 20, &request(&lists)).unwrap();
        assert_eq!(lists.front_bytes, 0);
        assert!(lists.bloom_bytes >= 5 << 20, "{lists:?}");
    }

    #[test]
    fn a_small_budget_holds_what_it_held_without_fronts() {
        // The least budget for both lists and a busiest side is what the
        // sketches alone need: the front takes only what is left.
        let q = Query::new(Some("x"), Some("x"), true);
        let least = (1..64)
            .find(|mib| ApproxSettings::from_budget(mib << 20, &request(&q)).is_ok())
            .unwrap();
        let s = ApproxSettings::from_budget(least << 20, &request(&q)).unwrap();
        assert!(s.bloom_bytes >= 64 << 10, "{s:?}");
        assert_eq!(least, 9, "{s:?}");
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
        let n = ApproxKit {
            settings: settings(),
            weighted: false,
        }
        .promote_at();
        let hosts: Vec<String> = (0..n + 10).map(|i| format!("h{i}")).collect();
        for (i, h) in hosts.iter().enumerate() {
            let state = if i % 2 == 0 { &mut a } else { &mut b };
            r.add(state, Weighed::of(h, "x")).unwrap();
        }
        assert!(matches!(a.to, Some(List::Exact(_))));
        r.merge(&mut a, b).unwrap();
        assert!(matches!(a.to, Some(List::Bloom(..))));
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
        r.add(&mut a, Weighed::of("Alice", "zyla")).unwrap();
        r.add(&mut a, Weighed::of("bob", "ZYLA")).unwrap();
        r.add(&mut b, Weighed::of("alice", "carol")).unwrap();
        r.add(&mut b, Weighed::of("Bob", "zyla")).unwrap();
        r.add(&mut c, Weighed::of("alice", "dave")).unwrap();
        r.merge(&mut a, b).unwrap();
        r.merge(&mut a, c).unwrap();
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
                busiest.value,
                busiest.error,
                busiest.distinct
            ),
            ("alice", 3, Some(0), 2)
        );
    }

    fn talkers(k: usize, lines: &[&str]) -> Talkers {
        let mut t = Talkers::new(k, 12, false, 0);
        for h in lines {
            t.add(h.as_bytes());
        }
        t
    }

    #[test]
    fn an_exact_summary_guarantees_its_whole_list_even_with_ties_at_the_cut() {
        let t = talkers(64, &["a", "a", "a", "b", "b", "c", "c", "d"]);
        let b = t.finish(&kit(), 2).unwrap();
        let listed: Vec<(&str, u64, Option<Bounds>)> = b
            .top
            .iter()
            .map(|t| (t.host.as_str(), t.value, t.bounds))
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
        let b = t.finish(&kit(), 2).unwrap();
        assert_eq!(b.top[0].host, "big");
        assert!(b.top[0].bounds.unwrap().guaranteed, "{b:?}");
        let second = b.top[1].bounds.unwrap();
        assert!(second.error > 0 && !second.guaranteed, "{b:?}");
    }
}
