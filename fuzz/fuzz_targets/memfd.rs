//! In-memory files for the targets that run connspy on a path: a `memfd`
//! is a regular file (so it is mapped, as a file on disk is) that costs no
//! disk, named through `/proc/self/fd`.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::PathBuf;

/// A `memfd` holding `data`.
pub fn memfd(data: &[u8]) -> File {
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the fd it
    // returns is owned by the File from here on.
    let fd = unsafe { libc::memfd_create(c"connspy-fuzz".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(data).unwrap();
    file
}

/// The path through which this process opens `fd`.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    format!("/proc/self/fd/{}", fd.as_raw_fd()).into()
}
