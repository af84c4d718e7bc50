//! Input written by an attacker. Partials whose digest and checksum are
//! right (they are easy to compute), so that the body and the settings reach
//! the decoders: each must be refused with exit 2 and a message naming the
//! line, never crash, hang, allocate what the bytes do not justify, or wrap
//! a count. Logs whose bytes would reach the terminal, or flood stderr.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::support::run::run_in;

/// A field of a forged line's body.
enum Value {
    Count(u64),
    Binary(Vec<u8>),
}

use Value::{Binary, Count};

/// One partial line with the digest of `params` and a correct CRC, as
/// docs/partial.md lays it out.
fn forge(key: &str, params: &str, body: &[(&str, Value)]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in params.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut line = format!("{key}\tconnspy-partial/1\t{h:016x}\t{params}");
    for (name, value) in body {
        match value {
            Count(n) => write!(line, "\t{name}={n}").unwrap(),
            Binary(bytes) => write!(line, "\t{name}={}", STANDARD.encode(bytes)).unwrap(),
        }
    }
    let crc = crc32fast::hash(line.as_bytes());
    format!("{line}\tcrc={crc:08x}\n")
}

/// The binary of a partial's fields: LEB128 integers and length-prefixed
/// byte strings.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn uint(mut self, mut n: u64) -> Self {
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

    fn bytes(self, b: &[u8]) -> Self {
        let mut e = self.uint(b.len() as u64);
        e.0.extend_from_slice(b);
        e
    }

    fn hosts(self, hosts: &[&[u8]]) -> Self {
        hosts
            .iter()
            .fold(self.uint(hosts.len() as u64), |e, h| e.bytes(h))
    }
}

const EXACT_TO: &str =
    "mode=exact,hourly=0,init=-,end=-,to=74,from=-,busiest_from=0,busiest_to=0,top=1";
const EXACT_BUSIEST: &str =
    "mode=exact,hourly=0,init=-,end=-,to=-,from=-,busiest_from=1,busiest_to=0,top=1";

/// Approximate settings as a run of `--memory_limit`, with one list.
fn approx_params(top_k: u64, bloom_bytes: u64, bloom_items: u64, spill: u64) -> String {
    format!(
        "mode=approx,hourly=0,init=-,end=-,to=74,from=-,busiest_from=1,busiest_to=0,top=1,\
         top_k={top_k},hll_precision=15,bloom_bytes={bloom_bytes},bloom_items={bloom_items},\
         spill_buffer={spill}"
    )
}

/// `connspy --merge` of `text`: its exit code and stderr.
fn merge(text: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p"), text).unwrap();
    let out = run_in(
        dir.path(),
        "connspy",
        &["--merge", "--format", "json", "p"],
        b"",
    );
    (out.code, out.stdout, out.stderr)
}

/// Merging `text` is refused with exit 2, naming the partial's file and a
/// reason containing `why`.
fn refused(text: &str, why: &str) {
    let (code, stdout, stderr) = merge(text);
    assert_eq!(code, Some(2), "{stderr}\n{stdout}");
    assert!(stderr.contains("p:") && stderr.contains(why), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}

/// What connspy writes on standard output for `args` over `log` (as
/// `s.log`), which must succeed: partial lines to take apart and forge from.
fn written(log: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.log"), log).unwrap();
    let out = run_in(dir.path(), "connspy", &[args, &["s.log"]].concat(), b"");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.stdout
}

/// The line of `lines` whose key is `key`.
fn line_of<'a>(lines: &'a str, key: &str) -> &'a str {
    lines
        .lines()
        .find(|l| l.split('\t').next() == Some(key))
        .unwrap()
}

/// The binary field `name` of a partial line.
fn field_of(line: &str, name: &str) -> Vec<u8> {
    let value = line
        .split('\t')
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .unwrap();
    STANDARD.decode(value).unwrap()
}

#[test]
fn a_bloom_filter_the_line_does_not_hold_is_never_allocated() {
    // 48 GiB of filter by the settings (a split of a large budget), in a
    // line of a few hundred bytes: refused before the filter is built.
    let spill: u64 = 1 << 34;
    let params = approx_params(4096, 3 * spill, 1 << 36, spill);
    let list = Enc::default().uint(1).bytes(&[0; 8]).bytes(&[]).uint(0).0;
    refused(
        &forge(
            "range",
            &params,
            &[("lines", Count(0)), ("to", Binary(list))],
        ),
        "bloom filter bytes 8 where the settings make",
    );
}

#[test]
fn sketch_settings_no_budget_gives_are_refused() {
    for (params, why) in [
        // A 64 GiB filter: no split gives a filter that is not three spill
        // buffers.
        (
            approx_params(4096, 1 << 36, 1 << 30, 1 << 20),
            "not a split",
        ),
        // One item for a 10 MB filter: millions of hashes per host.
        (approx_params(4096, 3 << 22, 1, 1 << 22), "bloom_items=1"),
        (approx_params(63, 3 << 22, 1 << 22, 1 << 22), "top_k=63"),
        // A host list's filter is never below 64 KiB.
        (
            approx_params(4096, 3 << 12, 1 << 12, 1 << 12),
            "bloom_bytes=12288",
        ),
    ] {
        refused(&forge("range", &params, &[("lines", Count(0))]), why);
    }
}

#[test]
fn the_largest_budget_writes_partials_that_merge() {
    let partial = written(
        "1565647200000 a t\n",
        &[
            "--approx",
            "--memory_limit",
            "1073741824",
            "--to_host",
            "t",
            "--busiest_from_host",
            "--format",
            "partial",
        ],
    );
    let (code, stdout, stderr) = merge(&partial);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"a\""), "{stdout}");
}

#[test]
fn counts_that_overflow_when_merged_are_refused() {
    let half = 1u64 << 63;
    let line = forge(
        "range",
        EXACT_TO,
        &[
            ("lines", Count(half)),
            ("to", Binary(Enc::default().hosts(&[b"a"]).0)),
        ],
    );
    refused(&format!("{line}{line}"), "overflow");
    let counts = |n: u64| Binary(Enc::default().uint(1).bytes(b"a").uint(n).0);
    let line = forge(
        "range",
        EXACT_BUSIEST,
        &[("lines", Count(half)), ("initiators", counts(half))],
    );
    refused(&format!("{line}{line}"), "overflow");
    // A summary line as connspy writes it, with its malformed count raised.
    let partial = written(
        "1565647200000 a t\nbad\n",
        &["--to_host", "t", "--format", "partial"],
    );
    let field = |name: &str| Binary(field_of(line_of(&partial, "summary"), name));
    let summary = forge(
        "summary",
        EXACT_TO,
        &[
            ("malformed", Count(half)),
            ("skipped", field("skipped")),
            ("other_paths", field("other_paths")),
            ("late", Count(0)),
        ],
    );
    refused(&format!("{summary}{summary}"), "overflow");
}

#[test]
fn a_heavy_hitter_counting_more_than_every_line_is_refused() {
    let params = approx_params(4096, 3 << 20, 1 << 20, 1 << 20);
    // One line counted, and a counter of 2^63 (error 2^63 - 1) for it.
    let big = 1u64 << 63;
    let summary = Enc::default()
        .uint(1)
        .uint(1)
        .bytes(b"a")
        .uint(big)
        .uint(big - 1)
        .0;
    let line = forge(
        "range",
        &params,
        &[
            ("lines", Count(1)),
            ("to", Binary(Enc::default().uint(0).uint(0).0)),
            ("initiators", Binary(summary)),
            ("initiators_hll", Binary(Vec::new())),
        ],
    );
    refused(&line, "counter of 9223372036854775808");
}

#[test]
fn hosts_no_log_gives_are_refused() {
    for (host, why) in [
        (&b""[..], "empty host"),
        (b"a b", "whitespace"),
        (b"a\nb", "whitespace"),
        (b"a\tb", "whitespace"),
        (b"Zyla", "upper-case"),
    ] {
        let line = forge(
            "range",
            EXACT_TO,
            &[
                ("lines", Count(1)),
                ("to", Binary(Enc::default().hosts(&[host]).0)),
            ],
        );
        refused(&line, why);
    }
}

#[test]
fn windows_and_times_no_run_writes_are_refused() {
    let hourly = "mode=exact,hourly=1,init=1565647200000,end=1565654400000,to=74,from=-,\
                  busiest_from=0,busiest_to=0,top=1";
    let body = || {
        vec![
            ("lines", Count(1)),
            ("to", Binary(Enc::default().hosts(&[b"a"]).0)),
        ]
    };
    // The hour before the range, and the hour at its end.
    for key in ["2019-08-12T21:00:00Z", "2019-08-13T00:00:00Z"] {
        refused(&forge(key, hourly, &body()), "outside the partials' range");
    }
    refused(
        &forge("2019-08-12T22:30:00Z", hourly, &body()),
        "not the start of a UTC hour",
    );
    let early = EXACT_TO.replace("init=-", "init=-9223372036854775808");
    refused(
        &forge("range", &early, &body()),
        "init=-9223372036854775808",
    );
    let late = EXACT_TO.replace("end=-", "end=9223372036854775807");
    refused(&forge("range", &late, &body()), "end=9223372036854775807");
}

#[test]
fn an_empty_hyperloglog_beside_tracked_hosts_is_refused() {
    let q = ["--approx", "--busiest_from_host", "--format", "partial"];
    let partial = written("1565647200000 a t\n", &q);
    let line = line_of(&partial, "range");
    let params = line.split('\t').nth(3).unwrap();
    let with_hll = |hll: Vec<u8>| {
        forge(
            "range",
            params,
            &[
                ("lines", Count(1)),
                ("initiators", Binary(field_of(line, "initiators"))),
                ("initiators_hll", Binary(hll)),
            ],
        )
    };
    let same = with_hll(field_of(line, "initiators_hll"));
    assert_eq!(
        same.trim_end(),
        line,
        "the forger writes what connspy writes"
    );
    // An empty sketch of the same precision, from connspy itself: a range
    // that holds no line.
    let none = written(
        "1565647200000 a t\n",
        &[&q[..], &["--time_init", "1565647200001"]].concat(),
    );
    let empty = field_of(line_of(&none, "range"), "initiators_hll");
    refused(&with_hll(empty), "empty HyperLogLog");
}

#[test]
fn merge_refuses_the_flags_that_size_sketches_and_says_so_in_help() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p"), "").unwrap();
    for flag in [["--memory_limit", "64"], ["--bloom_fp_rate", "0.01"]] {
        let out = run_in(
            dir.path(),
            "connspy",
            &["--merge", flag[0], flag[1], "p"],
            b"",
        );
        assert_eq!(out.code, Some(2), "{}", out.stderr);
        assert!(
            out.stderr.contains(flag[0])
                && out.stderr.contains("takes the sizes from the partials"),
            "{}",
            out.stderr
        );
    }
    let help = run_in(dir.path(), "connspy", &["--help"], b"").stdout;
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("--memory_limit and --bloom_fp_rate are refused"),
        "{help}"
    );
}

#[test]
fn messages_name_the_real_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.log"), "1565647200000 a t\n").unwrap();
    let out = run_in(
        dir.path(),
        "connspy",
        &["--approx", "--top_k", "63", "--busiest_from_host", "s.log"],
        b"",
    );
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("64.."), "{}", out.stderr);
    let out = run_in(
        dir.path(),
        "connspy",
        &["--columns", "1,2,3", "--delimiter", "é", "s.log"],
        b"",
    );
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("one ASCII character"), "{}", out.stderr);
    let help = run_in(dir.path(), "connspy", &["--help"], b"").stdout;
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("64 to 2^30"), "{help}");
}

#[test]
fn bytes_from_input_reach_stderr_escaped() {
    let evil = "\x1b]0;pwned\x07\x1b[2J\u{9b}31m";
    // A Zeek log whose #path is an escape sequence.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("z.log"),
        format!(
            "#separator \\x09\n#fields\tts\tid.orig_h\tid.resp_h\n#path\t{evil}\n\
             1565647200.000\ta\tb\n"
        ),
    )
    .unwrap();
    let out = run_in(
        dir.path(),
        "connspy",
        &["--busiest_from_host", "z.log"],
        b"",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // A partial's first malformed line, named by a path that is one.
    let summary = written(
        "1565647200000 a t\nbad\n",
        &["--to_host", "t", "--format", "partial"],
    );
    let summary = line_of(&summary, "summary");
    let first = Enc::default()
        .bytes(evil.as_bytes())
        .uint(2)
        .bytes(b"no timestamp")
        .0;
    let forged = forge(
        "summary",
        EXACT_TO,
        &[
            ("malformed", Count(1)),
            ("first_malformed", Binary(first)),
            ("skipped", Binary(field_of(summary, "skipped"))),
            ("other_paths", Binary(field_of(summary, "other_paths"))),
            ("late", Count(0)),
        ],
    );
    let (code, _, merged) = merge(&forged);
    assert_eq!(code, Some(0), "{merged}");
    // An error quoting a window key that is one.
    let (code, _, refused) = merge(&forge(evil, EXACT_TO, &[("lines", Count(0))]));
    assert_eq!(code, Some(2), "{refused}");
    for stderr in [&out.stderr, &merged, &refused] {
        assert!(
            !stderr.contains(['\x1b', '\x07', '\u{9b}']),
            "raw control bytes on stderr: {stderr:?}"
        );
        assert!(stderr.contains("\\x1b]0;pwned\\x07"), "{stderr}");
    }
}

#[test]
fn zeek_header_blocks_of_other_logs_make_one_note_with_a_count() {
    let mut log = String::new();
    for i in 0..2000 {
        write!(
            log,
            "#separator \\x09\n#fields\tts\tid.orig_h\tid.resp_h\n#path\tp{i}\n\
             1565647200.000\ta\tb\n"
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("z.log"), &log).unwrap();
    for args in [
        &["--busiest_from_host", "z.log"][..],
        &["--busiest_from_host"],
    ] {
        let out = run_in(dir.path(), "connspy", args, log.as_bytes());
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("2000 Zeek header blocks with a #path other than conn")
                && out.stderr.contains("#path p0"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn approximate_mode_keeps_a_bounded_form_of_long_hosts() {
    let long = format!("Long-{}", "x".repeat(1000));
    let log = format!("1565647200000 {long} t\n1565647200001 {long} t\n1565647200002 s t\n");
    let q = ["--approx", "--busiest_from_host", "--to_host", "t"];
    let direct = written(&log, &[&q[..], &["--format", "json"]].concat());
    let record: serde_json::Value = serde_json::from_str(direct.trim()).unwrap();
    let kept = record["busiest_from_host"]["host"].as_str().unwrap();
    let (head, hash) = kept.rsplit_once('…').unwrap();
    assert!(
        kept.len() <= 256 && long.to_lowercase().starts_with(head),
        "{kept}"
    );
    assert!(
        hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{kept}"
    );
    assert_eq!(record["busiest_from_host"]["connections"], 2);
    assert!(
        direct.contains(kept) && record["to_host"]["hosts"][0] == kept,
        "{direct}"
    );
    // The same form in partials, merged.
    let partial = written(&log, &[&q[..], &["--format", "partial"]].concat());
    let (code, merged, stderr) = merge(&partial);
    assert_eq!((code, merged), (Some(0), direct), "{stderr}");
    // A host longer than the form is not what a run writes.
    let line = partial.lines().next().unwrap();
    let params = line.split('\t').nth(3).unwrap();
    let longer = "y".repeat(300);
    let list = Enc::default().uint(0).hosts(&[longer.as_bytes()]).0;
    refused(
        &forge(
            "range",
            params,
            &[("lines", Count(1)), ("to", Binary(list))],
        ),
        "approximate mode keeps at most 256",
    );
}
