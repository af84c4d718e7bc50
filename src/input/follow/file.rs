//! The followed file's identity and reads: which file the path names (by
//! device and inode), its first bytes to recognise a truncation that
//! refilled it, and `pread` at a tracked position.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

/// How many of a file's first bytes are kept to recognise it after a
/// truncation that refilled it past the read position.
pub(super) const HEAD_LEN: usize = 128;

/// A file opened for following.
pub(super) struct OpenFile {
    pub(super) file: File,
    /// (device, inode), to tell whether the path still names this file.
    pub(super) id: (u64, u64),
    /// Where the next read starts.
    pub(super) pos: u64,
    /// The file's first bytes as read, up to [`HEAD_LEN`].
    pub(super) head: Vec<u8>,
}

impl OpenFile {
    /// Records `bytes`, read at `at`, if they extend the known head.
    pub(super) fn note_head(&mut self, at: u64, bytes: &[u8]) {
        if self.head.len() < HEAD_LEN && at == self.head.len() as u64 {
            let take = (HEAD_LEN - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
    }

    /// Whether the file still starts with the bytes read from it.
    pub(super) fn head_matches(&self) -> io::Result<bool> {
        if self.head.is_empty() {
            return Ok(true);
        }
        let mut now = [0; HEAD_LEN];
        let now = &mut now[..self.head.len()];
        let n = read_at(&self.file, now, 0)?;
        Ok(now[..n] == self.head[..])
    }
}

pub(super) fn file_id(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Why a path with this metadata cannot be followed, if it cannot.
pub(super) fn untailable(meta: &fs::Metadata) -> Option<&'static str> {
    if meta.is_dir() {
        Some("is a directory")
    } else if !meta.is_file() {
        Some("not a regular file")
    } else {
        None
    }
}

/// Whether a read at the start of `file` finds nothing: an empty file, for
/// one whose stated size of 0 cannot be trusted (procfs states 0 for files
/// that hold bytes).
pub(super) fn starts_empty(file: &File) -> io::Result<bool> {
    Ok(read_at(file, &mut [0], 0)? == 0)
}

/// `pread` until `buf` is full or the file ends; the count read.
pub(super) fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
