//! Criterion benches for the per-line hot path: parsing, and a whole exact
//! scan per query kind, on a generated log held in memory.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use connspy::engine::ScanOptions;
use connspy::gen::{generate, GenConfig};
use connspy::input::format::connspy::{parse_line, Lines};
use connspy::input::Input;
use connspy::output::sink::Answers;
use connspy::progress::Progress;
use connspy::query::{Filter, Query};
use connspy::reduce::exact::ExactReducer;
use connspy::run::scan;

fn sample() -> Vec<u8> {
    let mut log = Vec::new();
    let cfg = GenConfig {
        lines: 500_000,
        hosts: 50_000,
        rate: 50.0,
        ..GenConfig::default()
    };
    generate(&cfg, &mut log).expect("generate into memory");
    log
}

fn parse(c: &mut Criterion) {
    let log = sample();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.bench_function("lines", |b| {
        b.iter(|| {
            Lines::new(&log)
                .filter_map(|l| parse_line(l).ok().flatten())
                .count()
        })
    });
    g.finish();
}

fn scan(c: &mut Criterion) {
    let log = sample();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.log");
    std::fs::write(&path, &log).expect("write the log");
    let inputs = [Input::File(path)];
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.sample_size(20);
    for (name, query, hourly) in [
        ("to_host", Query::new(Some("Bakeli"), None, false), false),
        (
            "all_hourly",
            Query::new(Some("Bakeli"), Some("Bakeli"), true),
            true,
        ),
    ] {
        let reducer = ExactReducer::new(query);
        let filter = Filter {
            bin: hourly.then_some(connspy::timestamp::HOUR_MS),
            ..Filter::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut windows = 0u64;
                let mut count = Answers::new(&reducer, |_| {
                    windows += 1;
                    Ok(())
                });
                let opts = ScanOptions::default();
                scan::scan(
                    &reducer,
                    &filter,
                    &opts,
                    &inputs,
                    &Progress::hidden(),
                    &mut count,
                )
                .expect("scan");
                windows
            })
        });
    }
    g.finish();
}

criterion_group!(benches, parse, scan);
criterion_main!(benches);
