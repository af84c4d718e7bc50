//! `connspy` end to end on every log format: files written by `connspy-gen`
//! (the same connections in each format) or by the test, read by the real
//! binary, answers compared with the plain log's.

use std::path::Path;

use tempfile::TempDir;

use crate::support::run::{connspy, run_in, Out};

/// 2019-08-12T22:00:00Z in Unix seconds.
const T0: i64 = 1_565_647_200;

/// `connspy-gen` with the shared settings and `more`; returns the file name.
fn gen(dir: &Path, name: &str, more: &[&str]) -> String {
    let mut args = vec![
        "--lines",
        "6000",
        "--hosts",
        "300",
        "--rate",
        "0.5",
        "--unit",
        "seconds",
        "--late_seconds",
        "120",
        "-o",
        name,
    ];
    args.extend_from_slice(more);
    let out = run_in(dir, "connspy-gen", &args, b"");
    assert_eq!(out.code, Some(0), "{out:#?}");
    name.to_owned()
}

const Q2A: &[&str] = &[
    "--to_host",
    "babefa",
    "--from_host",
    "bacace",
    "--busiest_from_host",
    "--hourly",
    "--format",
    "json",
];

fn q2a(dir: &Path, more: &[&str]) -> Out {
    let args: Vec<&str> = Q2A.iter().chain(more).copied().collect();
    connspy(dir, &args)
}

/// Every format, auto-detected or named, through files and standard input,
/// with one or two threads and chunks small enough to start inside header
/// blocks, answers as the plain log does, and notes what it skipped.
#[test]
fn every_format_answers_as_the_plain_log() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let plain = gen(d, "plain.log", &[]);
    let expected = q2a(d, &[&plain]);
    assert_eq!(expected.code, Some(0));
    assert_eq!(expected.stderr, "");
    // Not a trivial answer: the hosts asked about appear.
    assert!(
        expected.stdout.contains("\"hosts\":[\"b"),
        "{}",
        expected.stdout
    );
    assert!(expected.stdout.lines().count() > 3);
    for (format, note) in [
        ("zeek", ""),
        ("zeek-json", ""),
        ("vpc", "connspy: note: skipped 120 VPC flow log record(s) with log-status NODATA or SKIPDATA\n"),
        ("suricata", "connspy: note: skipped 300 Suricata event(s) other than flow\n"),
    ] {
        let file = gen(d, &format!("{format}.log"), &["--log_format", format]);
        for args in [
            vec![file.as_str()],
            vec!["--log_format", format, file.as_str()],
            vec!["--threads", "1", "--chunk_size", "777", file.as_str()],
            vec!["--threads", "2", "--chunk_size", "100", file.as_str()],
            vec!["-"],
        ] {
            let out = if args == ["-"] {
                let bytes = std::fs::read(d.join(&file)).unwrap();
                let a: Vec<&str> = Q2A.iter().copied().chain(["--chunk_size", "5000"]).collect();
                run_in(d, "connspy", &a, &bytes)
            } else {
                q2a(d, &args)
            };
            assert_eq!(out.code, Some(0), "{format} {args:?}: {out:#?}");
            assert_eq!(out.stdout, expected.stdout, "{format} {args:?}");
            assert_eq!(out.stderr, note, "{format} {args:?}");
        }
    }
}

/// A run over several files may mix formats.
#[test]
fn formats_mix_across_files() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let plain = gen(d, "plain.log", &[]);
    let expected = q2a(d, &[&plain, &plain]);
    let zeek = gen(d, "zeek.log", &["--log_format", "zeek"]);
    let json = gen(d, "eve.json", &["--log_format", "suricata"]);
    let out = q2a(d, &[&zeek, &json]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, expected.stdout);
}

/// A mapped file is parsed from its leading header lines alone, and parsed
/// again with every header when a later block turns out to change the
/// columns: at any chunk size (chunks starting before, inside and after the
/// second block) and thread count, concatenated Zeek and VPC logs answer as
/// the plain log of the same lines does, even under `--strict`.
#[test]
fn later_header_blocks_with_other_columns_change_no_answer() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let lines: Vec<(i64, String, String)> = (0..300)
        .map(|i| (T0 + 13 * i, format!("h{}", i % 7), format!("r{}", i % 5)))
        .collect();
    let mut plain = String::new();
    let mut zeek = String::from(ZEEK_HEAD);
    zeek.push_str("#fields\tts\tuid\tid.orig_h\tid.resp_h\n");
    let mut vpc = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
         bytes start end action log-status\n",
    );
    for (i, (ts, from, to)) in lines.iter().enumerate() {
        plain.push_str(&format!("{}000 {from} {to}\n", ts));
        if i == 150 {
            zeek.push_str("#close\t2019-08-12-23-00-00\n");
            zeek.push_str(ZEEK_HEAD);
            zeek.push_str("#fields\tid.resp_h\tid.orig_h\tuid\tts\n");
            vpc.push_str("start dstaddr srcaddr log-status\n");
        }
        if i < 150 {
            zeek.push_str(&format!("{ts}.000001\tC1\t{from}\t{to}\n"));
            vpc.push_str(&format!(
                "2 123 eni-1 {from} {to} 1 2 6 1 40 {ts} {} ACCEPT OK\n",
                ts + 1
            ));
        } else {
            zeek.push_str(&format!("{to}\t{from}\tC1\t{ts}.000001\n"));
            vpc.push_str(&format!("{ts} {to} {from} OK\n"));
        }
    }
    std::fs::write(d.join("plain.log"), plain).unwrap();
    std::fs::write(d.join("conn.log"), zeek).unwrap();
    std::fs::write(d.join("flows.log"), vpc).unwrap();
    let query = [
        "--busiest_from_host",
        "--busiest_to_host",
        "--top",
        "3",
        "--hourly",
    ];
    let expected = connspy(d, &[&query[..], &["plain.log"]].concat());
    assert_eq!(expected.code, Some(0), "{expected:#?}");
    for file in ["conn.log", "flows.log"] {
        for chunk in ["64", "333", "4096", "1048576"] {
            for threads in ["1", "2", "3"] {
                let args = [
                    "--chunk_size",
                    chunk,
                    "--threads",
                    threads,
                    "--strict",
                    file,
                ];
                let out = connspy(d, &[&query[..], &args].concat());
                assert_eq!(out.code, Some(0), "{args:?}: {out:#?}");
                assert_eq!(out.stdout, expected.stdout, "{args:?}");
            }
        }
    }
}

const ZEEK_HEAD: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n\
                         #unset_field\t-\n#path\tconn\n#open\t2019-08-12-22-00-00\n";

/// Concatenated Zeek logs: a second header block with reordered fields, a
/// block with another #path (noted), unset hosts malformed and located.
#[test]
fn zeek_header_blocks_unset_hosts_and_paths() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let mut log = String::from(ZEEK_HEAD);
    log.push_str("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\n#types\ttime\tstring\taddr\tport\taddr\n");
    log.push_str(&format!("{T0}.000001\tC1\t10.0.0.1\t1\tFE80::AB\n"));
    log.push_str(&format!("{T0}.5\tC2\t-\t1\t10.0.0.2\n"));
    log.push_str("#close\t2019-08-12-23-00-00\n");
    log.push_str(
        ZEEK_HEAD
            .replace("#path\tconn", "#path\tconn_long")
            .as_str(),
    );
    log.push_str("#fields\tid.resp_h\tts\tid.orig_h\n");
    log.push_str(&format!("fe80::ab\t{}\t10.0.0.3\n", T0 + 10));
    log.push_str(&format!("(empty)\t{}\t10.0.0.3\n", T0 + 11));
    std::fs::write(d.join("conn.log"), &log).unwrap();
    let out = connspy(d, &["--to_host", "fe80::ab", "conn.log"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "10.0.0.1\n10.0.0.3\n");
    assert_eq!(
        out.stderr,
        "connspy: warning: skipped 2 malformed lines; the first at conn.log:10: id.orig_h is \
         unset or empty\n\
         connspy: note: 1 Zeek header block with a #path other than conn, in 1 input (the \
         first: conn.log, #path conn_long); their lines were read as connections\n"
    );
    let strict = connspy(d, &["--to_host", "x", "--strict", "conn.log"]);
    assert_eq!(strict.code, Some(2));
    assert_eq!(strict.stdout, "");
    assert!(
        strict
            .stderr
            .contains("conn.log:10: malformed line: id.orig_h is unset or empty"),
        "{}",
        strict.stderr
    );
}

/// VPC Flow Logs without a header are detected from a version 2 record;
/// NODATA, SKIPDATA and `-` addresses are skipped and noted, not malformed.
#[test]
fn vpc_headerless_nodata_and_unset_addresses() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let log = format!(
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 {t} {e} ACCEPT OK\n\
         2 123456789010 eni-1235b8ca123456789 - - - - - - - {t} {e} - NODATA\n\
         2 123456789010 eni-1235b8ca123456789 - - - - - - - {t} {e} - SKIPDATA\n\
         2 123456789010 eni-1235b8ca123456789 2001:DB8::1 - 1 2 6 1 1 {t} {e} ACCEPT OK\n\
         2 123456789010 eni-1235b8ca123456789 2001:DB8::1 172.31.16.21 1 2 6 1 1 {t} {e} REJECT OK\n",
        t = T0,
        e = T0 + 60
    );
    std::fs::write(d.join("vpc.log"), log).unwrap();
    let out = connspy(d, &["--to_host", "172.31.16.21", "vpc.log"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "172.31.16.139\n2001:db8::1\n");
    assert_eq!(
        out.stderr,
        "connspy: note: skipped 2 VPC flow log record(s) with log-status NODATA or SKIPDATA\n\
         connspy: note: skipped 1 VPC flow log record(s) without an address (-)\n"
    );
}

/// `--columns` reads any delimited log; its errors are usage errors.
#[test]
fn columns_and_delimiters() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("a.csv"),
        format!("alice,x,{T0},zyla\nbob,y,{T0},Zyla\ncarol,z,bad,zyla\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("a.tsv"),
        format!("alice\t{T0}\tzyla\nbob\t{T0}\tZyla\n"),
    )
    .unwrap();
    let out = connspy(
        d,
        &[
            "--to_host",
            "zyla",
            "--columns",
            "3,1,4",
            "--delimiter",
            ",",
            "a.csv",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "alice\nbob\n");
    assert!(
        out.stderr.contains("the first at a.csv:3"),
        "{}",
        out.stderr
    );
    for delim in ["\\t", "\t"] {
        let out = connspy(
            d,
            &[
                "--to_host",
                "zyla",
                "--columns",
                "2,1,3",
                "--delimiter",
                delim,
                "a.tsv",
            ],
        );
        assert_eq!(out.stdout, "alice\nbob\n", "{delim:?}");
        assert_eq!(out.stderr, "");
    }
    let out = connspy(d, &["--to_host", "zyla", "--columns", "2,1,3", "a.tsv"]);
    assert_eq!(out.stdout, "alice\nbob\n");
    for (args, says) in [
        (
            vec!["--delimiter", ",", "a.csv"],
            "--delimiter goes with --columns",
        ),
        (
            vec!["--columns", "1,2,3", "--log_format", "zeek", "a.csv"],
            "drop --log_format zeek",
        ),
        (vec!["--columns", "1,2", "a.csv"], "is not TS,FROM,TO"),
        (
            vec!["--columns", "1,2,3", "--delimiter", "ab", "a.csv"],
            "is not a delimiter",
        ),
        (vec!["--log_format", "xml", "a.csv"], "invalid value 'xml'"),
    ] {
        let mut a = vec!["--to_host", "zyla"];
        a.extend(args.iter());
        let out = connspy(d, &a);
        assert_eq!(out.code, Some(2), "{a:?}: {out:#?}");
        assert!(out.stderr.contains(says), "{a:?}: {}", out.stderr);
    }
    // The kebab-case alias.
    let out = connspy(
        d,
        &["--to_host", "zyla", "--log-format", "connspy", "a.tsv"],
    );
    assert_eq!(out.code, Some(0));
}

/// A Zeek log large enough for the seek, sorted but for one flow written
/// two hours after it started (as Zeek writes long flows): `n` lines.
fn zeek_with_a_long_flow(n: i64) -> String {
    let mut log = String::from(ZEEK_HEAD);
    log.push_str("#fields\tts\tid.orig_h\tid.resp_h\n");
    for i in 0..n {
        log.push_str(&format!("{}.000000\thost{}\ttarget\n", T0 + i, i % 7));
        if i == 7200 + 30 {
            log.push_str(&format!("{}.000000\tlongflow\ttarget\n", T0 + 30));
        }
    }
    log
}

/// Flow logs carry start times far older than the lines before them: they
/// are not seeked unless --max_log_late_seconds is given, and the watermark
/// (stdin with --hourly) waits a day for them, so no answer changes.
#[test]
fn late_flow_starts_are_not_lost_to_the_seek_or_the_watermark() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("conn.log"), zeek_with_a_long_flow(10_000)).unwrap();
    let (init, end) = ((T0).to_string(), (T0 + 60).to_string());
    let range = [
        "--to_host",
        "target",
        "--format",
        "json",
        "--time_init",
        &init,
        "--time_end",
        &end,
    ];
    let with = |more: &[&str]| -> Vec<String> {
        range.iter().chain(more).map(|s| s.to_string()).collect()
    };
    let args = with(&["conn.log"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let default = connspy(d, &a);
    assert_eq!(default.code, Some(0));
    assert!(default.stdout.contains("longflow"), "{}", default.stdout);
    assert!(
        default.stdout.contains("\"lines\":61"),
        "{}",
        default.stdout
    );
    let args = with(&["--no_seek", "conn.log"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(connspy(d, &a).stdout, default.stdout);
    // Given explicitly, the lateness bound is trusted and the seek applies:
    // the flow written two hours late is outside what it reads.
    let args = with(&["--max_log_late_seconds", "300", "conn.log"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let seeked = connspy(d, &a);
    assert!(!seeked.stdout.contains("longflow"), "{}", seeked.stdout);
    assert!(seeked.stdout.contains("\"lines\":60"), "{}", seeked.stdout);
    // The same log on standard input, hour by hour behind the watermark.
    let log = std::fs::read(d.join("conn.log")).unwrap();
    let hourly = ["--to_host", "target", "--hourly", "--format", "json"];
    let batch = connspy(d, &[&hourly[..], &["conn.log"]].concat());
    let streamed = run_in(
        d,
        "connspy",
        &[&hourly[..], &["--chunk_size", "4096"]].concat(),
        &log,
    );
    assert_eq!(streamed.code, Some(0));
    assert_eq!(streamed.stderr, "");
    assert_eq!(streamed.stdout, batch.stdout);
    assert!(batch.stdout.contains("longflow"));
    // With a short bound given, the late flow is dropped and said so.
    let short = run_in(
        d,
        "connspy",
        &[
            &hourly[..],
            &["--chunk_size", "4096", "--max_log_late_seconds", "60"],
        ]
        .concat(),
        &log,
    );
    assert!(!short.stdout.contains("longflow"));
    assert!(
        short.stderr.contains("dropped 1 late line"),
        "{}",
        short.stderr
    );
}

/// Every format compressed with gzip and zstd (detected after decompression,
/// by magic bytes, whatever the name) answers as the plain log does, from a
/// file and from standard input.
#[test]
fn every_format_compressed_answers_as_the_plain_log() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let plain = gen(d, "plain.log", &[]);
    let expected = q2a(d, &[&plain]);
    assert_eq!(expected.code, Some(0));
    for format in ["connspy", "zeek", "zeek-json", "vpc", "suricata"] {
        for compress in ["gz", "zst"] {
            let file = gen(
                d,
                &format!("{format}-{compress}.log"),
                &["--log_format", format, "--compress", compress],
            );
            let out = q2a(d, &["--threads", "2", &file]);
            assert_eq!(out.code, Some(0), "{format} {compress}: {out:#?}");
            assert_eq!(out.stdout, expected.stdout, "{format} {compress}");
            let bytes = std::fs::read(d.join(&file)).unwrap();
            let a: Vec<&str> = Q2A
                .iter()
                .copied()
                .chain(["--chunk_size", "3000"])
                .collect();
            let piped = run_in(d, "connspy", &a, &bytes);
            assert_eq!(
                piped.stdout, expected.stdout,
                "{format} {compress} on stdin"
            );
            assert_eq!(piped.stderr, out.stderr, "{format} {compress} on stdin");
        }
    }
}

/// The top talkers of both ends, exact and approximate, read from every
/// format and compression, are the plain log's.
#[test]
fn top_talkers_of_every_format_are_the_plain_logs() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let plain = gen(d, "plain.log", &[]);
    let top = [
        "--busiest_from_host",
        "--busiest_to_host",
        "--top",
        "5",
        "--hourly",
        "--format",
        "json",
    ];
    for mode in [&[][..], &["--approx"][..]] {
        let args = |file: &str| -> Vec<String> {
            mode.iter()
                .chain(&top)
                .map(|s| s.to_string())
                .chain([file.to_string()])
                .collect()
        };
        let run = |file: &str| {
            let a = args(file);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            connspy(d, &a)
        };
        let expected = run(&plain);
        assert_eq!(expected.code, Some(0), "{expected:#?}");
        assert!(
            expected.stdout.contains("\"busiest_to_host\":{"),
            "{}",
            expected.stdout
        );
        for format in ["zeek", "zeek-json", "vpc", "suricata"] {
            for compress in [
                &[][..],
                &["--compress", "gz"][..],
                &["--compress", "zst"][..],
            ] {
                let name = format!("{format}-{}.log", compress.len());
                let mut more = vec!["--log_format", format];
                more.extend_from_slice(compress);
                let file = gen(d, &name, &more);
                let out = run(&file);
                assert_eq!(out.code, Some(0), "{format} {compress:?}: {out:#?}");
                assert_eq!(
                    out.stdout, expected.stdout,
                    "{format} {compress:?} {mode:?}"
                );
            }
        }
    }
}

/// The JSON readers' three rules (docs/formats.md), end to end, wherever the
/// lines sit: bytes after a line's object make it malformed (a second object
/// was counted); a host holding whitespace is malformed (`"a b"` was
/// counted, under a name `--to_host`/`--from_host` refuse); a field given
/// twice is read from its first occurrence (the last one won while the
/// scanner still lacked a key, the first once it had them all). The answer
/// is the same whatever the chunk size, the thread count, the position of
/// those lines among others, or whether the log is piped.
#[test]
fn json_trailing_bytes_spaced_hosts_and_duplicate_keys_have_one_rule() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let zeek = |ts: i64, rest: &str| format!("{{\"ts\":{ts},{rest}}}\n");
    let eve = |rest: &str| format!("{{\"timestamp\":\"x\",{rest}}}\n");
    let start = "\"flow\":{\"start\":\"2019-08-12T22:00:01Z\"}";
    let cases: [(&str, Vec<String>); 2] = [
        (
            "zeek-json",
            vec![
                zeek(T0, r#""id.orig_h":"trail","id.resp_h":"t"}{"ts":1"#),
                zeek(T0, r#""id.orig_h":"a b","id.resp_h":"t""#),
                zeek(T0, r#""id.orig_h":"x1","id.orig_h":"x2","id.resp_h":"t""#),
                zeek(T0, r#""id.orig_h":"y1","id.resp_h":"t","id.orig_h":"y2""#),
                zeek(T0, r#""id":{"orig_h":"z1","resp_h":"t"},"id.orig_h":"z2""#),
            ],
        ),
        (
            "suricata",
            vec![
                eve(&format!(
                    r#""event_type":"flow","src_ip":"trail","dest_ip":"t",{start}}}{{"a":1"#
                )),
                eve(&format!(
                    r#""event_type":"flow","src_ip":"a b","dest_ip":"t",{start}"#
                )),
                eve(&format!(
                    r#""event_type":"flow","src_ip":"x1","src_ip":"x2","dest_ip":"t",{start}"#
                )),
                eve(&format!(
                    r#""event_type":"flow","src_ip":"y1","dest_ip":"t",{start},"src_ip":"y2""#
                )),
                eve(&format!(
                    r#""event_type":"dns","src_ip":"w1","dest_ip":"t","event_type":"flow",{start}"#
                )),
            ],
        ),
    ];
    for (format, special) in cases {
        let good: Vec<String> = (0..400)
            .map(|i| match format {
                "zeek-json" => zeek(
                    T0 + i,
                    &format!(r#""id.orig_h":"h{}","id.resp_h":"u""#, i % 7),
                ),
                _ => eve(&format!(
                    r#""event_type":"flow","src_ip":"h{}","dest_ip":"u",{start}"#,
                    i % 7
                )),
            })
            .collect();
        let mut answers = Vec::new();
        for at in [0, 1, 200, 399, 400] {
            let mut lines = good.clone();
            for (k, line) in special.iter().enumerate() {
                lines.insert((at + k * 37).min(lines.len()), line.clone());
            }
            let log = lines.concat();
            std::fs::write(d.join("j.log"), &log).unwrap();
            for extra in [
                &["--threads", "1"][..],
                &["--threads", "3", "--chunk_size", "64"],
            ] {
                let args: Vec<&str> = ["--to_host", "t", "--log_format", format]
                    .iter()
                    .chain(extra)
                    .chain(&["j.log"])
                    .copied()
                    .collect();
                let out = connspy(d, &args);
                assert_eq!(out.code, Some(0), "{out:#?}");
                answers.push((
                    out.stdout.clone(),
                    out.stderr
                        .lines()
                        .next()
                        .map(|l| l.split("; the first").next().unwrap().to_owned()),
                ));
            }
            let piped = run_in(
                d,
                "connspy",
                &["--to_host", "t", "--log_format", format],
                log.as_bytes(),
            );
            assert_eq!(piped.code, Some(0), "{piped:#?}");
            answers.push((
                piped.stdout.clone(),
                piped
                    .stderr
                    .lines()
                    .next()
                    .map(|l| l.split("; the first").next().unwrap().to_owned()),
            ));
        }
        let hosts = match format {
            "zeek-json" => "x1\ny1\nz1\n",
            _ => "x1\ny1\n",
        };
        let expected = (
            hosts.to_owned(),
            Some("connspy: warning: skipped 2 malformed lines".to_owned()),
        );
        for answer in &answers {
            assert_eq!(answer, &expected, "{format}");
        }
    }
}
