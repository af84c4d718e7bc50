//! The whole engine on small inputs: exact answers do not depend on how the
//! input is read (one block in memory, a pipe read in blocks, a mapped file
//! cut in chunks), on the thread count or on the chunk size, and equal a
//! naive model's line counts and lists.
//!
//! Everything stays in memory and in this process, so that a run costs
//! microseconds, not a file and two thread pools: the pools are built once,
//! the pipe is an anonymous pipe and the mapped file a `memfd`, both opened by
//! the engine through `/proc/self/fd` as it opens any path.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use connspy::engine::{Engine, Release, ScanOptions};
use connspy::input::decompress::{sniff_path, Encoding};
use connspy::input::format::connspy::parse_line;
use connspy::input::format::{FormatChoice, Parser, Sequence};
use connspy::input::line_limit::LineBlock;
use connspy::input::{Block, Group, Input};
use connspy::output::sink::Answers;
use connspy::progress::Progress;
use connspy::query::{Filter, Query};
use connspy::reduce::exact::ExactReducer;
use connspy::report::Report;
use connspy::timestamp::HOUR_MS;
use libfuzzer_sys::fuzz_target;

#[path = "memfd.rs"]
mod memfd;
use memfd::{fd_path, memfd};

/// Bytes an anonymous pipe holds without a reader (Linux's default).
const PIPE_BUFFER: usize = 1 << 16;

/// One pool per thread count, built once for the whole fuzzing run.
fn pool(threads: usize) -> &'static rayon::ThreadPool {
    static ONE: OnceLock<rayon::ThreadPool> = OnceLock::new();
    static THREE: OnceLock<rayon::ThreadPool> = OnceLock::new();
    let cell = if threads == 1 { &ONE } else { &THREE };
    cell.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    })
}

/// The reports of one run on `threads` workers with `chunk`-byte chunks,
/// whose input `feed` hands to the engine.
fn reports(
    threads: usize,
    chunk: usize,
    query: &Query,
    filter: &Filter,
    feed: impl FnOnce(&mut Engine<'_, ExactReducer>) + Send,
) -> Vec<Report> {
    let opts = ScanOptions {
        threads,
        waves: threads,
        chunk_size: chunk,
        strict: false,
        seek_late_ms: None,
        release: Release::AtEnd,
        ..ScanOptions::default()
    };
    pool(threads).install(|| {
        let reducer = ExactReducer::new(query.clone());
        let progress = Progress::hidden();
        let mut out = Vec::new();
        let mut sink = Answers::new(&reducer, |report| {
            out.push(report);
            Ok(())
        });
        let mut engine = Engine::new(&reducer, filter, &opts, &progress, &mut sink);
        feed(&mut engine);
        engine
            .finish(true)
            .expect("an exact run without --strict ends well");
        out
    })
}

/// Reads `path` as the command line would name it.
fn scan_path(engine: &mut Engine<'_, ExactReducer>, path: PathBuf) {
    engine
        .scan_all(&[Input::File(path)], || false, &mut Err)
        .expect("a readable input scans");
}

fuzz_target!(|data: &[u8]| {
    let [flags, stream_chunk, mapped_chunk, log @ ..] = data else {
        return;
    };
    let query = Query::new(Some("t"), Some("h"), true);
    let filter = Filter {
        init: None,
        end: None,
        bin: (flags & 1 == 1).then_some(HOUR_MS),
        ..Filter::default()
    };
    // A path whose first bytes say gzip or zstd is decoded (other
    // compressions are refused), where the reference below reads the bytes
    // as they are: such logs are the decompress target's.
    let file = memfd(log);
    if sniff_path(&fd_path(&file)).ok() != Some(Encoding::Plain) {
        return;
    }
    // The reference: the whole log as one block in memory, one thread.
    let one = reports(1, 1 << 20, &query, &filter, |engine| {
        let parser = Sequence::new(FormatChoice::default()).next_block(log);
        let input = engine.begin_input(&Input::Stdin);
        let block = Block::new(LineBlock::whole(log.to_vec()), parser);
        engine
            .feed(input, Group::blocks(vec![block]))
            .expect("the sink never fails");
    });
    // A pipe, read in blocks of 1 to 256 bytes (with the next group read
    // while this one is parsed), on three threads.
    if log.len() <= PIPE_BUFFER {
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(log).unwrap();
        drop(writer);
        let chunk = 1 + usize::from(*stream_chunk);
        let piped = reports(3, chunk, &query, &filter, |e| {
            scan_path(e, fd_path(&reader))
        });
        assert_eq!(piped, one, "piped, {chunk}-byte blocks");
    }
    // A mapped file cut into chunks of 1 to 256 bytes, on three threads.
    let chunk = 1 + usize::from(*mapped_chunk);
    let mapped = reports(3, chunk, &query, &filter, |e| scan_path(e, fd_path(&file)));
    assert_eq!(mapped, one, "mapped, {chunk}-byte chunks");
    // The naive model, for logs in connspy's own format: each line parsed alone.
    if Parser::detect(log) != Parser::Connspy {
        return;
    }
    let mut lines: BTreeMap<i64, u64> = BTreeMap::new();
    let mut to_t: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for line in log.split(|&b| b == b'\n') {
        if let Ok(Some(rec)) = parse_line(line) {
            let key = if filter.binned() {
                rec.ts.div_euclid(HOUR_MS) * HOUR_MS
            } else {
                0
            };
            *lines.entry(key).or_default() += 1;
            if rec.to.eq_ignore_ascii_case(b"t") {
                to_t.entry(key)
                    .or_default()
                    .insert(String::from_utf8_lossy(&rec.from.to_ascii_lowercase()).into_owned());
            }
        }
    }
    let counted: Vec<u64> = one
        .iter()
        .map(|r| r.answer.lines)
        .filter(|&n| n > 0)
        .collect();
    let expect: Vec<u64> = lines.values().copied().collect();
    assert_eq!(counted, expect);
    for r in &one {
        let key = if filter.binned() { r.start.unwrap() } else { 0 };
        let listed = r.answer.to_host.as_ref().unwrap().hosts.to_vec().unwrap();
        let model: Vec<String> = to_t
            .get(&key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        assert_eq!(listed, model);
    }
});
