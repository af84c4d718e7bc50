//! AWS VPC Flow Logs, with or without a header.
#![no_main]
use connspy::input::format::{LogFormat, Parser};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check(Parser::choose(LogFormat::Vpc, None, data), data));
