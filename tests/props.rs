//! Property tests: the engine against a naive model, and invariance under
//! threads, chunk size, file split and the seek.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use proptest::prelude::*;

use connspy::engine::{Release, ScanOptions};
use connspy::hosts::net::{Net, Nets};
use connspy::input::Input;
use connspy::notes::Notes;
use connspy::output::sink::Answers;
use connspy::progress::Progress;
use connspy::query::{ApproxSettings, Filter, FlowFilter, Measure, NetFilter, Query};
use connspy::reduce::approx::ApproxReducer;
use connspy::reduce::exact::ExactReducer;
use connspy::reduce::Reducer;
use connspy::report::{Answer, Busiest, HostList, Hosts, Report, Talker};
use connspy::run::scan::scan;
use connspy::timestamp::HOUR_MS;

/// Hosts as written in the log, several folding to the same name.
const HOSTS: &[&str] = &[
    "alice",
    "ALICE",
    "Bob",
    "bob",
    "web-01.example.com",
    "10.0.0.7",
    "10.1.2.3",
    "192.0.2.9",
    "2001:db8::1",
    "2001:DB8:0::1",
    "Zoë",
    "zoë",
    "db_02",
];
const BASE_MS: i64 = 1_565_647_200_000;

#[derive(Debug, Clone)]
struct Line {
    ts: i64,
    from: &'static str,
    to: &'static str,
}

/// How one line is written: the unit, separators and line ending vary.
#[derive(Debug, Clone)]
struct Style {
    seconds: bool,
    sep: &'static str,
    lead: &'static str,
    crlf: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        any::<bool>(),
        prop::sample::select(vec![" ", "\t", "  ", " \x0b", "\x0c"]),
        prop::sample::select(vec!["", " ", "\t"]),
        any::<bool>(),
    )
        .prop_map(|(seconds, sep, lead, crlf)| Style {
            seconds,
            sep,
            lead,
            crlf,
        })
}

fn render(line: &Line, s: &Style) -> String {
    let ts = if s.seconds {
        match line.ts % 1000 {
            0 => format!("{}", line.ts / 1000),
            ms => format!("{}.{ms:03}", line.ts / 1000),
        }
    } else {
        line.ts.to_string()
    };
    let end = if s.crlf { "\r\n" } else { "\n" };
    format!(
        "{}{ts}{}{}{}{}{end}",
        s.lead, s.sep, line.from, s.sep, line.to
    )
}

/// Lines spread over about five hours, in random order.
fn lines(max: usize) -> impl Strategy<Value = Vec<Line>> {
    prop::collection::vec(
        (
            0..5 * HOUR_MS,
            prop::sample::select(HOSTS),
            prop::sample::select(HOSTS),
        )
            .prop_map(|(off, from, to)| Line {
                ts: BASE_MS + off,
                from,
                to,
            }),
        0..max,
    )
}

/// Networks for `--from_net`/`--to_net`, and (those with a prefix) for
/// `--to_host`/`--from_host`.
const NETS: &[&str] = &[
    "10.0.0.0/8",
    "10.1.2.3",
    "192.0.2.0/24",
    "2001:db8::/32",
    "::/0",
];

fn query() -> impl Strategy<Value = Query> {
    let named: Vec<&str> = HOSTS
        .iter()
        .chain(NETS.iter().filter(|n| n.contains('/')))
        .copied()
        .collect();
    let host = prop::option::of(prop::sample::select(named));
    (host.clone(), host, any::<bool>(), any::<bool>(), 1usize..9)
        .prop_filter("a query", |(t, f, b, r, _)| {
            t.is_some() || f.is_some() || *b || *r
        })
        .prop_map(|(t, f, b, r, top)| Query::new(t, f, b).with_busiest_to(r).with_top(top))
}

/// Which end of a line a busiest query counts.
type SideOf = fn(&Line) -> &str;

/// The `n` busiest of `hosts` (one entry per line), ranked the obvious way.
fn naive_busiest<'a>(hosts: impl Iterator<Item = &'a str>, n: usize) -> Option<Busiest> {
    naive_weighted(hosts.map(|h| (h, 1)), n)
}

/// The `n` busiest of `hosts` (one entry per line, with its weight), ranked
/// by the sum of their weights the obvious way.
fn naive_weighted<'a>(hosts: impl Iterator<Item = (&'a str, u64)>, n: usize) -> Option<Busiest> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (h, w) in hosts {
        *counts.entry(h.to_ascii_lowercase()).or_default() += w;
    }
    let mut ranked: Vec<(String, u64)> = counts.clone().into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let (leader, best) = ranked.first().cloned()?;
    let listed = &ranked[..n.min(ranked.len())];
    let last = listed.last()?.1;
    Some(Busiest {
        host: leader,
        value: best,
        error: None,
        tied: counts.values().filter(|c| **c == best).count() as u64 - 1,
        distinct: counts.len() as u64,
        top: listed
            .iter()
            .map(|(h, c)| Talker {
                host: h.clone(),
                value: *c,
                bounds: None,
            })
            .collect(),
        cut_tied: ranked[listed.len()..]
            .iter()
            .filter(|(_, c)| *c == last)
            .count() as u64,
    })
}

/// Mostly no networks, sometimes one or two.
fn nets() -> impl Strategy<Value = Nets> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => prop::collection::vec(prop::sample::select(NETS), 1..3),
    ]
    .prop_map(|n| Nets::new(n.iter().map(|n| Net::parse(n).unwrap()).collect()))
}

fn filter() -> impl Strategy<Value = Filter> {
    let bound = prop::option::of(-HOUR_MS..6 * HOUR_MS);
    // No bins, hours, and other widths that divide a day.
    let bin = prop::sample::select(vec![
        None,
        Some(HOUR_MS),
        Some(1000),
        Some(900_000),
        Some(7_200_000),
        Some(86_400_000),
    ]);
    (bound.clone(), bound, bin, nets(), nets()).prop_map(|(a, b, bin, from, to)| {
        let (init, end) = match (a, b) {
            (Some(a), Some(b)) if a >= b => (Some(b), Some(a + 1)),
            other => other,
        };
        Filter {
            init: init.map(|t| BASE_MS + t),
            end: end.map(|t| BASE_MS + t),
            bin,
            nets: NetFilter { from, to },
            ..Filter::default()
        }
    })
}

/// Whether `host` is an address in `net` (`ADDR/PREFIX` or `ADDR`), the
/// obvious way: the first PREFIX bits of both addresses, one by one.
fn in_net(host: &str, net: &str) -> bool {
    use std::net::IpAddr;
    let (addr, prefix) = net.split_once('/').unwrap_or((net, ""));
    let bits = |ip: IpAddr| -> Vec<bool> {
        let bytes = match ip {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        bytes
            .iter()
            .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
            .collect()
    };
    match (host.parse::<IpAddr>(), addr.parse::<IpAddr>()) {
        (Ok(h), Ok(n)) if h.is_ipv4() == n.is_ipv4() => {
            let (h, n) = (bits(h), bits(n));
            let p = prefix.parse().unwrap_or(h.len());
            h[..p] == n[..p]
        }
        _ => false,
    }
}

/// Whether `host` passes one network flag (given as `Nets`).
fn in_any(host: &str, nets: &Nets) -> bool {
    nets.is_empty() || nets.join("+").split('+').any(|n| in_net(host, n))
}

/// Whether `line` passes `--from_net` and `--to_net`.
fn nets_pass(line: &Line, filter: &Filter) -> bool {
    in_any(line.from, &filter.nets.from)
        && in_any(line.to, &filter.nets.to)
        && flows_pass(line, filter)
}

/// The responder port and protocol a flow log says of `line` (drawn from
/// its timestamp, so every format writes the same): `None` is unset.
fn flow_of(line: &Line) -> (Option<u16>, Option<&'static str>) {
    let port = [
        Some(22),
        Some(53),
        Some(443),
        None,
        Some(1024),
        Some(65535),
        Some(0),
    ];
    let proto = [
        Some("tcp"),
        Some("udp"),
        Some("icmp"),
        None,
        Some("47"),
        Some("ipv6-icmp"),
    ];
    let k = (line.ts / 1000) as usize;
    (port[k % port.len()], proto[k / 7 % proto.len()])
}

/// What a flow log says a line's connection carried, each way (initiator
/// to responder, then back), drawn from its timestamp like [`flow_of`]:
/// `None` is unset. Some sums pass 2^32.
fn counts_of(line: &Line) -> ([Option<u64>; 2], [Option<u64>; 2]) {
    let bytes = [
        Some(60),
        None,
        Some(0),
        Some(1500),
        Some(3_000_000_000),
        Some(70_000),
    ];
    let packets = [Some(1), Some(0), None, Some(12), Some(7)];
    let k = (line.ts / 1000) as usize;
    (
        [bytes[k / 3 % 6], bytes[k / 5 % 6]],
        [packets[k / 2 % 5], packets[k / 11 % 5]],
    )
}

/// Whether a flow log writes `line`'s bytes and packets as something that
/// is not a number (`lots`, or a JSON string), drawn from its timestamp like
/// [`counts_of`]: such a line is malformed under `--by bytes` or `--by
/// packets` when it counts, and only then.
fn bad_counts(line: &Line) -> bool {
    line.ts / 1000 % 13 == 5
}

/// What `line` adds to its hosts' sums under `by`: unset counts are 0.
fn weight_of(line: &Line, by: Measure) -> u64 {
    let (bytes, packets) = counts_of(line);
    let sum = |c: [Option<u64>; 2]| c.iter().map(|v| v.unwrap_or(0)).sum();
    match by {
        Measure::Connections => 1,
        Measure::Bytes => sum(bytes),
        Measure::Packets => sum(packets),
    }
}

/// Whether `line` passes `--to_port` and `--proto`, the obvious way.
fn flows_pass(line: &Line, filter: &Filter) -> bool {
    let (port, proto) = flow_of(line);
    let f = &filter.flows;
    let number = |p: &str| match p {
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        "ipv6-icmp" => 58,
        n => n.parse().unwrap(),
    };
    (f.to_ports.is_empty()
        || port.is_some_and(|p| f.to_ports.iter().any(|&(lo, hi)| lo <= p && p <= hi)))
        && (f.protos.is_empty() || proto.is_some_and(|p| f.protos.contains(&number(p))))
}

/// Whether `host` is the one a `--to_host`/`--from_host` value names.
fn named(host: &str, query_host: &str) -> bool {
    if query_host.contains('/') {
        in_net(host, query_host)
    } else {
        host.to_ascii_lowercase() == query_host
    }
}

/// The answers computed the obvious way.
fn model(lines: &[Line], query: &Query, filter: &Filter) -> Vec<Report> {
    let fold = |h: &str| h.to_ascii_lowercase();
    let mut windows: BTreeMap<i64, Vec<&Line>> = BTreeMap::new();
    if filter.bin.is_none() {
        windows.insert(0, Vec::new());
    }
    for l in lines {
        if filter.init.is_some_and(|i| l.ts < i) || filter.end.is_some_and(|e| l.ts >= e) {
            continue;
        }
        if !nets_pass(l, filter) {
            continue;
        }
        let key = if let Some(bin) = filter.bin {
            l.ts.div_euclid(bin) * bin
        } else {
            0
        };
        windows.entry(key).or_default().push(l);
    }
    let as_str = |q: &Option<Vec<u8>>| q.as_ref().map(|h| String::from_utf8(h.clone()).unwrap());
    let (to_q, from_q) = (as_str(&query.to_host), as_str(&query.from_host));
    windows
        .into_iter()
        .map(|(key, ls)| {
            let list = |q: &Option<String>, pick: &dyn Fn(&Line) -> Option<String>| {
                q.as_ref().map(|host| {
                    let hosts: Vec<String> = ls
                        .iter()
                        .filter_map(|l| pick(l))
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    HostList {
                        host: host.clone(),
                        distinct: hosts.len() as u64,
                        hosts: Hosts::Listed(hosts),
                        missed_rate: None,
                    }
                })
            };
            let names = |host: &str, q: &Option<String>| q.as_ref().is_some_and(|q| named(host, q));
            let to_host = list(&to_q, &|l| names(l.to, &to_q).then(|| fold(l.from)));
            let from_host = list(&from_q, &|l| names(l.from, &from_q).then(|| fold(l.to)));
            let weight = |l: &Line| weight_of(l, query.by);
            let busiest_from = query
                .busiest_from
                .then(|| naive_weighted(ls.iter().map(|l| (l.from, weight(l))), query.top));
            let busiest_to = query
                .busiest_to
                .then(|| naive_weighted(ls.iter().map(|l| (l.to, weight(l))), query.top));
            let (start, end) = if let Some(bin) = filter.bin {
                (Some(key), Some(key + bin))
            } else {
                (filter.init, filter.end)
            };
            Report {
                start,
                end,
                answer: Answer {
                    lines: ls.len() as u64,
                    measure: query.by,
                    total: ls.iter().map(|l| weight_of(l, query.by)).sum(),
                    to_host,
                    from_host,
                    busiest_from,
                    busiest_to,
                    approximate: false,
                },
                late: 0,
                complete: true,
            }
        })
        .collect()
}

/// `report` with its host lists read into memory, so reports compare.
fn materialised(mut report: Report) -> Report {
    for list in [&mut report.answer.to_host, &mut report.answer.from_host]
        .into_iter()
        .flatten()
    {
        list.hosts = Hosts::Listed(list.hosts.to_vec().expect("spilled hosts read back"));
    }
    report
}

/// The reports of an exact scan, in the order they were released, and its summary.
fn scan_exact(
    files: &[PathBuf],
    query: &Query,
    filter: &Filter,
    opts: &ScanOptions,
) -> (Vec<Report>, Notes) {
    scan_with(&ExactReducer::new(query.clone()), files, filter, opts)
}

fn scan_with<R: Reducer>(
    reducer: &R,
    files: &[PathBuf],
    filter: &Filter,
    opts: &ScanOptions,
) -> (Vec<Report>, Notes) {
    let inputs: Vec<Input> = files.iter().cloned().map(Input::File).collect();
    let mut reports = Vec::new();
    let mut sink = Answers::new(reducer, |r| {
        reports.push(r);
        Ok(())
    });
    let summary = scan(
        reducer,
        filter,
        opts,
        &inputs,
        &Progress::hidden(),
        &mut sink,
    )
    .expect("scan succeeds");
    (reports, summary)
}

/// `text` written as `part{i}.log` in `dir`: plain (`how` 0), gzip (1) or
/// zstd (anything else).
fn write_compressed(dir: &tempfile::TempDir, i: usize, text: &str, how: u8) -> PathBuf {
    use std::io::Write;
    let bytes = match how {
        0 => text.as_bytes().to_vec(),
        1 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).unwrap();
            gz.finish().unwrap()
        }
        _ => zstd::encode_all(text.as_bytes(), 1).unwrap(),
    };
    let path = dir.path().join(format!("part{i}.log"));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn write_files(dir: &tempfile::TempDir, parts: &[String]) -> Vec<PathBuf> {
    parts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let path = dir.path().join(format!("part{i}.log"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// (a) and (b): any split into files, any thread count and chunk size give
    /// the model's answers, and malformed lines are counted, not counted as lines.
    #[test]
    fn engine_equals_model(
        lines in lines(120),
        styles in prop::collection::vec(style(), 120),
        file_of in prop::collection::vec(0usize..3, 120),
        junk in prop::collection::vec((0usize..120, prop::sample::select(vec![
            "garbage\n", "1 a\n", "1 a b c\n", "-5 a b\n", "12x a b\n", "\n", "  \t \n",
        ])), 0..6),
        query in query(),
        filter in filter(),
        threads in 1usize..4,
        chunk_size in 1usize..300,
        last_newline in any::<bool>(),
    ) {
        let mut parts = vec![String::new(); 3];
        for (i, line) in lines.iter().enumerate() {
            parts[file_of[i]].push_str(&render(line, &styles[i]));
        }
        let mut malformed = 0;
        for (at, text) in &junk {
            parts[at % 3].push_str(text);
            malformed += u64::from(!text.trim().is_empty());
        }
        if !last_newline {
            for p in &mut parts {
                if p.ends_with('\n') { p.pop(); }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let files = write_files(&dir, &parts);
        let opts = ScanOptions {
            threads, waves: threads, chunk_size, strict: false, seek_late_ms: None, release: Release::AtEnd,
            ..ScanOptions::default()
        };
        let (reports, summary) = scan_exact(&files, &query, &filter, &opts);
        prop_assert_eq!(reports, model(&lines, &query, &filter));
        prop_assert_eq!(summary.malformed, malformed);
    }

    /// (c): on logs where no line is more than `late` older than the newest
    /// before it, seeking gives exactly the full scan's answers.
    #[test]
    fn seek_equals_full_scan(
        gaps in prop::collection::vec(0i64..4_000, 3_000..6_000),
        lateness in prop::collection::vec(0i64..=1, 6_000),
        late_s in 0i64..120,
        hosts in prop::collection::vec((prop::sample::select(HOSTS), prop::sample::select(HOSTS)), 6_000),
        query in query(),
        a in 0.0f64..1.0,
        b in 0.0f64..1.0,
        hourly in any::<bool>(),
        chunk_size in prop::sample::select(vec![100usize, 4096, 1 << 20]),
    ) {
        let mut t = BASE_MS;
        let mut log = String::new();
        for (i, gap) in gaps.iter().enumerate() {
            t += gap;
            // Late lines are exactly as late as allowed: the hardest case.
            let ts = t - lateness[i] * late_s * 1000;
            log.push_str(&format!("{ts} {} {}\n", hosts[i].0, hosts[i].1));
        }
        let span = t - BASE_MS;
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let filter = Filter {
            init: Some(BASE_MS + (span as f64 * lo) as i64),
            end: Some(BASE_MS + (span as f64 * hi) as i64 + 1),
            bin: hourly.then_some(HOUR_MS),
            ..Filter::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let files = write_files(&dir, &[log]);
        let full = ScanOptions {
            threads: 2, waves: 2, chunk_size, strict: false, seek_late_ms: None, release: Release::AtEnd,
            ..ScanOptions::default()
        };
        let seek = ScanOptions { seek_late_ms: Some(late_s * 1000), ..full };
        let expected = scan_exact(&files, &query, &filter, &full).0;
        prop_assert_eq!(scan_exact(&files, &query, &filter, &seek).0, expected);
        for open in [Filter { init: None, ..filter.clone() }, Filter { end: None, ..filter.clone() }] {
            let expected = scan_exact(&files, &query, &open, &full).0;
            prop_assert_eq!(&scan_exact(&files, &query, &open, &seek).0, &expected);
            // Released behind the watermark, in waves, the same hours come out,
            // in the same order, with nothing late: the log keeps the bound.
            let streamed = ScanOptions {
                release: Release::Watermark { late_ms: late_s * 1000 },
                ..full
            };
            let (reports, summary) = scan_exact(&files, &query, &open, &streamed);
            prop_assert_eq!(summary.late, 0);
            prop_assert_eq!(reports, expected);
        }
    }

    /// Approximate mode against the model: lists are subsets, and equal when
    /// no host was missed; the busiest estimate brackets the truth within its
    /// stated error and names the true leader whenever the margin exceeds that
    /// error; nothing depends on the thread count.
    #[test]
    fn approx_is_bounded_by_exact(
        lines in lines(300),
        query in query(),
        filter in filter(),
        top_k in 1usize..12,
        spill_buffer in prop::sample::select(vec![1usize, 64, 1 << 20]),
        chunk_size in prop::sample::select(vec![64usize, 1000, 1 << 20]),
        // None, a table that spills every 31 hosts, and one that never does.
        front_bytes in prop::sample::select(vec![0usize, 2048, 1 << 20]),
    ) {
        let text: String = lines.iter().map(|l| format!("{} {} {}\n", l.ts, l.from, l.to)).collect();
        let dir = tempfile::tempdir().unwrap();
        let files = write_files(&dir, &[text]);
        let settings = ApproxSettings {
            top_k,
            hll_precision: 12,
            bloom_bytes: 64 << 10,
            bloom_items: 30_000,
            spill_buffer,
            front_bytes,
        };
        let reducer = ApproxReducer::new(query.clone(), settings);
        // Lines are in random order over five hours: a ten-hour bound keeps
        // every hour open to the end, so none is late.
        let opts = |threads| ScanOptions {
            threads,
            waves: threads,
            chunk_size,
            strict: false,
            seek_late_ms: None,
            release: Release::Watermark { late_ms: 10 * HOUR_MS },
            ..ScanOptions::default()
        };
        let (approx, summary) = scan_with(&reducer, &files, &filter, &opts(1));
        prop_assert_eq!(summary.late, 0);
        let approx: Vec<Report> = approx.into_iter().map(materialised).collect();
        let threads3: Vec<Report> = scan_with(&reducer, &files, &filter, &opts(3)).0
            .into_iter().map(materialised).collect();
        prop_assert_eq!(&threads3, &approx);
        let exact = model(&lines, &query, &filter);
        prop_assert_eq!(approx.len(), exact.len());
        for (a, e) in approx.iter().zip(&exact) {
            prop_assert_eq!((a.start, a.end, a.answer.lines), (e.start, e.end, e.answer.lines));
            prop_assert!(a.answer.approximate);
            for (al, el) in [(&a.answer.to_host, &e.answer.to_host), (&a.answer.from_host, &e.answer.from_host)] {
                let (Some(al), Some(el)) = (al, el) else {
                    prop_assert_eq!(al.is_some(), el.is_some());
                    continue;
                };
                let (ah, eh) = (al.hosts.to_vec().unwrap(), el.hosts.to_vec().unwrap());
                prop_assert!(ah.iter().all(|h| eh.contains(h)), "{:?} {:?}", al, el);
                if al.missed_rate == Some(0.0) || al.missed_rate.unwrap() < 1e-12 {
                    prop_assert_eq!(&ah, &eh);
                }
                // Small sets are counted exactly by HyperLogLog++'s sparse form.
                prop_assert_eq!(al.distinct, el.hosts.len());
            }
            let sides: [(_, _, SideOf); 2] = [
                (&a.answer.busiest_from, &e.answer.busiest_from, |l| l.from),
                (&a.answer.busiest_to, &e.answer.busiest_to, |l| l.to),
            ];
            for (ab, eb, side) in sides {
                let (Some(Some(ab)), Some(Some(eb))) = (ab, eb) else {
                    prop_assert_eq!(ab.is_some(), eb.is_some());
                    prop_assert_eq!(ab.as_ref().map(Option::is_some), eb.as_ref().map(Option::is_some));
                    continue;
                };
                let in_window: Vec<&Line> = lines.iter()
                    .filter(|l| filter.window_of(l.ts).is_some() && nets_pass(l, &filter))
                    .filter(|l| a.start.is_none_or(|s| l.ts >= s) && a.end.is_none_or(|e| l.ts < e))
                    .collect();
                let truth = |host: &str| in_window.iter()
                    .filter(|l| side(l).to_ascii_lowercase() == host)
                    .count() as u64;
                // The true top list: every host, ranked exactly.
                let true_top = naive_busiest(in_window.iter().map(|l| side(l)), query.top).unwrap();
                prop_assert_eq!(ab.top.len(), true_top.top.len().min(top_k));
                prop_assert_eq!((&ab.host, ab.value), (&ab.top[0].host, ab.top[0].value));
                for t in &ab.top {
                    let bounds = t.bounds.unwrap();
                    let real = truth(&t.host);
                    prop_assert!(t.value >= real && t.value - bounds.error <= real,
                        "{:?} truth {}", t, real);
                    prop_assert!(bounds.error <= a.answer.lines / top_k as u64);
                    if bounds.guaranteed {
                        prop_assert!(true_top.top.iter().any(|e| e.host == t.host),
                            "{:?} is not in the true top {:?}", t, true_top.top);
                    }
                }
                prop_assert_eq!(ab.distinct, eb.distinct);
                // The true leader is named when its lead exceeds the error:
                // the reported host's estimate cannot overtake it otherwise.
                let error = ab.error.unwrap();
                if eb.tied == 0 && eb.value > truth(&ab.host) + error {
                    prop_assert_eq!(&ab.host, &eb.host);
                }
            }
        }
    }
}

/// The log formats a test file may be written in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fmt {
    Connspy,
    /// Zeek TSV with this field order (a permutation index) and, from line
    /// `restart` on, a second header block in another order.
    Zeek {
        order: usize,
        restart: Option<usize>,
    },
    ZeekJson {
        rfc3339: bool,
    },
    Suricata,
    Vpc {
        header: bool,
    },
}

fn fmt() -> impl Strategy<Value = Fmt> {
    prop_oneof![
        Just(Fmt::Connspy),
        (0usize..6, prop::option::of(0usize..40))
            .prop_map(|(order, restart)| Fmt::Zeek { order, restart }),
        any::<bool>().prop_map(|rfc3339| Fmt::ZeekJson { rfc3339 }),
        Just(Fmt::Suricata),
        any::<bool>().prop_map(|header| Fmt::Vpc { header }),
    ]
}

/// `ms` as RFC 3339 with microseconds, at a `+0100` offset without a colon
/// when `offset`, else in UTC with `Z`.
fn rfc3339(ms: i64, offset: bool) -> String {
    let shift = if offset { 3_600_000 } else { 0 };
    let t = connspy::timestamp::Rfc3339Ms((ms + shift) / 1000 * 1000).to_string();
    let t = t.trim_end_matches('Z');
    let frac = (ms + shift) % 1000;
    if offset {
        format!("{t}.{frac:03}250+0100")
    } else {
        format!("{t}.{frac:03}250Z")
    }
}

const ZEEK_ORDERS: [[&str; 4]; 6] = [
    ["ts", "id.orig_h", "id.resp_h", "proto"],
    ["uid", "ts", "id.resp_h", "id.orig_h"],
    ["id.orig_h", "proto", "id.resp_h", "ts"],
    ["id.resp_h", "ts", "uid", "id.orig_h"],
    ["proto", "id.orig_h", "ts", "id.resp_h"],
    ["ts", "uid", "proto", "id.orig_h"],
];

fn zeek_header(order: usize) -> String {
    // The last order lacks id.resp_h: it is appended, as a sixth column.
    let mut fields: Vec<&str> = ZEEK_ORDERS[order].to_vec();
    if !fields.contains(&"id.resp_h") {
        fields.push("id.resp_h");
    }
    format!(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
         #path\tconn\n#open\t2019-08-12-22-00-00\n#fields\t{}\n#types\t{}\n",
        fields.join("\t"),
        fields
            .iter()
            .map(|_| "string")
            .collect::<Vec<_>>()
            .join("\t")
    )
}

fn zeek_line(line: &Line, order: usize) -> String {
    let mut fields: Vec<&str> = ZEEK_ORDERS[order].to_vec();
    if !fields.contains(&"id.resp_h") {
        fields.push("id.resp_h");
    }
    let ts = format!("{}.{:03}123", line.ts / 1000, line.ts % 1000);
    let cols: Vec<String> = fields
        .iter()
        .map(|f| match *f {
            "ts" => ts.clone(),
            "id.orig_h" => line.from.to_string(),
            "id.resp_h" => line.to.to_string(),
            "uid" => "CAbc".to_string(),
            _ => "tcp".to_string(),
        })
        .collect();
    cols.join("\t") + "\n"
}

/// `lines` written in `fmt`, with the lines each format skips on purpose.
fn render_as(lines: &[Line], fmt: Fmt) -> String {
    let mut out = String::new();
    match fmt {
        Fmt::Zeek { order, .. } => out.push_str(&zeek_header(order)),
        Fmt::Vpc { header: true } => out.push_str(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
             bytes start end action log-status\n",
        ),
        _ => {}
    }
    for (i, line) in lines.iter().enumerate() {
        let (secs, ms) = (line.ts / 1000, line.ts % 1000);
        match fmt {
            Fmt::Connspy => out.push_str(&format!("{} {} {}\n", line.ts, line.from, line.to)),
            Fmt::Zeek { order, restart } => {
                let order = match restart {
                    Some(r) if i >= r => {
                        let next = (order + 1) % ZEEK_ORDERS.len();
                        if i == r {
                            out.push_str("#close\t2019-08-12-23-00-00\n");
                            out.push_str(&zeek_header(next));
                        }
                        next
                    }
                    _ => order,
                };
                out.push_str(&zeek_line(line, order));
            }
            Fmt::ZeekJson { rfc3339: false } => out.push_str(&format!(
                "{{\"ts\":{secs}.{ms:03}123,\"uid\":\"C1\",\"id.orig_h\":\"{}\",\"id.orig_p\":1,\
                 \"id.resp_h\":\"{}\",\"id.resp_p\":2,\"proto\":\"tcp\"}}\n",
                line.from, line.to
            )),
            Fmt::ZeekJson { rfc3339: true } => out.push_str(&format!(
                "{{\"ts\":\"{}\",\"id.orig_h\":\"{}\",\"id.resp_h\":\"{}\"}}\n",
                rfc3339(line.ts, false),
                line.from,
                line.to
            )),
            Fmt::Suricata => {
                out.push_str(&format!(
                    "{{\"timestamp\":\"{}\",\"event_type\":\"flow\",\"src_ip\":\"{}\",\
                     \"src_port\":1,\"dest_ip\":\"{}\",\"dest_port\":2,\"flow\":{{\"pkts\":[1,2],\
                     \"start\":\"{}\",\"end\":\"{}\"}}}}\n",
                    rfc3339(line.ts + 5000, true),
                    line.from,
                    line.to,
                    rfc3339(line.ts, true),
                    rfc3339(line.ts + 5000, true),
                ));
                if i % 3 == 0 {
                    out.push_str(&format!(
                        "{{\"event_type\":\"dns\",\"src_ip\":\"{}\",\"dest_ip\":\"{}\"}}\n",
                        line.to, line.from
                    ));
                }
            }
            Fmt::Vpc { .. } => {
                out.push_str(&format!(
                    "2 123456789012 eni-0a1b {} {} 1 2 6 1 40 {secs} {} ACCEPT OK\n",
                    line.from,
                    line.to,
                    secs + 60
                ));
                if i % 4 == 1 {
                    out.push_str(&format!(
                        "2 123456789012 eni-0a1b - - - - - - - {secs} {} - NODATA\n",
                        secs + 60
                    ));
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every format, mixed across files, plain, gzip or zstd, gives the model's answers (those of
    /// the same lines as a plain log) for any split into files, thread count
    /// and chunk size: chunks start inside Zeek header blocks, and a second
    /// block with another field order starts mid-file.
    #[test]
    fn every_format_equals_the_plain_log(
        lines in lines(90),
        file_of in prop::collection::vec(0usize..3, 90),
        fmts in prop::collection::vec(fmt(), 3),
        query in query(),
        filter in filter(),
        threads in 1usize..4,
        chunk_size in 1usize..400,
        compress in prop::collection::vec(0u8..3, 3),
    ) {
        // VPC start times are whole seconds.
        let mut lines = lines;
        let mut per_file = vec![Vec::new(); 3];
        for (i, line) in lines.iter_mut().enumerate() {
            if matches!(fmts[file_of[i]], Fmt::Vpc { .. }) {
                line.ts = line.ts / 1000 * 1000;
            }
            per_file[file_of[i]].push(line.clone());
        }
        let parts: Vec<String> = per_file
            .iter()
            .zip(&fmts)
            .map(|(lines, fmt)| {
                // A headerless VPC file is detected from its first record.
                let fmt = match fmt {
                    Fmt::Vpc { header: false } if lines.is_empty() => Fmt::Connspy,
                    f => *f,
                };
                render_as(lines, fmt)
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = parts
            .iter()
            .zip(&compress)
            .enumerate()
            .map(|(i, (text, how))| write_compressed(&dir, i, text, *how))
            .collect();
        let opts = ScanOptions {
            threads, waves: threads, chunk_size, seek_late_ms: None, ..ScanOptions::default()
        };
        let (reports, summary) = scan_exact(&files, &query, &filter, &opts);
        prop_assert_eq!(summary.malformed, 0, "{:?}", summary.first_malformed);
        prop_assert_eq!(reports, model(&lines, &query, &filter));
    }
}

/// The per-line rule for late lines, the obvious way: a line whose hour
/// starts before the hour of the watermark of the lines before it (their
/// newest timestamp minus `late_ms`) is dropped, and reported with the first
/// record, in hour order, of that hour or a later one.
fn model_released(
    lines: &[Line],
    query: &Query,
    filter: &Filter,
    late_ms: i64,
) -> (Vec<Report>, u64) {
    let hour = |ts: i64| ts.div_euclid(HOUR_MS) * HOUR_MS;
    let in_range =
        |ts: i64| !(filter.init.is_some_and(|i| ts < i) || filter.end.is_some_and(|e| ts >= e));
    let (mut newest, mut kept, mut late) = (None::<i64>, Vec::new(), BTreeMap::<i64, u64>::new());
    for l in lines {
        let cut = newest.map_or(i64::MIN, |n| hour(n - late_ms));
        if in_range(l.ts) {
            if hour(l.ts) < cut {
                *late.entry(cut).or_default() += 1;
            } else {
                kept.push(l.clone());
            }
        }
        newest = newest.max(Some(l.ts));
    }
    let total = late.values().sum();
    let mut reports = model(&kept, query, filter);
    for r in &mut reports {
        let key = r.start.expect("hourly");
        let later = late.split_off(&(key + 1));
        r.late = std::mem::replace(&mut late, later).into_values().sum();
    }
    (reports, total)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Released behind a watermark, lines far older than the newest before
    /// them are late: which ones, and which record reports them, follow the
    /// order of lines alone, whatever the chunk size, threads, waves, the
    /// split into files, or the input being mapped or decompressed.
    #[test]
    fn late_lines_follow_the_line_order_alone(
        steps in prop::collection::vec((0i64..40_000, 0u8..10, 0i64..3 * HOUR_MS), 1..500),
        hosts in prop::collection::vec((prop::sample::select(HOSTS), prop::sample::select(HOSTS)), 500),
        query in query(),
        late_ms in prop::sample::select(vec![0i64, 60_000, 600_000, 1_800_000]),
        range in any::<bool>(),
        split in 0usize..500,
        gzip in prop::collection::vec(any::<bool>(), 2),
        chunk_size in prop::sample::select(vec![64usize, 700, 1 << 20]),
        threads in 1usize..4,
    ) {
        let mut t = BASE_MS;
        let lines: Vec<Line> = steps
            .iter()
            .zip(&hosts)
            .map(|(&(gap, chance, back), &(from, to))| {
                t += gap;
                // One line in five is stamped up to three hours back.
                let ts = if chance < 2 { t - back } else { t };
                Line { ts, from, to }
            })
            .collect();
        let filter = Filter {
            init: range.then_some(BASE_MS + HOUR_MS / 2),
            end: None,
            bin: Some(HOUR_MS),
            ..Filter::default()
        };
        let text = |ls: &[Line]| -> String { ls.iter().map(|l| format!("{} {} {}\n", l.ts, l.from, l.to)).collect() };
        let split = split.min(lines.len());
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = [&lines[..split], &lines[split..]]
            .iter()
            .zip(&gzip)
            .enumerate()
            .map(|(i, (part, &gz))| {
                use std::io::Write;
                let path = dir.path().join(format!("part{i}.log"));
                let mut bytes = text(part).into_bytes();
                if gz {
                    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(&bytes).unwrap();
                    bytes = e.finish().unwrap();
                }
                std::fs::write(&path, bytes).unwrap();
                path
            })
            .collect();
        let opts = ScanOptions {
            threads,
            waves: threads,
            chunk_size,
            seek_late_ms: None,
            release: Release::Watermark { late_ms },
            ..ScanOptions::default()
        };
        let (reports, summary) = scan_exact(&files, &query, &filter, &opts);
        let (expected, late) = model_released(&lines, &query, &filter, late_ms);
        prop_assert_eq!(summary.late, late);
        prop_assert_eq!(reports, expected);
    }
}

/// Port and protocol filters: one of `--to_port` ranges and `--proto` names.
fn flow_filter() -> impl Strategy<Value = FlowFilter> {
    let ports = prop::collection::vec(
        prop::sample::select(vec![(22, 22), (53, 53), (0, 1024), (443, 65535), (1, 21)]),
        0..3,
    );
    let protos = prop::collection::vec(
        prop::sample::select(vec!["tcp", "udp", "icmp", "47", "132"]),
        0..3,
    );
    (ports, protos)
        .prop_filter("a flow filter", |(p, t)| !p.is_empty() || !t.is_empty())
        .prop_map(|(ports, protos)| {
            let protos = protos
                .iter()
                .map(|p| connspy::query::parse_proto(p).unwrap())
                .collect();
            FlowFilter::new(ports, protos)
        })
}

/// `lines` in one of the flow formats, each line with the port and protocol
/// of [`flow_of`] (unset ones as the format writes them: `-`, or absent).
fn render_flow(lines: &[Line], format: u8) -> String {
    let mut out = String::new();
    match format {
        0 => out.push_str(
            "#separator \x5cx09\n#unset_field\t-\n#path\tconn\n\
             #fields\tts\tid.orig_h\tid.resp_h\tid.resp_p\tproto\torig_bytes\tresp_bytes\t\
             orig_pkts\tresp_pkts\n",
        ),
        2 => out.push_str(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
             bytes start end action log-status\n",
        ),
        _ => {}
    }
    for line in lines {
        let (port, proto) = flow_of(line);
        let ([ob, rb], [op, rp]) = counts_of(line);
        let bad = bad_counts(line);
        let secs = line.ts / 1000;
        let json = |key: &str, v: Option<String>| {
            v.map_or_else(String::new, |v| format!(",\"{key}\":{v}"))
        };
        let tsv = |v: Option<u64>| match (bad, v) {
            (true, _) => "lots".into(),
            (false, v) => v.map_or("-".into(), |v| v.to_string()),
        };
        let num = |v: Option<u64>| match bad {
            true => Some("\"lots\"".to_string()),
            false => v.map(|v| v.to_string()),
        };
        out.push_str(&match format {
            0 => format!(
                "{secs}.{:03}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                line.ts % 1000,
                line.from,
                line.to,
                port.map_or("-".into(), |p| p.to_string()),
                proto.unwrap_or("-"),
                tsv(ob),
                tsv(rb),
                tsv(op),
                tsv(rp),
            ),
            1 => format!(
                "{{\"ts\":{secs}.{:03},\"id.orig_h\":\"{}\",\"id.resp_h\":\"{}\"{}{}{}{}{}{}}}\n",
                line.ts % 1000,
                line.from,
                line.to,
                json("id.resp_p", port.map(|p| p.to_string())),
                json("proto", proto.map(|p| format!("\"{p}\""))),
                json("orig_bytes", num(ob)),
                json("resp_bytes", num(rb)),
                json("orig_pkts", num(op)),
                json("resp_pkts", num(rp)),
            ),
            2 => {
                let number = match proto {
                    Some("tcp") => "6",
                    Some("udp") => "17",
                    Some("icmp") => "1",
                    Some("ipv6-icmp") => "58",
                    Some(n) => n,
                    None => "-",
                };
                // One column each way: the sums (unset when both are).
                let both = |a: Option<u64>, b: Option<u64>| match (bad, a, b) {
                    (true, _, _) => "lots".to_string(),
                    (false, None, None) => "-".to_string(),
                    _ => (a.unwrap_or(0) + b.unwrap_or(0)).to_string(),
                };
                format!(
                    "2 123456789012 eni-0a {} {} 40000 {} {number} {} {} {secs} {} ACCEPT OK\n",
                    line.from,
                    line.to,
                    port.map_or("-".into(), |p| p.to_string()),
                    both(op, rp),
                    both(ob, rb),
                    secs + 60
                )
            }
            _ => format!(
                "{{\"timestamp\":\"{}\",\"event_type\":\"flow\",\"src_ip\":\"{}\",\"dest_ip\":\"{}\"{}{},\
                 \"flow\":{{\"start\":\"{}\"{}{}{}{}}}}}\n",
                rfc3339(line.ts, true),
                line.from,
                line.to,
                json("dest_port", port.map(|p| p.to_string())),
                json("proto", proto.map(|p| format!("\"{}\"", p.to_ascii_uppercase()))),
                rfc3339(line.ts, false),
                json("bytes_toserver", num(ob)),
                json("bytes_toclient", num(rb)),
                json("pkts_toserver", num(op)),
                json("pkts_toclient", num(rp)),
            ),
        });
    }
    out
}

/// `lines` at whole seconds, as VPC start times are.
fn whole_seconds(lines: Vec<Line>) -> Vec<Line> {
    lines
        .into_iter()
        .map(|l| Line {
            ts: l.ts / 1000 * 1000,
            ..l
        })
        .collect()
}

/// `lines` split into three files (line `i` into `file_of[i]`), file `k` in
/// flow format `formats[k]`, compressed as `compress[k]` says.
fn flow_files(
    dir: &tempfile::TempDir,
    lines: &[Line],
    file_of: &[usize],
    formats: &[u8],
    compress: &[u8],
) -> Vec<PathBuf> {
    let mut per_file = vec![Vec::new(); 3];
    for (i, line) in lines.iter().enumerate() {
        per_file[file_of[i]].push(line.clone());
    }
    per_file
        .iter()
        .enumerate()
        .map(|(i, ls)| write_compressed(dir, i, &render_flow(ls, formats[i]), compress[i]))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `--to_port` and `--proto` (with any networks, bins and range) give the
    /// model's answers on Zeek TSV, Zeek JSON, VPC and Suricata logs, plain
    /// or compressed, for any split into files, thread count and chunk size;
    /// unset and absent ports and protocols never pass, and are not
    /// malformed.
    #[test]
    fn port_and_protocol_filters_equal_the_model(
        lines in lines(90),
        file_of in prop::collection::vec(0usize..3, 90),
        formats in prop::collection::vec(0u8..4, 3),
        compress in prop::collection::vec(0u8..3, 3),
        query in query(),
        filter in filter(),
        flows in flow_filter(),
        threads in 1usize..4,
        chunk_size in 1usize..400,
    ) {
        let lines = whole_seconds(lines);
        let filter = Filter { flows, ..filter };
        let dir = tempfile::tempdir().unwrap();
        let files = flow_files(&dir, &lines, &file_of, &formats, &compress);
        let opts = ScanOptions {
            threads, waves: threads, chunk_size, seek_late_ms: None, ..ScanOptions::default()
        };
        let (reports, summary) = scan_exact(&files, &query, &filter, &opts);
        prop_assert_eq!(summary.malformed, 0, "{:?}", summary.first_malformed);
        prop_assert_eq!(reports, model(&lines, &query, &filter));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `--by connections|bytes|packets` (with any flow filter, networks,
    /// bins and range) gives the model's sums on Zeek TSV, Zeek JSON, VPC and
    /// Suricata logs, plain or compressed, for any split into files, thread
    /// count and chunk size; unset counts are 0, and sums pass 2^32. A line
    /// whose counts are not numbers is malformed, and not counted, exactly
    /// when it would count under a measure that reads them. The approximate
    /// mode's weighted summary keeps its bounds in the measure's unit.
    #[test]
    fn measures_equal_the_model(
        lines in lines(90),
        file_of in prop::collection::vec(0usize..3, 90),
        formats in prop::collection::vec(0u8..4, 3),
        compress in prop::collection::vec(0u8..3, 3),
        query in query(),
        filter in filter(),
        flows in prop::option::of(flow_filter()),
        by in prop::sample::select(vec![Measure::Connections, Measure::Bytes, Measure::Packets]),
        threads in 1usize..4,
        chunk_size in 1usize..400,
        top_k in 1usize..12,
    ) {
        let lines = whole_seconds(lines);
        let query = query.with_measure(by);
        let filter = Filter { flows: flows.unwrap_or_default(), ..filter };
        let dir = tempfile::tempdir().unwrap();
        let files = flow_files(&dir, &lines, &file_of, &formats, &compress);
        let opts = ScanOptions {
            threads, waves: threads, chunk_size, seek_late_ms: None, ..ScanOptions::default()
        };
        let (reports, summary) = scan_exact(&files, &query, &filter, &opts);
        // The lines that count, less those whose counts a measure cannot read.
        let counts = |l: &Line| filter.window_of(l.ts).is_some() && nets_pass(l, &filter);
        let malformed = |l: &Line| by != Measure::Connections && bad_counts(l) && counts(l);
        let bad = lines.iter().filter(|l| malformed(l)).count() as u64;
        prop_assert_eq!(summary.malformed, bad, "{:?}", summary.first_malformed);
        let lines: Vec<Line> = lines.into_iter().filter(|l| !malformed(l)).collect();
        let exact = model(&lines, &query, &filter);
        prop_assert_eq!(&reports, &exact);

        let settings = ApproxSettings {
            top_k,
            hll_precision: 12,
            bloom_bytes: 64 << 10,
            bloom_items: 30_000,
            spill_buffer: 1 << 20,
            front_bytes: 0,
        };
        let opts = ScanOptions {
            release: Release::Watermark { late_ms: 10 * HOUR_MS },
            ..opts
        };
        let (approx, _) = scan_with(&ApproxReducer::new(query.clone(), settings), &files, &filter, &opts);
        prop_assert_eq!(approx.len(), exact.len());
        for (a, e) in approx.iter().zip(&exact) {
            prop_assert_eq!((a.answer.lines, a.answer.total), (e.answer.lines, e.answer.total));
            let sides: [(_, _, SideOf); 2] = [
                (&a.answer.busiest_from, &e.answer.busiest_from, |l| l.from),
                (&a.answer.busiest_to, &e.answer.busiest_to, |l| l.to),
            ];
            for (ab, eb, side) in sides {
                let (Some(Some(ab)), Some(Some(eb))) = (ab, eb) else {
                    prop_assert_eq!(ab.as_ref().map(Option::is_some), eb.as_ref().map(Option::is_some));
                    continue;
                };
                // Every host's true sum: the model's ranking at full length.
                let window: Vec<&Line> = lines.iter()
                    .filter(|l| filter.window_of(l.ts).is_some() && nets_pass(l, &filter))
                    .filter(|l| a.start.is_none_or(|s| l.ts >= s) && a.end.is_none_or(|t| l.ts < t))
                    .collect();
                let weighed = || window.iter().map(|l| (side(l), weight_of(l, by)));
                let all = naive_weighted(weighed(), usize::MAX).unwrap();
                let truth = |h: &str| all.top.iter().find(|t| t.host == h).map_or(0, |t| t.value);
                for t in &ab.top {
                    let bounds = t.bounds.unwrap();
                    let real = truth(&t.host);
                    prop_assert!(t.value >= real && t.value - bounds.error <= real, "{:?} truth {}", t, real);
                    prop_assert!(bounds.error <= a.answer.total / top_k as u64);
                    if bounds.guaranteed {
                        prop_assert!(eb.top.iter().any(|x| x.host == t.host),
                            "{:?} is not in the true top {:?}", t, eb.top);
                    }
                }
            }
        }
    }
}
