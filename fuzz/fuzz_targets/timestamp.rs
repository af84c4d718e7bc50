//! The timestamp parsers on arbitrary bytes: the log's TS field and the
//! `--time_init`/`--time_end` argument never panic, and a TS field of plain
//! digits means what a naive reading of it says.
#![no_main]

use connspy::timestamp::{parse_time_arg, parse_ts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ts = parse_ts(data);
    if !data.is_empty() && data.iter().all(u8::is_ascii_digit) {
        let value = data.iter().try_fold(0u128, |v, d| {
            v.checked_mul(10)?.checked_add(u128::from(d - b'0'))
        });
        if let (Ok(ms), Some(v)) = (ts, value) {
            // 10^11 and above are milliseconds, below that seconds.
            let expect = if v >= 100_000_000_000 { v } else { v * 1000 };
            assert_eq!(u128::try_from(ms).ok(), Some(expect), "{data:?}");
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_time_arg(s);
    }
});
