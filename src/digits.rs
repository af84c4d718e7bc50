//! ASCII decimal digits eight at a time: one word load, a check and three
//! multiplies, where a byte loop costs a dependent multiply-add and a
//! branch a digit. Timestamps and byte counts are read this way on every
//! line.

/// Whether all eight bytes of `x` are ASCII digits.
#[inline(always)]
pub(crate) fn all_digits(x: u64) -> bool {
    const LOW_NIBBLES: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    // Digits are 0x30..=0x39: high nibble 3, and adding 6 must not carry out.
    (x & !LOW_NIBBLES) == 0x3030_3030_3030_3030
        && ((x.wrapping_add(0x0606_0606_0606_0606)) & !LOW_NIBBLES) == 0x3030_3030_3030_3030
}

/// The value of eight ASCII digits loaded little-endian (first digit lowest).
#[inline(always)]
pub(crate) fn eight_digits(x: u64) -> u64 {
    let x = x & 0x0f0f_0f0f_0f0f_0f0f;
    let x = (x * 10 + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
    let x = (x * 100 + (x >> 16)) & 0x0000_ffff_0000_ffff;
    (x * 10_000 + (x >> 32)) & 0xffff_ffff
}

/// The value of one to eight digits, `None` when a byte is not one.
#[inline(always)]
fn up_to_eight(text: &[u8]) -> Option<u64> {
    let n = text.len();
    debug_assert!((1..=8).contains(&n));
    // The bytes, first lowest, in a word (zero above them).
    let word = crate::hash::load_upto8(text);
    // Moved to the word's top, with `0` digits before it, which leave the
    // value as it is.
    let pad = 8 * (8 - n) as u32;
    let zeros = 0x3030_3030_3030_3030u64.checked_shr(64 - pad).unwrap_or(0);
    let word = word.checked_shl(pad).unwrap_or(0) | zeros;
    all_digits(word).then(|| eight_digits(word))
}

/// A count as a log writes it: decimal digits that fit in 64 bits; `None`
/// for anything else (no sign, no space, not empty).
#[inline(always)]
pub(crate) fn count(text: &[u8]) -> Option<u64> {
    match text.len() {
        1..=8 => up_to_eight(text),
        9..=16 => {
            let (high, low) = text.split_at(text.len() - 8);
            Some(up_to_eight(high)? * 100_000_000 + up_to_eight(low)?)
        }
        // Past 16 digits a value may not fit: one digit at a time, checked.
        17..=20 => text.iter().try_fold(0u64, |n, &b| {
            let digit = b.wrapping_sub(b'0');
            (digit <= 9).then_some(())?;
            n.checked_mul(10)?.checked_add(u64::from(digit))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the standard library reads, for one to twenty digits only
    /// (more is no count a log writes, even with leading zeros).
    fn plain(text: &[u8]) -> Option<u64> {
        if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(text).ok()?.parse().ok()
    }

    proptest! {
        /// Any string of digits and near misses, of every length to 22, reads
        /// as the standard library reads it.
        #[test]
        fn counts_read_as_the_standard_library_does(
            text in prop::collection::vec(
                prop_oneof![
                    20 => prop::sample::select(b"0123456789".to_vec()),
                    1 => prop::sample::select(b"/:+- .\x00\xb0a".to_vec()),
                ],
                0..22,
            ),
            n: u64,
        ) {
            prop_assert_eq!(count(&text), plain(&text));
            let written = n.to_string();
            prop_assert_eq!(count(written.as_bytes()), Some(n));
        }
    }

    #[test]
    fn counts_at_the_edges() {
        assert_eq!(count(b"0"), Some(0));
        assert_eq!(count(b"00000000000000000007"), Some(7));
        assert_eq!(count(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(count(b"18446744073709551616"), None);
        assert_eq!(count(b"184467440737095516150"), None);
        assert_eq!(count(b""), None);
        assert_eq!(count(b"12 4"), None);
    }
}
