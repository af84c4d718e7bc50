//! `--columns` with a delimiter and columns taken from the first bytes.
#![no_main]
use connspy::input::format::{Columns, Delimiter, LogFormat, Parser};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let [a, b, c, d, rest @ ..] = data else {
        return;
    };
    let cols = format!("{},{},{}", a % 8 + 1, b % 8 + 1, c % 8 + 1);
    let Ok(cols) = cols.parse::<Columns>() else {
        return;
    };
    let delim = match d % 3 {
        0 => Delimiter::Whitespace,
        1 => Delimiter::Byte(b','),
        _ => Delimiter::Byte(b'\t'),
    };
    let cols = cols.with_delimiter(delim);
    common::check(Parser::choose(LogFormat::Auto, Some(&cols), rest), rest);
});
