//! Exact parts: hash sets for the lists, counts for the busiest sides.
//! Memory grows with the number of distinct hosts per window.

use std::io;

use super::part::{partial_host, CountPart, CountSlot, Fields, ListPart, ListSlot, Part};
use super::state::Parts;
use crate::hosts::{HostCounter, HostSet};
use crate::partial::codec::{Decoder, Encoder};
use crate::partial::{Body, DecodeError};
use crate::query::Query;
use crate::report::{Busiest, HostList};

/// Exact answers.
pub type ExactReducer = Parts<(), HostSet, HostCounter>;

impl ExactReducer {
    /// A reducer answering `query` exactly.
    pub fn new(query: Query) -> Self {
        Parts::with_kit(query, ())
    }
}

impl Part<()> for HostSet {
    type Slot = ListSlot;

    fn new((): &()) -> Self {
        HostSet::new()
    }

    fn merge(&mut self, (): &(), other: Self) -> io::Result<()> {
        HostSet::merge(self, other);
        Ok(())
    }

    /// The hosts' count, then each host, ascending by bytes.
    fn encode(self, (): &(), slot: ListSlot, body: &mut Body) -> io::Result<()> {
        let hosts = self.sorted_bytes();
        let mut e = Encoder::new();
        e.uint(hosts.len() as u64);
        for host in hosts {
            e.bytes(host);
        }
        body.binary(slot.field(), e.finish());
        Ok(())
    }

    fn decode((): &(), slot: ListSlot, from: &mut Fields) -> Result<Self, DecodeError> {
        let (name, lines) = (slot.field(), from.lines());
        let bytes = from.take(name)?;
        let mut d = Decoder::new(&bytes);
        let n = d.count(1)?;
        if n as u64 > lines {
            return Err(format!("{name}: {n} hosts from {lines} lines").into());
        }
        let mut set = HostSet::new();
        for _ in 0..n {
            set.insert(partial_host(d.bytes()?)?);
        }
        d.end()?;
        Ok(set)
    }
}

impl ListPart<()> for HostSet {
    #[inline]
    fn insert(&mut self, (): &(), host: &[u8]) -> io::Result<()> {
        HostSet::insert(self, host);
        Ok(())
    }

    fn finish(self, (): &(), host: String) -> io::Result<HostList> {
        Ok(HostList {
            host,
            distinct: self.len() as u64,
            hosts: self.into_sorted().into(),
            missed_rate: None,
        })
    }
}

impl Part<()> for HostCounter {
    type Slot = CountSlot;

    fn new((): &()) -> Self {
        HostCounter::new()
    }

    fn new_after((): &(), last: &Self) -> Self {
        last.new_like()
    }

    fn merge(&mut self, (): &(), other: Self) -> io::Result<()> {
        HostCounter::merge(self, other);
        Ok(())
    }

    /// The hosts' count, then each host with its count, in the counter's
    /// canonical order.
    fn encode(mut self, (): &(), slot: CountSlot, body: &mut Body) -> io::Result<()> {
        let hosts = self.len();
        // Most hosts take a length byte, their bytes and a count byte or
        // two: room for that at once.
        let mut e = Encoder::with_capacity(hosts * 18 + 10);
        e.uint(hosts as u64);
        self.for_each_sorted(|host, n| {
            e.bytes(host).uint(n);
        });
        body.binary(slot.field(), e.finish());
        Ok(())
    }

    /// Counts are connections, or bytes or packets (then a host may have
    /// 0): either way they add up to the window's sum, and there are no more
    /// hosts than lines.
    fn decode((): &(), slot: CountSlot, from: &mut Fields) -> Result<Self, DecodeError> {
        let (name, lines, want) = (slot.field(), from.lines(), from.total());
        let zero_ok = from.weighted();
        let bytes = from.take(name)?;
        let mut total = 0u64;
        let mut d = Decoder::new(&bytes);
        let hosts = d.count(2)?;
        if hosts as u64 > lines {
            return Err(format!("{name}: {hosts} hosts from {lines} lines").into());
        }
        let mut counter = HostCounter::new();
        counter.reserve(hosts);
        for _ in 0..hosts {
            let host = partial_host(d.bytes()?)?;
            let n = d.uint()?;
            total = total
                .checked_add(n)
                .filter(|&t| (n > 0 || zero_ok) && t <= want)
                .ok_or_else(|| format!("{name}: counts do not add up to the window's {want}"))?;
            counter.add_weighted(host, n);
        }
        if total != want {
            return Err(
                format!("{name}: counts add up to {total}, not the window's {want}").into(),
            );
        }
        d.end()?;
        Ok(counter)
    }
}

impl CountPart<()> for HostCounter {
    #[inline(always)]
    fn add(&mut self, host: &[u8]) {
        HostCounter::add(self, host);
    }

    #[inline(always)]
    fn add_weighted(&mut self, host: &[u8], weight: u64) {
        HostCounter::add_weighted(self, host, weight);
    }

    fn finish(mut self, (): &(), top: usize) -> Option<Busiest> {
        self.busiest(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reduce::Reducer;
    use crate::reduce::Weighed;

    #[test]
    fn answers_each_query_case_insensitively() {
        let r = ExactReducer::new(Query::new(Some("Zyla"), Some("ALICE"), true));
        let mut a = r.new_state();
        let mut b = r.new_state();
        r.add(&mut a, Weighed::of("Alice", "zyla")).unwrap();
        r.add(&mut a, Weighed::of("bob", "ZYLA")).unwrap();
        r.add(&mut b, Weighed::of("alice", "carol")).unwrap();
        r.add(&mut b, Weighed::of("Bob", "zyla")).unwrap();
        r.merge(&mut a, b).unwrap();
        let ans = r.finish(a).unwrap();
        assert_eq!(ans.lines, 4);
        assert_eq!(
            ans.to_host.unwrap().hosts.to_vec().unwrap(),
            vec!["alice", "bob"]
        );
        let from = ans.from_host.unwrap();
        assert_eq!(
            (from.host.as_str(), from.hosts.to_vec().unwrap()),
            ("alice", vec!["carol".into(), "zyla".into()])
        );
        let busiest = ans.busiest_from.unwrap().unwrap();
        assert_eq!(
            (
                busiest.host.as_str(),
                busiest.value,
                busiest.tied,
                busiest.distinct
            ),
            ("alice", 2, 1, 2)
        );
        assert!(ans.busiest_to.is_none(), "not asked");
    }

    #[test]
    fn a_state_sized_like_the_last_answers_like_a_new_one() {
        let r = ExactReducer::new(
            Query::new(Some("b"), Some("a"), true)
                .with_busiest_to(true)
                .with_top(3),
        );
        let mut last = r.new_state();
        for i in 0..1000 {
            r.add(
                &mut last,
                Weighed::of(&format!("f{i}"), &format!("t{}", i % 7)),
            )
            .unwrap();
        }
        let (mut sized, mut fresh) = (r.new_state_after(&last), r.new_state());
        for (from, to) in [("a", "b"), ("c", "b"), ("a", "d"), ("A", "x")] {
            r.add(&mut sized, Weighed::of(from, to)).unwrap();
            r.add(&mut fresh, Weighed::of(from, to)).unwrap();
        }
        assert_eq!(r.finish(sized).unwrap(), r.finish(fresh).unwrap());
    }

    #[test]
    fn keeps_nothing_that_was_not_asked() {
        let r = ExactReducer::new(Query::new(Some("x"), None, false));
        let mut s = r.new_state();
        r.add(&mut s, Weighed::of("a", "x")).unwrap();
        assert!(s.from.is_none() && s.initiators.is_none() && s.receivers.is_none());
        let ans = r.finish(s).unwrap();
        assert!(ans.from_host.is_none() && ans.busiest_from.is_none());
    }

    #[test]
    fn busiest_of_an_empty_window_is_none() {
        let r = ExactReducer::new(Query::new(None, None, true).with_busiest_to(true));
        let ans = r.finish(r.new_state()).unwrap();
        assert_eq!((ans.busiest_from, ans.busiest_to), (Some(None), Some(None)));
    }

    #[test]
    fn busiest_to_host_ranks_receivers_with_ties_at_the_cut() {
        let r = ExactReducer::new(
            Query::new(None, None, true)
                .with_busiest_to(true)
                .with_top(2),
        );
        let mut s = r.new_state();
        for (from, to) in [("a", "X"), ("b", "x"), ("a", "y"), ("c", "z"), ("c", "w")] {
            r.add(&mut s, Weighed::of(from, to)).unwrap();
        }
        let ans = r.finish(s).unwrap();
        let to = ans.busiest_to.unwrap().unwrap();
        let listed: Vec<(&str, u64)> = to.top.iter().map(|t| (t.host.as_str(), t.value)).collect();
        assert_eq!(listed, [("x", 2), ("w", 1)]);
        assert_eq!(
            (to.host.as_str(), to.tied, to.cut_tied, to.distinct),
            ("x", 0, 2, 4)
        );
        let from = ans.busiest_from.unwrap().unwrap();
        assert_eq!(from.top.len(), 2);
        assert_eq!((from.host.as_str(), from.tied, from.cut_tied), ("a", 1, 0));
    }

    #[test]
    fn decoding_a_partial_of_many_hosts_does_linear_work() {
        // A partial lists a counter's hosts in hash order: counted one by
        // one into a table that grows on the way, they would sweep it at a
        // density past one key a slot.
        let r = ExactReducer::new(Query::new(None, None, true));
        let mut s = r.new_state();
        for i in 0..100_000 {
            r.add(&mut s, Weighed::of(&format!("h{i}"), "x")).unwrap();
        }
        let body = r.encode(s).unwrap();
        let decoded = crate::partial::read_back(&body, |b| r.decode(b)).unwrap();
        let probes = decoded.initiators.as_ref().unwrap().probes();
        assert!(
            probes < 8 * 100_000,
            "{probes} probes to decode 100,000 hosts"
        );
        let ans = r.finish(decoded).unwrap();
        assert_eq!(
            (ans.lines, ans.busiest_from.unwrap().unwrap().distinct),
            (100_000, 100_000)
        );
    }
}
