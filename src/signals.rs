//! SIGINT and SIGTERM as a flag, so that tail mode can finish cleanly: print
//! the open hours, then exit.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// A flag that SIGINT and SIGTERM set; the caller checks it between blocks.
///
/// The first signal only sets the flag. A second one, while the flag is still
/// set, ends the process at once (status 130 for SIGINT, 143 for SIGTERM), so
/// that a shutdown that hangs can still be interrupted. Every call returns the
/// same flag; the handlers are installed once.
///
/// # Errors
/// The OS refused to install a handler.
pub fn termination_flag() -> io::Result<Arc<AtomicBool>> {
    static FLAG: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);
    let mut slot = FLAG.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(flag) = &*slot {
        return Ok(Arc::clone(flag));
    }
    let term = Arc::new(AtomicBool::new(false));
    for (signal, status) in [(SIGINT, 130), (SIGTERM, 143)] {
        // The shutdown goes first: it sees the flag as the previous signal left it.
        flag::register_conditional_shutdown(signal, status, Arc::clone(&term))?;
        flag::register(signal, Arc::clone(&term))?;
    }
    *slot = Some(Arc::clone(&term));
    Ok(term)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    /// The signal is raised in the unit-test process, whose other tests
    /// never read the flag.
    #[test]
    fn termination_flag_is_set_by_sigterm() {
        let flag = termination_flag().unwrap();
        assert!(!flag.load(Ordering::SeqCst));
        // The handler runs before raise returns, on this thread.
        signal_hook::low_level::raise(SIGTERM).unwrap();
        assert!(flag.load(Ordering::SeqCst));
        let again = termination_flag().unwrap();
        assert!(Arc::ptr_eq(&flag, &again), "one flag for the process");
    }
}
