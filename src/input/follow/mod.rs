//! Following one growing file the way `tail -F` does, in blocks of whole lines,
//! and [`Feed`], the followed input of tail mode (such a file, or standard
//! input) handed out in groups.
//!
//! Tail mode reads what the followed file already holds and then waits for
//! more. The file is never memory-mapped: a mapped file that shrinks (a
//! copytruncate rotation) kills the process with SIGBUS, so it is read with
//! `pread` at a tracked position instead.
//!
//! Waking up: the parent directory is watched with inotify (through `notify`),
//! so appends, creation, renaming and deletion of the path wake the reader
//! within milliseconds. Watching the directory rather than the file is what
//! lets a new file at the same path be seen. Where no watch can be set up (no
//! inotify, the directory does not exist yet, the watch limit is reached) the
//! path is polled every [`FollowOptions::poll_interval`]; a watch is tried again
//! every second. Even with a watch the path is checked once a second, a safety
//! net for events a watch cannot see (network file systems, a symbolic link
//! into another directory). Between wake-ups the reader blocks; a quiet file
//! costs no CPU.
//!
//! What happens to the file:
//! - Appends are read up to the last complete line; the unterminated rest is
//!   kept and completed by later reads.
//! - Truncation (copytruncate rotation) is seen when the file becomes shorter
//!   than the read position, or when its first bytes no longer match those
//!   already read (the file was truncated and refilled up to or past the
//!   position before the reader looked). Reading restarts at the start; a kept
//!   unterminated line is discarded. A refill that repeats the old first bytes
//!   exactly cannot be told from appends (`tail -F` cannot either).
//! - Replacement (rename or deletion, logrotate's create mode) is seen when the
//!   path names another file than the open one, compared by (device, inode).
//!   The open file is read to its end first; its unterminated last line, if
//!   any, is returned as a line of its own, as batch mode would read it. Then
//!   the new file is followed from its start. While nothing exists at the path,
//!   the old file stays open and is still read, and the reader waits.
//! - A file whose stated size is 0 but which holds bytes all the same
//!   (procfs) is read as a pipe would be: on until a read comes back empty,
//!   and on from there at every look; even without `from_start`, from its
//!   start. A stated 0 is a truncation only when the file reads as empty.
//! - Errors (permission lost, I/O errors, a directory at the path) are reported
//!   as [`Notice`]s and retried; they never end the run.

mod feed;
mod file;
mod notice;
mod watch;

pub(crate) use feed::Feed;
pub use notice::{Notice, NoticeKind};

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::thread;
use std::time::{Duration, Instant};

use file::{file_id, read_at, starts_empty, untailable, OpenFile, HEAD_LEN};
use watch::{Watch, RESCAN_INTERVAL, REWATCH_INTERVAL};

use super::line_limit::{LineBlock, LineCutter, DEFAULT_MAX_LINE_LENGTH};

/// The longest allowed [`FollowOptions::poll_interval`].
pub(crate) const MAX_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Immediate retries after a change of state before the follower waits.
const MAX_AGAINS: u32 = 8;

/// Notices kept for [`Follower::take_notices`]; older ones are dropped when the
/// caller does not collect them, so memory stays bounded.
const MAX_NOTICES: usize = 64;

/// How to follow a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowOptions {
    /// Read what the file already holds first (connspy does); otherwise start
    /// at its current end. A file that does not exist yet when following
    /// starts, and every file that later replaces it, is read from its start.
    pub from_start: bool,
    /// How often the path is polled when it cannot be watched; at most
    /// [`MAX_POLL_INTERVAL`]. Errors are retried at this interval too.
    pub poll_interval: Duration,
    /// Blocks hold about this many bytes (more when a line is longer).
    pub block_size: usize,
    /// A line longer than this many bytes is dropped, and marked where it
    /// was (see [`LineBlock`]); a reader holds at most about this plus a
    /// block.
    pub max_line: usize,
    /// Watch the parent directory with inotify; `false` polls only.
    pub watch: bool,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            from_start: true,
            poll_interval: MAX_POLL_INTERVAL,
            block_size: 1 << 20,
            max_line: DEFAULT_MAX_LINE_LENGTH,
            watch: true,
        }
    }
}

/// Follows one path through appends, truncation, rotation and deletion, and
/// yields its bytes in blocks of complete lines.
pub struct Follower {
    path: PathBuf,
    opts: FollowOptions,
    /// The file being read, if one has been opened.
    current: Option<OpenFile>,
    /// The start of a line whose `\n` has not been read yet.
    partial: Vec<u8>,
    /// Drops lines longer than [`FollowOptions::max_line`].
    lines: LineCutter,
    /// The next file opened is the one that existed when following started
    /// (read from its end unless `from_start`).
    first: bool,
    /// The path's file is gone and that has been reported.
    missing: bool,
    /// The failure last reported, until it stops.
    error: Option<String>,
    watch: Option<Watch>,
    last_watch_attempt: Instant,
    /// A failure to watch has been reported and no watch has worked since.
    polling_reported: bool,
    /// The path was a symbolic link when last opened: its target's directory
    /// is not watched, so it is polled.
    is_link: bool,
    notices: VecDeque<Notice>,
}

/// The result of one attempt to make progress.
enum Step {
    Block(LineBlock),
    /// The state changed (another file, a truncation): try again at once.
    Again,
    /// Nothing to do until something changes.
    Idle,
}

impl Follower {
    /// Starts following `path`. A path that does not exist yet is waited for.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] when `path` names no file (it ends in
    /// `..` or is a root) or `opts.poll_interval` is zero or longer than
    /// [`MAX_POLL_INTERVAL`]. Problems with the file itself are not errors but
    /// [`Notice`]s.
    pub fn new(path: &Path, opts: FollowOptions) -> io::Result<Follower> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        if path.file_name().is_none() {
            return Err(invalid(format!(
                "{}: cannot follow, it names no file",
                path.display()
            )));
        }
        if opts.poll_interval.is_zero() || opts.poll_interval > MAX_POLL_INTERVAL {
            return Err(invalid(format!(
                "poll interval {:?} must be above zero and at most {:?}",
                opts.poll_interval, MAX_POLL_INTERVAL
            )));
        }
        let opts = FollowOptions {
            block_size: opts.block_size.max(1),
            ..opts
        };
        let max_line = opts.max_line;
        let mut follower = Follower {
            path: path.to_owned(),
            opts,
            current: None,
            partial: Vec::new(),
            lines: LineCutter::new(max_line),
            first: true,
            missing: false,
            error: None,
            watch: None,
            last_watch_attempt: Instant::now(),
            polling_reported: false,
            is_link: false,
            notices: VecDeque::new(),
        };
        // Watch before the first look, so that nothing happens unseen between them.
        if follower.opts.watch {
            follower.try_watch();
        }
        follower.check_path();
        if follower.current.is_none() {
            follower.first = false;
        }
        Ok(follower)
    }

    /// The followed path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether changes are reported by an inotify watch (otherwise the path is
    /// polled).
    pub fn is_watching(&self) -> bool {
        self.watch.is_some()
    }

    /// The notices since the last call, oldest first (at most the last 64).
    pub fn take_notices(&mut self) -> Vec<Notice> {
        self.notices.drain(..).collect()
    }

    /// The next block of complete lines, each ending with `\n` (with the
    /// marks of lines too long to keep), as soon as one is available; `None`
    /// when `timeout` passes with nothing new. Bytes the file already holds
    /// come at once, in blocks of about the block size.
    ///
    /// # Errors
    /// None at present: failures on the file are retried and reported through
    /// [`Follower::take_notices`]. The `Result` leaves room for failures that
    /// cannot be retried.
    pub fn next_block(&mut self, timeout: Duration) -> io::Result<Option<LineBlock>> {
        let deadline = Instant::now().checked_add(timeout);
        // A file system that reports bytes it then will not read could make
        // "again" last forever; after a few in a row, wait instead of spinning.
        let mut agains = 0;
        loop {
            match self.step() {
                Step::Block(block) => return Ok(Some(block)),
                Step::Again if agains < MAX_AGAINS => {
                    agains += 1;
                    continue;
                }
                Step::Again | Step::Idle => agains = 0,
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            self.wait(deadline);
        }
    }

    fn step(&mut self) -> Step {
        if self.current.is_some() {
            match self.read_current() {
                Ok(Some(block)) => {
                    self.clear_error();
                    return Step::Block(block);
                }
                Ok(None) => {}
                Err(e) => {
                    self.report_error(e.to_string());
                    return Step::Idle;
                }
            }
        }
        self.check_path()
    }

    /// Reads the open file up to its last complete line; `None` when no
    /// complete line is available. A line longer than the maximum is
    /// reported (a block ending with its mark) as soon as it passes the
    /// maximum, and the rest of it is dropped as it is read.
    fn read_current(&mut self) -> io::Result<Option<LineBlock>> {
        let block_size = self.opts.block_size;
        let read_len = self.lines.read_len(block_size);
        // Time has passed since the last call: the file may have been
        // truncated and refilled up to or past the position, which only its
        // first bytes can tell. One small read per call, not per read.
        let mut head_checked = false;
        loop {
            let cur = self.current.as_mut().expect("a file is open");
            let stated = cur.file.metadata()?.len();
            // A stated size of 0 is an empty file (one emptied by
            // copytruncate, when it was read before) or a file that holds
            // bytes all the same (procfs): only a read tells, and then the
            // size again (a writer may have refilled an emptied file since
            // it was taken). The latter is read on until a read comes back
            // empty, as a pipe would be.
            let sizeless = stated == 0
                && (cur.pos == 0 || (!starts_empty(&cur.file)? && cur.file.metadata()?.len() == 0));
            let size = if sizeless { u64::MAX } else { stated };
            let refilled = !head_checked && !sizeless && size >= cur.pos && !cur.head_matches()?;
            head_checked = true;
            if size < cur.pos || refilled {
                cur.pos = 0;
                cur.head.clear();
                self.partial.clear();
                self.lines.reset();
                self.notice(NoticeKind::Truncated);
                continue;
            }
            if size == cur.pos {
                return Ok(None);
            }
            // Keep blocks near block_size, but read a line longer than that in
            // sizeable pieces rather than byte by byte.
            let room = block_size
                .saturating_sub(self.partial.len())
                .max(block_size / 4)
                .clamp(1, read_len);
            let want = usize::try_from(size - cur.pos).map_or(room, |avail| avail.min(room));
            let mut block = std::mem::take(&mut self.partial);
            let start = block.len();
            block.resize(start + want, 0);
            let n = match read_at(&cur.file, &mut block[start..], cur.pos) {
                Ok(n) => n,
                Err(e) => {
                    block.truncate(start);
                    self.partial = block;
                    return Err(e);
                }
            };
            block.truncate(start + n);
            if n == 0 {
                // Shrunk between the size and the read (the next look sees
                // it), or the end of a file without a stated size.
                self.partial = block;
                return Ok(None);
            }
            cur.note_head(cur.pos, &block[start..]);
            cur.pos += n as u64;
            let mut too_long = Vec::new();
            let taken = self
                .lines
                .take(&mut block, start, start + n, 0, &mut too_long);
            block.truncate(taken.filled);
            if taken.line_start == 0 && too_long.is_empty() {
                // Still no complete line: keep it all, without a copy.
                self.partial = block;
                continue;
            }
            self.partial = block[taken.line_start..].to_vec();
            block.truncate(taken.line_start);
            return Ok(Some(LineBlock {
                bytes: block,
                too_long,
            }));
        }
    }

    /// Looks at what the path names now and opens it when it is not the open
    /// file. Called when the open file has nothing more to give.
    fn check_path(&mut self) -> Step {
        let meta = match fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.clear_error();
                if !self.missing {
                    self.missing = true;
                    let kind = match self.current {
                        Some(_) => NoticeKind::Removed,
                        None => NoticeKind::Waiting,
                    };
                    self.notice(kind);
                }
                return Step::Idle;
            }
            Err(e) => {
                self.report_error(e.to_string());
                return Step::Idle;
            }
        };
        if let Some(why) = untailable(&meta) {
            self.report_error(why.to_owned());
            return Step::Idle;
        }
        let id = file_id(&meta);
        if let Some(cur) = &self.current {
            if cur.id == id {
                self.clear_error();
                return Step::Idle;
            }
            // Another file is at the path: finish the open one first.
            match cur.file.metadata() {
                Ok(m) if m.len() > cur.pos => return Step::Again,
                _ => {}
            }
        }
        let opened = File::open(&self.path).and_then(|file| {
            let meta = file.metadata()?;
            Ok((file, meta))
        });
        let (file, meta) = match opened {
            Ok(x) => x,
            Err(e) => {
                self.report_error(e.to_string());
                return Step::Idle;
            }
        };
        if let Some(why) = untailable(&meta) {
            self.report_error(why.to_owned());
            return Step::Idle;
        }
        let mut opened = OpenFile {
            file,
            id: file_id(&meta),
            pos: 0,
            head: Vec::new(),
        };
        if self.first && !self.opts.from_start {
            opened.pos = meta.len();
            let mut head = vec![0; HEAD_LEN.min(usize::try_from(meta.len()).unwrap_or(HEAD_LEN))];
            match read_at(&opened.file, &mut head, 0) {
                Ok(n) => head.truncate(n),
                Err(e) => {
                    self.report_error(e.to_string());
                    return Step::Idle;
                }
            }
            opened.head = head;
        }
        self.first = false;
        self.is_link = fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink());
        let replaced = self.current.replace(opened).is_some();
        if self.missing {
            self.missing = false;
            self.notice(NoticeKind::Appeared);
        } else if replaced {
            self.notice(NoticeKind::Replaced);
        }
        self.clear_error();
        // The old file ended without a newline: its last line is complete
        // now.
        match self.take_unterminated() {
            Some(line) => Step::Block(line),
            None => Step::Again,
        }
    }

    /// The start of a line whose `\n` has not come, as a line of its own
    /// (with its `\n`), as batch mode reads a file's unterminated last line;
    /// `None` when there is none. A line being dropped for its length ends
    /// here too. For the end of the open file: it was replaced, or the
    /// follow is stopping and reads no further.
    pub fn take_unterminated(&mut self) -> Option<LineBlock> {
        self.lines.reset();
        let mut line = std::mem::take(&mut self.partial);
        if line.is_empty() {
            return None;
        }
        line.push(b'\n');
        Some(LineBlock::whole(line))
    }

    /// Blocks until a watch event, the next check, or `deadline`.
    fn wait(&mut self, deadline: Option<Instant>) {
        let now = Instant::now();
        // The watch sees neither a symbolic link's target, nor a renamed-away
        // file still being written, nor the end of a failure: poll those.
        let trusted = self.error.is_none() && !self.missing && !self.is_link;
        let interval = match &self.watch {
            Some(_) if trusted => RESCAN_INTERVAL,
            _ => self.opts.poll_interval,
        };
        let until = deadline.map_or(now + interval, |d| d.min(now + interval));
        let pause = until.saturating_duration_since(now);
        let Some(watch) = &mut self.watch else {
            thread::sleep(pause);
            if self.opts.watch && self.last_watch_attempt.elapsed() >= REWATCH_INTERVAL {
                self.try_watch();
            }
            return;
        };
        match watch.wake.recv_timeout(pause) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => {
                if watch.last_check.elapsed() >= RESCAN_INTERVAL {
                    watch.last_check = Instant::now();
                    let same_dir =
                        fs::metadata(&watch.dir).is_ok_and(|m| file_id(&m) == watch.dir_id);
                    if !same_dir {
                        self.watch = None;
                        self.last_watch_attempt = Instant::now();
                        self.try_watch();
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.watch = None;
                self.last_watch_attempt = Instant::now();
            }
        }
    }

    fn try_watch(&mut self) {
        self.last_watch_attempt = Instant::now();
        match Watch::start(&self.path) {
            Ok(watch) => {
                self.watch = Some(watch);
                self.polling_reported = false;
            }
            Err(e) => {
                if !self.polling_reported {
                    self.polling_reported = true;
                    self.notice(NoticeKind::Polling(e.to_string()));
                }
            }
        }
    }

    fn report_error(&mut self, message: String) {
        if self.error.as_ref() != Some(&message) {
            self.notice(NoticeKind::Error(message.clone()));
            self.error = Some(message);
        }
    }

    fn clear_error(&mut self) {
        if self.error.take().is_some() {
            self.notice(NoticeKind::Recovered);
        }
    }

    fn notice(&mut self, kind: NoticeKind) {
        if self.notices.len() == MAX_NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(Notice {
            path: self.path.clone(),
            kind,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn opts(block_size: usize) -> FollowOptions {
        FollowOptions {
            block_size,
            ..FollowOptions::default()
        }
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    /// Everything available now, without waiting.
    fn drain(f: &mut Follower) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(block) = f.next_block(Duration::ZERO).unwrap() {
            assert_eq!(block.last(), Some(&b'\n'), "a block ends a line");
            all.extend_from_slice(&block);
        }
        all
    }

    fn kinds(f: &mut Follower) -> Vec<NoticeKind> {
        f.take_notices().into_iter().map(|n| n.kind).collect()
    }

    #[test]
    fn follow_a_follower_can_move_to_another_thread() {
        fn is_send<T: Send>() {}
        is_send::<Follower>();
    }

    #[test]
    fn follow_rejects_bad_options() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        for poll in [Duration::ZERO, Duration::from_millis(251)] {
            let o = FollowOptions {
                poll_interval: poll,
                ..FollowOptions::default()
            };
            let e = Follower::new(&p, o).err().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        let e = Follower::new(Path::new("/"), FollowOptions::default()).err();
        assert_eq!(e.unwrap().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn follow_existing_content_comes_in_blocks_of_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let text: Vec<u8> = (0..500)
            .flat_map(|i| format!("line {i} {}\n", "x".repeat(i % 37)).into_bytes())
            .collect();
        append(&p, &text);
        for size in [1, 7, 64, 1000, 1 << 20] {
            let mut f = Follower::new(&p, opts(size)).unwrap();
            let mut all = Vec::new();
            while let Some(b) = f.next_block(Duration::ZERO).unwrap() {
                assert_eq!(b.last(), Some(&b'\n'));
                // About block_size: at most the room plus one line.
                assert!(b.len() <= size.max(64) + 64, "{} > {size}", b.len());
                all.extend_from_slice(&b);
            }
            assert_eq!(all, text, "block size {size}");
        }
    }

    #[test]
    fn follow_holds_a_line_until_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        append(&p, b"one\ntw");
        let mut f = Follower::new(&p, opts(4)).unwrap();
        assert_eq!(drain(&mut f), b"one\n");
        append(&p, b"o");
        assert_eq!(drain(&mut f), b"");
        append(&p, b"\nthree\nfo");
        assert_eq!(drain(&mut f), b"two\nthree\n");
        append(&p, b"ur\n");
        assert_eq!(drain(&mut f), b"four\n");
    }

    #[test]
    fn follow_gives_up_the_unterminated_line_it_holds_as_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        append(&p, b"one\ntw");
        let mut f = Follower::new(&p, opts(4)).unwrap();
        assert_eq!(drain(&mut f), b"one\n");
        assert_eq!(f.take_unterminated().unwrap().bytes, b"tw\n");
        assert_eq!(f.take_unterminated(), None, "given up once");
        // A line being dropped for its length leaves nothing to give up.
        let o = FollowOptions {
            max_line: 100,
            ..opts(64)
        };
        let q = dir.path().join("b.log");
        append(&q, &[b'x'; 300]);
        let mut g = Follower::new(&q, o).unwrap();
        let marked = g.next_block(Duration::ZERO).unwrap().unwrap();
        assert_eq!(marked.too_long, [0]);
        assert_eq!(g.take_unterminated(), None);
    }

    #[test]
    fn follow_from_end_skips_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        append(&p, b"old\nhalf");
        let o = FollowOptions {
            from_start: false,
            ..opts(64)
        };
        let mut f = Follower::new(&p, o.clone()).unwrap();
        assert_eq!(drain(&mut f), b"");
        append(&p, b"new\n");
        assert_eq!(drain(&mut f), b"new\n");
        // A file that replaces it is read from its start.
        fs::remove_file(&p).unwrap();
        append(&p, b"first\n");
        assert_eq!(drain(&mut f), b"first\n");
        // A file missing at the start is read from its start once it exists.
        let q = dir.path().join("b.log");
        let mut g = Follower::new(&q, o).unwrap();
        append(&q, b"b1\n");
        assert_eq!(drain(&mut g), b"b1\n");
    }

    #[test]
    fn follow_truncation_restarts_and_drops_the_partial() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        append(&p, b"aaaa\nbbbb\ncc");
        let mut f = Follower::new(&p, opts(64)).unwrap();
        assert_eq!(drain(&mut f), b"aaaa\nbbbb\n");
        // Shorter than the position.
        fs::write(&p, b"x\n").unwrap();
        assert_eq!(drain(&mut f), b"x\n");
        assert_eq!(kinds(&mut f), [NoticeKind::Truncated]);
        // Refilled past the position before the reader looked: the head differs.
        fs::write(&p, b"yyyyyyyy\nzz\n").unwrap();
        assert_eq!(drain(&mut f), b"yyyyyyyy\nzz\n");
        assert_eq!(kinds(&mut f), [NoticeKind::Truncated]);
        // Refilled to exactly the position: the size alone shows nothing.
        fs::write(&p, b"0123456\n789\n").unwrap();
        assert_eq!(drain(&mut f), b"0123456\n789\n");
        assert_eq!(kinds(&mut f), [NoticeKind::Truncated]);
        // Appends after a caught-up read are not mistaken for a truncation.
        append(&p, b"more\n");
        assert_eq!(drain(&mut f), b"more\n");
        assert!(kinds(&mut f).is_empty());
    }

    /// procfs states a size of 0 for files that hold bytes: they are read
    /// all the same, once, and not taken for files truncated at every look;
    /// a file that was read and then emptied still is a truncation. (The
    /// procfs half is skipped where there is no such file.)
    #[test]
    fn follow_a_file_whose_size_reads_zero_is_read_all_the_same() {
        let no_watch = FollowOptions {
            watch: false,
            ..opts(64)
        };
        let proc_file = Path::new("/proc/version");
        if let Ok(want) = fs::read(proc_file) {
            if want.ends_with(b"\n") && fs::metadata(proc_file).is_ok_and(|m| m.len() == 0) {
                let mut f = Follower::new(proc_file, no_watch.clone()).unwrap();
                assert_eq!(drain(&mut f), want);
                assert_eq!(drain(&mut f), b"", "read once, not again");
                assert!(kinds(&mut f).is_empty(), "no truncation");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        append(&p, b"one\n");
        let mut f = Follower::new(&p, no_watch).unwrap();
        assert_eq!(drain(&mut f), b"one\n");
        fs::write(&p, b"").unwrap();
        assert_eq!(drain(&mut f), b"");
        assert_eq!(kinds(&mut f), [NoticeKind::Truncated]);
        assert_eq!(drain(&mut f), b"");
        assert!(kinds(&mut f).is_empty(), "an empty file is truncated once");
        append(&p, b"two\n");
        assert_eq!(drain(&mut f), b"two\n");
    }

    #[test]
    fn follow_replacement_finishes_the_old_file_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        append(&p, b"old1\n");
        let mut f = Follower::new(&p, opts(64)).unwrap();
        assert_eq!(drain(&mut f), b"old1\n");
        append(&p, b"old2\nunterminated");
        fs::rename(&p, dir.path().join("a.log.1")).unwrap();
        append(&p, b"new1\n");
        assert_eq!(drain(&mut f), b"old2\nunterminated\nnew1\n");
        assert_eq!(kinds(&mut f), [NoticeKind::Replaced]);
        // Deleted: the old file is still read until another appears.
        append(&p, b"new2\n");
        fs::remove_file(&p).unwrap();
        assert_eq!(drain(&mut f), b"new2\n");
        assert_eq!(kinds(&mut f), [NoticeKind::Removed]);
        append(&p, b"again\n");
        assert_eq!(drain(&mut f), b"again\n");
        assert_eq!(kinds(&mut f), [NoticeKind::Appeared]);
    }

    #[test]
    fn follow_reports_errors_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        fs::create_dir(&p).unwrap();
        let mut f = Follower::new(&p, opts(64)).unwrap();
        assert_eq!(drain(&mut f), b"");
        assert_eq!(drain(&mut f), b"");
        let notices = f.take_notices();
        assert_eq!(notices.len(), 1, "reported once: {notices:?}");
        assert!(notices[0].is_error());
        let shown = notices[0].to_string();
        assert!(
            shown.ends_with("a.log: is a directory; retrying"),
            "{shown}"
        );
        fs::remove_dir(&p).unwrap();
        append(&p, b"ok\n");
        assert_eq!(drain(&mut f), b"ok\n");
        assert_eq!(kinds(&mut f), [NoticeKind::Recovered]);
    }

    #[test]
    fn follow_notices_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        append(&p, b"0123456789\n");
        let mut f = Follower::new(&p, opts(64)).unwrap();
        for _ in 0..MAX_NOTICES + 10 {
            drain(&mut f);
            fs::write(&p, b"\n").unwrap();
            drain(&mut f);
            fs::write(&p, b"0123456789\n").unwrap();
        }
        assert_eq!(f.take_notices().len(), MAX_NOTICES);
    }

    #[test]
    fn follow_reports_a_line_too_long_at_once_and_drops_it_in_bounded_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        append(&p, b"one\n");
        let o = FollowOptions {
            max_line: 1000,
            ..opts(64)
        };
        let mut f = Follower::new(&p, o).unwrap();
        assert_eq!(
            f.next_block(Duration::ZERO).unwrap().unwrap().bytes,
            b"one\n"
        );
        // A line without an end yet: reported once it passes the maximum.
        append(&p, &[b'x'; 600]);
        assert_eq!(f.next_block(Duration::ZERO).unwrap(), None);
        append(&p, &[b'x'; 600]);
        let marked = f.next_block(Duration::ZERO).unwrap().unwrap();
        assert_eq!(
            (&marked.bytes[..], &marked.too_long[..]),
            (&b""[..], &[0][..])
        );
        // Its rest is dropped as it comes, never held.
        for _ in 0..100 {
            append(&p, &[b'x'; 10_000]);
            assert_eq!(f.next_block(Duration::ZERO).unwrap(), None);
            assert!(
                f.partial.capacity() <= 1000 + 64,
                "{}",
                f.partial.capacity()
            );
        }
        append(&p, b"x\ntwo\n");
        assert_eq!(
            f.next_block(Duration::ZERO).unwrap().unwrap().bytes,
            b"two\n"
        );
        // A line that ends in one read, too long, is cut out between others.
        let mut text = b"three\n".to_vec();
        text.extend_from_slice(&[b'y'; 1001]);
        text.extend_from_slice(b"\nfour\n");
        append(&p, &text);
        let mut all = LineBlock::default();
        while let Some(b) = f.next_block(Duration::ZERO).unwrap() {
            all.too_long
                .extend(b.too_long.iter().map(|&o| all.bytes.len() + o));
            all.bytes.extend_from_slice(&b.bytes);
        }
        assert_eq!(
            (&all.bytes[..], &all.too_long[..]),
            (&b"three\nfour\n"[..], &[6][..])
        );
    }
}
