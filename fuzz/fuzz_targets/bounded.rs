//! Shared by the partial targets: a global allocator that aborts (a crash
//! libFuzzer records, with its input) on any single allocation above
//! [`ALLOCATION_LIMIT`], so that `-s none` builds check the bound too
//! (libFuzzer's own `-malloc_limit_mb` needs a sanitizer).

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation an input may cause: far above what any
/// input of `-max_len` bytes needs, far below what a length field read
/// unchecked would ask for.
const ALLOCATION_LIMIT: usize = 512 << 20;

/// The system allocator, aborting (a crash libFuzzer records, with its
/// input) on an allocation above [`ALLOCATION_LIMIT`].
struct Bounded;

impl Bounded {
    fn check(size: usize) {
        if size > ALLOCATION_LIMIT {
            // No formatting: that would allocate inside the allocator.
            let msg = b"partial fuzz target: an allocation above the limit\n";
            // SAFETY: writing a static buffer to stderr.
            unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
            std::process::abort();
        }
    }
}

// SAFETY: every call is passed on to `System` unchanged, after a check that
// does not allocate.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Bounded = Bounded;

