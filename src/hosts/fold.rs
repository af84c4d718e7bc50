//! Case folding: hosts are stored and compared with their ASCII letters
//! lowercased, eight bytes at a time.

/// A byte of ones in every lane.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every lane.
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Lowercases ASCII letters into `buf`, leaving other bytes as they are: the
/// normal form in which hosts are stored and compared. Eight bytes at a time.
#[inline]
pub(crate) fn fold_case_into<'b>(host: &[u8], buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.clear();
    let mut words = host.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().expect("eight bytes"));
        buf.extend_from_slice(&fold_word(x).to_le_bytes());
    }
    buf.extend(words.remainder().iter().map(u8::to_ascii_lowercase));
    buf
}

/// ASCII letters of each byte of `x` lowercased, other bytes kept.
#[inline(always)]
pub(crate) fn fold_word(x: u64) -> u64 {
    let ascii = !x & HIGHS;
    let low7 = x & !HIGHS;
    let at_least_a = low7 + ONES * (0x80 - u64::from(b'A'));
    let above_z = low7 + ONES * (0x80 - u64::from(b'Z') - 1);
    x | ((ascii & at_least_a & !above_z) >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_folding_is_ascii_only() {
        let mut buf = Vec::new();
        for n in 0..40 {
            let host: Vec<u8> = (0..n)
                .map(|i| [b'A', b'z', 0xc3, b'@', b'[', b'Z', b'0'][i % 7])
                .collect();
            assert_eq!(
                fold_case_into(&host, &mut buf),
                host.to_ascii_lowercase().as_slice()
            );
        }
        assert_eq!(
            fold_case_into("WEB-01.Ünal".as_bytes(), &mut buf),
            "web-01.Ünal".as_bytes()
        );
    }
}
