//! The whole engine on small inputs: exact answers do not depend on the
//! thread count or the chunk size, and equal a naive model's line counts and
//! lists.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use connspy::engine::{run, Filter, Release, ScanOptions};
use connspy::input::Input;
use connspy::parse::parse_line;
use connspy::progress::Progress;
use connspy::reduce::exact::ExactReducer;
use connspy::reduce::Query;
use connspy::report::Report;
use connspy::timestamp::HOUR_MS;
use libfuzzer_sys::fuzz_target;

fn scan(path: &std::path::Path, query: &Query, filter: &Filter, threads: usize, chunk: usize) -> Vec<Report> {
    let opts = ScanOptions {
        threads,
        waves: threads,
        chunk_size: chunk,
        strict: false,
        seek_late_ms: None,
        release: Release::AtEnd,
        ..ScanOptions::default()
    };
    let mut reports = Vec::new();
    run(
        &ExactReducer::new(query.clone()),
        filter,
        &opts,
        &[Input::File(path.to_owned())],
        &Progress::hidden(),
        &mut |r| {
            reports.push(r);
            Ok(())
        },
    )
    .expect("a readable file scans");
    reports
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    std::fs::write(&path, &data[1..]).unwrap();
    let query = Query::new(Some("t"), Some("h"), true);
    let filter = Filter {
        init: None,
        end: None,
        hourly: data[0] & 1 == 1,
    };
    let chunk = 1 + usize::from(data[0] >> 1);
    let one = scan(&path, &query, &filter, 1, 1 << 20);
    assert_eq!(scan(&path, &query, &filter, 3, chunk), one);
    // The naive model: each line parsed alone.
    let mut lines: BTreeMap<i64, u64> = BTreeMap::new();
    let mut to_t: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for line in data[1..].split(|&b| b == b'\n') {
        if let Ok(Some(rec)) = parse_line(line) {
            let key = if filter.hourly { rec.ts.div_euclid(HOUR_MS) * HOUR_MS } else { 0 };
            *lines.entry(key).or_default() += 1;
            if rec.to.eq_ignore_ascii_case(b"t") {
                to_t.entry(key)
                    .or_default()
                    .insert(String::from_utf8_lossy(&rec.from.to_ascii_lowercase()).into_owned());
            }
        }
    }
    let counted: Vec<u64> = one.iter().map(|r| r.answer.lines).filter(|&n| n > 0).collect();
    let expect: Vec<u64> = lines.values().copied().collect();
    assert_eq!(counted, expect);
    for r in &one {
        let key = if filter.hourly { r.start.unwrap() } else { 0 };
        let listed = r.answer.to_host.as_ref().unwrap().hosts.to_vec().unwrap();
        let model: Vec<String> = to_t.get(&key).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        assert_eq!(listed, model);
    }
});
