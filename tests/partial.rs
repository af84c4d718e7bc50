//! `--format partial` and `--merge`, end to end on the real binary: the exact
//! law (any split, any order, merged, prints what a direct run prints), the
//! approximate laws (one merge is independent of input order; unions of
//! HyperLogLogs and lists are independent of grouping; every bound holds
//! against the exact answer under any merge tree), re-emitting a merged
//! state, and every rejection of a partial that does not fit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::run::{run_in, Out};

/// 2019-08-12T22:00:00Z in Unix milliseconds.
const T0: i64 = 1_565_647_200_000;

fn connspy(dir: &Path, args: &[&str], stdin: &[u8]) -> Out {
    run_in(dir, "connspy", args, stdin)
}

/// Runs and expects success, returning stdout.
#[track_caller]
fn ok(dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    let out = connspy(dir, args, stdin);
    assert_eq!(out.code, Some(0), "connspy {args:?}: {out:#?}");
    out.stdout
}

/// A log of `n` lines over about three hours, nearly sorted, with few hosts so
/// that lists, ties and counts all have something to show.
fn log(lines: &[(i64, u8, u8)]) -> String {
    let names = [
        "alice", "Bob", "carol", "dave", "Eve", "zyla", "mallory", "trent",
    ];
    lines
        .iter()
        .map(|&(t, a, b)| {
            format!(
                "{} {} {}\n",
                T0 + t,
                names[a as usize % names.len()],
                names[b as usize % names.len()]
            )
        })
        .collect()
}

/// `text` cut into parts at the line boundaries after the given line numbers.
fn split_at_lines(text: &str, cuts: &[usize]) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (lines.len() + 1)).collect();
    cuts.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([lines.len()]) {
        parts.push(lines[start..cut.max(start)].concat());
        start = cut.max(start);
    }
    parts
}

/// The partial lines of each part, written by one run per part.
fn partials(dir: &Path, query: &[&str], parts: &[String]) -> Vec<String> {
    parts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let name = format!("part{i}.log");
            std::fs::write(dir.join(&name), text).unwrap();
            let mut args = query.to_vec();
            args.extend(["--format", "partial", &name]);
            ok(dir, &args, b"")
        })
        .collect()
}

/// The lines of `partials`, in an order given by `keys`.
fn shuffled(partials: &[String], keys: &[u32]) -> String {
    let mut lines: Vec<(u32, &str)> = partials
        .iter()
        .flat_map(|p| p.split_inclusive('\n'))
        .enumerate()
        .map(|(i, l)| (keys.get(i).copied().unwrap_or(i as u32), l))
        .collect();
    lines.sort_by_key(|(k, _)| *k);
    lines.into_iter().map(|(_, l)| l).collect()
}

const QUERIES: [&[&str]; 4] = [
    &[
        "--to_host",
        "Zyla",
        "--from_host",
        "alice",
        "--busiest_from_host",
    ],
    &["--busiest_from_host", "--busiest_to_host", "--top", "3"],
    &["--to_host", "zyla"],
    &[
        "--from_host",
        "bob",
        "--busiest_to_host",
        "--time_init",
        "1565648000000",
        "--time_end",
        "1565655000000",
    ],
];

fn lines_strategy(max: usize) -> impl Strategy<Value = Vec<(i64, u8, u8)>> {
    // Mostly increasing times over about three hours, some a little late.
    prop::collection::vec((0i64..40_000, 0u8..8, 0u8..8), 0..max).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (jitter, a, b))| (i as i64 * 60_000 + jitter - 20_000, a, b))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The exact law: any split into 1-8 parts at line boundaries, the parts'
    /// partials in any order, merged, print byte for byte what a direct run
    /// prints, in every format and with --hourly on and off; and re-emitting
    /// the merged state as a partial and merging that loses nothing.
    #[test]
    fn exact_merge_of_any_split_in_any_order_is_the_direct_run(
        lines in lines_strategy(150),
        cuts in prop::collection::vec(0usize..200, 0..8),
        order in prop::collection::vec(any::<u32>(), 0..400),
        query in 0usize..QUERIES.len(),
        hourly in any::<bool>(),
    ) {
        let dir = TempDir::new().unwrap();
        let text = log(&lines);
        std::fs::write(dir.path().join("whole.log"), &text).unwrap();
        let mut query = QUERIES[query].to_vec();
        if hourly {
            query.push("--hourly");
        }
        let parts = split_at_lines(&text, &cuts);
        let mixed = shuffled(&partials(dir.path(), &query, &parts), &order);
        std::fs::write(dir.path().join("mixed.partial"), &mixed).unwrap();
        for format in ["text", "json", "tsv"] {
            let mut direct = query.clone();
            direct.extend(["--format", format, "whole.log"]);
            let want = ok(dir.path(), &direct, b"");
            let stdin = ok(dir.path(), &["--merge", "--format", format], mixed.as_bytes());
            prop_assert_eq!(&stdin, &want, "merged from stdin, {}", format);
            let file = ok(dir.path(), &["--merge", "--format", format, "mixed.partial"], b"");
            prop_assert_eq!(&file, &want, "merged from a file, {}", format);
            let again = ok(dir.path(), &["--merge", "--format", "partial", "mixed.partial"], b"");
            let twice = ok(dir.path(), &["--merge", "--format", format], again.as_bytes());
            prop_assert_eq!(&twice, &want, "merged, re-emitted and merged again, {}", format);
        }
    }
}

#[test]
fn hadoop_streaming_contract_holds_on_one_machine() {
    // cat parts | connspy --format partial | sort | connspy --merge
    // Lines are up to three hours out of order, so the bound says so: a
    // stream's hours are released behind it.
    let dir = TempDir::new().unwrap();
    let lines: Vec<(i64, u8, u8)> = (0..400)
        .map(|i| (i * 29_000 % 11_000_000, (i % 7) as u8, (i * 3 % 8) as u8))
        .collect();
    let text = log(&lines);
    for (i, part) in split_at_lines(&text, &[90, 200, 310]).iter().enumerate() {
        std::fs::write(dir.path().join(format!("p{i}.log")), part).unwrap();
    }
    std::fs::write(dir.path().join("whole.log"), &text).unwrap();
    let q = "--to_host zyla --from_host alice --busiest_from_host --busiest_to_host --top 2 \
             --hourly --max_log_late_seconds 11000";
    let bin = assert_cmd::cargo::cargo_bin("connspy");
    let bin = bin.display();
    let pipeline = format!(
        "for p in p0.log p1.log p2.log p3.log; do cat $p | {bin} {q} --format partial; done \
         | LC_ALL=C sort | {bin} --merge --format json"
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&pipeline)
        .current_dir(dir.path())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success());
    let direct = ok(
        dir.path(),
        &q.split(' ')
            .chain(["--format", "json", "whole.log"])
            .collect::<Vec<_>>(),
        b"",
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), direct);
    assert!(direct.lines().count() > 2, "several hours: {direct}");
}

/// A small partial, byte for byte: the format is a contract.
#[test]
fn a_small_partial_is_exactly_this() {
    let dir = TempDir::new().unwrap();
    let text = format!(
        "{} Alice zyla\n{} bob ZYLA\n{} alice carol\n{} garbage\n",
        T0,
        T0 + 1000,
        T0 + 3_600_000,
        T0 + 3_600_001
    );
    std::fs::write(dir.path().join("a.log"), text).unwrap();
    let stdout = sample_partial_of(dir.path());
    let params = "mode=exact,hourly=1,init=-,end=-,to=7a796c61,from=-,busiest_from=1,\
                  busiest_to=0,top=1";
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let fields: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    for f in &fields {
        assert_eq!(f[1], "connspy-partial/1");
        assert_eq!(f[3], params);
        assert!(f.last().unwrap().starts_with("crc="), "{f:?}");
    }
    // Hosts "alice", "bob" in a list; counts alice 1, bob 1.
    assert_eq!(
        &fields[0][..fields[0].len() - 1],
        &[
            "2019-08-12T22:00:00Z",
            "connspy-partial/1",
            fields[0][2],
            params,
            "lines=2",
            "to=AgVhbGljZQNib2I=",
            "initiators=AgVhbGljZQEDYm9iAQ==",
        ]
    );
    assert_eq!(
        &fields[1][4..fields[1].len() - 1],
        &["lines=1", "to=AA==", "initiators=AQVhbGljZQE="]
    );
    assert_eq!(fields[2][0], "summary");
    assert_eq!(fields[2][4], "malformed=1");
    assert_eq!(fields[0][2].len(), 16);
}

#[test]
fn a_merge_reports_the_partials_malformed_lines() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("a.log"), format!("{T0} a b\nnonsense\n")).unwrap();
    std::fs::write(dir.path().join("b.log"), format!("{T0} b c\n1 2\n3 4\n")).unwrap();
    let mut all = String::new();
    for name in ["a.log", "b.log"] {
        let out = connspy(
            dir.path(),
            &["--busiest_from_host", "--format", "partial", name],
            b"",
        );
        assert!(
            out.stderr.contains("malformed"),
            "the mapper warns too: {out:#?}"
        );
        all.push_str(&out.stdout);
    }
    let out = connspy(dir.path(), &["--merge", "--format", "json"], all.as_bytes());
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr
            .contains("skipped 3 malformed lines; the first at a.log:2"),
        "{}",
        out.stderr
    );
    let record: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(record["lines"], 2);
}

#[test]
fn notes_survive_every_level_of_a_merge_tree() {
    // Two mappers with malformed lines, merged by two intermediate reducers
    // (`--merge --format partial`), then by a final one: the counts and the
    // first place reach the end.
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("a.log"), format!("{T0} a b\nnonsense\n")).unwrap();
    std::fs::write(dir.path().join("b.log"), format!("{T0} b c\n1 2\n3 4\n")).unwrap();
    let mut middle = String::new();
    for name in ["a.log", "b.log"] {
        let partial = ok(
            dir.path(),
            &["--busiest_from_host", "--format", "partial", name],
            b"",
        );
        let merged = ok(
            dir.path(),
            &["--merge", "--format", "partial"],
            partial.as_bytes(),
        );
        assert!(merged.starts_with("range\t"), "{merged}");
        assert!(merged.contains("\nsummary\t"), "{merged}");
        middle.push_str(&merged);
    }
    let out = connspy(
        dir.path(),
        &["--merge", "--format", "json"],
        middle.as_bytes(),
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr
            .contains("skipped 3 malformed lines; the first at a.log:2"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_empty_range_window_is_merged_as_a_direct_run_prints_it() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("a.log"), format!("{T0} a b\n")).unwrap();
    let q = [
        "--busiest_from_host",
        "--time_init",
        "2030-01-01",
        "--format",
    ];
    let direct = ok(dir.path(), &[&q[..], &["json", "a.log"]].concat(), b"");
    let partial = ok(dir.path(), &[&q[..], &["partial", "a.log"]].concat(), b"");
    assert!(partial.starts_with("range\t"), "{partial}");
    assert!(partial.contains("\tlines=0\t"), "{partial}");
    assert_eq!(
        ok(
            dir.path(),
            &["--merge", "--format", "json"],
            partial.as_bytes()
        ),
        direct
    );
}

/// `a.log` as a partial of `--to_host zyla --busiest_from_host --hourly`.
fn sample_partial_of(dir: &Path) -> String {
    ok(
        dir,
        &[
            "--to_host",
            "zyla",
            "--busiest_from_host",
            "--hourly",
            "--format",
            "partial",
            "a.log",
        ],
        b"",
    )
}

fn sample_partial(dir: &Path) -> String {
    std::fs::write(
        dir.join("a.log"),
        format!("{T0} a zyla\n{} b zyla\n{} a c\n", T0 + 1, T0 + 3_600_000),
    )
    .unwrap();
    sample_partial_of(dir)
}

#[test]
fn changed_cut_or_foreign_lines_are_refused_with_their_place() {
    let dir = TempDir::new().unwrap();
    let good = sample_partial(dir.path());
    let mut changed = good.clone().into_bytes();
    // A digit of the first line's count, changed: the checksum catches it.
    let at = good.find("lines=2").unwrap() + 6;
    changed[at] = b'3';
    let second_line_cut = {
        let mut l: Vec<&str> = good.lines().collect();
        let cut = &l[1][..l[1].len() - 5];
        l[1] = cut;
        l.join("\n") + "\n"
    };
    let v2 = good.replacen("connspy-partial/1", "connspy-partial/2", 1);
    for (input, line, words) in [
        (changed, 1, "checksum mismatch"),
        (second_line_cut.into_bytes(), 2, "crc"),
        (v2.into_bytes(), 1, "version 2"),
        (
            b"1565647200000 a b\n".to_vec(),
            1,
            "not a connspy partial line",
        ),
    ] {
        let out = connspy(dir.path(), &["--merge"], &input);
        assert_eq!(out.code, Some(2), "{out:#?}");
        assert_eq!(out.stdout, "", "nothing printed as if whole: {out:#?}");
        assert!(
            out.stderr.contains(&format!("<stdin>:{line}:")) && out.stderr.contains(words),
            "{words}: {}",
            out.stderr
        );
    }
}

/// Grouped windows are checked side by side, one a thread; what a bad line
/// lets through must still be what a line-by-line merge prints: the windows
/// before the one it follows, whatever the thread count.
#[test]
fn a_bad_line_stops_the_merge_before_the_window_it_follows_at_any_thread_count() {
    let dir = TempDir::new().unwrap();
    let hours: String = (0..4)
        .map(|h| {
            format!(
                "{} a zyla\n{} b c\n",
                T0 + h * 3_600_000,
                T0 + h * 3_600_000 + 1
            )
        })
        .collect();
    std::fs::write(dir.path().join("a.log"), hours).unwrap();
    let partial = sample_partial_of(dir.path());
    let windows: Vec<&str> = partial.lines().collect();
    assert_eq!(windows.len(), 4, "{partial}");
    // Window 2 comes from two lines, as after a shuffle of two parts.
    let lines = [windows[0], windows[1], windows[2], windows[2], windows[3]];
    let broken = |i: usize| {
        let mut l = lines.map(str::to_owned);
        // The checksum's last digit, changed.
        let last = l[i].pop().unwrap();
        l[i].push(if last == '0' { '1' } else { '0' });
        l.join("\n") + "\n"
    };
    let merged = |lines: &[&str]| {
        ok(
            dir.path(),
            &["--merge"],
            (lines.join("\n") + "\n").as_bytes(),
        )
    };
    for (bad, printed) in [
        // The first line of window 2: window 1 is not printed either.
        (2, merged(&lines[..1])),
        // Its second line: windows 0 and 1 are.
        (3, merged(&lines[..2])),
        // The first line of window 3: window 2 is held back.
        (4, merged(&lines[..2])),
    ] {
        for threads in ["1", "2", "3", "8"] {
            let out = connspy(
                dir.path(),
                &["--merge", "--threads", threads],
                broken(bad).as_bytes(),
            );
            assert_eq!(out.code, Some(2), "{out:#?}");
            assert!(
                out.stderr.contains(&format!("<stdin>:{}:", bad + 1)),
                "{}",
                out.stderr
            );
            assert_eq!(out.stdout, printed, "line {bad} bad, {threads} threads");
        }
    }
}

/// A named pipe (or `<(sort ...)`) cannot be read twice: the pass that
/// looks for grouped windows copies it, as it copies standard input.
#[test]
fn partials_from_a_named_pipe_are_read_once() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new().unwrap();
    let partial = sample_partial(dir.path());
    let direct = ok(
        dir.path(),
        &["--merge", "--format", "json"],
        partial.as_bytes(),
    );
    let fifo = dir.path().join("parts.fifo");
    let name = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path and a mode.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let writer = std::thread::spawn(move || std::fs::write(fifo, partial));
    let out = connspy(
        dir.path(),
        &["--merge", "--format", "json", "parts.fifo"],
        b"",
    );
    writer.join().unwrap().unwrap();
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, direct);
}

#[test]
fn partials_of_other_settings_are_a_usage_error_naming_both_places() {
    let dir = TempDir::new().unwrap();
    let a = sample_partial(dir.path());
    std::fs::write(dir.path().join("a.partial"), &a).unwrap();
    let b = ok(
        dir.path(),
        &[
            "--to_host",
            "bob",
            "--busiest_from_host",
            "--hourly",
            "--format",
            "partial",
            "a.log",
        ],
        b"",
    );
    std::fs::write(dir.path().join("b.partial"), &b).unwrap();
    let out = connspy(dir.path(), &["--merge", "a.partial", "b.partial"], b"");
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("b.partial:1:") && out.stderr.contains("a.partial:1"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("to=7a796c61 there, to=626f62 here"),
        "{}",
        out.stderr
    );
}

#[test]
fn merge_flags_that_disagree_with_the_partials_are_usage_errors() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("a.partial"), sample_partial(dir.path())).unwrap();
    for (flags, words) in [
        (&["--to_host", "bob"][..], "--to_host bob disagrees"),
        (&["--busiest_to_host"][..], "--busiest_to_host was given"),
        (&["--approx"][..], "--approx was given"),
        (
            &["--top", "2", "--busiest_from_host"][..],
            "--top 2 disagrees",
        ),
        (
            &["--time_init", "2019-08-12"][..],
            "--time_init '2019-08-12' disagrees",
        ),
        (&["--tail"][..], "--tail is for reading logs"),
        (
            &["--log_format", "zeek"][..],
            "--log_format is for reading logs",
        ),
    ] {
        let mut args = vec!["--merge"];
        args.extend(flags);
        args.push("a.partial");
        let out = connspy(dir.path(), &args, b"");
        assert_eq!(out.code, Some(2), "{flags:?}: {out:#?}");
        assert!(out.stderr.contains(words), "{flags:?}: {}", out.stderr);
        if !words.contains("reading logs") {
            assert!(out.stderr.contains("a.partial:1:"), "{}", out.stderr);
        }
    }
    // Flags that agree are fine, and a flag left out is taken from the partials.
    let agreeing = ok(
        dir.path(),
        &[
            "--merge",
            "--to_host",
            "ZYLA",
            "--hourly",
            "--busiest_from_host",
            "a.partial",
        ],
        b"",
    );
    assert_eq!(agreeing, ok(dir.path(), &["--merge", "a.partial"], b""));
}

#[test]
fn partial_output_does_not_go_with_tail_and_an_empty_merge_prints_nothing() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("a.log"), format!("{T0} a b\n")).unwrap();
    let out = connspy(
        dir.path(),
        &[
            "--busiest_from_host",
            "--tail",
            "--format",
            "partial",
            "a.log",
        ],
        b"",
    );
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(
        out.stderr.contains("does not go with --tail"),
        "{}",
        out.stderr
    );
    // A Hadoop reducer that got no key, or only the summary key, prints no
    // window (the whole-range window's own line is with another reducer).
    let out = connspy(dir.path(), &["--merge", "--format", "json"], b"");
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), ""), "{out:#?}");
    std::fs::write(dir.path().join("bad.log"), "nonsense\n").unwrap();
    let partial = ok(
        dir.path(),
        &["--busiest_from_host", "--format", "partial", "bad.log"],
        b"",
    );
    let summary: String = partial
        .lines()
        .filter(|l| l.starts_with("summary\t"))
        .collect();
    assert!(!summary.is_empty(), "{partial}");
    let out = connspy(
        dir.path(),
        &["--merge", "--format", "json"],
        summary.as_bytes(),
    );
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), ""), "{out:#?}");
    assert!(
        out.stderr.contains("skipped 1 malformed line"),
        "{}",
        out.stderr
    );
}

#[test]
fn partials_report_late_lines_where_the_direct_run_does_in_every_mode() {
    // Two lines 2.5 hours late: behind the watermark of --approx --hourly
    // (any input) and of exact --hourly on a stream, they are dropped and
    // counted; an exact run over a file keeps them. Whichever it is, the
    // merge of the run's partials prints what the run prints.
    let dir = TempDir::new().unwrap();
    let h = 3_600_000;
    let text = format!(
        "{T0} a b\n{} b c\n{} c d\n{} d e\n{} e f\n",
        T0 + 3 * h,
        T0 + 4 * h,
        T0 + 4 * h - 5 * h / 2,
        T0 + 4 * h - 5 * h / 2 + 1
    );
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    let q = ["--busiest_from_host", "--to_host", "d", "--hourly"];
    for (mode, input, late) in [
        (&["--approx"][..], &[][..], 2),
        (&["--approx"], &["a.log"], 2),
        (&[], &[], 2),
        (&[], &["a.log"], 0),
    ] {
        let stdin = if input.is_empty() {
            text.as_bytes()
        } else {
            b""
        };
        let args = |format: &'static str| -> Vec<&str> {
            [&q[..], mode, &["--format", format], input].concat()
        };
        let direct = connspy(dir.path(), &args("json"), stdin);
        let partial = ok(dir.path(), &args("partial"), stdin);
        let merged = connspy(
            dir.path(),
            &["--merge", "--format", "json"],
            partial.as_bytes(),
        );
        assert_eq!(merged.stdout, direct.stdout, "{mode:?} {input:?}");
        let late_total: u64 = direct
            .stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["late"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        assert_eq!(late_total, late, "{mode:?} {input:?}: {}", direct.stdout);
        for stderr in [&direct.stderr, &merged.stderr] {
            assert_eq!(
                stderr.contains("dropped 2 late lines"),
                late == 2,
                "{mode:?} {input:?}: {stderr}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Approximate partials
// ---------------------------------------------------------------------------

/// A flat log with many hosts, so that sketches evict and lists fill.
fn wide_log(n: usize, seed: u64) -> String {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let t = T0 + i as i64 * 7_200_000 / n as i64;
            // A few heavy hitters over a long tail.
            let r = next();
            let from = if r % 4 == 0 { r % 5 } else { r % 20_000 };
            let to = if next() % 3 == 0 { 7 } else { next() % 2000 };
            format!("{t} h{from} h{to}\n")
        })
        .collect()
}

/// Small sketches: the summary evicts, and the lists outgrow their exact
/// share and become bloom lists.
const APPROX: &[&str] = &[
    "--approx",
    "--top_k",
    "64",
    "--memory_limit",
    "24",
    "--to_host",
    "h7",
    "--from_host",
    "h1",
    "--busiest_from_host",
    "--busiest_to_host",
    "--top",
    "8",
    "--hourly",
];

/// `merge(a, b, ...)` as a subprocess over the given partial texts.
fn merge(dir: &Path, format: &str, parts: &[String]) -> String {
    ok(
        dir,
        &["--merge", "--format", format],
        parts.concat().as_bytes(),
    )
}

fn by_start(json: &str) -> BTreeMap<String, Value> {
    json.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["start"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

/// The merge tree over `partials` whose shape `splits` draws: each node
/// cuts its run of partials in two, merges each side (a merged partial) and
/// merges the two.
fn tree_merge(dir: &Path, partials: &[String], splits: &[usize]) -> String {
    if partials.len() == 1 {
        return partials[0].clone();
    }
    let (first, rest) = splits.split_first().unwrap_or((&0, &[]));
    let cut = 1 + first % (partials.len() - 1);
    let left = tree_merge(dir, &partials[..cut], rest);
    let right = tree_merge(dir, &partials[cut..], rest);
    merge(dir, "partial", &[left, right])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// The approximate laws, over random logs, splits into 1-8 parts, line
    /// orders and merge trees.
    #[test]
    fn approximate_merges_keep_order_independence_union_laws_and_bounds(
        seed in any::<u64>(),
        cuts in prop::collection::vec(0usize..80_000, 0..8),
        order in prop::collection::vec(any::<u32>(), 0..2000),
        splits in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        check_approx(seed, &cuts, &order, &splits);
    }
}

fn check_approx(seed: u64, cuts: &[usize], order: &[u32], splits: &[usize]) {
    let dir = TempDir::new().unwrap();
    let text = wide_log(80_000, seed);
    std::fs::write(dir.path().join("whole.log"), &text).unwrap();
    let parts = split_at_lines(&text, cuts);
    let partials = partials(dir.path(), APPROX, &parts);

    // One merge gives the same bytes in any input order.
    let once = merge(dir.path(), "json", &partials);
    let mut reversed = partials.clone();
    reversed.reverse();
    assert_eq!(merge(dir.path(), "json", &reversed), once);
    let mixed = shuffled(&partials, order);
    assert_eq!(
        ok(
            dir.path(),
            &["--merge", "--format", "json"],
            mixed.as_bytes()
        ),
        once
    );

    // Re-emitting a merged state loses nothing.
    let state = merge(dir.path(), "partial", &partials);
    assert_eq!(merge(dir.path(), "json", &[state]), once);

    // Another grouping: a merge tree of random shape.
    let tree = merge(
        dir.path(),
        "json",
        &[tree_merge(dir.path(), &partials, splits)],
    );

    // The same query, exact, listing every host with its count.
    let exact_q = [
        "--to_host",
        "h7",
        "--from_host",
        "h1",
        "--busiest_from_host",
        "--busiest_to_host",
        "--hourly",
        "--top",
        "30000",
    ];
    let exact = by_start(&ok(
        dir.path(),
        &[&exact_q[..], &["--format", "json", "whole.log"]].concat(),
        b"",
    ));
    let (mut evicted, mut bloom) = (false, false);
    for merged in [by_start(&once), by_start(&tree)] {
        assert_eq!(
            merged.keys().collect::<Vec<_>>(),
            exact.keys().collect::<Vec<_>>()
        );
        for (start, got) in &merged {
            let want = &exact[start];
            assert_eq!(got["lines"], want["lines"]);
            for side in ["busiest_from_host", "busiest_to_host"] {
                let truth: BTreeMap<&str, u64> = want[side]["top"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        (
                            t["host"].as_str().unwrap(),
                            t["connections"].as_u64().unwrap(),
                        )
                    })
                    .collect();
                let mut true_rank: Vec<(&str, u64)> = truth.iter().map(|(h, c)| (*h, *c)).collect();
                true_rank.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                let cut = true_rank[7.min(true_rank.len() - 1)].1;
                for t in got[side]["top"].as_array().unwrap() {
                    let host = t["host"].as_str().unwrap();
                    let (c, e) = (
                        t["connections"].as_u64().unwrap(),
                        t["error"].as_u64().unwrap(),
                    );
                    let real = truth.get(host).copied().unwrap_or(0);
                    evicted |= e > 0;
                    assert!(
                        c - e <= real && real <= c,
                        "{start} {side} {host}: {real} not in [{}, {c}]",
                        c - e
                    );
                    if t["guaranteed"] == true {
                        assert!(
                            real >= cut,
                            "{start} {side} {host} guaranteed but {real} < {cut}"
                        );
                    }
                }
            }
            for side in ["to_host", "from_host"] {
                let truth: Vec<&str> = want[side]["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap())
                    .collect();
                bloom |= got[side]["missed_rate"].as_f64().unwrap() > 0.0;
                for h in got[side]["hosts"].as_array().unwrap() {
                    assert!(
                        truth.contains(&h.as_str().unwrap()),
                        "{start} {side}: {h} is no true host"
                    );
                }
            }
        }
    }
    assert!(evicted && bloom, "the sketches were put to work");
    // HyperLogLog and list unions do not depend on the grouping.
    let (a, b) = (by_start(&once), by_start(&tree));
    for (start, x) in &a {
        let y = &b[start];
        assert_eq!(
            x["busiest_from_host"]["initiators"],
            y["busiest_from_host"]["initiators"]
        );
        assert_eq!(
            x["busiest_to_host"]["receivers"],
            y["busiest_to_host"]["receivers"]
        );
        for side in ["to_host", "from_host"] {
            assert_eq!(x[side], y[side], "{start} {side}");
        }
    }
}

#[test]
fn approximate_partials_do_not_grow_with_the_number_of_hosts() {
    let dir = TempDir::new().unwrap();
    let size = |hosts: i64| {
        let text: String = (0..20_000)
            .map(|i: i64| format!("{} h{} h{}\n", T0 + i, i % hosts, (i * 7) % hosts))
            .collect();
        std::fs::write(dir.path().join("a.log"), text).unwrap();
        let q = [
            "--approx",
            "--top_k",
            "64",
            "--hll_precision",
            "8",
            "--busiest_from_host",
            "--busiest_to_host",
        ];
        ok(
            dir.path(),
            &[&q[..], &["--format", "partial", "a.log"]].concat(),
            b"",
        )
        .len()
    };
    let (few, many) = (size(2_000), size(20_000));
    // Space-Saving holds at most 64 counters, the HyperLogLog its registers:
    // ten times the hosts, about the same bytes.
    assert!(
        many < few * 3 / 2,
        "{few} bytes for 2000 hosts, {many} for 20000"
    );
}

/// `lines` as a VPC flow log (start times in seconds), each connection
/// carrying bytes and packets drawn from its place, some past 2^32.
fn vpc_log(lines: &[(i64, u8, u8)]) -> String {
    let names = ["10.0.0.1", "10.0.0.2", "2001:db8::3", "web", "db", "zyla"];
    lines
        .iter()
        .enumerate()
        .map(|(i, &(t, a, b))| {
            let secs = (T0 + t) / 1000;
            let bytes = [0u64, 60, 1500, 5_000_000_000, 77][i % 5];
            let packets = [1u64, 0, 3, 40][i % 4];
            format!(
                "2 123456789012 eni-0a {} {} 40000 443 6 {packets} {bytes} {secs} {} ACCEPT OK\n",
                names[a as usize % names.len()],
                names[b as usize % names.len()],
                secs + 60
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// `--by bytes` and `--by packets` keep the merge laws: exact partials
    /// of any split, in any order, merge to the direct run byte for byte;
    /// approximate ones merge to one answer whatever their order.
    #[test]
    fn merges_ranking_by_bytes_or_packets_keep_the_laws(
        lines in lines_strategy(120),
        cuts in prop::collection::vec(0usize..160, 0..6),
        order in prop::collection::vec(any::<u32>(), 0..300),
        other in prop::collection::vec(any::<u32>(), 0..300),
        bytes in any::<bool>(),
        hourly in any::<bool>(),
    ) {
        let dir = TempDir::new().unwrap();
        let text = vpc_log(&lines);
        std::fs::write(dir.path().join("whole.log"), &text).unwrap();
        let mut query = vec![
            "--busiest_from_host", "--busiest_to_host", "--top", "3",
            "--by", if bytes { "bytes" } else { "packets" },
        ];
        if hourly {
            query.push("--hourly");
        }
        let parts = split_at_lines(&text, &cuts);
        let mixed = shuffled(&partials(dir.path(), &query, &parts), &order);
        for format in ["text", "json", "tsv"] {
            let mut direct = query.clone();
            direct.extend(["--format", format, "whole.log"]);
            let want = ok(dir.path(), &direct, b"");
            let merged = ok(dir.path(), &["--merge", "--format", format], mixed.as_bytes());
            prop_assert_eq!(&merged, &want, "{}", format);
        }
        let mut approx = query.clone();
        approx.extend(["--approx", "--top_k", "64"]);
        let approx_parts = partials(dir.path(), &approx, &parts);
        let one = ok(dir.path(), &["--merge", "--format", "json"], shuffled(&approx_parts, &order).as_bytes());
        let two = ok(dir.path(), &["--merge", "--format", "json"], shuffled(&approx_parts, &other).as_bytes());
        prop_assert_eq!(one, two);
    }
}
