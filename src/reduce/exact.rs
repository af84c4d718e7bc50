//! Exact per-window state: hash sets for the lists, counts for the busiest host.

use super::Reducer;
use crate::hosts::{HostCounter, HostSet};
use crate::parse::Record;
use crate::partial::codec::{DecodeError, Decoder, Encoder};
use crate::partial::{Body, BodyIn};
use crate::query::Query;
use crate::report::{Answer, HostList};

/// Exact answers; memory grows with the number of distinct hosts per window.
pub struct ExactReducer {
    query: Query,
}

impl ExactReducer {
    /// A reducer answering `query`.
    pub fn new(query: Query) -> Self {
        ExactReducer { query }
    }
}

/// One window's exact state. Each part exists only when its query was asked.
pub struct ExactState {
    lines: u64,
    to: Option<HostSet>,
    from: Option<HostSet>,
    initiators: Option<HostCounter>,
    receivers: Option<HostCounter>,
}

impl Reducer for ExactReducer {
    type State = ExactState;

    fn new_state(&self) -> ExactState {
        ExactState {
            lines: 0,
            to: self.query.to_host.as_ref().map(|_| HostSet::new()),
            from: self.query.from_host.as_ref().map(|_| HostSet::new()),
            initiators: self.query.busiest_from.then(HostCounter::new),
            receivers: self.query.busiest_to.then(HostCounter::new),
        }
    }

    fn new_state_after(&self, last: &ExactState) -> ExactState {
        let sized = |c: &Option<HostCounter>| c.as_ref().map(HostCounter::new_like);
        ExactState {
            initiators: sized(&last.initiators),
            receivers: sized(&last.receivers),
            ..self.new_state()
        }
    }

    #[inline]
    fn add(&self, state: &mut ExactState, rec: &Record<'_>) {
        state.lines += 1;
        if let (Some(set), Some(q)) = (&mut state.to, &self.query.to_host) {
            if rec.to.eq_ignore_ascii_case(q) {
                set.insert(rec.from);
            }
        }
        if let (Some(set), Some(q)) = (&mut state.from, &self.query.from_host) {
            if rec.from.eq_ignore_ascii_case(q) {
                set.insert(rec.to);
            }
        }
        if let Some(counter) = &mut state.initiators {
            counter.add(rec.from);
        }
        if let Some(counter) = &mut state.receivers {
            counter.add(rec.to);
        }
    }

    fn lines(&self, state: &ExactState) -> u64 {
        state.lines
    }

    fn merge(&self, into: &mut ExactState, other: ExactState) {
        into.lines += other.lines;
        if let (Some(a), Some(b)) = (&mut into.to, other.to) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut into.from, other.from) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut into.initiators, other.initiators) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut into.receivers, other.receivers) {
            a.merge(b);
        }
    }

    fn encode(&self, mut state: ExactState) -> std::io::Result<Body> {
        let mut body = Body::new();
        body.count("lines", state.lines);
        for (name, set) in [("to", &state.to), ("from", &state.from)] {
            if let Some(set) = set {
                let hosts = set.sorted_bytes();
                let mut e = Encoder::new();
                e.uint(hosts.len() as u64);
                for host in hosts {
                    e.bytes(host);
                }
                body.binary(name, e.finish());
            }
        }
        for (name, counter) in [
            ("initiators", &mut state.initiators),
            ("receivers", &mut state.receivers),
        ] {
            if let Some(counter) = counter {
                let hosts = counter.len();
                // Most hosts take a length byte, their bytes and a count byte
                // or two: room for that at once.
                let mut e = Encoder::with_capacity(hosts * 18 + 10);
                e.uint(hosts as u64);
                counter.for_each_sorted(|host, n| {
                    e.bytes(host).uint(n);
                });
                body.binary(name, e.finish());
            }
        }
        Ok(body)
    }

    fn decode(&self, mut body: BodyIn<'_>) -> Result<ExactState, DecodeError> {
        let lines = body.count("lines")?;
        let mut state = self.new_state();
        state.lines = lines;
        for (name, set) in [("to", &mut state.to), ("from", &mut state.from)] {
            if let Some(set) = set {
                let bytes = body.required(name)?;
                let mut d = Decoder::new(&bytes);
                let n = d.count(1)?;
                if n as u64 > lines {
                    return Err(format!("{name}: {n} hosts from {lines} lines").into());
                }
                for _ in 0..n {
                    set.insert(utf8_host(d.bytes()?)?);
                }
                d.end()?;
            }
        }
        for (name, counter) in [
            ("initiators", &mut state.initiators),
            ("receivers", &mut state.receivers),
        ] {
            if let Some(counter) = counter {
                let bytes = body.required(name)?;
                let mut d = Decoder::new(&bytes);
                let mut total = 0u64;
                let hosts = d.count(2)?;
                counter.reserve(hosts);
                for _ in 0..hosts {
                    let host = utf8_host(d.bytes()?)?;
                    let n = d.uint()?;
                    total = total
                        .checked_add(n)
                        .filter(|&t| n > 0 && t <= lines)
                        .ok_or_else(|| format!("{name}: counts do not add up to {lines} lines"))?;
                    counter.add_count(host, n);
                }
                if total != lines {
                    return Err(
                        format!("{name}: counts add up to {total}, not {lines} lines").into(),
                    );
                }
                d.end()?;
            }
        }
        body.end()?;
        Ok(state)
    }

    fn finish(&self, state: ExactState) -> std::io::Result<Answer> {
        let list = |set: Option<HostSet>, q: &Option<Vec<u8>>| {
            let set = set?;
            Some(HostList {
                host: String::from_utf8_lossy(q.as_ref()?).into_owned(),
                distinct: set.len() as u64,
                hosts: set.into_sorted().into(),
                missed_rate: None,
            })
        };
        Ok(Answer {
            lines: state.lines,
            to_host: list(state.to, &self.query.to_host),
            from_host: list(state.from, &self.query.from_host),
            busiest_from: state.initiators.map(|mut c| c.busiest(self.query.top)),
            busiest_to: state.receivers.map(|mut c| c.busiest(self.query.top)),
            approximate: false,
        })
    }
}

/// A host read from a partial: UTF-8, as the parser guarantees of every
/// host it yields.
pub(crate) fn utf8_host(host: &[u8]) -> Result<&[u8], DecodeError> {
    match std::str::from_utf8(host) {
        Ok(_) => Ok(host),
        Err(_) => Err("a host that is not UTF-8".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_each_query_case_insensitively() {
        let r = ExactReducer::new(Query::new(Some("Zyla"), Some("ALICE"), true));
        let mut a = r.new_state();
        let mut b = r.new_state();
        r.add(&mut a, &Record::of(0, "Alice", "zyla"));
        r.add(&mut a, &Record::of(0, "bob", "ZYLA"));
        r.add(&mut b, &Record::of(0, "alice", "carol"));
        r.add(&mut b, &Record::of(0, "Bob", "zyla"));
        r.merge(&mut a, b);
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
                busiest.connections,
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
                &Record::of(0, &format!("f{i}"), &format!("t{}", i % 7)),
            );
        }
        let (mut sized, mut fresh) = (r.new_state_after(&last), r.new_state());
        for (from, to) in [("a", "b"), ("c", "b"), ("a", "d"), ("A", "x")] {
            r.add(&mut sized, &Record::of(0, from, to));
            r.add(&mut fresh, &Record::of(0, from, to));
        }
        assert_eq!(r.finish(sized).unwrap(), r.finish(fresh).unwrap());
    }

    #[test]
    fn keeps_nothing_that_was_not_asked() {
        let r = ExactReducer::new(Query::new(Some("x"), None, false));
        let mut s = r.new_state();
        r.add(&mut s, &Record::of(0, "a", "x"));
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
            r.add(&mut s, &Record::of(0, from, to));
        }
        let ans = r.finish(s).unwrap();
        let to = ans.busiest_to.unwrap().unwrap();
        let listed: Vec<(&str, u64)> = to
            .top
            .iter()
            .map(|t| (t.host.as_str(), t.connections))
            .collect();
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
            r.add(&mut s, &Record::of(0, &format!("h{i}"), "x"));
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
