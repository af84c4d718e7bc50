//! The integration tests, one binary: each module links against the library
//! once, instead of once per file, which kept `cargo test` on a fresh clone
//! past its budget on two cores.

mod support;

mod analyst;
mod cli;
mod compressed;
mod follow;
mod follow_timing;
mod formats;
mod hardening;
mod hll_fixture;
mod hostile;
mod input;
mod partial;
mod props;
mod tail;
