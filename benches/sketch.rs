//! Criterion benches for the approximate-mode sketches on the per-line hot
//! path, beside exact mode's counter and Apache DataSketches' frequent-items
//! sketch, over the initiators of a generated log (case folded, back to back
//! in memory, so only the sketch is measured).
//!
//! The `busiest/` groups feed one hour of the batch benchmark's log (1.39M
//! lines over 1M hosts) to what `--busiest_from_host` and
//! `--busiest_to_host` keep per window, side by side: the generator's
//! initiators are Zipf distributed (a hot set), its receivers uniform (about
//! 750,000 distinct an hour, nearly every line a new host), which is what
//! makes `--busiest_to_host` cost more than `--busiest_from_host`
//! (issue 10, docs/benchmarks.md).
//!
//! The `hll/` groups and the table printed first with `HLL_REPORT=1`
//! measure connspy's HLL (Apache DataSketches, [`Hll`]) at precisions 12 to
//! 16: insert and merge cost, heap bytes (a counting allocator) and relative
//! error. Commit 13a6eb6's version of this file also measures the
//! `hyperloglogplus` crate it replaced (docs/benchmarks.md has both).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use datasketches::frequencies::FrequentItemsSketch;

use connspy::gen::{generate, GenConfig};
use connspy::hosts::HostCounter;
use connspy::sketch::{BloomList, Hll, Leader, SpaceSaving};

/// Counts live and peak heap bytes, for the memory columns.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: allocated above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One column of hosts of a generated log of `lines` lines over `hosts`
/// names (the initiators unless said), as one buffer and the spans of each
/// host in it.
struct Column {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Column {
    fn new(lines: u64, hosts: u64) -> Self {
        let mut log = Vec::new();
        let cfg = GenConfig {
            lines,
            hosts,
            rate: 50.0,
            ..GenConfig::default()
        };
        generate(&cfg, &mut log).expect("generate into memory");
        Self::from_log(&log, 1)
    }

    /// Field `field` of each `TS FROM TO` line of `log`: 1 the initiator,
    /// 2 the receiver.
    fn from_log(log: &[u8], field: usize) -> Self {
        let mut bytes = Vec::with_capacity(log.len() / 2);
        let mut spans = Vec::new();
        for line in log.split(|&b| b == b'\n') {
            if let Some(host) = line.split(|&b| b == b' ').nth(field) {
                let start = bytes.len();
                bytes.extend(host.iter().map(u8::to_ascii_lowercase));
                spans.push((start, host.len()));
            }
        }
        Column { bytes, spans }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|&(o, l)| &self.bytes[o..o + l])
    }
}

/// What the approximate reducer does per line of a busiest side: the
/// summary, then the HyperLogLog only for hosts it does not track.
fn talkers(data: &Column) -> (Option<Leader>, u64) {
    let mut ss = SpaceSaving::new(4096);
    let mut hll = Hll::new(15);
    for h in data.iter() {
        if !ss.add(h) {
            hll.insert(h);
        }
    }
    (ss.top(), hll.estimate())
}

fn hot_path(c: &mut Criterion) {
    for hosts in [100_000u64, 1_000_000] {
        let data = Column::new(1_000_000, hosts);
        let mut g = c.benchmark_group(format!("sketch/{hosts}_hosts"));
        g.throughput(Throughput::Elements(data.spans.len() as u64));
        g.sample_size(10);
        for k in [4096usize, 65_536] {
            g.bench_with_input(BenchmarkId::new("space_saving_add", k), &k, |b, &k| {
                b.iter(|| {
                    let mut ss = SpaceSaving::new(k);
                    data.iter().for_each(|h| {
                        ss.add(h);
                    });
                    black_box(ss.top())
                })
            });
        }
        g.bench_function("talkers_4096_hll_15", |b| b.iter(|| talkers(&data)));
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
                let mut ds = FrequentItemsSketch::<&[u8]>::new(8192).expect("map size");
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

/// One hour of the batch benchmark's log (100M lines over 72 h, 1M hosts,
/// names of 6 syllables), initiators against receivers, through the exact
/// counter and the approximate reducer's per-side sketches (k = 4096, as
/// `--memory_limit 256 --top 10` derives).
fn busiest(c: &mut Criterion) {
    const HOUR_LINES: u64 = 1_390_000;
    for (side, field) in [("initiators", 1), ("receivers", 2)] {
        let mut log = Vec::new();
        let cfg = GenConfig {
            lines: HOUR_LINES,
            hosts: 1_000_000,
            rate: HOUR_LINES as f64 / 3600.0,
            name_syllables: 6,
            seed: 7,
            ..GenConfig::default()
        };
        generate(&cfg, &mut log).expect("generate into memory");
        let data = Column::from_log(&log, field);
        let mut g = c.benchmark_group(format!("busiest/{side}_1h"));
        g.throughput(Throughput::Elements(data.spans.len() as u64));
        g.sample_size(10);
        g.bench_function("exact_host_counter_add", |b| {
            b.iter(|| {
                let mut counter = HostCounter::new();
                data.iter().for_each(|h| counter.add(h));
                black_box(counter.busiest(10))
            })
        });
        g.bench_function("talkers_4096_hll_15", |b| b.iter(|| talkers(&data)));
        g.finish();
    }
}

fn merges(c: &mut Criterion) {
    let data = Column::new(1_000_000, 1_000_000);
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

/// `n` hosts named `h-` and ten digits (12 bytes, as the timing tests use),
/// all distinct.
fn twelve_byte_hosts(n: u64, seed: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let name = (i ^ seed.rotate_left(32)).wrapping_mul(2_654_435_761) % 10_000_000_000;
            format!("h-{name:010}").into_bytes()
        })
        .collect()
}

/// Per insert on a fresh sketch filled with 1 000 000 distinct 12-byte
/// hosts (so mostly registers), and the merge of two halves, for both
/// implementations at each precision.
fn hll(c: &mut Criterion) {
    let hosts = twelve_byte_hosts(1_000_000, 1);
    let mut g = c.benchmark_group("hll/insert_1M_distinct_12B");
    g.throughput(Throughput::Elements(hosts.len() as u64));
    g.sample_size(10);
    for p in 12u8..=16 {
        g.bench_with_input(BenchmarkId::new("datasketches", p), &p, |b, &p| {
            b.iter(|| {
                let mut h = Hll::new(p);
                hosts.iter().for_each(|x| h.insert(x));
                black_box(h)
            })
        });
    }
    g.finish();
    // A wave's sketch for a busy hour: 20 000 distinct hosts, 10 inserts
    // each, so the repeat path (the common one in a log) is measured too.
    let few = twelve_byte_hosts(20_000, 2);
    let mut g = c.benchmark_group("hll/insert_20k_distinct_x10_12B");
    g.throughput(Throughput::Elements(few.len() as u64 * 10));
    g.sample_size(10);
    for p in 12u8..=16 {
        g.bench_with_input(BenchmarkId::new("datasketches", p), &p, |b, &p| {
            b.iter(|| {
                let mut h = Hll::new(p);
                for _ in 0..10 {
                    few.iter().for_each(|x| h.insert(x));
                }
                black_box(h)
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("hll/merge_two_dense_halves");
    g.sample_size(20);
    for p in 12u8..=16 {
        let (mut a, mut b) = (Hll::new(p), Hll::new(p));
        for (i, h) in hosts.iter().enumerate() {
            if i % 2 == 0 { &mut a } else { &mut b }.insert(h);
        }
        g.bench_with_input(BenchmarkId::new("datasketches", p), &p, |bench, _| {
            bench.iter(|| {
                let mut m = a.clone();
                m.merge(&b);
                black_box(m)
            })
        });
        g.bench_with_input(
            BenchmarkId::new("datasketches_estimate", p),
            &p,
            |bench, _| bench.iter(|| black_box(a.estimate())),
        );
        g.bench_with_input(
            BenchmarkId::new("datasketches_to_bytes", p),
            &p,
            |bench, _| bench.iter(|| black_box(a.to_bytes())),
        );
    }
    g.finish();
}

/// Heap bytes of `make()`'s result once built (retained) and at the
/// highest point while building it (peak), minus what was live before.
fn heap<T>(make: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let value = make();
    let retained = LIVE.load(Ordering::Relaxed) - base;
    let peak = PEAK.load(Ordering::Relaxed) - base;
    (value, retained, peak)
}

/// Prints, once, the relative error over independent trials (different
/// host names each) and the heap bytes at p = 12 to 16. DataSketches' HIP
/// estimate is shown for reference: connspy reports the composite one (see
/// src/sketch/hll.rs).
fn hll_accuracy_and_memory() {
    const TRIALS: u64 = 40;
    eprintln!("hll accuracy: {TRIALS} trials per cell; RMS and max relative error, % of trials within 2 %");
    eprintln!("p  | n        | connspy (composite)      | DataSketches HIP (unused)");
    for p in 12u8..=16 {
        for n in [2_000u64, 20_000, 200_000, 1_000_000] {
            let mut errs = [Vec::new(), Vec::new()];
            for t in 0..TRIALS {
                let hosts = twelve_byte_hosts(n, 1000 + t);
                let mut ours = Hll::new(p);
                let mut hip =
                    datasketches::hll::HllSketch::new(p, datasketches::hll::HllType::Hll8)
                        .expect("precision");
                for h in &hosts {
                    ours.insert(h);
                    hip.update(datasketches::hash::value::raw_bytes::from_slice(h));
                }
                let rel = |e: f64| (e - n as f64) / n as f64;
                errs[0].push(rel(ours.estimate() as f64));
                errs[1].push(rel(hip.estimate().round()));
            }
            let cell = |e: &[f64]| {
                let rms = (e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64).sqrt();
                let max = e.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                let within = e.iter().filter(|x| x.abs() <= 0.02).count() * 100 / e.len();
                format!("{:5.2} % {:5.2} % {within:3} %", rms * 100.0, max * 100.0)
            };
            eprintln!("{p} | {n:>8} | {:<24} | {}", cell(&errs[0]), cell(&errs[1]));
        }
    }
    eprintln!("hll heap bytes after 1 000 000 distinct hosts (retained / peak while inserting / peak of a merge of two such)");
    let hosts = twelve_byte_hosts(1_000_000, 7);
    for p in 12u8..=16 {
        let (sketch, kept, peak) = heap(|| {
            let mut h = Hll::new(p);
            hosts.iter().for_each(|x| h.insert(x));
            h
        });
        let (_, _, merge) = heap(|| {
            let mut m = sketch.clone();
            m.merge(&sketch);
            m
        });
        eprintln!(
            "p {p}: {kept} / {peak} / {merge}; Hll::memory_bytes {}",
            Hll::memory_bytes(p)
        );
    }
}

fn accuracy(_: &mut Criterion) {
    if std::env::var_os("HLL_REPORT").is_some() {
        hll_accuracy_and_memory();
    }
}

criterion_group!(benches, accuracy, hll, hot_path, busiest, merges);
criterion_main!(benches);
