//! `connspy --tail` end to end: the real binary follows a file that the test
//! appends to, truncates, renames and deletes, and its records are compared
//! with the batch answer for the same lines. Every wait polls the child's
//! output against a deadline; nothing sleeps to synchronise.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::schema;

/// One JSON record, checked against the documented schema.
#[track_caller]
fn parse(line: &str) -> Value {
    let v = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    schema::check(&v);
    v
}

/// 2019-08-12T22:00:00Z in Unix seconds.
const T0: i64 = 1_565_647_200;
const HOUR: i64 = 3600;
/// `--max_log_late_seconds` in these tests.
const LATE: i64 = 60;
/// Generous: the machine is shared, but a hang must still fail the test.
const DEADLINE: Duration = Duration::from_secs(20);

fn connspy() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("connspy"))
}

/// Lines of a child's stream, read on a thread.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A running `connspy --tail`.
struct Tail {
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
    /// Standard input, when it is what is followed: held open until the
    /// child ends.
    stdin: Option<ChildStdin>,
}

impl Tail {
    fn start(args: &[&str], path: &Path) -> Tail {
        Tail::spawn(args, Some(path))
    }

    /// Follows standard input, which the test writes to (`Tail::stdin`).
    fn piped(args: &[&str]) -> Tail {
        Tail::spawn(args, None)
    }

    fn spawn(args: &[&str], path: Option<&Path>) -> Tail {
        let mut cmd = connspy();
        cmd.args([
            "--to_host",
            "x",
            "--busiest_from_host",
            "--tail",
            "--format",
            "json",
        ])
        .args(["--max_log_late_seconds", &LATE.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        match path {
            Some(path) => cmd.arg(path).stdin(Stdio::null()),
            None => cmd.stdin(Stdio::piped()),
        };
        let mut child = cmd.spawn().expect("start connspy --tail");
        let out = lines_of(child.stdout.take().unwrap());
        let err = lines_of(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        Tail {
            child,
            out,
            err,
            stdin,
        }
    }

    /// The next record, within the deadline, and how long it took.
    #[track_caller]
    fn record(&self) -> (Value, Duration) {
        let t = Instant::now();
        let line = self
            .out
            .recv_timeout(DEADLINE)
            .expect("a record within the deadline");
        (parse(&line), t.elapsed())
    }

    /// Waits until stderr says something containing `what`.
    #[track_caller]
    fn stderr_says(&self, what: &str) {
        let end = Instant::now() + DEADLINE;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.err.recv_timeout(left) {
                Ok(line) if line.contains(what) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("stderr never said {what:?}");
    }

    /// Sends SIGTERM; returns the remaining records, the exit code and stderr.
    fn terminate(self) -> (Vec<Value>, i32, Vec<String>) {
        self.stop("TERM")
    }

    /// Sends `signal` (`INT` or `TERM`); returns the remaining records, the
    /// exit code and stderr. Standard input, when followed, stays open
    /// until connspy has ended.
    fn stop(mut self, signal: &str) -> (Vec<Value>, i32, Vec<String>) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("send the signal");
        let status = self.child.wait().expect("connspy exits");
        drop(self.stdin.take());
        let rest = self.out.iter().map(|l| parse(&l)).collect();
        let err = self.err.iter().collect();
        (rest, status.code().unwrap_or(-1), err)
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn line(ts: i64, from: &str, to: &str) -> String {
    format!("{ts} {from} {to}\n")
}

/// The batch answer for `log`, keyed by window start.
fn batch(dir: &Path, log: &str) -> Vec<Value> {
    batch_and_stderr(dir, log).0
}

/// The batch answer for `log` (written to `batch.log`), and its stderr.
fn batch_and_stderr(dir: &Path, log: &str) -> (Vec<Value>, String) {
    let path = dir.join("batch.log");
    fs::write(&path, log).unwrap();
    let out = connspy()
        .args([
            "--to_host",
            "x",
            "--busiest_from_host",
            "--hourly",
            "--format",
            "json",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let records = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(parse)
        .collect();
    (records, String::from_utf8(out.stderr).unwrap())
}

/// A record without the keys that only tail mode decides.
fn answers(v: &Value) -> Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("late");
    o.remove("complete");
    v
}

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    (dir, path)
}

#[test]
fn appends_half_lines_late_lines_and_sigterm() {
    let (dir, path) = tempdir();
    let mut accepted = String::new();
    let first = line(T0, "a", "x") + &line(T0 + 10, "b", "y");
    fs::write(&path, &first).unwrap();
    accepted += &first;
    let tail = Tail::start(&[], &path);

    // A half line, then its end in a second write.
    append(&path, &format!("{} ha", T0 + 100));
    append(&path, "lf x\n");
    accepted += &line(T0 + 100, "half", "x");
    // A burst that crosses into hour 1 and passes hour 0's end plus the bound.
    let burst: String = (0..50)
        .map(|i| line(T0 + 200 + i, "c", "x"))
        .collect::<String>()
        + &line(T0 + HOUR + LATE, "d", "x");
    append(&path, &burst);
    accepted += &burst;
    let (hour0, took) = tail.record();
    assert_eq!(hour0["start"], "2019-08-12T22:00:00Z");
    assert_eq!(hour0["complete"], true);
    assert_eq!(hour0["late"], 0);
    assert!(took < DEADLINE);

    // Late within the bound (hour 1) counts; late beyond it (hour 0) is dropped.
    let within = line(T0 + HOUR + 5, "e", "x");
    append(&path, &(line(T0 + 50, "late", "x") + &within));
    accepted += &within;
    let closer = line(T0 + 2 * HOUR + LATE, "f", "y");
    append(&path, &closer);
    accepted += &closer;
    let (hour1, _) = tail.record();
    assert_eq!(hour1["start"], "2019-08-12T23:00:00Z");
    assert_eq!(hour1["late"], 1);

    let (rest, code, _) = tail.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(rest[0]["start"], "2019-08-13T00:00:00Z");
    assert_eq!(rest[0]["complete"], false);

    let expected = batch(dir.path(), &accepted);
    let got: Vec<Value> = [hour0, hour1, rest[0].clone()]
        .iter()
        .map(answers)
        .collect();
    assert_eq!(got, expected.iter().map(answers).collect::<Vec<_>>());
}

#[test]
fn truncation_reads_the_file_again_from_its_start() {
    let (dir, path) = tempdir();
    let before = line(T0, "a", "x") + &line(T0 + 1, "b", "x");
    fs::write(&path, &before).unwrap();
    let tail = Tail::start(&[], &path);
    // Wait until the first bytes are surely read: a line that closes nothing
    // yet cannot be observed, so close hour 0 and see its record first.
    append(&path, &line(T0 + HOUR + LATE, "c", "y"));
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 2);
    // copytruncate: the file is emptied and written again from the start.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    tail.stderr_says("truncated");
    let after = line(T0 + HOUR + 100, "d", "x") + &line(T0 + 2 * HOUR + LATE, "e", "y");
    append(&path, &after);
    let (hour1, _) = tail.record();
    assert_eq!(hour1["start"], "2019-08-12T23:00:00Z");
    let expected = batch(
        dir.path(),
        &(before + &line(T0 + HOUR + LATE, "c", "y") + &line(T0 + HOUR + 100, "d", "x")),
    );
    assert_eq!(answers(&hour1), answers(&expected[1]));
    let (_, code, _) = tail.terminate();
    assert_eq!(code, 0);
}

#[test]
fn rename_finishes_the_old_file_then_follows_the_new_one() {
    let (dir, path) = tempdir();
    fs::write(&path, line(T0, "a", "x")).unwrap();
    let tail = Tail::start(&[], &path);
    append(&path, &line(T0 + HOUR + LATE, "b", "y"));
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 1);
    // logrotate's create mode: rename, a last write to the old file, new file.
    let rotated = dir.path().join("app.log.1");
    fs::rename(&path, &rotated).unwrap();
    append(&rotated, &line(T0 + HOUR + 100, "old", "x"));
    fs::write(&path, line(T0 + HOUR + 200, "new", "x")).unwrap();
    append(&path, &line(T0 + 2 * HOUR + LATE, "c", "y"));
    let (hour1, _) = tail.record();
    let hosts = &hour1["to_host"]["hosts"];
    assert_eq!(hosts, &serde_json::json!(["new", "old"]), "{hour1}");
    assert_eq!(hour1["lines"], 3);
    let (_, code, _) = tail.terminate();
    assert_eq!(code, 0);
}

#[test]
fn deletion_waits_for_the_file_to_come_back() {
    let (_dir, path) = tempdir();
    fs::write(&path, line(T0, "a", "x")).unwrap();
    let tail = Tail::start(&[], &path);
    append(&path, &line(T0 + HOUR + LATE, "b", "y"));
    tail.record();
    fs::remove_file(&path).unwrap();
    tail.stderr_says("removed");
    fs::write(
        &path,
        line(T0 + HOUR + 300, "back", "x") + &line(T0 + 2 * HOUR + LATE, "c", "y"),
    )
    .unwrap();
    let (hour1, _) = tail.record();
    assert_eq!(hour1["to_host"]["hosts"], serde_json::json!(["back"]));
    assert_eq!(hour1["lines"], 2);
    let (_, code, _) = tail.terminate();
    assert_eq!(code, 0);
}

#[test]
fn a_file_that_does_not_exist_yet_is_waited_for() {
    let (_dir, path) = tempdir();
    let tail = Tail::start(&[], &path);
    tail.stderr_says("waiting");
    fs::write(
        &path,
        line(T0, "a", "x") + &line(T0 + HOUR + LATE, "b", "y"),
    )
    .unwrap();
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 1);
    let (_, code, _) = tail.terminate();
    assert_eq!(code, 0);
}

#[test]
fn time_end_stops_the_run_once_the_watermark_passes_it() {
    let (_dir, path) = tempdir();
    fs::write(&path, line(T0, "a", "x")).unwrap();
    let end = (T0 + HOUR).to_string();
    let mut tail = Tail::start(&["--time_end", &end], &path);
    append(&path, &line(T0 + HOUR + LATE, "b", "y"));
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 1);
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = tail.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < end,
            "connspy did not stop after --time_end"
        );
        std::thread::yield_now();
    };
    assert!(status.success());
}

#[test]
fn max_idle_seconds_closes_hours_by_the_wall_clock() {
    let (_dir, path) = tempdir();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // A line two hours old: only the wall clock can close its hour.
    fs::write(&path, line(now - 2 * HOUR, "a", "x")).unwrap();
    let tail = Tail::start(&["--max_idle_seconds", "1"], &path);
    let (record, _) = tail.record();
    assert_eq!(record["lines"], 1);
    assert_eq!(record["complete"], true);
    let (_, code, _) = tail.terminate();
    assert_eq!(code, 0);
}

#[test]
fn future_lines_are_malformed_and_close_nothing() {
    let (_dir, path) = tempdir();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // A day ahead of the wall clock: would close every hour if it counted.
    fs::write(&path, line(T0, "a", "x") + &line(now + 24 * HOUR, "z", "x")).unwrap();
    let tail = Tail::start(&[], &path);
    // Had the future line counted, hour 0 would have closed at once with one
    // line and this one would be late.
    append(
        &path,
        &(line(T0 + 10, "b", "y") + &line(T0 + HOUR + LATE, "c", "y")),
    );
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 2);
    assert_eq!(hour0["late"], 0);
    let (_, code, err) = tail.terminate();
    assert_eq!(code, 0);
    assert!(err.iter().any(|l| l.contains("in the future")), "{err:?}");
}

#[test]
fn standard_input_ends_the_run_and_closes_all_hours() {
    let mut child = connspy()
        .args(["--busiest_from_host", "--tail", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all((line(T0, "a", "x") + &line(T0 + HOUR, "b", "y")).as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let records: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(parse)
        .collect();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r["complete"] == true));
}

#[test]
fn tail_works_in_approximate_mode_too() {
    let (_dir, path) = tempdir();
    fs::write(&path, line(T0, "a", "x") + &line(T0 + 10, "b", "x")).unwrap();
    let tail = Tail::start(&["--approx"], &path);
    append(&path, &line(T0 + HOUR + LATE, "c", "y"));
    let (hour0, _) = tail.record();
    assert_eq!(hour0["mode"], "approx");
    assert_eq!(hour0["lines"], 2);
    assert_eq!(hour0["to_host"]["hosts"], serde_json::json!(["a", "b"]));
    let (rest, code, _) = tail.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest[0]["complete"], false);
}

#[test]
fn tail_counts_only_lines_of_the_networks_asked() {
    let (_dir, path) = tempdir();
    let log = line(T0, "10.0.0.1", "x")
        + &line(T0 + 1, "192.0.2.1", "x")
        + &line(T0 + 2, "2001:db8::7", "x")
        + &line(T0 + 3, "web-01", "x");
    fs::write(&path, log).unwrap();
    let tail = Tail::start(
        &["--from_net", "10.0.0.0/8", "--from_net", "2001:db8::/32"],
        &path,
    );
    append(&path, &line(T0 + HOUR + LATE, "10.0.0.9", "y"));
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 2);
    assert_eq!(
        hour0["to_host"]["hosts"],
        serde_json::json!(["10.0.0.1", "2001:db8::7"])
    );
    let (rest, code, _) = tail.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest[0]["lines"], 1);
}

#[test]
fn tail_prints_each_bin_once_it_is_complete() {
    let (_dir, path) = tempdir();
    fs::write(&path, line(T0, "a", "x") + &line(T0 + 10, "b", "x")).unwrap();
    let tail = Tail::start(&["--bin", "5m"], &path);
    append(&path, &line(T0 + 300, "c", "x"));
    append(&path, &line(T0 + 300 + LATE, "d", "y"));
    let (bin0, _) = tail.record();
    assert_eq!(bin0["start"], "2019-08-12T22:00:00Z");
    assert_eq!(bin0["end"], "2019-08-12T22:05:00Z");
    assert_eq!(bin0["lines"], 2);
    assert_eq!(bin0["complete"], true);
    let (rest, code, _) = tail.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest[0]["lines"], 2);
    assert_eq!(rest[0]["to_host"]["hosts"], serde_json::json!(["c"]));
    assert_eq!(rest[0]["complete"], false);
}

#[test]
fn tail_ranks_the_busiest_receivers_and_initiators_hour_by_hour() {
    let (_dir, path) = tempdir();
    let log: String = [("a", "x"), ("b", "x"), ("a", "y"), ("c", "z"), ("a", "x")]
        .iter()
        .enumerate()
        .map(|(i, (from, to))| line(T0 + i as i64, from, to))
        .collect();
    fs::write(&path, log).unwrap();
    let tail = Tail::start(&["--busiest_to_host", "--top", "2"], &path);
    append(&path, &line(T0 + HOUR + LATE, "d", "w"));
    let (hour0, _) = tail.record();
    let top = |side: &str| -> Vec<(String, u64)> {
        hour0[side]["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["host"].as_str().unwrap().to_owned(),
                    t["connections"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(top("busiest_to_host"), [("x".into(), 3), ("y".into(), 1)]);
    assert_eq!(hour0["busiest_to_host"]["cut_tied"], 1, "z ties with y");
    assert_eq!(hour0["busiest_to_host"]["receivers"], 3);
    assert_eq!(top("busiest_from_host"), [("a".into(), 3), ("b".into(), 1)]);
    assert_eq!(hour0["busiest_from_host"]["top"][0]["share"], 0.6);
    let (_, code, _) = tail.terminate();
    assert_eq!(code, 0);
}

fn zeek_header(fields: &str) -> String {
    format!("#separator \\x09\n#set_separator\t,\n#path\tconn\n#fields\t{fields}\n#types\tx\n")
}

/// Zeek TSV followed through rotation: the new file starts its own header
/// block, with the fields in another order.
#[test]
fn zeek_tsv_through_rotation() {
    let (dir, path) = tempdir();
    let order1 = "ts\tuid\tid.orig_h\tid.resp_h";
    fs::write(
        &path,
        zeek_header(order1) + &format!("{T0}.000001\tC1\ta\tx\n"),
    )
    .unwrap();
    let tail = Tail::start(&[], &path);
    append(&path, &format!("{}.5\tC2\tb\ty\n", T0 + HOUR + LATE));
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 1, "{hour0}");
    assert_eq!(hour0["to_host"]["hosts"], serde_json::json!(["a"]));
    let rotated = dir.path().join("app.log.1");
    fs::rename(&path, &rotated).unwrap();
    append(
        &rotated,
        &format!("{}.1\tC3\told\tx\n#close\t2019\n", T0 + HOUR + 100),
    );
    let order2 = "id.resp_h\tid.orig_h\tts";
    fs::write(
        &path,
        zeek_header(order2) + &format!("x\tnew\t{}.2\n", T0 + HOUR + 200),
    )
    .unwrap();
    append(&path, &format!("y\tc\t{}.0\n", T0 + 2 * HOUR + LATE));
    let (hour1, _) = tail.record();
    assert_eq!(
        hour1["to_host"]["hosts"],
        serde_json::json!(["new", "old"]),
        "{hour1}"
    );
    assert_eq!(hour1["lines"], 3);
    let (_, code, err) = tail.terminate();
    assert_eq!(code, 0);
    assert!(!err.iter().any(|l| l.contains("malformed")), "{err:?}");
}

fn vpc(ts: i64, from: &str, to: &str) -> String {
    format!(
        "2 123456789012 eni-0a1b2c {from} {to} 1 2 6 1 40 {ts} {} ACCEPT OK\n",
        ts + 60
    )
}

/// VPC Flow Logs followed through rotation: a headerless file, then one with
/// a header in a custom order; NODATA records are skipped and noted.
#[test]
fn vpc_flow_logs_through_rotation() {
    let (dir, path) = tempdir();
    fs::write(&path, vpc(T0, "a", "x")).unwrap();
    let tail = Tail::start(&[], &path);
    append(
        &path,
        &format!("2 1 eni-0a1b2c - - - - - - - {T0} {} - NODATA\n", T0 + 60),
    );
    append(&path, &vpc(T0 + HOUR + LATE, "b", "y"));
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 1, "{hour0}");
    let rotated = dir.path().join("app.log.1");
    fs::rename(&path, &rotated).unwrap();
    append(&rotated, &vpc(T0 + HOUR + 100, "old", "x"));
    fs::write(
        &path,
        format!(
            "start dstaddr srcaddr log-status\n{} x new OK\n",
            T0 + HOUR + 200
        ),
    )
    .unwrap();
    append(&path, &format!("{} y c OK\n", T0 + 2 * HOUR + LATE));
    let (hour1, _) = tail.record();
    assert_eq!(
        hour1["to_host"]["hosts"],
        serde_json::json!(["new", "old"]),
        "{hour1}"
    );
    assert_eq!(hour1["lines"], 3);
    let (_, code, err) = tail.terminate();
    assert_eq!(code, 0);
    assert!(
        err.iter().any(|l| l == "connspy: note: skipped 1 VPC flow log record(s) with log-status NODATA or SKIPDATA"),
        "{err:?}"
    );
    assert!(!err.iter().any(|l| l.contains("malformed")), "{err:?}");
}

/// `--by bytes` in tail mode: each hour ranks its initiators by the bytes
/// of their connections and carries its sum.
#[test]
fn tail_ranks_by_bytes_hour_by_hour() {
    let (_dir, path) = tempdir();
    let flow = |ts: i64, from: &str, bytes: u64| {
        format!(
            "2 123456789012 eni-0a1b2c {from} x 1 2 6 1 {bytes} {ts} {} ACCEPT OK\n",
            ts + 60
        )
    };
    fs::write(
        &path,
        flow(T0, "a", 100) + &flow(T0 + 1, "b", 60) + &flow(T0 + 2, "b", 50),
    )
    .unwrap();
    let tail = Tail::start(&["--by", "bytes", "--top", "2"], &path);
    append(&path, &flow(T0 + HOUR + LATE, "c", 7));
    let (hour0, _) = tail.record();
    assert_eq!(
        (&hour0["lines"], &hour0["bytes"]),
        (&3.into(), &210.into()),
        "{hour0}"
    );
    let top = &hour0["busiest_from_host"]["top"];
    assert_eq!(
        (
            &top[0]["host"],
            &top[0]["bytes"],
            &top[1]["host"],
            &top[1]["bytes"]
        ),
        (&"b".into(), &110.into(), &"a".into(), &100.into()),
        "{hour0}"
    );
    let (rest, code, _) = tail.terminate();
    assert_eq!(code, 0);
    assert_eq!(rest[0]["bytes"], 7);
}

#[test]
fn a_line_longer_than_the_maximum_is_malformed_and_the_rest_still_counts() {
    let (_dir, path) = tempdir();
    fs::write(&path, line(T0, "a", "x")).unwrap();
    let tail = Tail::start(&["--max_line_length", "1000"], &path);
    // A line over the maximum, written in pieces, then lines after it.
    append(&path, &format!("{} ", T0 + 1));
    append(&path, &"z".repeat(3000));
    append(&path, &("z".repeat(3000) + "\n"));
    append(
        &path,
        &(line(T0 + 2, "b", "x") + &line(T0 + HOUR + LATE, "c", "y")),
    );
    let (hour0, _) = tail.record();
    assert_eq!(hour0["lines"], 2, "{hour0}");
    assert_eq!(
        hour0["to_host"]["hosts"],
        serde_json::json!(["a", "b"]),
        "{hour0}"
    );
    let (_, code, err) = tail.terminate();
    assert_eq!(code, 0);
    assert!(
        err.iter()
            .any(|l| l.contains("skipped 1 malformed line; the first at ")
                && l.contains("app.log:2: longer than --max_line_length")),
        "{err:?}"
    );
}

#[test]
fn strict_stops_at_a_followed_line_too_long_before_it_ends() {
    let (_dir, path) = tempdir();
    fs::write(&path, line(T0, "a", "x")).unwrap();
    let mut tail = Tail::start(&["--strict", "--max_line_length", "1000"], &path);
    // The line never ends: the run must stop once it passes the maximum.
    append(&path, &"z".repeat(5000));
    tail.stderr_says("app.log:2: malformed line: longer than --max_line_length");
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = tail.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < end, "connspy did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(2));
}

/// What a stopped tail (of `name`) and batch mode say about the same bytes:
/// the records without the keys only tail mode decides, and the
/// malformed-line warning with the input's name taken out.
fn compare_with_batch(dir: &Path, log: &str, tail: Vec<Value>, tail_err: &[String], name: &str) {
    let (expected, batch_err) = batch_and_stderr(dir, log);
    let answers = |v: &[Value]| v.iter().map(answers).collect::<Vec<_>>();
    assert_eq!(answers(&tail), answers(&expected));
    let malformed = |lines: Vec<&str>, name: &str| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| l.contains("malformed"))
            .map(|l| l.replace(name, "LOG"))
            .collect()
    };
    assert_eq!(
        malformed(tail_err.iter().map(String::as_str).collect(), name),
        malformed(
            batch_err.lines().collect(),
            &dir.join("batch.log").display().to_string()
        ),
    );
}

/// SIGINT or SIGTERM ends tail mode as the end of its input would end batch
/// mode: the unterminated last line the follower holds is read as batch
/// mode reads a file's last line (a record, or a malformed line counted and
/// located), where it was dropped without a word.
#[test]
fn a_stop_counts_the_unterminated_last_line_as_batch_mode_does() {
    let complete =
        line(T0, "a", "x") + &line(T0 + 10, "b", "y") + &line(T0 + HOUR + LATE, "c", "x");
    for (signal, last) in [
        ("INT", format!("{} z x", T0 + HOUR + 100)),
        ("TERM", "not a line".to_owned()),
    ] {
        let (dir, path) = tempdir();
        // All of it written before the start, in fewer bytes than one read:
        // once hour 0's record is out, the follower holds the last line.
        let log = format!("{complete}{last}");
        fs::write(&path, &log).unwrap();
        let tail = Tail::start(&[], &path);
        let (hour0, _) = tail.record();
        let (rest, code, err) = tail.stop(signal);
        assert_eq!(code, 0, "{err:?}");
        assert!(rest.iter().all(|r| r["complete"] == false), "{rest:?}");
        let got: Vec<Value> = std::iter::once(hour0).chain(rest).collect();
        compare_with_batch(dir.path(), &log, got, &err, &path.display().to_string());
    }
}

/// The same for standard input, followed while its writer keeps it open:
/// its reader notices the stop and hands over its unterminated last line,
/// as at the end of input.
#[test]
fn a_stop_counts_the_unterminated_last_line_of_standard_input_too() {
    let complete =
        line(T0, "a", "x") + &line(T0 + 10, "b", "y") + &line(T0 + HOUR + LATE, "c", "x");
    for (signal, last) in [
        ("TERM", format!("{} z x", T0 + HOUR + 100)),
        ("INT", "not a line".to_owned()),
    ] {
        let (dir, _) = tempdir();
        let log = format!("{complete}{last}");
        let mut tail = Tail::piped(&[]);
        // One write, far below a pipe's atomic size: read in one piece, so
        // once hour 0's record is out, the reader holds the last line.
        let stdin = tail.stdin.as_mut().unwrap();
        stdin.write_all(log.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let (hour0, _) = tail.record();
        let (rest, code, err) = tail.stop(signal);
        assert_eq!(code, 0, "{err:?}");
        assert!(rest.iter().all(|r| r["complete"] == false), "{rest:?}");
        let got: Vec<Value> = std::iter::once(hour0).chain(rest).collect();
        compare_with_batch(dir.path(), &log, got, &err, "<stdin>");
    }
}
