//! Surviving a mapped file that shrinks under the scan.
//!
//! Reading a page of a mapping past the end of a file that was truncated
//! (`truncate`, `: > log`, `cp small.log big.log`, logrotate's copytruncate)
//! raises SIGBUS, whose default action kills the process mid-output. Every
//! mapped input registers its address range here; a SIGBUS handler that finds
//! the faulting address in a registered range maps anonymous zero pages over
//! the rest of that range (so the faulting read, and every later one, sees
//! zeros instead of faulting again) and flags the range as lost. The input
//! layer checks the flag and ends the run with an error naming the file
//! instead of printing answers for bytes that were never read. A fault at any
//! other address is passed on to the handler that was there before (or the
//! default action: the process dies of SIGBUS as it would have).
//!
//! Why this and not `pread`: mapping keeps the seek's binary search and the
//! workers' zero-copy chunks as they are, and costs nothing until a file
//! actually shrinks (see the commit that introduced it for the measurement).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Mapped inputs that can be guarded at once; beyond this a mapping is read
/// unguarded (and a truncation kills the process, as before).
const SLOTS: usize = 4096;

struct Slot {
    /// 0 when free; set last when registering, cleared first when leaving.
    start: AtomicUsize,
    len: AtomicUsize,
    lost: AtomicBool,
    claimed: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    lost: AtomicBool::new(false),
    claimed: AtomicBool::new(false),
};

static REGISTRY: [Slot; SLOTS] = [FREE; SLOTS];
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The disposition before ours, written once before ours is installed.
static mut PREVIOUS: Option<libc::sigaction> = None;

/// A mapping registered with the SIGBUS handler; unregisters when dropped,
/// which must happen before the mapping is unmapped.
pub(crate) struct Guard {
    slot: &'static Slot,
}

impl Guard {
    /// Registers the mapped bytes `map`. `None` when the handler cannot be
    /// installed or every slot is taken: the mapping is then unguarded.
    pub fn new(map: &[u8]) -> Option<Guard> {
        INSTALL.call_once(install);
        if !INSTALLED.load(Ordering::Acquire) || map.is_empty() {
            return None;
        }
        let slot = REGISTRY.iter().find(|s| {
            s.claimed
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        slot.lost.store(false, Ordering::Relaxed);
        slot.len.store(map.len(), Ordering::Release);
        slot.start.store(map.as_ptr() as usize, Ordering::Release);
        Some(Guard { slot })
    }

    /// Whether a read past the file's end was caught: part of the mapping
    /// now reads as zeros instead of the file.
    pub fn lost(&self) -> bool {
        self.slot.lost.load(Ordering::Acquire)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.slot.start.store(0, Ordering::Release);
        self.slot.len.store(0, Ordering::Release);
        self.slot.claimed.store(false, Ordering::Release);
    }
}

fn install() {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if let Ok(page) = usize::try_from(page) {
        if page.is_power_of_two() {
            PAGE_SIZE.store(page, Ordering::Relaxed);
        }
    }
    // SAFETY: a zeroed sigaction is a valid value; PREVIOUS is written here
    // once, before the handler that reads it can run.
    unsafe {
        let mut ours: libc::sigaction = std::mem::zeroed();
        ours.sa_sigaction = on_sigbus as *const () as usize;
        ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut ours.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
            return;
        }
        PREVIOUS = Some(previous);
        if libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut()) == 0 {
            INSTALLED.store(true, Ordering::Release);
        }
    }
}

/// The handler: only atomics and `mmap`/`sigaction` system calls.
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for slot in &REGISTRY {
        let start = slot.start.load(Ordering::Acquire);
        if start == 0 {
            continue;
        }
        let len = slot.len.load(Ordering::Acquire);
        if addr < start || addr >= start + len {
            continue;
        }
        let from = addr & !(page - 1);
        let to = (start + len).div_ceil(page) * page;
        // SAFETY: [from, to) lies within a live mapping that this process
        // registered; replacing it with zero pages changes what reads there
        // see, never memory outside it.
        let zeros = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                to - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            slot.lost.store(true, Ordering::Release);
            return;
        }
        break;
    }
    // Not a registered mapping: whatever was there before ours decides.
    // SAFETY: PREVIOUS was written before this handler was installed.
    unsafe {
        let previous = (*std::ptr::addr_of!(PREVIOUS)).as_ref();
        match previous {
            Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
                if p.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(p.sa_sigaction);
                    f(sig, info, context);
                } else {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(p.sa_sigaction);
                    f(sig);
                }
            }
            _ => {
                // Returning re-runs the faulting read, which now dies of
                // SIGBUS as it would have without this handler.
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &default, std::ptr::null_mut());
            }
        }
    }
}
