//! Case folding: hosts are stored and compared with their ASCII letters
//! lowercased, eight bytes at a time.

use std::io::Write as _;

use crate::hash::load_upto16;

/// The most bytes of a host approximate mode keeps (DNS names have at most
/// 253): what a sketch holds per host, and the cost of merging one, do not
/// grow with what a log puts in a field.
pub(crate) const MAX_SKETCH_HOST: usize = 256;

/// `host` folded as [`fold_case_into`] folds it, as approximate mode keeps
/// it: a host longer than [`MAX_SKETCH_HOST`] bytes becomes its first bytes
/// (cut at a character boundary), `…`, and the 16 hexadecimal digits of
/// FNV-1a over the whole folded host, [`MAX_SKETCH_HOST`] bytes at most.
#[inline]
pub(crate) fn sketch_form<'b>(host: &[u8], buf: &'b mut Vec<u8>) -> &'b [u8] {
    fold_case_into(host, buf);
    if buf.len() > MAX_SKETCH_HOST {
        abbreviate(buf);
    }
    buf
}

#[cold]
fn abbreviate(buf: &mut Vec<u8>) {
    let hash = crate::hash::fnv1a(buf);
    let mut cut = MAX_SKETCH_HOST - "…".len() - 16;
    while cut > 0 && buf[cut] & 0xc0 == 0x80 {
        cut -= 1;
    }
    buf.truncate(cut);
    let _ = write!(buf, "…{hash:016x}");
}

/// `host`, of at most 16 bytes, folded as [`sketch_form`] folds it, in a
/// buffer on the stack: most hosts are this short, and they skip the copy
/// into a vector.
#[inline(always)]
pub(crate) fn fold_short<'b>(host: &[u8], buf: &'b mut [u8; 16]) -> &'b [u8] {
    debug_assert!(host.len() <= 16);
    let (a, b) = load_upto16(host);
    buf[..8].copy_from_slice(&fold_word(a).to_le_bytes());
    buf[8..].copy_from_slice(&fold_word(b).to_le_bytes());
    &buf[..host.len()]
}

/// A byte of ones in every lane.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every lane.
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` below `n`, and perhaps of bytes above
/// one (a borrow only runs upward), so the lowest flag is exact: enough to
/// say "none here" or to find the first, eight bytes at a time. Every
/// whitespace byte of a log is below 0x21; a zero byte is below 1.
#[inline(always)]
pub(crate) fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

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

/// Whether `host` is `folded` (a host [`fold_case_into`] folded) in any
/// ASCII case: `host.eq_ignore_ascii_case(folded)`, eight bytes at a time,
/// where the standard library folds both sides a byte at a time (a
/// `--to_host`/`--from_host` query compares every counted line's host).
#[inline(always)]
pub(crate) fn eq_folded(host: &[u8], folded: &[u8]) -> bool {
    if host.len() != folded.len() {
        return false;
    }
    let (mut a, mut b) = (host.chunks_exact(8), folded.chunks_exact(8));
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().expect("eight bytes"));
    (&mut a)
        .zip(&mut b)
        .all(|(x, y)| fold_word(word(x)) == word(y))
        && {
            let (x, y) = (a.remainder(), b.remainder());
            fold_word(crate::hash::load_upto8(x)) == crate::hash::load_upto8(y)
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_hosts_are_abbreviated_to_a_fixed_form() {
        let mut buf = Vec::new();
        let short = "Web-01.Example.COM".as_bytes();
        assert_eq!(sketch_form(short, &mut buf), b"web-01.example.com");
        let at_limit = vec![b'a'; MAX_SKETCH_HOST];
        assert_eq!(sketch_form(&at_limit, &mut buf), &at_limit[..]);
        // Case folded first: two spellings of a long host are one host.
        let long = format!("{}Z", "é".repeat(200));
        let kept = sketch_form(long.as_bytes(), &mut buf).to_vec();
        assert_eq!(sketch_form(long.to_lowercase().as_bytes(), &mut buf), kept);
        let kept = String::from_utf8(kept).expect("cut at a character boundary");
        assert!(kept.len() <= MAX_SKETCH_HOST, "{}", kept.len());
        let (head, hash) = kept.rsplit_once('…').unwrap();
        assert!(long.starts_with(head) && hash.len() == 16, "{kept}");
        let other = format!("{}Y", "é".repeat(200));
        assert_ne!(sketch_form(other.as_bytes(), &mut buf), kept.as_bytes());
    }

    #[test]
    fn short_hosts_fold_on_the_stack_as_in_a_vector() {
        let (mut buf, mut short) = (Vec::new(), [0u8; 16]);
        for n in 0..=16 {
            let host: Vec<u8> = (0..n)
                .map(|i| [b'Q', b'z', 0xc3, b'@', b'[', b'Z', b'0', 0x80][i % 8])
                .collect();
            assert_eq!(fold_short(&host, &mut short), sketch_form(&host, &mut buf));
            assert!(short[n..].iter().all(|&b| b == 0), "padding of {n} bytes");
        }
    }

    proptest::proptest! {
        /// A host equals a folded host exactly when the standard library
        /// says they are equal in any ASCII case, at every length.
        #[test]
        fn folded_compare_is_eq_ignore_ascii_case(
            host in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b'A', b'z', b'Z', b'@', b'[', b'`', b'{', 0xc3, 0xe1, 0xc1, b'0']),
                0..40,
            ),
            other in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b'A', b'z', b'Z', b'@', b'[', b'`', b'{', 0xc3, 0xe1, 0xc1, b'0']),
                0..40,
            ),
            flips in proptest::collection::vec(proptest::bool::ANY, 40),
        ) {
            let mut buf = Vec::new();
            // The same host in another case, and an unrelated one.
            let recased: Vec<u8> = host
                .iter()
                .zip(&flips)
                .map(|(&b, &f)| if f { b.to_ascii_uppercase() } else { b })
                .collect();
            for wanted in [&recased, &other] {
                let folded = fold_case_into(wanted, &mut buf).to_vec();
                proptest::prop_assert_eq!(
                    eq_folded(&host, &folded),
                    host.eq_ignore_ascii_case(wanted)
                );
            }
        }
    }

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
