//! Shared by the partial targets: what makes a partial line pass its checks
//! before its body is read (docs/partial.md).

// Each target includes this module and uses only its own part of it.
#![allow(dead_code)]

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
