//! Criterion benches for the approximate-mode sketches on the per-line hot
//! path, beside exact mode's counter and Apache DataSketches' frequent-items
//! sketch, over the initiators of a generated log (case folded, back to back
//! in memory, so only the sketch is measured).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use datasketches::frequencies::FrequentItemsSketch;

use connspy::gen::{generate, GenConfig};
use connspy::reduce::hosts::HostCounter;
use connspy::sketch::{hash_host, BloomList, Hll, SpaceSaving};

/// The initiating hosts of a generated log of `lines` lines over `hosts`
/// names, as one buffer and the spans of each host in it.
struct Initiators {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Initiators {
    fn new(lines: u64, hosts: u64) -> Self {
        let mut log = Vec::new();
        let cfg = GenConfig {
            lines,
            hosts,
            rate: 50.0,
            ..GenConfig::default()
        };
        generate(&cfg, &mut log).expect("generate into memory");
        let mut bytes = Vec::with_capacity(log.len() / 2);
        let mut spans = Vec::with_capacity(lines as usize);
        for line in log.split(|&b| b == b'\n') {
            // `TS FROM TO`: the initiator is the second field.
            if let Some(from) = line.split(|&b| b == b' ').nth(1) {
                let start = bytes.len();
                bytes.extend(from.iter().map(u8::to_ascii_lowercase));
                spans.push((start, from.len()));
            }
        }
        Initiators { bytes, spans }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|&(o, l)| &self.bytes[o..o + l])
    }
}

fn hot_path(c: &mut Criterion) {
    for hosts in [100_000u64, 1_000_000] {
        let data = Initiators::new(1_000_000, hosts);
        let mut g = c.benchmark_group(format!("sketch/{hosts}_hosts"));
        g.throughput(Throughput::Elements(data.spans.len() as u64));
        g.sample_size(10);
        for k in [4096usize, 65_536] {
            g.bench_with_input(BenchmarkId::new("space_saving_add", k), &k, |b, &k| {
                b.iter(|| {
                    let mut ss = SpaceSaving::new(k);
                    data.iter().for_each(|h| ss.add(h));
                    black_box(ss.top())
                })
            });
        }
        g.bench_function("space_saving_4096_and_hll_14_one_hash", |b| {
            b.iter(|| {
                let mut ss = SpaceSaving::new(4096);
                let mut hll = Hll::new(14);
                for h in data.iter() {
                    let hash = hash_host(h);
                    ss.add_hashed(h, hash);
                    hll.insert_hash(hash);
                }
                black_box((ss.top(), hll.estimate()))
            })
        });
        g.bench_function("hll_14_insert", |b| {
            b.iter(|| {
                let mut hll = Hll::new(14);
                data.iter().for_each(|h| hll.insert(h));
                black_box(hll.estimate())
            })
        });
        g.bench_function("bloom_list_insert", |b| {
            b.iter(|| {
                let mut list = BloomList::new(hosts as usize, 0.001, 4 << 20, 14);
                for h in data.iter() {
                    list.insert(h).expect("spill");
                }
                black_box(list.listed())
            })
        });
        g.bench_function("datasketches_frequent_items_8192_update", |b| {
            b.iter(|| {
                let mut ds = FrequentItemsSketch::<&[u8]>::new(8192);
                data.iter().for_each(|h| ds.update(h));
                black_box(ds.maximum_error())
            })
        });
        g.bench_function("exact_host_counter_add", |b| {
            b.iter(|| {
                let mut counter = HostCounter::new();
                data.iter().for_each(|h| counter.add(h));
                black_box(counter.busiest(1))
            })
        });
        g.finish();
    }
}

fn merges(c: &mut Criterion) {
    let data = Initiators::new(1_000_000, 1_000_000);
    let mut g = c.benchmark_group("sketch/merge");
    g.sample_size(10);
    for k in [4096usize, 65_536] {
        let (mut a, mut b) = (SpaceSaving::new(k), SpaceSaving::new(k));
        for (i, h) in data.iter().enumerate() {
            if i % 2 == 0 { &mut a } else { &mut b }.add(h);
        }
        g.bench_with_input(BenchmarkId::new("space_saving", k), &k, |bench, _| {
            bench.iter(|| {
                let mut m = a.clone();
                m.merge(b.clone());
                black_box(m.top())
            })
        });
    }
    g.bench_function("bloom_list_into_sorted_1MiB_runs", |bench| {
        bench.iter(|| {
            let mut list = BloomList::new(1_000_000, 0.001, 1 << 20, 14);
            for h in data.iter() {
                list.insert(h).expect("spill");
            }
            black_box(list.into_sorted().expect("runs").count())
        })
    });
    g.finish();
}

criterion_group!(benches, hot_path, merges);
criterion_main!(benches);
