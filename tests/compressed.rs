//! Compressed input end to end: the real binary on gzip and zstd files and
//! streams the tests write, against the answer for the same plain lines.

use std::io::Write;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use proptest::prelude::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One zstd frame, with the checksum the zstd tool writes by default.
fn zstd(data: &[u8]) -> Vec<u8> {
    let mut e = zstd::Encoder::new(Vec::new(), 1).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Three hours of lines with a few busy hosts, some lines out of order.
fn log(lines: usize) -> Vec<u8> {
    let t0 = 1_565_647_200_000i64;
    (0..lines)
        .flat_map(|i| {
            let ts = t0 + (i as i64 * 10_800_000 / lines as i64) - (i as i64 % 7) * 1000;
            format!("{ts} Host{} dst{}\n", i * 7919 % 53, i % 11).into_bytes()
        })
        .collect()
}

const QUERY: [&str; 6] = [
    "--busiest_from_host",
    "--to_host",
    "dst3",
    "--hourly",
    "--format",
    "json",
];

fn run(dir: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> Output {
    let mut cmd = Command::cargo_bin("connspy").unwrap();
    cmd.current_dir(dir).args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    cmd.output().unwrap()
}

fn answer(dir: &Path, files: &[&str], extra: &[&str]) -> Output {
    let args: Vec<&str> = QUERY.iter().chain(extra).chain(files).copied().collect();
    run(dir, &args, None)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Exit 2, nothing on stdout, and stderr names the file and an offset.
fn input_error(out: &Output, file: &str, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        out.stdout.is_empty(),
        "printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains(file) && err.contains(what), "{err}");
    err
}

#[test]
fn gzip_and_zstd_files_answer_as_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = log(30_000);
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    // Named so that nothing but the magic bytes can tell what they hold.
    std::fs::write(dir.path().join("gz.log"), gzip(&text)).unwrap();
    std::fs::write(dir.path().join("zst.txt"), zstd(&text)).unwrap();
    let plain = ok(&answer(dir.path(), &["a.log"], &[]));
    assert!(plain.contains("\"busiest_from_host\""), "{plain}");
    for file in ["gz.log", "zst.txt"] {
        for threads in ["1", "3"] {
            let out = answer(
                dir.path(),
                &[file],
                &["--threads", threads, "--chunk_size", "4096"],
            );
            assert_eq!(ok(&out), plain, "{file}, {threads} threads");
        }
    }
}

#[test]
fn every_gzip_member_and_zstd_frame_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let text = log(20_000);
    let parts: Vec<&[u8]> = text.chunks(7_777).collect();
    // bgzip and `cat a.gz b.gz` both make multi-member files; cut mid-line too.
    let members: Vec<u8> = parts.iter().flat_map(|p| gzip(p)).collect();
    let frames: Vec<u8> = parts.iter().flat_map(|p| zstd(p)).collect();
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    std::fs::write(dir.path().join("m.gz"), members).unwrap();
    std::fs::write(dir.path().join("m.zst"), frames).unwrap();
    let plain = ok(&answer(dir.path(), &["a.log"], &[]));
    assert_eq!(ok(&answer(dir.path(), &["m.gz"], &[])), plain);
    assert_eq!(ok(&answer(dir.path(), &["m.zst"], &[])), plain);
}

#[test]
fn compressed_standard_input_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let text = log(10_000);
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    let plain = ok(&answer(dir.path(), &["a.log"], &[]));
    for packed in [gzip(&text), zstd(&text)] {
        assert_eq!(ok(&run(dir.path(), &QUERY, Some(packed.clone()))), plain);
        let mut args = QUERY.to_vec();
        args.push("-");
        assert_eq!(ok(&run(dir.path(), &args, Some(packed))), plain);
    }
}

#[test]
fn a_time_range_gives_the_same_answer_without_a_seek() {
    let dir = tempfile::tempdir().unwrap();
    let text = log(30_000);
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    std::fs::write(dir.path().join("a.log.gz"), gzip(&text)).unwrap();
    let range = [
        "--time_init",
        "1565650800000",
        "--time_end",
        "1565654400000",
    ];
    let plain = ok(&answer(dir.path(), &["a.log"], &range));
    assert_eq!(ok(&answer(dir.path(), &["a.log.gz"], &range)), plain);
}

#[test]
fn other_compressed_formats_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, magic, format) in [
        ("a.bz2", &b"BZh91AY&SY\x01\x02"[..], "bzip2"),
        ("a.xz", &b"\xfd7zXZ\x00\x00\x04"[..], "xz"),
        ("a.lz4", &b"\x04\x22\x4d\x18\x64\x40"[..], "lz4"),
    ] {
        std::fs::write(dir.path().join(name), magic).unwrap();
        let err = input_error(&answer(dir.path(), &[name], &[]), name, format);
        assert!(err.contains("not supported"), "{err}");
        let piped = run(dir.path(), &QUERY, Some(magic.to_vec()));
        input_error(&piped, "<stdin>", format);
    }
}

#[test]
fn truncated_and_corrupt_files_are_input_errors_with_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let text = log(30_000);
    std::fs::write(dir.path().join("ok.log"), &text).unwrap();
    for (ext, packed) in [("gz", gzip(&text)), ("zst", zstd(&text))] {
        let cut = packed.len() * 2 / 3;
        let truncated = format!("t.{ext}");
        std::fs::write(dir.path().join(&truncated), &packed[..cut]).unwrap();
        let err = input_error(
            &answer(dir.path(), &["ok.log", &truncated], &[]),
            &truncated,
            "byte",
        );
        assert!(err.contains(&format!("byte {cut}")), "{err}");
        let mut bad = packed.clone();
        let mid = bad.len() / 2;
        bad[mid..mid + 8].copy_from_slice(b"garbage!");
        let corrupt = format!("c.{ext}");
        std::fs::write(dir.path().join(&corrupt), bad).unwrap();
        input_error(&answer(dir.path(), &[&corrupt], &[]), &corrupt, "byte");
        // The approximate mode releases hours as it goes; a corrupt file still
        // ends it with the error.
        let out = answer(dir.path(), &[&corrupt], &["--approx"]);
        assert_eq!(out.status.code(), Some(2));
        // Piped: the same error, for standard input (without --hourly, which
        // on a stream prints each hour as soon as it is complete).
        let piped = run(dir.path(), &QUERY[..3], Some(packed[..cut].to_vec()));
        input_error(&piped, "<stdin>", "byte");
    }
}

#[test]
fn tail_on_a_compressed_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.log.gz"), gzip(&log(100))).unwrap();
    std::fs::write(dir.path().join("b.log"), zstd(&log(100))).unwrap();
    for file in ["a.log.gz", "b.log"] {
        let out = run(dir.path(), &["--busiest_from_host", "--tail", file], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(file) && err.contains("compressed"), "{err}");
    }
}

#[test]
fn tail_reports_a_corrupt_earlier_file_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let text = log(3_000);
    let packed = gzip(&text);
    std::fs::write(dir.path().join("old.gz"), &packed[..packed.len() / 2]).unwrap();
    // Standard input is followed to its end, so the run ends by itself.
    let out = run(
        dir.path(),
        &[
            "--busiest_from_host",
            "--tail",
            "--format",
            "json",
            "old.gz",
            "-",
        ],
        Some(text),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("old.gz") && err.contains("byte"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("busiest_from_host"));
}

/// Exit 0, the answer of the plain lines, and on stderr only the warning
/// that names the zero padding.
fn padded(out: &Output, plain: &str, file: &str, zeros: usize) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), plain);
    let bytes = if zeros == 1 { "byte" } else { "bytes" };
    assert_eq!(
        err,
        format!(
            "connspy: warning: {file}: {zeros} trailing zero {bytes} ignored after the last \
             gzip member\n"
        )
    );
}

/// GNU gzip decodes a file padded with zero bytes after its last member (as
/// tape and some log shippers write) and says so; connspy refused it as
/// corrupt ("invalid gzip header"). Every line counts, and stderr names the
/// file and the padding: read as a file, piped, in tail mode (as a file
/// before the followed input, and as the followed standard input), and as
/// partials for `--merge`.
#[test]
fn zero_padding_after_the_last_gzip_member_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let text = log(5_000);
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    let plain = ok(&answer(dir.path(), &["a.log"], &[]));
    for zeros in [1, 512, 300_000] {
        let packed = [gzip(&text[..9_999]), gzip(&text[9_999..]), vec![0; zeros]].concat();
        std::fs::write(dir.path().join("z.gz"), &packed).unwrap();
        padded(&answer(dir.path(), &["z.gz"], &[]), &plain, "z.gz", zeros);
        let piped = run(dir.path(), &QUERY, Some(packed.clone()));
        padded(&piped, &plain, "<stdin>", zeros);
    }
    let packed = [gzip(&text), vec![0; 512]].concat();
    std::fs::write(dir.path().join("z.gz"), &packed).unwrap();
    // Tail mode: standard input is followed to its end, so the run ends.
    let tail = ["--busiest_from_host", "--tail", "--format", "json"];
    let expected = run(dir.path(), &tail, Some(text.clone()));
    let tail_args: Vec<&str> = tail.iter().copied().chain(["z.gz", "-"]).collect();
    let out = run(dir.path(), &tail_args, Some(Vec::new()));
    padded(&out, &ok(&expected), "z.gz", 512);
    let out = run(dir.path(), &tail, Some(packed.clone()));
    padded(&out, &ok(&expected), "<stdin>", 512);
    // Partials, gzipped with padding, merged.
    let partials = run(
        dir.path(),
        &[
            "--busiest_from_host",
            "--hourly",
            "--format",
            "partial",
            "a.log",
        ],
        None,
    );
    let partials = ok(&partials).into_bytes();
    std::fs::write(
        dir.path().join("p.gz"),
        [gzip(&partials), vec![0; 512]].concat(),
    )
    .unwrap();
    let merged = run(dir.path(), &["--merge", "--format", "json", "p.gz"], None);
    let direct = run(
        dir.path(),
        &[
            "--busiest_from_host",
            "--hourly",
            "--format",
            "json",
            "a.log",
        ],
        None,
    );
    padded(&merged, &ok(&direct), "p.gz", 512);
}

/// Bytes after the last complete gzip member that are neither a member nor
/// zero padding were reported as corruption ("invalid gzip header"), or for
/// a byte or two as "unexpected end of file": they are trailing garbage, an
/// input error naming the file and the byte where the garbage starts. zstd
/// refused them already (as the zstd tool does, zero padding included), with
/// a message that did not say so; a skippable frame is a frame.
#[test]
fn garbage_after_the_last_member_or_frame_is_an_input_error_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let text = log(5_000);
    std::fs::write(dir.path().join("a.log"), &text).unwrap();
    for (ext, packed) in [("gz", gzip(&text)), ("zst", zstd(&text))] {
        let unit = if ext == "gz" {
            "gzip member"
        } else {
            "zstd frame"
        };
        let end = packed.len();
        let what = format!("trailing garbage after the last complete {unit} (from byte {end} ");
        for tail in [&b"x"[..], b"garbage!\n1565647200000 a b\n", b"\0\0\0\0x"] {
            let name = format!("g.{ext}");
            std::fs::write(dir.path().join(&name), [&packed[..], tail].concat()).unwrap();
            input_error(&answer(dir.path(), &["a.log", &name], &[]), &name, &what);
            let piped = run(dir.path(), &QUERY[..3], Some([&packed[..], tail].concat()));
            input_error(&piped, "<stdin>", &what);
        }
    }
    let skippable = b"\x50\x2a\x4d\x18\x04\x00\x00\x00skip";
    std::fs::write(
        dir.path().join("s.zst"),
        [zstd(&text), skippable.to_vec()].concat(),
    )
    .unwrap();
    let plain = ok(&answer(dir.path(), &["a.log"], &[]));
    assert_eq!(ok(&answer(dir.path(), &["s.zst"], &[])), plain);
}

fn as_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Plain, gzip and zstd give the same JSON, whatever the threads and
    /// however the lines are split into files (and members or frames). The
    /// approximate mode releases hours behind a watermark, in waves of chunks
    /// whose bounds differ between a mapped file and a decoded stream; lines
    /// out of order are still late or not by their order alone, and at this
    /// size its sketches hold every host, so its answers must agree too.
    #[test]
    fn compression_never_changes_the_answer(
        lines in prop::collection::vec((0i64..4 * 3_600_000, 0u8..20, 0u8..6), 1..400),
        cuts in prop::collection::vec(0usize..400, 0..4),
        threads in 1usize..4,
        approx in any::<bool>(),
    ) {
        let t0 = 1_565_647_200_000i64;
        let text: Vec<u8> = lines
            .iter()
            .flat_map(|(t, a, b)| format!("{} h{a} D{b}\n", t0 + t).into_bytes())
            .collect();
        let mut bounds: Vec<usize> = cuts
            .iter()
            .map(|c| {
                let nth = c % lines.len();
                text.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(nth).map_or(0, |(i, _)| i + 1)
            })
            .collect();
        bounds.push(0);
        bounds.push(text.len());
        bounds.sort_unstable();
        bounds.dedup();
        let dir = tempfile::tempdir().unwrap();
        let threads = threads.to_string();
        let mut extra = vec!["--threads", threads.as_str(), "--chunk_size", "512"];
        if approx {
            extra.push("--approx");
        }
        let mut plain_files = Vec::new();
        let mut gz_files = Vec::new();
        let mut zst_files = Vec::new();
        for (i, w) in bounds.windows(2).enumerate() {
            let part = &text[w[0]..w[1]];
            let name = |ext: &str| format!("p{i}.{ext}");
            std::fs::write(dir.path().join(name("log")), part).unwrap();
            // Two members or frames per file, cut anywhere.
            let mid = part.len() / 2;
            std::fs::write(dir.path().join(name("gz")), [gzip(&part[..mid]), gzip(&part[mid..])].concat()).unwrap();
            std::fs::write(dir.path().join(name("zst")), [zstd(&part[..mid]), zstd(&part[mid..])].concat()).unwrap();
            plain_files.push(name("log"));
            gz_files.push(name("gz"));
            zst_files.push(name("zst"));
        }
        let plain = answer(dir.path(), &as_refs(&plain_files), &extra);
        prop_assert!(plain.status.success());
        for files in [&gz_files, &zst_files] {
            let out = answer(dir.path(), &as_refs(files), &extra);
            prop_assert!(out.status.success());
            prop_assert_eq!(&out.stdout, &plain.stdout);
        }
    }
}
