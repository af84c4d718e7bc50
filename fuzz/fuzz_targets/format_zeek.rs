//! Zeek TSV: the fuzzer's bytes after a valid header, and on their own.
#![no_main]
use connspy::input::format::{LogFormat, Parser};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut log =
        b"#separator \\x09\n#fields\tts\tid.orig_h\tid.resp_h\tid.resp_p\tproto\n".to_vec();
    log.extend_from_slice(data);
    common::check(Parser::choose(LogFormat::Zeek, None, &log), &log);
    common::check(Parser::choose(LogFormat::Zeek, None, data), data);
});
