//! Zeek JSON and Suricata EVE lines.
#![no_main]
use connspy::input::format::{LogFormat, Parser};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::check(Parser::choose(LogFormat::ZeekJson, None, data), data);
    common::check(Parser::choose(LogFormat::Suricata, None, data), data);
});
