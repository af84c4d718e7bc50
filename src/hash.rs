//! Hashing short byte strings: word loads without a loop and the folded
//! multiply that mixes them.
//!
//! Hosts are short (most fit in 16 bytes), and a general-purpose hasher
//! behind the `Hasher` trait costs a call and a length prefix per line. For
//! two words, one or two folded multiplies are the whole hash, as in foldhash
//! and wyhash.

/// The 128-bit product of `x` and `y`, folded to 64 bits.
#[inline(always)]
pub(crate) fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x) * u128::from(y);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Up to eight bytes as a little-endian word, zero padded, without a loop.
#[inline(always)]
pub(crate) fn load_upto8(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u64::from(u32::from_le_bytes(b[..4].try_into().expect("four bytes")));
        let hi = u64::from(u32::from_le_bytes(
            b[n - 4..].try_into().expect("four bytes"),
        ));
        lo | (hi << (8 * (n - 4)))
    } else if n > 0 {
        u64::from(b[0])
            | (u64::from(b[n / 2]) << (8 * (n / 2)))
            | (u64::from(b[n - 1]) << (8 * (n - 1)))
    } else {
        0
    }
}

/// Up to sixteen bytes as two little-endian words, zero padded.
#[inline(always)]
pub(crate) fn load_upto16(b: &[u8]) -> (u64, u64) {
    if b.len() > 8 {
        (
            u64::from_le_bytes(b[..8].try_into().expect("eight bytes")),
            load_upto8(&b[8..]),
        )
    } else {
        (load_upto8(b), 0)
    }
}

/// FNV-1a (64 bits) of `bytes`: slow, but fixed and documented, so that
/// what it names (a partial's settings, an abbreviated host) is the same on
/// every machine and build.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_match_a_padded_copy() {
        let bytes: Vec<u8> = (1..=16).collect();
        for n in 0..=16 {
            let mut padded = [0u8; 16];
            padded[..n].copy_from_slice(&bytes[..n]);
            let expect = (
                u64::from_le_bytes(padded[..8].try_into().unwrap()),
                u64::from_le_bytes(padded[8..].try_into().unwrap()),
            );
            assert_eq!(load_upto16(&bytes[..n]), expect, "{n}");
        }
    }
}
