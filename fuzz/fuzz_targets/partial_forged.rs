//! Structure-aware partials: the fuzzer's bytes choose the content of partial
//! lines that are well formed in every other way (settings connspy writes,
//! field names in their order, base64, LEB128, valid HyperLogLog images, a
//! right digest and CRC), so that every input reaches the body decoders and
//! the merge of their states, where mutated text lines almost never get past
//! the checks. `--merge` must never panic, hang or allocate past the
//! harness's bound, whatever the counts, hosts, keys and sizes say.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use connspy::sketch::Hll;
use libfuzzer_sys::fuzz_target;

#[path = "bounded.rs"]
mod bounded;
#[path = "sealed.rs"]
mod sealed;
use sealed::{merge, seal};

/// Settings connspy writes: exact and approximate, hourly, in bins of other
/// widths or not, each query, with and without networks, ranking by
/// connections, bytes or packets. The approximate ones have the smallest bloom filter a run writes
/// for a host list, 192 KiB; its bits are the fuzzer's [`FILTER_DRAWN`] bytes
/// repeated, so that a bloom list fits in an input.
const SETTINGS: &[&str] = &[
    "mode=exact,hourly=1,init=-,end=-,to=74,from=61,busiest_from=1,busiest_to=1,top=2",
    "mode=exact,hourly=0,init=1565647200000,end=1565661600000,to=74,from=-,busiest_from=1,busiest_to=0,top=1",
    "mode=exact,hourly=1,init=1565647200000,end=1565661600000,to=-,from=-,busiest_from=0,busiest_to=1,top=3",
    "mode=approx,hourly=1,init=-,end=-,to=74,from=61,busiest_from=1,busiest_to=1,top=2,top_k=64,hll_precision=4,bloom_bytes=196608,bloom_items=40000,spill_buffer=65536",
    "mode=approx,hourly=0,init=-,end=-,to=74,from=-,busiest_from=1,busiest_to=0,top=1,top_k=64,hll_precision=12,bloom_bytes=196608,bloom_items=400000,spill_buffer=65536",
    "mode=exact,hourly=1,init=-,end=-,to=31302e302e302e302f38,from=-,busiest_from=1,busiest_to=1,top=2,bin=300,from_net=10.0.0.0/8+2001:db8::/32,to_net=192.0.2.0/24",
    "mode=approx,hourly=1,init=-,end=-,to=74,from=-,busiest_from=1,busiest_to=0,top=1,top_k=64,hll_precision=4,bloom_bytes=196608,bloom_items=40000,spill_buffer=65536,bin=1800",
    "mode=exact,hourly=1,init=-,end=-,to=-,from=-,busiest_from=1,busiest_to=1,top=2,by=bytes",
    "mode=approx,hourly=0,init=-,end=-,to=-,from=-,busiest_from=1,busiest_to=1,top=2,top_k=64,hll_precision=4,bloom_bytes=196608,bloom_items=40000,spill_buffer=65536,to_port=443,by=packets",
];

/// The bloom filter's bytes in [`SETTINGS`].
const FILTER_BYTES: usize = 196_608;

/// The filter bytes an input draws; the filter repeats them.
const FILTER_DRAWN: usize = 192;

/// Window keys: hours in and around the ranges above, the range key, and a
/// few that no run writes.
const KEYS: &[&str] = &[
    "2019-08-12T22:00:00Z",
    "2019-08-12T23:00:00Z",
    "2019-08-13T01:00:00Z",
    "2019-08-13T02:00:00Z",
    "2019-08-12T21:00:00Z",
    "range",
    "summary",
    "2019-08-12T22:30:00Z",
    "2019-08-12T22:05:00Z",
];

/// The fuzzer's bytes, read as choices.
struct Draw<'a>(&'a [u8]);

impl Draw<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }

    /// A count: mostly small, sometimes at the edges of 64 bits.
    fn count(&mut self) -> u64 {
        match self.byte() % 8 {
            0 => u64::MAX - u64::from(self.byte()),
            1 => 1 << 63,
            2 => u64::from(self.byte()) << 32,
            _ => u64::from(self.byte() % 16),
        }
    }

    /// A host: mostly from a small alphabet, so that hosts meet across
    /// lines; sometimes raw bytes (empty, upper case, whitespace, long).
    fn host(&mut self) -> Vec<u8> {
        match self.byte() % 8 {
            0 => {
                let n = usize::from(self.byte() % 40);
                (0..n).map(|_| self.byte()).collect()
            }
            1 => vec![b'h'; usize::from(self.byte()) * 2],
            b => format!("h{}", b + self.byte() % 4).into_bytes(),
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// LEB128 integers and length-prefixed bytes, as partial fields hold them.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn uint(&mut self, mut n: u64) -> &mut Self {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(byte);
                return self;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.uint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
}

fn binary(name: &str, bytes: &[u8]) -> Vec<u8> {
    format!("{name}={}", STANDARD.encode(bytes)).into_bytes()
}

/// A HyperLogLog image of the settings' precision over drawn hosts, or
/// (rarely) raw bytes.
fn hll(d: &mut Draw<'_>, precision: u8) -> Vec<u8> {
    if d.byte() % 16 == 0 {
        let n = usize::from(d.byte());
        return d.take(n);
    }
    let mut hll = Hll::new(precision);
    for _ in 0..d.byte() % 8 {
        hll.insert(&d.host());
    }
    hll.to_bytes()
}

/// One window line's body under `settings`. Its `lines` (its bytes or
/// packets, when the settings rank by them) is mostly what its counts add
/// up to, so that the counts reach the merge.
fn body(d: &mut Draw<'_>, settings: &str) -> Vec<Vec<u8>> {
    let approx = settings.starts_with("mode=approx");
    let precision = if settings.contains("hll_precision=4") { 4 } else { 12 };
    let mut late = Vec::new();
    if d.byte() % 4 == 0 {
        late.push(format!("late={}", d.count()).into_bytes());
    }
    let mut lists = Vec::new();
    for (name, asked) in [("to", "to=74"), ("from", "from=61")] {
        if !settings.contains(asked) {
            continue;
        }
        let mut e = Enc::default();
        if approx && d.byte() % 3 == 0 {
            let filter = d.take(FILTER_DRAWN).repeat(FILTER_BYTES / FILTER_DRAWN);
            e.uint(1).bytes(&filter).bytes(&hll(d, precision));
        } else if approx {
            e.uint(0);
        }
        let n = d.byte() % 6;
        e.uint(u64::from(n));
        for _ in 0..n {
            e.bytes(&d.host());
        }
        lists.push(binary(name, &e.0));
    }
    let mut counts = Vec::new();
    let mut lines: Option<u64> = None;
    for (name, asked) in [("initiators", "busiest_from=1"), ("receivers", "busiest_to=1")] {
        if !settings.contains(asked) {
            continue;
        }
        let n = d.byte() % 6;
        let drawn: Vec<(Vec<u8>, u64, u64)> =
            (0..n).map(|_| (d.host(), d.count(), d.count())).collect();
        let sum = drawn.iter().fold(0u64, |s, c| s.saturating_add(c.1));
        let total = *lines.get_or_insert(sum);
        let mut e = Enc::default();
        if approx {
            e.uint(total).uint(u64::from(n));
            for (host, count, error) in &drawn {
                e.bytes(host).uint(*count).uint(*error);
            }
        } else {
            e.uint(u64::from(n));
            for (host, count, _) in &drawn {
                e.bytes(host).uint(*count);
            }
        }
        counts.push(binary(name, &e.0));
        if approx {
            counts.push(binary(&format!("{name}_hll"), &hll(d, precision)));
        }
    }
    let sum = match lines {
        Some(sum) if d.byte() % 8 != 0 => sum,
        _ => d.count(),
    };
    let mut fields = late;
    match settings.split_once(",by=") {
        Some((_, by)) => {
            fields.push(format!("lines={}", d.count()).into_bytes());
            fields.push(format!("{by}={sum}").into_bytes());
        }
        None => fields.push(format!("lines={sum}").into_bytes()),
    }
    fields.extend(lists);
    fields.extend(counts);
    fields
}

/// A summary line's body.
fn summary(d: &mut Draw<'_>) -> Vec<Vec<u8>> {
    let mut fields = vec![format!("malformed={}", d.count()).into_bytes()];
    if d.byte() % 2 == 0 {
        let mut e = Enc::default();
        e.bytes(&d.host()).uint(d.count()).bytes(&d.host());
        fields.push(binary("first_malformed", &e.0));
    }
    let mut e = Enc::default();
    e.uint(u64::from(d.pick(&[3u8, 3, 3, 2])));
    for _ in 0..3 {
        e.uint(d.count());
    }
    fields.push(binary("skipped", &e.0));
    let mut e = Enc::default();
    let n = d.byte() % 3;
    e.uint(u64::from(n));
    for _ in 0..n {
        e.bytes(&d.host()).bytes(&d.host());
    }
    fields.push(binary("other_paths", &e.0));
    fields.push(format!("late={}", d.count()).into_bytes());
    fields
}

fuzz_target!(|data: &[u8]| {
    let mut d = Draw(data);
    let format = d.pick(&["text", "json", "tsv", "partial"]);
    let settings = d.pick(SETTINGS);
    let mut input = Vec::new();
    for _ in 0..1 + d.byte() % 6 {
        let key = d.pick(KEYS);
        let mut fields = vec![
            key.as_bytes().to_vec(),
            b"connspy-partial/1".to_vec(),
            Vec::new(),
            settings.as_bytes().to_vec(),
        ];
        if key == "summary" {
            fields.extend(summary(&mut d));
        } else {
            fields.extend(body(&mut d, settings));
        }
        input.extend_from_slice(&seal(fields));
    }
    merge(&input, format);
});
