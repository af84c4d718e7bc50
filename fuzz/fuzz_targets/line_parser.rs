//! The line parser on arbitrary bytes: never panics, always advances, and
//! the fast path (`next_line`) agrees with the line-at-a-time parser.
#![no_main]

use connspy::input::format::connspy::{next_line, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    while pos < data.len() {
        let (parsed, next) = next_line(data, pos);
        assert!(next > pos && next <= data.len(), "{pos} -> {next}");
        let line = &data[pos..next];
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        assert_eq!(parsed, parse_line(line), "line {line:?}");
        pos = next;
    }
});
