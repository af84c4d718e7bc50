//! One window's state built from parts, and the reducer over it: adding,
//! merging, encoding, decoding and finishing a window are written here once,
//! for every mode, and each part does its own share.

use std::io;
use std::marker::PhantomData;

use super::part::{CountPart, CountSlot, Fields, Kit, ListPart, ListSlot, Part};
use super::{Reducer, TooMuch, Weighed};
use crate::input::format::{LineError, Needs, Record};
use crate::partial::{Body, BodyIn, DecodeError};
use crate::query::{Measure, Query};
use crate::report::Answer;

/// A reducer answering a query with list parts `L` and count parts `C`,
/// which share the kit `K` (sketch sizes, or nothing in exact mode).
pub struct Parts<K, L, C> {
    query: Query,
    kit: K,
    parts: PhantomData<fn() -> (L, C)>,
}

impl<K: Kit, L: ListPart<K>, C: CountPart<K>> Parts<K, L, C> {
    /// A reducer answering `query` with parts that share `kit`.
    pub(crate) fn with_kit(query: Query, kit: K) -> Self {
        Parts {
            query,
            kit,
            parts: PhantomData,
        }
    }
}

/// One window's state. Each part exists only when its query was asked.
pub struct Window<L, C> {
    pub(super) lines: u64,
    /// The window's sum of the measure (`--by`) when it is bytes or
    /// packets; unused for connections, whose sum is `lines`.
    pub(super) total: u64,
    pub(super) to: Option<L>,
    pub(super) from: Option<L>,
    pub(super) initiators: Option<C>,
    pub(super) receivers: Option<C>,
}

impl<L, C> Window<L, C> {
    /// The lists, each with its slot and the host its query names.
    fn lists(&mut self) -> [(ListSlot, &mut Option<L>); 2] {
        [
            (ListSlot::To, &mut self.to),
            (ListSlot::From, &mut self.from),
        ]
    }

    /// The count parts, each with its slot.
    fn counts(&mut self) -> [(CountSlot, &mut Option<C>); 2] {
        [
            (CountSlot::Initiators, &mut self.initiators),
            (CountSlot::Receivers, &mut self.receivers),
        ]
    }
}

impl<K: Kit, L: ListPart<K>, C: CountPart<K>> Parts<K, L, C> {
    /// The count parts' share of [`Reducer::add`] when the busiest rank by
    /// bytes or packets. Kept out of line: inlined, it made the per-line
    /// loop of every run too large to inline its own parser callback.
    #[inline(never)]
    fn add_weights(&self, state: &mut Window<L, C>, line: Weighed<'_>) -> io::Result<()> {
        let weight = line.weight;
        // Every host's sum is at most the window's: checked here once, so
        // no count below can wrap.
        state.total = add_total(state.total, weight, self.query.by)?;
        if let Some(counter) = &mut state.initiators {
            counter.add_weighted(line.from, weight);
        }
        if let Some(counter) = &mut state.receivers {
            counter.add_weighted(line.to, weight);
        }
        Ok(())
    }
}

/// `total + more`, or [`TooMuch`] when a window's sum of `by` would pass 64
/// bits.
fn add_total(total: u64, more: u64, by: Measure) -> io::Result<u64> {
    total
        .checked_add(more)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, TooMuch(by)))
}

/// Folds `other` into `into` when both exist (both do, or neither, for
/// states of one query).
fn merge_part<K: Kit, P: Part<K>>(
    kit: &K,
    into: &mut Option<P>,
    other: Option<P>,
) -> io::Result<()> {
    match (into, other) {
        (Some(mine), Some(theirs)) => mine.merge(kit, theirs),
        _ => Ok(()),
    }
}

impl<K: Kit, L: ListPart<K>, C: CountPart<K>> Reducer for Parts<K, L, C> {
    type State = Window<L, C>;

    fn new_state(&self) -> Window<L, C> {
        let kit = &self.kit;
        Window {
            lines: 0,
            total: 0,
            to: self.query.to_host.as_ref().map(|_| L::new(kit)),
            from: self.query.from_host.as_ref().map(|_| L::new(kit)),
            initiators: self.query.busiest_from.then(|| C::new(kit)),
            receivers: self.query.busiest_to.then(|| C::new(kit)),
        }
    }

    fn needs(&self) -> Needs {
        self.query.by.needs()
    }

    fn new_state_after(&self, last: &Window<L, C>) -> Window<L, C> {
        let kit = &self.kit;
        let sized = |c: &Option<C>| c.as_ref().map(|c| C::new_after(kit, c));
        Window {
            initiators: sized(&last.initiators),
            receivers: sized(&last.receivers),
            ..self.new_state()
        }
    }

    #[inline]
    fn weight(&self, rec: &Record<'_>) -> Result<u64, LineError> {
        self.query.by.weight(rec)
    }

    #[inline]
    fn add(&self, state: &mut Window<L, C>, line: Weighed<'_>) -> io::Result<()> {
        state.lines += 1;
        let q = &self.query;
        if let (Some(list), Some(wanted)) = (&mut state.to, &q.to_host) {
            if Query::names(wanted, q.to_net.as_ref(), line.to) {
                list.insert(&self.kit, line.from)?;
            }
        }
        if let (Some(list), Some(wanted)) = (&mut state.from, &q.from_host) {
            if Query::names(wanted, q.from_net.as_ref(), line.from) {
                list.insert(&self.kit, line.to)?;
            }
        }
        if q.by.weighted() {
            return self.add_weights(state, line);
        }
        if let Some(counter) = &mut state.initiators {
            counter.add(line.from);
        }
        if let Some(counter) = &mut state.receivers {
            counter.add(line.to);
        }
        Ok(())
    }

    fn lines(&self, state: &Window<L, C>) -> u64 {
        state.lines
    }

    fn total(&self, state: &Window<L, C>) -> u64 {
        if self.query.by.weighted() {
            state.total
        } else {
            state.lines
        }
    }

    fn merge(&self, into: &mut Window<L, C>, other: Window<L, C>) -> io::Result<()> {
        let kit = &self.kit;
        into.lines += other.lines;
        into.total = add_total(into.total, other.total, self.query.by)?;
        merge_part(kit, &mut into.to, other.to)?;
        merge_part(kit, &mut into.from, other.from)?;
        merge_part(kit, &mut into.initiators, other.initiators)?;
        merge_part(kit, &mut into.receivers, other.receivers)
    }

    fn merge_partials(&self, states: Vec<Window<L, C>>) -> io::Result<Window<L, C>> {
        let kit = &self.kit;
        let mut out = self.new_state();
        let (mut to, mut from, mut initiators, mut receivers) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for state in states {
            out.lines += state.lines;
            out.total = add_total(out.total, state.total, self.query.by)?;
            to.extend(state.to);
            from.extend(state.from);
            initiators.extend(state.initiators);
            receivers.extend(state.receivers);
        }
        for (part, all) in [(&mut out.to, to), (&mut out.from, from)] {
            if part.is_some() {
                *part = Some(L::union(kit, all)?);
            }
        }
        for (part, all) in [
            (&mut out.initiators, initiators),
            (&mut out.receivers, receivers),
        ] {
            if part.is_some() {
                *part = Some(C::union(kit, all)?);
            }
        }
        Ok(out)
    }

    fn encode(&self, mut state: Window<L, C>) -> io::Result<Body> {
        let kit = &self.kit;
        let mut body = Body::new();
        body.count("lines", state.lines);
        if self.query.by.weighted() {
            body.count(self.query.by.name(), state.total);
        }
        for (slot, part) in state.lists() {
            if let Some(part) = part.take() {
                part.encode(kit, slot, &mut body)?;
            }
        }
        for (slot, part) in state.counts() {
            if let Some(part) = part.take() {
                part.encode(kit, slot, &mut body)?;
            }
        }
        Ok(body)
    }

    fn decode(&self, mut body: BodyIn<'_>) -> Result<Window<L, C>, DecodeError> {
        let kit = &self.kit;
        let lines = body.count("lines")?;
        let by = self.query.by;
        let weighted = by.weighted().then(|| body.count(by.name())).transpose()?;
        let mut state = self.new_state();
        (state.lines, state.total) = (lines, weighted.unwrap_or(0));
        let mut from = Fields::new(&mut body, lines, weighted);
        for (slot, part) in state.lists() {
            if part.is_some() {
                *part = Some(L::decode(kit, slot, &mut from)?);
            }
        }
        for (slot, part) in state.counts() {
            if part.is_some() {
                *part = Some(C::decode(kit, slot, &mut from)?);
            }
        }
        body.end()?;
        Ok(state)
    }

    fn settle(&self, state: &mut Window<L, C>) {
        for counts in [&mut state.initiators, &mut state.receivers]
            .into_iter()
            .flatten()
        {
            counts.settle();
        }
    }

    fn finish(&self, state: Window<L, C>) -> io::Result<Answer> {
        let kit = &self.kit;
        let list = |part: Option<L>, q: &Option<Vec<u8>>| match (part, q) {
            (Some(part), Some(q)) => part
                .finish(kit, String::from_utf8_lossy(q).into_owned())
                .map(Some),
            _ => Ok(None),
        };
        let top = self.query.top;
        Ok(Answer {
            lines: state.lines,
            measure: self.query.by,
            total: self.total(&state),
            to_host: list(state.to, &self.query.to_host)?,
            from_host: list(state.from, &self.query.from_host)?,
            busiest_from: state.initiators.map(|c| c.finish(kit, top)),
            busiest_to: state.receivers.map(|c| c.finish(kit, top)),
            approximate: K::APPROXIMATE,
        })
    }
}
