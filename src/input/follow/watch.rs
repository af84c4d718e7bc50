//! Waking up on changes: an inotify watch on the followed path's directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::file::file_id;

/// How often the path is checked even though a watch reports its changes.
pub(super) const RESCAN_INTERVAL: Duration = Duration::from_secs(1);

/// How often a failed watch is tried again while polling.
pub(super) const REWATCH_INTERVAL: Duration = Duration::from_secs(1);

/// An inotify watch on the followed path's directory.
pub(super) struct Watch {
    /// Kept alive for its thread, which signals `wake`.
    pub(super) _watcher: RecommendedWatcher,
    /// Holds at most one pending wake-up: several events coalesce into one.
    pub(super) wake: Receiver<()>,
    pub(super) dir: PathBuf,
    /// (device, inode) of the watched directory: if the directory is replaced,
    /// the watch sees nothing more and must be set up again.
    pub(super) dir_id: (u64, u64),
    pub(super) last_check: Instant,
}

impl Watch {
    pub(super) fn start(path: &Path) -> notify::Result<Watch> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().expect("checked in new").to_owned();
        let (tx, wake) = mpsc::sync_channel(1);
        let watched_dir = dir.clone();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let relevant = match &res {
                    // Opening and closing change nothing (and the follower's own
                    // opens would wake it); the writes themselves are modify events.
                    Ok(event) => {
                        !matches!(event.kind, EventKind::Access(_))
                            && (event.need_rescan()
                                || event.paths.is_empty()
                                || event
                                    .paths
                                    .iter()
                                    .any(|p| p.file_name() == Some(&name) || *p == watched_dir))
                    }
                    Err(_) => true,
                };
                if relevant {
                    // Full means a wake-up is already pending, which is enough.
                    let _ = tx.try_send(());
                }
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        let dir_id = fs::metadata(&dir).map_err(notify::Error::io)?;
        Ok(Watch {
            _watcher: watcher,
            wake,
            dir,
            dir_id: file_id(&dir_id),
            last_check: Instant::now(),
        })
    }
}
