//! The partial-line decoder, through `connspy --merge` as a user runs it:
//! arbitrary bytes read as partial lines must never panic, and what they
//! make connspy allocate must stay bounded (run with `-malloc_limit_mb`, see
//! docs/reliability.md): a line of a few bytes may not ask for gigabytes.
//!
//! A line whose checksum or settings digest is wrong is refused before its
//! body is read, and mutated bytes almost never keep them right; so for half
//! the inputs (the first byte says which) every line gets the digest of its
//! settings field and a correct `crc=` before it is merged, and the fuzzer
//! reaches the body decoders.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};

use clap::Parser as _;
use connspy::cli::Args;
use connspy::config::Config;
use libfuzzer_sys::fuzz_target;

#[path = "memfd.rs"]
mod memfd;
use memfd::{fd_path, memfd};

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

/// The settings digest the format prescribes: FNV-1a (64 bits) of the
/// PARAMS field, as 16 lowercase hex digits (docs/partial.md).
fn digest(params: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in params {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Each line of `data` with its digest and checksum made right: fields are
/// KEY, FORMAT, DIGEST, PARAMS, body..., and a last `crc=` field is replaced.
fn repaired(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    for line in data.split(|&b| b == b'\n') {
        let mut fields: Vec<Vec<u8>> = line.split(|&b| b == b'\t').map(<[u8]>::to_vec).collect();
        if fields.last().is_some_and(|f| f.starts_with(b"crc=")) && fields.len() > 1 {
            fields.pop();
        }
        if fields.len() >= 4 {
            fields[2] = digest(&fields[3]).into_bytes();
        }
        let start = out.len();
        out.extend_from_slice(&fields.join(&b'\t'));
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(format!("\tcrc={crc:08x}\n").as_bytes());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [flags, rest @ ..] = data else { return };
    let input = if flags & 1 == 1 {
        repaired(rest)
    } else {
        rest.to_vec()
    };
    let format = ["text", "json", "tsv", "partial"][usize::from(flags >> 1 & 3)];
    let file = memfd(&input);
    let path = fd_path(&file);
    let args = Args::try_parse_from([
        "connspy".as_ref(),
        "--merge".as_ref(),
        "--format".as_ref(),
        format.as_ref(),
        path.as_os_str(),
    ])
    .expect("a valid command line");
    let config = Config::from_args(args).expect("a valid merge configuration");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    // An error is a fine answer to bad bytes; a panic or an unbounded
    // allocation is not.
    let _ = connspy::run::run(&config, &mut out, &mut err);
});
