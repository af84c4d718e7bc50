//! SIGTERM sets tail mode's termination flag. Its own test binary: the
//! signal is raised in the test process, where it must not reach tests of
//! anything else.

use std::sync::atomic::Ordering;
use std::sync::Arc;

#[test]
fn termination_flag_is_set_by_sigterm() {
    let flag = connspy::signals::termination_flag().unwrap();
    assert!(!flag.load(Ordering::SeqCst));
    // The handler runs before raise returns, on this thread.
    signal_hook::low_level::raise(signal_hook::consts::SIGTERM).unwrap();
    assert!(flag.load(Ordering::SeqCst));
    let again = connspy::signals::termination_flag().unwrap();
    assert!(Arc::ptr_eq(&flag, &again), "one flag for the process");
}
