//! The approximate list part: exact while it is small, a bloom list that
//! spills beyond its buffer once it outgrows a share of it.

use std::cell::RefCell;
use std::io;

use super::{as_set, sketch_host, ApproxKit};
use crate::hosts::fold::{sketch_form, MAX_SKETCH_HOST};
use crate::hosts::HostSet;
use crate::partial::codec::{Decoder, Encoder};
use crate::partial::{Body, DecodeError};
use crate::reduce::part::{Fields, ListPart, ListSlot, Part};
use crate::report::{HostList, Hosts};
use crate::sketch::BloomList;

/// A list in one window: exact while it is small, a bloom list once it
/// outgrows a share of its buffer.
pub enum List {
    /// Every host, exactly.
    Exact(HostSet),
    /// Hosts filtered by a bloom filter and spilled beyond a buffer.
    Bloom(Box<BloomList>, Vec<u8>),
}

impl List {
    /// Replays an exact list, sorted, into a new bloom list.
    fn promote(kit: &ApproxKit, set: HostSet) -> io::Result<List> {
        let mut bloom = kit.new_bloom();
        insert_sorted(&mut bloom, set)?;
        Ok(List::Bloom(Box::new(bloom), Vec::new()))
    }
}

/// Inserts `set`'s hosts sorted, so that the filter sees them in an order
/// that does not depend on how a chunk's hash table happened to lay them
/// out.
fn insert_sorted(bloom: &mut BloomList, set: HostSet) -> io::Result<()> {
    for host in set.into_sorted() {
        bloom.insert(host.as_bytes())?;
    }
    Ok(())
}

impl Part<ApproxKit> for List {
    type Slot = ListSlot;

    fn new(_: &ApproxKit) -> Self {
        List::Exact(HostSet::new())
    }

    /// Folds `other` in, promoting `self` to a bloom list first when either
    /// is one or the union outgrows its share.
    fn merge(&mut self, kit: &ApproxKit, other: Self) -> io::Result<()> {
        match (&mut *self, other) {
            // Small lists stay exact: no filter to allocate, nothing missed.
            (List::Exact(mine), List::Exact(theirs)) => {
                mine.merge(theirs);
                if mine.len() > kit.promote_at() {
                    *self = List::promote(kit, std::mem::take(mine))?;
                }
                Ok(())
            }
            (List::Bloom(bloom, _), List::Exact(set)) => insert_sorted(bloom, set),
            (List::Exact(set), List::Bloom(mut bloom, scratch)) => {
                insert_sorted(&mut bloom, std::mem::take(set))?;
                *self = List::Bloom(bloom, scratch);
                Ok(())
            }
            (List::Bloom(bloom, _), List::Bloom(other, _)) => bloom.merge(*other),
        }
    }

    /// The union of one window's lists from several partials: exact while
    /// the union is small, else one bloom list holding every listed host,
    /// whatever the order the lists come in.
    fn union(kit: &ApproxKit, lists: Vec<Self>) -> io::Result<Self> {
        let mut union = HostSet::new();
        let mut blooms = Vec::new();
        for list in lists {
            match list {
                List::Exact(set) => {
                    for host in set.sorted_bytes() {
                        union.insert(host);
                    }
                }
                List::Bloom(bloom, _) => blooms.push(*bloom),
            }
        }
        if blooms.is_empty() && union.len() <= kit.promote_at() {
            return Ok(List::Exact(union));
        }
        let sorted: Vec<Vec<u8>> = union
            .sorted_bytes()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let bloom = BloomList::union_all(kit.new_bloom(), blooms, &[sorted])?;
        Ok(List::Bloom(Box::new(bloom), Vec::new()))
    }

    /// `0`, then the hosts, while exact; `1`, the filter's bits, the
    /// HyperLogLog and the listed hosts once a bloom list. Hosts are sorted
    /// ascending, with their count first.
    fn encode(self, _: &ApproxKit, slot: ListSlot, body: &mut Body) -> io::Result<()> {
        let mut e = Encoder::new();
        match self {
            List::Exact(set) => {
                let hosts = set.sorted_bytes();
                e.uint(0).uint(hosts.len() as u64);
                for host in hosts {
                    e.bytes(host);
                }
            }
            List::Bloom(bloom, _) => {
                e.uint(1).bytes(bloom.bits()).bytes(&bloom.hll().to_bytes());
                e.uint(bloom.listed());
                for host in bloom.into_sorted()? {
                    e.bytes(host?.as_bytes());
                }
            }
        }
        body.binary(slot.field(), e.finish());
        Ok(())
    }

    fn decode(kit: &ApproxKit, slot: ListSlot, from: &mut Fields) -> Result<Self, DecodeError> {
        let name = slot.field();
        decode_list(kit, &from.take(name)?).map_err(|e| format!("{name}: {e}").into())
    }
}

fn decode_list(kit: &ApproxKit, bytes: &[u8]) -> Result<List, DecodeError> {
    let mut d = Decoder::new(bytes);
    let list = match d.uint()? {
        0 => {
            let mut set = HostSet::new();
            for _ in 0..d.count(1)? {
                set.insert(sketch_host(d.bytes()?)?);
            }
            List::Exact(set)
        }
        1 => {
            let bits = d.bytes()?;
            // The filter is allocated from the settings: only once the
            // partial holds as many bytes of it.
            as_set("bloom filter bytes", bits.len(), kit.settings.bloom_bytes)?;
            let hll = kit.decode_hll(d.bytes()?)?;
            let n = d.count(1)?;
            let mut hosts = Vec::with_capacity(n);
            for _ in 0..n {
                hosts.push(sketch_host(d.bytes()?)?);
            }
            let bloom = BloomList::from_parts(kit.new_bloom(), bits, hll, hosts)
                .map_err(|e| e.to_string())?;
            List::Bloom(Box::new(bloom), Vec::new())
        }
        tag => return Err(format!("list kind {tag} is neither 0 nor 1").into()),
    };
    d.end()?;
    Ok(list)
}

impl ListPart<ApproxKit> for List {
    #[inline]
    fn insert(&mut self, kit: &ApproxKit, host: &[u8]) -> io::Result<()> {
        match self {
            List::Exact(set) => {
                if host.len() > MAX_SKETCH_HOST {
                    set.insert(sketch_form(host, &mut Vec::new()));
                } else {
                    set.insert(host);
                }
                if set.len() > kit.promote_at() {
                    *self = List::promote(kit, std::mem::take(set))?;
                }
                Ok(())
            }
            List::Bloom(bloom, scratch) => bloom.insert(sketch_form(host, scratch)).map(drop),
        }
    }

    fn finish(self, _: &ApproxKit, host: String) -> io::Result<HostList> {
        Ok(match self {
            List::Exact(set) => HostList {
                host,
                distinct: set.len() as u64,
                hosts: set.into_sorted().into(),
                missed_rate: Some(0.0),
            },
            // Streamed from the spilled runs as it is printed, so a huge
            // list never has to fit in memory at once.
            List::Bloom(bloom, _) => HostList {
                host,
                distinct: bloom.distinct(),
                missed_rate: Some(bloom.missed_rate()),
                hosts: Hosts::Streamed {
                    count: bloom.listed(),
                    source: RefCell::new(Some(Box::new(bloom.into_sorted()?))),
                },
            },
        })
    }
}
