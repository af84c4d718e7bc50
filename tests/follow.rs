//! The file follower of tail mode against real files and a real writer: bursts
//! and half-lines, copytruncate, rename-and-create, delete-and-recreate, a file
//! that does not exist yet, and a model-based run of random actions in the
//! manner of Vector's file-source tests. Latency and idle cost, which only a
//! clock can judge, are in `tests/follow_timing.rs`, outside the default suite.
//!
//! No sleep waits for the reader: the reader polls `next_block` with deadlines
//! and tells the writer what it has seen. A writer sleeps only between its own
//! steps, to make them distinct events. Every wait is bounded, so a bug fails
//! a test instead of hanging it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use connspy::input::follow::{FollowOptions, Follower, Notice, NoticeKind};
use proptest::prelude::*;

/// How long any one expectation may take before the test fails.
const LIMIT: Duration = Duration::from_secs(20);
/// How long one `next_block` call may wait.
const TICK: Duration = Duration::from_millis(100);

fn opts(block_size: usize) -> FollowOptions {
    FollowOptions {
        block_size,
        ..FollowOptions::default()
    }
}

fn appender(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// The reading side: everything returned so far, and what it has seen, shared
/// with the writer thread.
struct Reader {
    f: Follower,
    /// How long one expectation may take.
    limit: Duration,
    got: Vec<u8>,
    blocks: usize,
    notices: Vec<Notice>,
    seen: Arc<Seen>,
}

/// What the reader has seen, for a writer to wait on.
#[derive(Default)]
struct Seen {
    state: Mutex<SeenState>,
    changed: Condvar,
}

#[derive(Default)]
struct SeenState {
    bytes: usize,
    notices: Vec<NoticeKind>,
}

impl Seen {
    /// Waits until `ready` holds; panics after [`LIMIT`].
    fn wait(&self, what: &str, ready: impl Fn(&SeenState) -> bool) {
        let deadline = Instant::now() + LIMIT;
        let mut state = self.state.lock().unwrap();
        while !ready(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "writer timed out waiting for the reader: {what}"
            );
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
    }

    fn wait_bytes(&self, n: usize) {
        self.wait(&format!("{n} bytes"), |s| s.bytes >= n);
    }
}

impl Reader {
    fn new(path: &Path, opts: FollowOptions) -> Reader {
        Reader {
            f: Follower::new(path, opts).unwrap(),
            limit: LIMIT,
            got: Vec::new(),
            blocks: 0,
            notices: Vec::new(),
            seen: Arc::default(),
        }
    }

    /// One `next_block` call of at most `wait`.
    fn poll(&mut self, wait: Duration) -> bool {
        let block = self.f.next_block(wait).unwrap();
        let fresh = self.f.take_notices();
        let got_block = block.is_some();
        if let Some(block) = &block {
            assert_eq!(block.last(), Some(&b'\n'), "a block ends with a newline");
            self.got.extend_from_slice(block);
            self.blocks += 1;
        }
        if got_block || !fresh.is_empty() {
            let mut s = self.seen.state.lock().unwrap();
            s.bytes = self.got.len();
            s.notices.extend(fresh.iter().map(|n| n.kind.clone()));
            self.seen.changed.notify_all();
        }
        self.notices.extend(fresh);
        got_block
    }

    /// Polls until `done` holds; panics after `self.limit`.
    fn until(&mut self, what: &str, done: impl Fn(&Reader) -> bool) {
        let deadline = Instant::now() + self.limit;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "reader timed out waiting for {what}: got {} bytes, notices {:?}",
                self.got.len(),
                self.notices
            );
            self.poll(TICK);
        }
    }

    /// Polls until exactly `expected` has been returned.
    fn expect(&mut self, expected: &[u8]) {
        self.until("the expected bytes", |r| r.got.len() >= expected.len());
        if self.got != expected {
            let at = self
                .got
                .iter()
                .zip(expected)
                .position(|(a, b)| a != b)
                .unwrap_or(self.got.len().min(expected.len()));
            let around = |b: &[u8]| {
                String::from_utf8_lossy(&b[at.saturating_sub(40)..(at + 40).min(b.len())])
                    .into_owned()
            };
            panic!(
                "got {} bytes, expected {}; first difference at byte {at}:\n got      {:?}\n expected {:?}",
                self.got.len(),
                expected.len(),
                around(&self.got),
                around(expected)
            );
        }
    }

    fn count(&self, kind: &NoticeKind) -> usize {
        self.notices.iter().filter(|n| n.kind == *kind).count()
    }
}

/// A small deterministic generator, so that failures repeat.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn lines(tag: &str, count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|i| format!("{tag}-{i:05} {}\n", "x".repeat(i % 23)).into_bytes())
        .collect()
}

fn join(writer: thread::JoinHandle<()>) {
    writer.join().expect("the writer thread panicked");
}

#[test]
fn follow_bursts_and_half_lines_reassemble_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let text = lines("burst", 40_000);
    let mut reader = Reader::new(&path, opts(4096));
    let started = Instant::now();
    let writer = {
        let (path, text) = (path.clone(), text.clone());
        thread::spawn(move || {
            let mut out = appender(&path);
            let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
            let mut at = 0;
            let mut writes = 0;
            while at < text.len() {
                // Mostly small pieces cut anywhere (half-lines), some large bursts.
                let len = match rng.below(200) {
                    0 => 20_000 + rng.below(60_000),
                    _ => 1 + rng.below(120),
                } as usize;
                let end = (at + len).min(text.len());
                out.write_all(&text[at..end]).unwrap();
                at = end;
                writes += 1;
                if writes % 16 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            writes
        })
    };
    reader.expect(&text);
    let writes = writer.join().expect("the writer thread panicked");
    eprintln!(
        "bursts: {} bytes in {writes} writes came back in {} blocks, {:?}",
        text.len(),
        reader.blocks,
        started.elapsed()
    );
    // Nothing more arrives: no line was returned twice.
    assert!(!reader.poll(Duration::from_millis(50)));
    assert_eq!(reader.got.len(), text.len());
}

#[test]
fn follow_truncation_reads_the_file_again_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    // Rewrites shorter and longer than what was read before: a longer one can
    // be refilled past the read position before the reader looks.
    let rounds: Vec<Vec<u8>> = vec![
        lines("first", 300),
        lines("second", 40),
        lines("third", 2000),
        lines("fourth", 10),
    ];
    let mut reader = Reader::new(&path, opts(1024));
    let seen = Arc::clone(&reader.seen);
    let writer = {
        let (path, rounds) = (path.clone(), rounds.clone());
        thread::spawn(move || {
            // copytruncate: the application keeps its descriptor, opened to append.
            let mut app = appender(&path);
            let mut read_so_far = 0;
            for (i, text) in rounds.iter().enumerate() {
                if i > 0 {
                    // Only what the reader has already returned may be cut away.
                    seen.wait_bytes(read_so_far);
                    app.set_len(0).unwrap();
                }
                for piece in text.chunks(997) {
                    app.write_all(piece).unwrap();
                }
                // A half-line left behind by the truncation is discarded.
                if i + 1 < rounds.len() {
                    app.write_all(b"half-line that the truncation cuts")
                        .unwrap();
                }
                read_so_far += text.len();
            }
        })
    };
    reader.expect(&rounds.concat());
    join(writer);
    assert_eq!(
        reader.count(&NoticeKind::Truncated),
        rounds.len() - 1,
        "{:?}",
        reader.notices
    );
}

#[test]
fn follow_rename_then_create_finishes_the_old_file_then_reads_the_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let rounds = 4;
    let texts: Vec<Vec<u8>> = (0..rounds)
        .map(|k| lines(&format!("rot{k}"), 500 + 300 * k))
        .collect();
    File::create(&path).unwrap();
    let mut reader = Reader::new(&path, opts(2048));
    let seen = Arc::clone(&reader.seen);
    let writer = {
        let (path, texts) = (path.clone(), texts.clone());
        thread::spawn(move || {
            let mut expected_so_far = 0;
            for (k, text) in texts.iter().enumerate() {
                let mut app = appender(&path);
                app.write_all(text).unwrap();
                expected_so_far += text.len();
                if k + 1 == texts.len() {
                    break;
                }
                // Not two rotations before the reader has opened the file
                // between them (tail -F would miss that one too).
                seen.wait_bytes(expected_so_far);
                // The old file ends with a line still missing its newline.
                app.write_all(format!("rot{k}-unterminated").as_bytes())
                    .unwrap();
                expected_so_far += format!("rot{k}-unterminated\n").len();
                fs::rename(&path, path.with_extension(format!("log.{k}"))).unwrap();
            }
        })
    };
    let mut expected = Vec::new();
    for (k, text) in texts.iter().enumerate() {
        expected.extend_from_slice(text);
        if k + 1 < texts.len() {
            expected.extend_from_slice(format!("rot{k}-unterminated\n").as_bytes());
        }
    }
    reader.expect(&expected);
    join(writer);
    // Between the rename and the creation the path may be seen missing.
    let switches = reader.count(&NoticeKind::Replaced) + reader.count(&NoticeKind::Appeared);
    assert_eq!(switches, rounds - 1, "{:?}", reader.notices);
}

#[test]
fn follow_delete_then_recreate_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let before = lines("before", 700);
    let after = lines("after", 900);
    File::create(&path).unwrap();
    let mut reader = Reader::new(&path, opts(4096));
    let seen = Arc::clone(&reader.seen);
    let writer = {
        let (path, before, after) = (path.clone(), before.clone(), after.clone());
        thread::spawn(move || {
            let mut app = appender(&path);
            app.write_all(&before).unwrap();
            app.write_all(b"last words").unwrap();
            drop(app);
            fs::remove_file(&path).unwrap();
            // The reader is told of the deletion before the file comes back.
            seen.wait("the removal", |s| s.notices.contains(&NoticeKind::Removed));
            let mut app = appender(&path);
            app.write_all(&after).unwrap();
        })
    };
    let mut expected = before.clone();
    expected.extend_from_slice(b"last words\n");
    expected.extend_from_slice(&after);
    reader.expect(&expected);
    join(writer);
    let kinds: Vec<_> = reader.notices.iter().map(|n| n.kind.clone()).collect();
    assert_eq!(kinds, [NoticeKind::Removed, NoticeKind::Appeared]);
    assert_eq!(
        reader.notices[0].to_string(),
        format!("{}: file removed; waiting for a new one", path.display())
    );
}

#[test]
fn follow_a_file_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut reader = Reader::new(&path, opts(4096));
    // Waiting for nothing returns nothing (how long it takes is checked in
    // tests/follow_timing.rs, outside the default suite).
    assert!(!reader.poll(Duration::from_millis(200)));
    assert_eq!(reader.count(&NoticeKind::Waiting), 1);
    let text = lines("late", 1000);
    let writer = {
        let (path, text) = (path.clone(), text.clone());
        thread::spawn(move || {
            let mut app = appender(&path);
            for piece in text.chunks(4999) {
                app.write_all(piece).unwrap();
                thread::sleep(Duration::from_millis(2));
            }
        })
    };
    reader.expect(&text);
    join(writer);
    assert_eq!(reader.count(&NoticeKind::Appeared), 1);
}

#[test]
fn follow_a_file_whose_directory_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    let path = sub.join("app.log");
    let mut reader = Reader::new(&path, opts(4096));
    assert!(!reader.f.is_watching());
    assert!(
        reader
            .notices
            .iter()
            .chain(&reader.f.take_notices())
            .any(|n| matches!(n.kind, NoticeKind::Polling(_))),
        "a failed watch is reported"
    );
    fs::create_dir(&sub).unwrap();
    let mut app = appender(&path);
    app.write_all(b"one\n").unwrap();
    reader.expect(b"one\n");
    // The watch is set up once the directory exists.
    reader.until("a watch on the new directory", |r| r.f.is_watching());
    app.write_all(b"two\n").unwrap();
    reader.expect(b"one\ntwo\n");
}

#[test]
fn follow_permission_lost_is_reported_and_retried() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    fs::write(&path, b"one\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    if File::open(&path).is_ok() {
        eprintln!("running with privileges that ignore file modes: permission test skipped");
        return;
    }
    let mut reader = Reader::new(&path, opts(4096));
    reader.until("the error", |r| r.notices.iter().any(Notice::is_error));
    let shown = reader
        .notices
        .iter()
        .find(|n| n.is_error())
        .unwrap()
        .to_string();
    assert!(
        shown.contains("app.log: ") && shown.ends_with("; retrying"),
        "{shown}"
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    reader.expect(b"one\n");
    assert_eq!(reader.count(&NoticeKind::Recovered), 1);
}

#[test]
fn follow_a_directory_at_the_path_is_reported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    fs::create_dir(&path).unwrap();
    let mut reader = Reader::new(&path, opts(4096));
    reader.until("the error", |r| r.notices.iter().any(Notice::is_error));
    let seen = Arc::clone(&reader.seen);
    let writer = {
        let path = path.clone();
        thread::spawn(move || {
            seen.wait("the error", |s| {
                s.notices.iter().any(|k| matches!(k, NoticeKind::Error(_)))
            });
            fs::remove_dir(&path).unwrap();
            appender(&path).write_all(b"fine\n").unwrap();
        })
    };
    reader.expect(b"fine\n");
    join(writer);
    assert_eq!(reader.count(&NoticeKind::Recovered), 1);
}

// A model-based run: random actions on a real directory and on a model of
// what the follower must return, compared exactly. Actions that would lose
// data under any tail -F (a truncation or rotation before the reader has read
// what precedes it) first wait until the reader has caught up, as a real
// rotation a day apart would.

#[derive(Debug, Clone)]
enum Action {
    Line(usize),
    Half(usize),
    Truncate,
    Rotate,
    Delete,
    Catch,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        8 => (0usize..60).prop_map(Action::Line),
        3 => (1usize..20).prop_map(Action::Half),
        1 => Just(Action::Truncate),
        1 => Just(Action::Rotate),
        1 => Just(Action::Delete),
        2 => Just(Action::Catch),
    ]
}

struct World {
    path: PathBuf,
    app: Option<File>,
    seq: usize,
    rotations: usize,
    /// Complete lines the follower must return, in order.
    expected: Vec<u8>,
    /// The current file's unterminated end.
    pending: Vec<u8>,
    /// The unterminated end of the file that left the path, returned as a
    /// line once a new file appears (until then the old one could still grow).
    owed: Vec<u8>,
    /// The current file holds a complete line (so a caught-up reader has it open).
    has_line: bool,
}

impl World {
    fn write(&mut self, bytes: &[u8]) {
        if self.app.is_none() {
            // A new file at the path: the reader finishes the old one.
            self.expected.append(&mut self.owed);
            self.app = Some(appender(&self.path));
        }
        self.app.as_ref().unwrap().write_all(bytes).unwrap();
    }

    /// A fresh token: every piece written starts differently.
    fn token(&mut self) -> String {
        self.seq += 1;
        format!("t{:06}", self.seq)
    }

    fn line(&mut self, extra: usize) {
        let line = format!("{}{}\n", self.token(), "y".repeat(extra));
        self.write(line.as_bytes());
        self.expected.append(&mut self.pending);
        self.expected.extend_from_slice(line.as_bytes());
        self.has_line = true;
    }

    /// Before the current file goes away, the reader must have opened it.
    fn settle(&mut self, reader: &mut Reader) {
        if !self.has_line {
            self.line(0);
        }
        reader.expect(&self.expected);
    }

    fn leave_file(&mut self) {
        self.app = None;
        if !self.pending.is_empty() {
            self.owed.append(&mut self.pending);
            self.owed.push(b'\n');
        }
        self.has_line = false;
    }
}

fn run_model(actions: &[Action], block_size: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut reader = Reader::new(&path, opts(block_size));
    // Shorter than elsewhere: a failing case is shrunk, run after run.
    reader.limit = Duration::from_secs(5);
    let mut w = World {
        path: path.clone(),
        app: None,
        seq: 0,
        rotations: 0,
        expected: Vec::new(),
        pending: Vec::new(),
        owed: Vec::new(),
        has_line: false,
    };
    for a in actions {
        match *a {
            Action::Line(extra) => w.line(extra),
            Action::Half(extra) => {
                let half = format!("{}{}", w.token(), "h".repeat(extra));
                w.write(half.as_bytes());
                w.pending.extend_from_slice(half.as_bytes());
            }
            Action::Truncate if w.app.is_some() => {
                reader.expect(&w.expected);
                w.app.as_ref().unwrap().set_len(0).unwrap();
                w.pending.clear();
                w.has_line = false;
            }
            Action::Rotate if w.app.is_some() => {
                w.settle(&mut reader);
                w.rotations += 1;
                fs::rename(&path, path.with_extension(format!("log.{}", w.rotations))).unwrap();
                w.leave_file();
            }
            Action::Delete if w.app.is_some() => {
                w.settle(&mut reader);
                fs::remove_file(&path).unwrap();
                w.leave_file();
            }
            Action::Catch => reader.expect(&w.expected),
            Action::Truncate | Action::Rotate | Action::Delete => {}
        }
    }
    w.line(0);
    reader.expect(&w.expected);
    // And nothing more.
    assert!(!reader.poll(Duration::from_millis(20)));
    assert_eq!(reader.got.len(), w.expected.len());
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        max_shrink_iters: 32,
        ..ProptestConfig::default()
    })]

    #[test]
    fn follow_model_random_actions(
        actions in prop::collection::vec(action(), 1..50),
        block_size in prop_oneof![Just(1usize), Just(16), Just(4096)],
    ) {
        run_model(&actions, block_size);
    }
}
