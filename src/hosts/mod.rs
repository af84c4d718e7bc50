//! Hosts as a domain: compact hash tables keyed by case-folded host names,
//! and the ranking of counted hosts.
//!
//! Exact mode keeps one table per hour and per query, and a multi-gigabyte log
//! has tens of millions of (hour, host) pairs, so the layout decides both
//! memory and speed. A host of up to 15 bytes (most names, every IPv4 address)
//! lives inline in its table entry: case-folded eight bytes at a time, hashed
//! with one multiply, compared as two words, with no pointer to chase. Longer
//! hosts go to an arena shared by the table, and the entry keeps their offset
//! and hash. Counts are `u32` (an entry is 20 bytes), and the rare host that
//! passes 2^32 in one window carries the excess in a side table, so counts stay
//! exact.
//!
//! Hashing uses fixed seeds so that tables built on different threads agree and
//! a run is reproducible.

mod counter;
pub(crate) mod fold;
mod key;
pub mod net;
pub(crate) mod rank;
mod set;
#[cfg(test)]
mod tests;

pub use counter::HostCounter;
pub use set::HostSet;
