//! Shared by the partial targets: what makes a partial line pass its checks
//! before its body is read (docs/partial.md), and `connspy --merge` run on
//! the lines as a user runs it.

// Each target includes this module and uses only its own part of it.
#![allow(dead_code)]

use clap::Parser as _;
use connspy::cli::Args;
use connspy::config::Config;

#[path = "memfd.rs"]
mod memfd;
use memfd::{fd_path, memfd};

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

/// One line, newline included: the fields joined by tabs, the digest of
/// the settings (`fields[3]`) put in `fields[2]`, and a correct `crc=` last.
pub fn seal(mut fields: Vec<Vec<u8>>) -> Vec<u8> {
    if fields.len() >= 4 {
        fields[2] = digest(&fields[3]).into_bytes();
    }
    let mut line = fields.join(&b'\t');
    let crc = crc32fast::hash(&line);
    line.extend_from_slice(format!("\tcrc={crc:08x}\n").as_bytes());
    line
}

/// `connspy --merge --format FORMAT` over `input`, in this process. An error
/// is a fine answer to bad bytes; a panic, a hang or an allocation past the
/// harness's bound is not.
pub fn merge(input: &[u8], format: &str) {
    let file = memfd(input);
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
    let _ = connspy::run::run(&config, &mut out, &mut err);
}
