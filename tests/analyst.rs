//! The analyst's filters end to end: `--from_net`, `--to_net` and a network
//! as `--to_host`/`--from_host`, on logs of IPv4 and IPv6 addresses that
//! `connspy-gen` writes in every format, read by the real binary.

use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::support::run::{connspy, run_in, Out};

/// The header lines a Zeek TSV log starts with, before its `#fields`.
const ZEEK_HEAD: &str = "#separator \\x09\n#unset_field\t-\n#path\tconn\n";

/// A log of 300 hosts, half IPv4 (10.0.0.0-10.0.0.149), half IPv6
/// (2001:db8:0::0-2001:db8:0::95), in `format`, maybe compressed.
fn gen(dir: &Path, name: &str, more: &[&str]) -> String {
    let mut args = vec![
        "--lines",
        "4000",
        "--hosts",
        "300",
        "--rate",
        "0.5",
        "--unit",
        "seconds",
        "--addresses",
        "mixed",
        "-o",
        name,
    ];
    args.extend_from_slice(more);
    let out = run_in(dir, "connspy-gen", &args, b"");
    assert_eq!(out.code, Some(0), "{out:#?}");
    name.to_owned()
}

/// The same log as `gen`'s Zeek TSV in the other flow formats, some
/// compressed: Zeek JSON, VPC (gzip), Suricata (zstd), Zeek TSV (gzip).
fn other_flow_logs(dir: &Path) -> Vec<String> {
    [
        ("zeek-json", None),
        ("vpc", Some("gz")),
        ("suricata", Some("zst")),
        ("zeek", Some("gz")),
    ]
    .iter()
    .map(|(format, compress)| {
        let name = format!("{format}-{}.log", compress.unwrap_or("plain"));
        let mut more = vec!["--log_format", format];
        more.extend(compress.iter().flat_map(|c| ["--compress", c]));
        gen(dir, &name, &more)
    })
    .collect()
}

/// Initiators in the low half of each family's range, responders IPv4
/// only, and the hosts that reached 10.0.0.64/26.
const NETS: &[&str] = &[
    "--from_net",
    "10.0.0.0/25",
    "--from_net",
    "2001:db8::/121",
    "--to_net",
    "10.0.0.0/24",
    "--to_host",
    "10.0.0.64/26",
    "--busiest_from_host",
    "--top",
    "5",
    "--hourly",
];

/// Whether `host` is in `net`, through the standard library.
fn in_net(host: &str, net: &str) -> bool {
    let (addr, prefix) = net.split_once('/').unwrap();
    let (Ok(h), Ok(n)) = (host.parse::<IpAddr>(), addr.parse::<IpAddr>()) else {
        return false;
    };
    let prefix: u32 = prefix.parse().unwrap();
    match (h, n) {
        (IpAddr::V4(h), IpAddr::V4(n)) => {
            prefix == 0 || (u32::from(h) ^ u32::from(n)) >> (32 - prefix) == 0
        }
        (IpAddr::V6(h), IpAddr::V6(n)) => {
            prefix == 0 || (u128::from(h) ^ u128::from(n)) >> (128 - prefix) == 0
        }
        _ => false,
    }
}

fn records(out: &Out) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The filters count exactly the lines whose hosts are in the networks (the
/// plain log read line by line here), list only such hosts, and answer the
/// same in every format, compressed or not, from a file or standard input,
/// on one thread or two, and through partials and `--merge`.
#[test]
fn network_filters_answer_alike_in_every_format() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let plain = gen(d, "plain.log", &[]);
    let args = |more: &[&str]| -> Vec<String> {
        NETS.iter().chain(more).map(|s| (*s).to_owned()).collect()
    };
    let run = |more: &[&str]| {
        let mut a = args(more);
        if !more.contains(&"partial") {
            a.extend(["--format".into(), "json".into()]);
        }
        connspy(d, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let expected = run(&[&plain]);
    assert_eq!(expected.code, Some(0), "{expected:#?}");

    // The model: the plain log's lines that pass, by hour.
    let text = std::fs::read_to_string(d.join(&plain)).unwrap();
    let mut lines = std::collections::BTreeMap::<i64, (u64, Vec<String>)>::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (ts, from, to) = (f[0].parse::<i64>().unwrap(), f[1], f[2]);
        let from_ok = in_net(from, "10.0.0.0/25") || in_net(from, "2001:db8::/121");
        if from_ok && in_net(to, "10.0.0.0/24") {
            let hour = lines.entry(ts / 3600 * 3600).or_default();
            hour.0 += 1;
            if in_net(to, "10.0.0.64/26") {
                hour.1.push(from.to_owned());
            }
        }
    }
    let got = records(&expected);
    assert_eq!(got.len(), lines.len());
    for (r, (_, (n, to_hosts))) in got.iter().zip(&lines) {
        assert_eq!(r["lines"], *n);
        let mut want = to_hosts.clone();
        want.sort();
        want.dedup();
        assert_eq!(r["to_host"]["host"], "10.0.0.64/26");
        assert_eq!(r["to_host"]["hosts"], serde_json::json!(want));
        for t in r["busiest_from_host"]["top"].as_array().unwrap() {
            let h = t["host"].as_str().unwrap();
            assert!(
                in_net(h, "10.0.0.0/25") || in_net(h, "2001:db8::/121"),
                "{h}"
            );
        }
    }
    assert!(got.iter().any(|r| r["busiest_from_host"]["top"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["host"].as_str().unwrap().contains(':'))));

    for format in ["zeek", "zeek-json", "vpc", "suricata"] {
        for compress in [None, Some("gz"), Some("zst")] {
            let name = format!("{format}-{}.log", compress.unwrap_or("plain"));
            let mut more = vec!["--log_format", format];
            if let Some(c) = compress {
                more.extend(["--compress", c]);
            }
            let file = gen(d, &name, &more);
            for extra in [vec![], vec!["--threads", "1", "--chunk_size", "500"]] {
                let mut a = extra.clone();
                a.push(&file);
                let out = run(&a);
                assert_eq!(out.code, Some(0), "{name} {extra:?}: {out:#?}");
                assert_eq!(out.stdout, expected.stdout, "{name} {extra:?}");
            }
            let bytes = std::fs::read(d.join(&file)).unwrap();
            let a = args(&["--chunk_size", "3000", "--format", "json"]);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let piped = run_in(d, "connspy", &a, &bytes);
            assert_eq!(piped.stdout, expected.stdout, "{name} on stdin");
        }
    }

    // Partials carry the networks, and the merge answers as the run.
    let partial = run(&["--format", "partial", &plain]);
    assert_eq!(partial.code, Some(0), "{partial:#?}");
    assert!(partial
        .stdout
        .contains(",from_net=10.0.0.0/25+2001:db8::/121,to_net=10.0.0.0/24"));
    std::fs::write(d.join("p.part"), &partial.stdout).unwrap();
    let merged = connspy(d, &["--merge", "--format", "json", "p.part"]);
    assert_eq!(merged.stdout, expected.stdout);
    let other = connspy(d, &["--merge", "--to_net", "10.0.0.0/16", "p.part"]);
    assert_eq!(other.code, Some(2));
    assert!(
        other.stderr.contains("--to_net 10.0.0.0/16 disagrees"),
        "{other:#?}"
    );
}

/// Approximate mode counts the same lines: the same `lines`, and top lists
/// drawn from the networks only.
#[test]
fn approximate_mode_filters_the_same_lines() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let plain = gen(d, "plain.log", &[]);
    let mut a: Vec<&str> = NETS.to_vec();
    a.extend(["--format", "json", &plain]);
    let exact = records(&connspy(d, &a));
    a.insert(0, "--approx");
    let approx = connspy(d, &a);
    assert_eq!(approx.code, Some(0), "{approx:#?}");
    let approx = records(&approx);
    assert_eq!(approx.len(), exact.len());
    for (x, e) in approx.iter().zip(&exact) {
        assert_eq!(x["lines"], e["lines"]);
        assert_eq!(x["to_host"]["hosts"], e["to_host"]["hosts"]);
        assert_eq!(
            x["busiest_from_host"]["host"],
            e["busiest_from_host"]["host"]
        );
    }
}

/// A bad network is exit 2 before any output, naming the flag and the rule.
#[test]
fn bad_networks_are_usage_errors() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.log"), "1 10.0.0.1 10.0.0.2\n").unwrap();
    for (flag, value, says) in [
        ("--to_net", "10.0.0.0/33", "0 to 32"),
        ("--from_net", "2001:db8::/129", "0 to 128"),
        ("--from_net", "10.0.0", "not an IP network"),
        ("--to_net", "web-01", "not an IP network"),
    ] {
        let out = connspy(d, &["--busiest_from_host", flag, value, "a.log"]);
        assert_eq!(out.code, Some(2), "{flag} {value}");
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(says),
            "{flag} {value}: {}",
            out.stderr
        );
    }
}

/// `--bin 1h` is `--hourly`, byte for byte, in every output format.
#[test]
fn a_bin_of_an_hour_is_hourly() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let plain = gen(d, "plain.log", &[]);
    for format in ["text", "json", "tsv", "partial"] {
        for (mode, bin) in [(None, "1h"), (Some("--approx"), "3600")] {
            let run = |window: &[&str]| {
                let mut a: Vec<&str> = mode.into_iter().collect();
                a.extend([
                    "--busiest_from_host",
                    "--to_host",
                    "10.0.0.4",
                    "--format",
                    format,
                ]);
                a.extend(window);
                a.push(&plain);
                connspy(d, &a)
            };
            let (hourly, binned) = (run(&["--hourly"]), run(&["--bin", bin]));
            assert_eq!(hourly.code, Some(0), "{hourly:#?}");
            assert_eq!(hourly.stdout, binned.stdout, "{format} {mode:?}");
        }
    }
}

/// Windows of any width that divides a day hold the lines of their bin (the
/// plain log read line by line here), in every format, from a file or
/// standard input, exact or approximate, and through partials and
/// `--merge`; partials of other widths do not merge.
#[test]
fn bins_of_any_width_hold_their_lines() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let plain = gen(d, "plain.log", &[]);
    let text = std::fs::read_to_string(d.join(&plain)).unwrap();
    for (bin, secs) in [("30s", 30), ("5m", 300), ("7200", 7200), ("1d", 86_400)] {
        let run = |more: &[&str]| {
            let mut a = vec!["--busiest_from_host", "--top", "3", "--bin", bin];
            a.extend(more);
            connspy(d, &a)
        };
        let json = run(&["--format", "json", &plain]);
        assert_eq!(json.code, Some(0), "{json:#?}");
        let mut model = std::collections::BTreeMap::<i64, u64>::new();
        for line in text.lines() {
            let ts: i64 = line.split(' ').next().unwrap().parse().unwrap();
            *model.entry(ts.div_euclid(secs) * secs).or_default() += 1;
        }
        let parse = |t: &str| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .unwrap()
                .unix_timestamp()
        };
        let got: Vec<(i64, u64)> = records(&json)
            .iter()
            .map(|r| {
                (
                    parse(r["start"].as_str().unwrap()),
                    r["lines"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, model.into_iter().collect::<Vec<_>>(), "--bin {bin}");
        for r in records(&json) {
            let (s, e) = (r["start"].as_str().unwrap(), r["end"].as_str().unwrap());
            assert_eq!(parse(e) - parse(s), secs);
        }
        let tsv = run(&["--format", "tsv", &plain]);
        let zeek = gen(
            d,
            "zeek.log.zst",
            &["--log_format", "zeek", "--compress", "zst"],
        );
        assert_eq!(
            run(&["--format", "tsv", &zeek]).stdout,
            tsv.stdout,
            "--bin {bin} zeek"
        );
        let bytes = std::fs::read(d.join(&plain)).unwrap();
        let piped = run_in(
            d,
            "connspy",
            &[
                "--busiest_from_host",
                "--top",
                "3",
                "--bin",
                bin,
                "--format",
                "tsv",
            ],
            &bytes,
        );
        assert_eq!(piped.stdout, tsv.stdout, "--bin {bin} on stdin");
        let partial = run(&["--format", "partial", &plain]);
        let name = format!("{secs}.part");
        std::fs::write(d.join(&name), &partial.stdout).unwrap();
        let merged = connspy(d, &["--merge", "--format", "tsv", &name]);
        assert_eq!(merged.stdout, tsv.stdout, "--bin {bin} merged");
        let approx = run(&["--approx", "--format", "json", &plain]);
        assert_eq!(approx.code, Some(0), "{approx:#?}");
        let lines =
            |o: &Out| -> Vec<Value> { records(o).iter().map(|r| r["lines"].clone()).collect() };
        assert_eq!(lines(&approx), lines(&json), "--bin {bin} approx");
    }
    // Partials of different widths do not merge.
    let mixed = format!(
        "{}{}",
        std::fs::read_to_string(d.join("30.part")).unwrap(),
        std::fs::read_to_string(d.join("300.part")).unwrap()
    );
    std::fs::write(d.join("mixed.part"), mixed).unwrap();
    let out = connspy(d, &["--merge", "mixed.part"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("bin=300"), "{}", out.stderr);
    let out = connspy(d, &["--merge", "--bin", "1m", "300.part"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--bin 60 disagrees"), "{}", out.stderr);
}

/// A width that does not divide a day, or `--hourly` with another width,
/// is exit 2 naming `--bin`.
#[test]
fn bad_bins_are_usage_errors() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.log"), "1 10.0.0.1 10.0.0.2\n").unwrap();
    for bad in [
        &["--bin", "7m"][..],
        &["--bin", "0"],
        &["--bin", "2d"],
        &["--bin", "1.5s"],
        &["--bin", "5m", "--hourly"],
    ] {
        let mut a = vec!["--busiest_from_host"];
        a.extend(bad);
        a.push("a.log");
        let out = connspy(d, &a);
        assert_eq!(out.code, Some(2), "{bad:?}");
        assert_eq!(out.stdout, "");
        assert!(out.stderr.contains("--bin"), "{bad:?}: {}", out.stderr);
    }
}

/// `--to_port` and `--proto` count exactly the lines whose responder port
/// and protocol match (the Zeek TSV log read line by line here), and answer
/// the same from Zeek JSON, VPC and Suricata logs of the same connections,
/// compressed or not, from a file or standard input, exact or approximate,
/// and through partials and `--merge`.
#[test]
fn ports_and_protocols_filter_alike_in_every_flow_format() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let zeek = gen(d, "zeek.log", &["--log_format", "zeek"]);
    let text = std::fs::read_to_string(d.join(&zeek)).unwrap();
    // (port, protocol, responder) of each connection.
    let conns: Vec<(u16, String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[5].parse().unwrap(), f[6].to_owned(), f[4].to_owned())
        })
        .collect();
    let others = other_flow_logs(d);
    type Rule = fn(u16, &str) -> bool;
    let cases: [(&[&str], Rule); 5] = [
        (&["--to_port", "443"], |p, _| p == 443),
        (&["--to_port", "22", "--to_port", "80-443"], |p, _| {
            p == 22 || (80..=443).contains(&p)
        }),
        (&["--proto", "udp"], |_, t| t == "udp"),
        (&["--proto", "tcp", "--to_port", "3389"], |p, t| {
            t == "tcp" && p == 3389
        }),
        (&["--proto", "icmp", "--proto", "47"], |_, _| false),
    ];
    for (flags, rule) in cases {
        let run_on = |file: &str, more: &[&str]| {
            let mut a = vec!["--busiest_to_host", "--top", "3", "--format", "json"];
            a.extend(flags);
            a.extend(more);
            a.push(file);
            connspy(d, &a)
        };
        let out = run_on(&zeek, &[]);
        assert_eq!(out.code, Some(0), "{flags:?}: {out:#?}");
        let r = &records(&out)[0];
        let passing: Vec<&String> = conns
            .iter()
            .filter(|c| rule(c.0, &c.1))
            .map(|c| &c.2)
            .collect();
        assert_eq!(r["lines"], passing.len(), "{flags:?}");
        if let Some(top) = r["busiest_to_host"]["top"].as_array() {
            for t in top {
                let h = t["host"].as_str().unwrap();
                let n = passing.iter().filter(|p| p.as_str() == h).count();
                assert_eq!(t["connections"], n, "{flags:?} {h}");
            }
        } else {
            assert!(passing.is_empty(), "{flags:?}");
        }
        for file in &others {
            let other = run_on(file, &["--threads", "2", "--chunk_size", "700"]);
            assert_eq!(other.code, Some(0), "{flags:?} {file}: {other:#?}");
            assert_eq!(other.stdout, out.stdout, "{flags:?} {file}");
        }
        let bytes = std::fs::read(d.join(&others[1])).unwrap();
        let mut a = vec!["--busiest_to_host", "--top", "3", "--format", "json"];
        a.extend(flags);
        let piped = run_in(d, "connspy", &a, &bytes);
        assert_eq!(piped.stdout, out.stdout, "{flags:?} on stdin");
        let mut a = vec!["--busiest_to_host", "--top", "3", "--format", "partial"];
        a.extend(flags);
        a.push(&zeek);
        let partial = connspy(d, &a);
        assert_eq!(partial.code, Some(0), "{partial:#?}");
        std::fs::write(d.join("p.part"), &partial.stdout).unwrap();
        let merged = connspy(d, &["--merge", "--format", "json", "p.part"]);
        assert_eq!(merged.stdout, out.stdout, "{flags:?} merged");
        let approx = run_on(&zeek, &["--approx"]);
        assert_eq!(records(&approx)[0]["lines"], r["lines"], "{flags:?} approx");
    }
}

/// A port or protocol filter on a log that cannot answer it is exit 2
/// before any output, naming the flag and the file; a line whose port or
/// protocol is unset or absent does not pass, and is not malformed.
#[test]
fn ports_and_protocols_need_logs_that_carry_them() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("plain.log"), "1565647200 10.0.0.1 10.0.0.2\n").unwrap();
    std::fs::write(d.join("cols.csv"), "1565647200,10.0.0.1,10.0.0.2\n").unwrap();
    std::fs::write(
        d.join("noport.log"),
        format!("{ZEEK_HEAD}#fields\tts\tid.orig_h\tid.resp_h\tproto\n1565647200.0\ta\tb\ttcp\n"),
    )
    .unwrap();
    for (flag, value, file, more) in [
        ("--to_port", "22", "plain.log", vec![]),
        ("--proto", "tcp", "plain.log", vec![]),
        (
            "--to_port",
            "22",
            "cols.csv",
            vec!["--columns", "1,2,3", "--delimiter", ","],
        ),
        ("--to_port", "22", "noport.log", vec![]),
    ] {
        let mut a = vec!["--busiest_from_host", flag, value];
        a.extend(more);
        a.push(file);
        let out = connspy(d, &a);
        assert_eq!(out.code, Some(2), "{flag} {file}: {out:#?}");
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(file),
            "{}",
            out.stderr
        );
    }
    // The same Zeek log answers --proto.
    let out = connspy(
        d,
        &[
            "--busiest_from_host",
            "--proto",
            "TCP",
            "--format",
            "json",
            "noport.log",
        ],
    );
    assert_eq!(records(&out)[0]["lines"], 1, "{out:#?}");

    // Unset ports and protocols, absent fields and values of another kind.
    std::fs::write(
        d.join("unset.log"),
        format!(
            "{ZEEK_HEAD}#fields\tts\tid.orig_h\tid.resp_h\tid.resp_p\tproto\n\
             1565647200.0\ta\tb\t22\ttcp\n1565647201.0\ta\tb\t-\t-\n1565647202.0\ta\tb\n\
             1565647203.0\ta\tb\tssh\tquic\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("unset.json"),
        "{\"ts\":1565647200.0,\"id.orig_h\":\"a\",\"id.resp_h\":\"b\",\"id.resp_p\":22,\"proto\":\"tcp\"}\n\
         {\"ts\":1565647201.0,\"id.orig_h\":\"a\",\"id.resp_h\":\"b\"}\n\
         {\"ts\":1565647202.0,\"id.orig_h\":\"a\",\"id.resp_h\":\"b\",\"id.resp_p\":null,\"proto\":\"-\"}\n\
         {\"ts\":1565647203.0,\"id\":{\"orig_h\":\"a\",\"resp_h\":\"b\",\"resp_p\":22},\"proto\":\"TCP\"}\n",
    )
    .unwrap();
    // A run that prints windows as they complete (approximate, hourly) has
    // printed nothing when a later file cannot answer, compressed or not.
    let plain = std::fs::read(d.join("plain.log")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    std::fs::write(d.join("plain.log.gz"), gz.finish().unwrap()).unwrap();
    let hours: String = (0..4)
        .map(|h| format!("{}.0\ta\tb\t22\ttcp\n", 1_565_647_200 + h * 3600))
        .collect();
    std::fs::write(
        d.join("hours.log"),
        format!("{ZEEK_HEAD}#fields\tts\tid.orig_h\tid.resp_h\tid.resp_p\tproto\n{hours}"),
    )
    .unwrap();
    for second in ["plain.log", "plain.log.gz"] {
        let out = connspy(
            d,
            &[
                "--approx",
                "--hourly",
                "--max_log_late_seconds",
                "60",
                "--busiest_from_host",
                "--to_port",
                "22",
                "hours.log",
                second,
            ],
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(2), ""),
            "{second}: {out:#?}"
        );
        assert!(out.stderr.contains(second), "{}", out.stderr);
    }
    // Empty and blank files, and empty standard input, have no format to
    // fail on: they add nothing.
    std::fs::write(d.join("empty.log"), "").unwrap();
    std::fs::write(d.join("blank.log"), "\n  \n\t\n").unwrap();
    let alone = connspy(
        d,
        &[
            "--busiest_from_host",
            "--to_port",
            "22",
            "--format",
            "json",
            "hours.log",
        ],
    );
    let with = connspy(
        d,
        &[
            "--busiest_from_host",
            "--to_port",
            "22",
            "--format",
            "json",
            "empty.log",
            "hours.log",
            "blank.log",
        ],
    );
    assert_eq!(with.code, Some(0), "{with:#?}");
    assert_eq!(with.stdout, alone.stdout);
    let piped = run_in(
        d,
        "connspy",
        &["--busiest_from_host", "--proto", "tcp"],
        b"\n\n",
    );
    assert_eq!(piped.code, Some(0), "{piped:#?}");
    for (file, port_lines, all) in [("unset.log", 1, 4), ("unset.json", 2, 4)] {
        for (flags, want) in [
            (vec!["--to_port", "22"], port_lines),
            (vec!["--proto", "tcp"], port_lines),
            (vec![], all),
        ] {
            let mut a = vec!["--busiest_from_host", "--format", "json"];
            a.extend(&flags);
            a.push(file);
            let out = connspy(d, &a);
            assert_eq!(out.code, Some(0), "{file} {flags:?}: {out:#?}");
            assert_eq!(records(&out)[0]["lines"], want, "{file} {flags:?}");
            assert_eq!(out.stderr, "", "{file} {flags:?}: not malformed");
        }
    }
}

/// Bad ports and protocols are exit 2 naming the flag and the rule.
#[test]
fn bad_ports_and_protocols_are_usage_errors() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.log"), "1 10.0.0.1 10.0.0.2\n").unwrap();
    for (flag, value, says) in [
        ("--to_port", "65536", "0 to 65535"),
        ("--to_port", "443-80", "lower to the higher"),
        ("--to_port", "http", "0 to 65535"),
        ("--to_port", "1.5", "0 to 65535"),
        ("--proto", "quic", "not a protocol"),
        ("--proto", "256", "not a protocol"),
    ] {
        let out = connspy(d, &["--busiest_from_host", flag, value, "a.log"]);
        assert_eq!(out.code, Some(2), "{flag} {value}");
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(says),
            "{flag} {value}: {}",
            out.stderr
        );
    }
}

/// Each Zeek TSV connection of a `connspy-gen` log: initiator, responder,
/// port, bytes and packets both ways.
struct Conn {
    from: String,
    to: String,
    port: u16,
    bytes: u64,
    packets: u64,
}

fn zeek_conns(text: &str) -> Vec<Conn> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let n = |i: usize| f[i].parse::<u64>().unwrap();
            Conn {
                from: f[2].to_owned(),
                to: f[4].to_owned(),
                port: f[5].parse().unwrap(),
                bytes: n(9) + n(10),
                packets: n(13) + n(14),
            }
        })
        .collect()
}

/// `--by bytes` and `--by packets` rank by the sums of the connections'
/// bytes and packets both ways (checked against the log read here), each
/// window carries its sum and every share is of it, and every flow format,
/// compressed or not, from a file or standard input, through partials and a
/// merge, answers alike; approximate mode with counters to spare gives the
/// same sums with error 0.
#[test]
fn measures_rank_alike_in_every_flow_format() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let zeek = gen(d, "zeek.log", &["--log_format", "zeek"]);
    let conns = zeek_conns(&std::fs::read_to_string(d.join(&zeek)).unwrap());
    let others = other_flow_logs(d);
    // Ports 22, 53, 80 and 443 count; 3389 does not.
    let counted: Vec<&Conn> = conns.iter().filter(|c| c.port <= 443).collect();
    type Pick = fn(&Conn) -> u64;
    type Side = fn(&Conn) -> &str;
    let measures: [(&str, Pick); 2] = [("bytes", |c| c.bytes), ("packets", |c| c.packets)];
    for (by, pick) in measures {
        let args = |more: &[&'static str]| {
            let mut a = vec![
                "--busiest_from_host",
                "--busiest_to_host",
                "--top",
                "4",
                "--by",
                by,
                "--to_port",
                "22-443",
                "--format",
                "json",
            ];
            a.extend(more);
            a
        };
        let mut a = args(&[]);
        a.push(&zeek);
        let out = connspy(d, &a);
        assert_eq!(out.code, Some(0), "{by}: {out:#?}");
        let r = &records(&out)[0];
        let total: u64 = counted.iter().map(|c| pick(c)).sum();
        assert_eq!(
            (&r["lines"], &r[by]),
            (&counted.len().into(), &total.into())
        );
        let sides: [(&str, Side); 2] = [
            ("busiest_from_host", |c| &c.from),
            ("busiest_to_host", |c| &c.to),
        ];
        for (side, host_of) in sides {
            let mut sums: std::collections::BTreeMap<&str, u64> = Default::default();
            for c in &counted {
                *sums.entry(host_of(c)).or_default() += pick(c);
            }
            let mut ranked: Vec<(&str, u64)> = sums.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let b = &r[side];
            assert!(b.get("connections").is_none(), "{by}: {b}");
            assert_eq!(
                (&b["host"], &b[by]),
                (&ranked[0].0.into(), &ranked[0].1.into())
            );
            let top: Vec<(String, u64, f64)> = b["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let host = t["host"].as_str().unwrap().to_owned();
                    (host, t[by].as_u64().unwrap(), t["share"].as_f64().unwrap())
                })
                .collect();
            let want: Vec<(String, u64, f64)> = ranked[..4]
                .iter()
                .map(|&(h, v)| (h.to_owned(), v, v as f64 / total as f64))
                .collect();
            assert_eq!(top, want, "{by} {side}");
        }
        for file in &others {
            let mut a = args(&["--threads", "2", "--chunk_size", "700"]);
            a.push(file);
            let other = connspy(d, &a);
            assert_eq!(other.code, Some(0), "{by} {file}: {other:#?}");
            assert_eq!(other.stdout, out.stdout, "{by} {file}");
        }
        let bytes = std::fs::read(d.join(&others[1])).unwrap();
        let piped = run_in(d, "connspy", &args(&[]), &bytes);
        assert_eq!(piped.stdout, out.stdout, "{by} on stdin");
        let mut a = args(&[]);
        *a.last_mut().unwrap() = "partial";
        a.push(&zeek);
        let partial = connspy(d, &a);
        assert_eq!(partial.code, Some(0), "{partial:#?}");
        assert!(
            partial.stdout.contains(&format!(",by={by}\t")),
            "{}",
            partial.stdout
        );
        std::fs::write(d.join("p.part"), &partial.stdout).unwrap();
        let merged = connspy(d, &["--merge", "--format", "json", "p.part"]);
        assert_eq!(merged.stdout, out.stdout, "{by} merged");
        let mut a = args(&["--approx"]);
        a.push(&zeek);
        let approx = records(&connspy(d, &a))[0].clone();
        assert_eq!(approx[by], r[by], "{by} approx total");
        for side in ["busiest_from_host", "busiest_to_host"] {
            let pairs = approx[side]["top"].as_array().unwrap().iter();
            for (at, et) in pairs.zip(r[side]["top"].as_array().unwrap()) {
                assert_eq!(
                    (&at["host"], &at[by], &at["error"]),
                    (&et["host"], &et[by], &0.into())
                );
            }
        }
    }
}

/// `--by bytes` or `--by packets` on a log without them is exit 2 before any
/// output, naming the flag and the file; an unknown measure, or one without
/// a busiest query, is a usage error; an unset count is 0 and a count that is
/// not a number makes its line malformed (counted, with its place).
#[test]
fn measures_need_logs_that_carry_them() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("plain.log"), "1565647200 10.0.0.1 10.0.0.2\n").unwrap();
    std::fs::write(
        d.join("nopkts.log"),
        format!(
            "{ZEEK_HEAD}#fields\tts\tid.orig_h\tid.resp_h\torig_bytes\tresp_bytes\n\
             1565647200.0\ta\tb\t10\t-\n1565647201.0\ta\tc\t-\t-\n1565647202.0\td\tb\t7\t5\n\
             1565647203.0\td\tb\tlots\t5\n"
        ),
    )
    .unwrap();
    for (by, file, what) in [
        (
            "bytes",
            "plain.log",
            "no ports, protocols, bytes or packets",
        ),
        (
            "packets",
            "plain.log",
            "no ports, protocols, bytes or packets",
        ),
        ("packets", "nopkts.log", "no orig_pkts and resp_pkts"),
    ] {
        let out = connspy(d, &["--busiest_from_host", "--by", by, file]);
        assert_eq!(out.code, Some(2), "{by} {file}: {out:#?}");
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.contains(&format!("--by {by}"))
                && out.stderr.contains(file)
                && out.stderr.contains(what),
            "{}",
            out.stderr
        );
    }
    let out = connspy(d, &["--to_host", "b", "--by", "bytes", "nopkts.log"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--busiest_from_host"), "{}", out.stderr);
    let out = connspy(d, &["--busiest_from_host", "--by", "octets", "nopkts.log"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--by"), "{}", out.stderr);

    // `a` sent 10 bytes (and one connection of unset bytes), `d` 12; the
    // last line's bytes are not a number.
    let out = connspy(
        d,
        &[
            "--busiest_from_host",
            "--top",
            "2",
            "--by",
            "bytes",
            "--format",
            "json",
            "nopkts.log",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    let r = &records(&out)[0];
    assert_eq!((&r["lines"], &r["bytes"]), (&3.into(), &22.into()));
    let top: Vec<(&str, u64)> = r["busiest_from_host"]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["host"].as_str().unwrap(), t["bytes"].as_u64().unwrap()))
        .collect();
    assert_eq!(top, [("d", 12), ("a", 10)]);
    assert!(
        out.stderr.contains("1 malformed") && out.stderr.contains("nopkts.log:8"),
        "{}",
        out.stderr
    );
    // A window whose every connection carried 0 bytes: shares are 0.
    std::fs::write(
        d.join("zero.log"),
        format!("{ZEEK_HEAD}#fields\tts\tid.orig_h\tid.resp_h\torig_bytes\tresp_bytes\n1.0\ta\tb\t0\t-\n"),
    )
    .unwrap();
    let out = connspy(
        d,
        &[
            "--busiest_to_host",
            "--by",
            "bytes",
            "--format",
            "json",
            "zero.log",
        ],
    );
    let r = &records(&out)[0];
    assert_eq!(
        (&r["bytes"], &r["busiest_to_host"]["top"][0]["share"]),
        (&0.into(), &0.0.into())
    );
}

/// Bytes and packets are read only on a line that counts: one that a port,
/// protocol or network filter rejects, or one outside the time range, is
/// not malformed for a count that is not a number, in every flow format;
/// one that counts is (counted, with its place), and a run without the
/// filter counts both.
#[test]
fn counts_are_read_only_on_lines_that_count() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    // (time, initiator, port, bytes each way, packets each way): the second
    // line fails `--to_port 443`, the third passes, the last is past
    // `--time_end`; the last three carry counts that are not numbers (VPC
    // reads the first direction only).
    let conns = [
        (1_565_647_200, "10.0.0.1", 443, ["10", "5"], ["1", "2"]),
        (1_565_647_201, "10.0.0.2", 80, ["lots", "5"], ["many", "2"]),
        (1_565_647_202, "10.0.0.3", 443, ["lots", "9"], ["many", "1"]),
        (1_565_647_900, "10.0.0.4", 443, ["lots", "5"], ["many", "2"]),
    ];
    let zeek: String = conns
        .iter()
        .map(|(ts, from, port, b, p)| {
            format!(
                "{ts}.0\t{from}\t10.9.9.9\t{port}\ttcp\t{}\t{}\t{}\t{}\n",
                b[0], b[1], p[0], p[1]
            )
        })
        .collect();
    let head = format!(
        "{ZEEK_HEAD}#fields\tts\tid.orig_h\tid.resp_h\tid.resp_p\tproto\torig_bytes\tresp_bytes\torig_pkts\tresp_pkts\n"
    );
    std::fs::write(d.join("zeek.log"), format!("{head}{zeek}")).unwrap();
    // JSON writes a count that is not a number as a string.
    let json = |v: &str| {
        v.parse::<u64>()
            .map_or(format!("\"{v}\""), |n| n.to_string())
    };
    let zeek_json: String = conns
        .iter()
        .map(|(ts, from, port, b, p)| {
            format!(
                "{{\"ts\":{ts}.0,\"id.orig_h\":\"{from}\",\"id.resp_h\":\"10.9.9.9\",\"id.resp_p\":{port},\
                 \"proto\":\"tcp\",\"orig_bytes\":{},\"resp_bytes\":{},\"orig_pkts\":{},\"resp_pkts\":{}}}\n",
                json(b[0]), json(b[1]), json(p[0]), json(p[1])
            )
        })
        .collect();
    std::fs::write(d.join("zeek.json"), zeek_json).unwrap();
    let eve: String = conns
        .iter()
        .map(|(ts, from, port, b, p)| {
            format!(
                "{{\"timestamp\":\"x\",\"event_type\":\"flow\",\"src_ip\":\"{from}\",\"dest_ip\":\"10.9.9.9\",\
                 \"dest_port\":{port},\"proto\":\"TCP\",\"flow\":{{\"start\":\"{}\",\"bytes_toserver\":{},\
                 \"bytes_toclient\":{},\"pkts_toserver\":{},\"pkts_toclient\":{}}}}}\n",
                rfc3339(*ts), json(b[0]), json(b[1]), json(p[0]), json(p[1])
            )
        })
        .collect();
    std::fs::write(d.join("eve.json"), eve).unwrap();
    // VPC has one count each: the first direction's.
    let vpc: String = conns
        .iter()
        .map(|(ts, from, port, b, p)| {
            format!(
                "2 1 eni-1 {from} 10.9.9.9 40000 {port} 6 {} {} {ts} {ts} ACCEPT OK\n",
                p[0], b[0]
            )
        })
        .collect();
    std::fs::write(d.join("vpc.log"), vpc).unwrap();
    // Each file's header lines, and its first line's bytes and packets.
    for (file, format, head, counts) in [
        ("zeek.log", "zeek", 4, (15, 3)),
        ("zeek.json", "zeek-json", 0, (15, 3)),
        ("eve.json", "suricata", 0, (15, 3)),
        ("vpc.log", "vpc", 0, (10, 1)),
    ] {
        for by in ["bytes", "packets"] {
            let run = |more: &[&str]| {
                let mut a = vec![
                    "--busiest_from_host",
                    "--by",
                    by,
                    "--log_format",
                    format,
                    "--format",
                    "json",
                ];
                a.extend(more);
                a.push(file);
                connspy(d, &a)
            };
            // `--no_seek`: the line past the range is read, and left out.
            let out = run(&["--to_port", "443", "--time_end", "1565647800", "--no_seek"]);
            assert_eq!(out.code, Some(0), "{file} {by}: {out:#?}");
            let r = &records(&out)[0];
            let first = if by == "bytes" { counts.0 } else { counts.1 };
            assert_eq!(
                (&r["lines"], &r[by]),
                (&1.into(), &first.into()),
                "{file} {by}"
            );
            let at = |line: usize| format!("{file}:{}", head + line);
            assert!(
                out.stderr.contains("1 malformed") && out.stderr.contains(&at(3)),
                "{file} {by}: {}",
                out.stderr
            );
            // Unfiltered, every line would count: three are malformed.
            let out = run(&[]);
            assert_eq!(out.code, Some(0), "{file} {by}: {out:#?}");
            assert_eq!(records(&out)[0]["lines"], 1, "{file} {by}");
            assert!(
                out.stderr.contains("3 malformed") && out.stderr.contains(&at(2)),
                "{file} {by}: {}",
                out.stderr
            );
            // A protocol filter, or a network filter, that rejects them.
            for more in [&["--proto", "udp"][..], &["--from_net", "10.0.0.1/32"]] {
                let out = run(more);
                assert_eq!(out.code, Some(0), "{file} {by} {more:?}: {out:#?}");
                assert!(
                    !out.stderr.contains("malformed"),
                    "{file} {by} {more:?}: {}",
                    out.stderr
                );
            }
        }
    }
}

/// A line that passes the filters has its counts read even when it comes
/// too late to count, so that whether it is malformed never depends on how
/// the input was cut: from standard input, hourly, on one thread or two
/// and in chunks of any size, the same lines are malformed and the same are
/// late.
#[test]
fn a_late_line_is_malformed_for_its_counts_however_the_input_is_cut() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let head = format!("{ZEEK_HEAD}#fields\tts\tid.orig_h\tid.resp_h\torig_bytes\tresp_bytes\n");
    let mut log = head;
    // Two hours of lines, then lines of the first hour, far too late: one
    // with bytes that are not a number, one with good bytes.
    for i in 0..400 {
        log.push_str(&format!(
            "{}.0\t10.0.0.{}\t10.9.9.9\t10\t5\n",
            1_565_647_200 + i * 18,
            i % 7
        ));
    }
    log.push_str("1565647300.0\t10.0.0.8\t10.9.9.9\tlots\t5\n");
    log.push_str("1565647301.0\t10.0.0.9\t10.9.9.9\t7\t5\n");
    let mut seen = Vec::new();
    for more in [
        &["--threads", "1"][..],
        &["--threads", "2", "--chunk_size", "200"],
        &["--threads", "2", "--chunk_size", "4096"],
        &["--threads", "1", "--chunk_size", "50"],
    ] {
        // Flow logs are allowed a day of lateness unless told otherwise.
        let mut a = vec![
            "--busiest_from_host",
            "--by",
            "bytes",
            "--hourly",
            "--max_log_late_seconds",
            "60",
            "--format",
            "json",
        ];
        a.extend(more);
        let out = run_in(d, "connspy", &a, log.as_bytes());
        assert_eq!(out.code, Some(0), "{more:?}: {out:#?}");
        let late: u64 = records(&out)
            .iter()
            .map(|r| r["late"].as_u64().unwrap())
            .sum();
        assert!(
            out.stderr.contains("1 malformed") && out.stderr.contains(":405"),
            "{more:?}: {}",
            out.stderr
        );
        seen.push((late, out.stdout));
    }
    assert_eq!(seen[0].0, 1, "the good late line is late");
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:#?}");
}

/// `ts` seconds as RFC 3339 in UTC, as Suricata writes a flow's start.
fn rfc3339(ts: u64) -> String {
    let (day, secs) = (ts / 86_400, ts % 86_400);
    assert_eq!(day, 18_120, "2019-08-12 only");
    format!(
        "2019-08-12T{:02}:{:02}:{:02}.000000+0000",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Text shows a measure with its unit and the exact number, TSV rows carry
/// the measure's value, and without `--by` nothing changes.
#[test]
fn measures_read_in_text_and_tsv() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("z.log"),
        format!(
            "{ZEEK_HEAD}#fields\tts\tid.orig_h\tid.resp_h\torig_bytes\tresp_bytes\torig_pkts\tresp_pkts\n\
             0.5\ta\tb\t1200000\t34567\t10\t20\n1.5\tc\tb\t500\t0\t1\t1\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = connspy(d, args);
        assert_eq!(out.code, Some(0), "{out:#?}");
        out.stdout
    };
    assert_eq!(
        run(&["--busiest_from_host", "--by", "bytes", "z.log"]),
        "* .. *  lines 2  bytes 1235067 (1.2 MB)\n  \
         busiest_from_host: a (1.2 MB, 1234567 bytes; 0 tied; 2 initiators)\n"
    );
    assert_eq!(
        run(&[
            "--busiest_from_host",
            "--by",
            "packets",
            "--top",
            "2",
            "z.log"
        ]),
        "* .. *  lines 2  packets 32\n  \
         busiest_from_host: top 2 of 2 initiators; 0 unlisted tied at the cut\n    \
         #  host  packets    share\n    \
         1  a          30   93.75%\n    \
         2  c           2    6.25%\n"
    );
    assert_eq!(
        run(&[
            "--busiest_to_host",
            "--by",
            "bytes",
            "--format",
            "tsv",
            "z.log"
        ]),
        "\tbusiest_to_host\tb\t1235067\n"
    );
    assert_eq!(
        run(&["--busiest_to_host", "--format", "tsv", "z.log"]),
        "\tbusiest_to_host\tb\t2\n"
    );
}
