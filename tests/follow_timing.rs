//! The file follower's wall-clock behaviour: append-to-return latency with
//! inotify and when polling, and the cost of waiting on a quiet file. These
//! assert times and CPU use, which a loaded CI machine cannot promise, so they
//! are ignored by default; run them alone on a quiet machine:
//! `cargo test --release --test tests follow_timing -- --ignored --nocapture --test-threads 1`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use connspy::input::follow::{FollowOptions, Follower};

/// How long any one expectation may take before the test fails.
const LIMIT: Duration = Duration::from_secs(20);

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

fn join(writer: thread::JoinHandle<()>) {
    writer.join().expect("the writer thread panicked");
}

/// Append-to-return latency of single lines, one in flight at a time.
fn latencies(options: FollowOptions, samples: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut f = Follower::new(&path, options).unwrap();
    let (stamp_tx, stamp_rx) = mpsc::channel::<Instant>();
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let writer = {
        let path = path.clone();
        thread::spawn(move || {
            let mut app = appender(&path);
            for i in 0..samples {
                let line = format!("2024-01-01T00:00:{:02}Z a b {i}\n", i % 60);
                let t = Instant::now();
                app.write_all(line.as_bytes()).unwrap();
                stamp_tx.send(t).unwrap();
                // The next line only once this one was returned.
                if ack_rx.recv_timeout(LIMIT).is_err() {
                    return;
                }
            }
        })
    };
    let mut out = Vec::with_capacity(samples);
    while out.len() < samples {
        // One long wait: a shorter one would return and look again by itself,
        // hiding how soon the follower notices on its own.
        let block = f
            .next_block(LIMIT)
            .unwrap()
            .unwrap_or_else(|| panic!("line {} never came", out.len()));
        let returned = Instant::now();
        let written = stamp_rx.recv_timeout(LIMIT).unwrap();
        assert_eq!(block.iter().filter(|&&b| b == b'\n').count(), 1);
        out.push(returned.saturating_duration_since(written));
        ack_tx.send(()).unwrap();
    }
    join(writer);
    out.sort();
    out
}

fn summary(name: &str, l: &[Duration]) -> (Duration, Duration) {
    let (median, p99, max) = (l[l.len() / 2], l[l.len() * 99 / 100], l[l.len() - 1]);
    eprintln!(
        "{name}: {} appends, latency median {median:?}, p99 {p99:?}, max {max:?}",
        l.len()
    );
    (median, max)
}

#[test]
#[ignore = "wall-clock assertions: run alone on a quiet machine with --ignored"]
fn follow_latency_with_inotify() {
    let l = latencies(opts(1 << 20), 300);
    let (median, max) = summary("inotify", &l);
    assert!(max < Duration::from_secs(2), "{max:?}");
    assert!(median < Duration::from_millis(100), "{median:?}");
}

#[test]
#[ignore = "wall-clock assertions: run alone on a quiet machine with --ignored"]
fn follow_latency_when_polling() {
    let o = FollowOptions {
        watch: false,
        ..opts(1 << 20)
    };
    let l = latencies(o, 12);
    let (median, max) = summary("polling every 250 ms", &l);
    assert!(max < Duration::from_secs(2), "{max:?}");
    // At most one interval, and some slack for a busy machine.
    assert!(median < Duration::from_millis(350), "{median:?}");
}

/// Voluntary context switches and CPU time of the calling thread so far.
fn thread_cost() -> Option<(u64, Duration)> {
    let status = fs::read_to_string("/proc/thread-self/status").ok()?;
    let switches = status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()?;
    let sched = fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let cpu_ns = sched.split_whitespace().next()?.parse().ok()?;
    Some((switches, Duration::from_nanos(cpu_ns)))
}

fn idle_cost(options: FollowOptions) -> (u64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    fs::write(&path, b"already here\n").unwrap();
    let mut f = Follower::new(&path, options).unwrap();
    assert_eq!(
        f.next_block(Duration::ZERO).unwrap().as_deref(),
        Some(&b"already here\n"[..])
    );
    let Some((s0, c0)) = thread_cost() else {
        eprintln!("no /proc/thread-self: idle cost not measured");
        return (0, Duration::ZERO);
    };
    let t = Instant::now();
    assert_eq!(f.next_block(Duration::from_secs(2)).unwrap(), None);
    let took = t.elapsed();
    let (s1, c1) = thread_cost().unwrap();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "{took:?}"
    );
    (s1 - s0, c1 - c0)
}

#[test]
#[ignore = "wall-clock assertions: run alone on a quiet machine with --ignored"]
fn follow_a_quiet_file_costs_no_cpu() {
    let (wakeups, cpu) = idle_cost(opts(4096));
    eprintln!("idle 2 s, watching: {wakeups} wake-ups, {cpu:?} CPU");
    assert!(wakeups <= 10, "{wakeups} wake-ups");
    assert!(cpu < Duration::from_millis(50), "{cpu:?}");
    let polling = FollowOptions {
        watch: false,
        ..opts(4096)
    };
    let (wakeups, cpu) = idle_cost(polling);
    eprintln!("idle 2 s, polling: {wakeups} wake-ups, {cpu:?} CPU");
    assert!(wakeups <= 20, "{wakeups} wake-ups");
    assert!(cpu < Duration::from_millis(50), "{cpu:?}");
}
