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

use libfuzzer_sys::fuzz_target;

#[path = "bounded.rs"]
mod bounded;
#[path = "sealed.rs"]
mod sealed;
use sealed::{merge, seal};

/// Each line of `data` with its digest and checksum made right: fields are
/// KEY, FORMAT, DIGEST, PARAMS, body..., and a last `crc=` field is replaced.
fn repaired(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    for line in data.split(|&b| b == b'\n') {
        let mut fields: Vec<Vec<u8>> = line.split(|&b| b == b'\t').map(<[u8]>::to_vec).collect();
        if fields.last().is_some_and(|f| f.starts_with(b"crc=")) && fields.len() > 1 {
            fields.pop();
        }
        out.extend_from_slice(&seal(fields));
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
    merge(&input, format);
});
