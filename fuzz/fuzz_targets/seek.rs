//! The time-range seek on near-sorted logs: no line is more than `late` older
//! than the newest before it, so every line inside [init, end) must lie in
//! the range the seek returns (that is its whole promise: a full scan of the
//! range gives the full file's answer).
#![no_main]

use connspy::input::format::Parser;
use connspy::input::seek::seek;
use connspy::input::format::connspy::parse_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let late_ms = i64::from(data[0]) * 100;
    let (a, b) = (i64::from(data[1]) * 97, i64::from(data[2]) * 97);
    let (init, end) = (a.min(b), a.max(b) + 1);
    let shape = data[3];
    let base: i64 = 1_565_647_200_000;
    let mut log = Vec::new();
    let mut t = base;
    let mut newest = base;
    for (i, &byte) in data[4..].iter().enumerate() {
        t += i64::from(byte & 0x3f) * 10;
        newest = newest.max(t);
        // Some lines are late, by at most the bound.
        let late = if byte & 0x40 != 0 {
            late_ms * i64::from(byte >> 7)
        } else {
            0
        };
        let ts = (t - late).max(newest - late_ms);
        let line = match (shape >> (i % 8)) & 1 {
            0 => format!("{ts} h{} t{}\n", byte % 5, byte % 3),
            // Junk lines are skipped by the seek's probes and by the parser.
            _ if byte % 17 == 0 => "not a line\n".to_string(),
            _ => format!("{}.{} h t\n", ts / 1000, ts % 1000),
        };
        log.extend_from_slice(line.as_bytes());
    }
    let (init, end) = (base + init * 10, base + end * 10);
    let range = seek(
        &log,
        Some(init),
        Some(end),
        late_ms,
        &Parser::Connspy.map(&log, &|_| {}),
    );
    assert!(range.start <= range.end && range.end <= log.len());
    let mut pos = 0;
    for line in log.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        if let Ok(Some(rec)) = parse_line(text) {
            if rec.ts >= init && rec.ts < end {
                assert!(
                    range.start <= pos && pos + line.len() <= range.end,
                    "line at {pos} ({}) outside {range:?}",
                    rec.ts
                );
            }
        }
        pos += line.len();
    }
});
