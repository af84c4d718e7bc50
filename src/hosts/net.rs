//! IP networks: `--from_net`, `--to_net`, and a `--to_host`/`--from_host`
//! that names a network. A host matches a network when it is an IP address
//! of the network's family inside it; a host that is not an address (a name,
//! an address with a zone) never matches.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv4 or IPv6 network: an address with its host bits cleared, and a
/// prefix length no wider than its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Net {
    /// IPv6 (else IPv4).
    v6: bool,
    /// The address, in the low 32 bits for IPv4.
    bits: u128,
    /// The prefix length.
    prefix: u8,
}

impl Net {
    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (`/32`,
    /// `/128`). Host bits past the prefix are cleared, as `ip route` and
    /// nfdump do.
    ///
    /// # Errors
    /// A message that quotes `text` and says what a network looks like, or
    /// by how much its prefix is too wide.
    pub fn parse(text: &str) -> Result<Net, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!(
                "'{text}' is not an IP network: give an address with an optional prefix \
                 length, such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"
            )
        })?;
        let (v6, bits, width) = match addr {
            IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (true, u128::from(a), 128),
        };
        let family = if v6 { "IPv6" } else { "IPv4" };
        let prefix = match prefix {
            None => width,
            // `u8::from_str` would take "+8", which no one writes.
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= width && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(format!(
                        "'{text}': the prefix length must be a number from 0 to {width}, \
                         the bits of an {family} address"
                    ))
                }
            },
        };
        Ok(Net {
            v6,
            bits: bits & mask(prefix, width),
            prefix,
        })
    }

    /// Whether `host` (a log's bytes) is an address of this network's
    /// family inside it. Not inlined: the per-line loop of a run without
    /// networks stays as small as it was.
    #[inline(never)]
    pub fn contains(&self, host: &[u8]) -> bool {
        parse_ip(host).is_some_and(|(v6, bits)| self.holds(v6, bits))
    }

    /// Whether the address `bits` of family `v6` is inside.
    #[inline]
    fn holds(&self, v6: bool, bits: u128) -> bool {
        v6 == self.v6 && bits & self.mask() == self.bits
    }

    fn mask(&self) -> u128 {
        mask(self.prefix, if self.v6 { 128 } else { 32 })
    }
}

impl fmt::Display for Net {
    /// The canonical form: `10.0.0.0/8`, `2001:db8::/32`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            write!(f, "{}/{}", Ipv6Addr::from(self.bits), self.prefix)
        } else {
            write!(f, "{}/{}", Ipv4Addr::from(self.bits as u32), self.prefix)
        }
    }
}

/// The top `prefix` of `width` bits set.
fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        (u128::MAX >> (128 - u32::from(width))) & !((1u128 << (width - prefix)) - 1)
    }
}

/// `host` as an address: (IPv6, bits), or `None` when it is not one, as
/// the standard library reads addresses (a property test holds the two
/// together), but on the bytes and without allocating: a filter that rejects
/// most lines must cost less than counting them.
#[inline]
pub(crate) fn parse_ip(host: &[u8]) -> Option<(bool, u128)> {
    let v6 = is_v6_form(host);
    parse_as(host, v6).map(|bits| (v6, bits))
}

/// Whether `host` can only be an IPv6 address, if an address at all.
#[inline]
fn is_v6_form(host: &[u8]) -> bool {
    // Every IPv6 address has a colon within its first five bytes (a group
    // is at most four digits): looking no further spares a long host a
    // search, and a host with a colon later is no address either way.
    host.iter().take(5).any(|&b| b == b':')
}

/// `host` read as an address of the family `v6` says.
#[inline]
fn parse_as(host: &[u8], v6: bool) -> Option<u128> {
    if v6 {
        parse_v6(host)
    } else {
        parse_v4(host).map(u128::from)
    }
}

/// A dotted quad: four decimal octets of at most 255, without leading
/// zeros.
#[inline]
fn parse_v4(host: &[u8]) -> Option<u32> {
    if host.len() < 7 || host.len() > 15 {
        return None;
    }
    let (mut addr, mut octet, mut digits, mut dots) = (0u32, 0u32, 0u32, 0u32);
    for &b in host {
        match b {
            b'0'..=b'9' => {
                // A leading zero is only the octet "0" itself.
                if digits == 1 && octet == 0 {
                    return None;
                }
                octet = octet * 10 + u32::from(b - b'0');
                digits += 1;
                if octet > 255 {
                    return None;
                }
            }
            b'.' if digits > 0 && dots < 3 => {
                addr = addr << 8 | octet;
                (octet, digits, dots) = (0, 0, dots + 1);
            }
            _ => return None,
        }
    }
    (dots == 3 && digits > 0).then_some(addr << 8 | octet)
}

/// An IPv6 address: eight groups of one to four hex digits, one `::` for a
/// run of zero groups, and perhaps a dotted quad in place of the last two.
fn parse_v6(host: &[u8]) -> Option<u128> {
    if host.len() < 2 || host.len() > 45 {
        return None;
    }
    let mut groups = [0u16; 8];
    let (mut n, mut gap) = (0usize, None);
    let mut i = 0;
    if host.starts_with(b"::") {
        gap = Some(0);
        i = 2;
        if i == host.len() {
            return Some(0);
        }
    } else if host[0] == b':' {
        return None;
    }
    loop {
        // A group, or the dotted quad that ends an address.
        let start = i;
        let mut value = 0u32;
        while i < host.len() && i - start < 5 {
            match (host[i] as char).to_digit(16) {
                Some(d) => value = value << 4 | d,
                None => break,
            }
            i += 1;
        }
        if i < host.len() && host[i] == b'.' {
            if n > 6 {
                return None;
            }
            let v4 = parse_v4(&host[start..])?;
            groups[n] = (v4 >> 16) as u16;
            groups[n + 1] = v4 as u16;
            n += 2;
            break;
        }
        if i == start || i - start > 4 || n == 8 {
            return None;
        }
        groups[n] = value as u16;
        n += 1;
        if i == host.len() {
            break;
        }
        if host[i] != b':' {
            return None;
        }
        i += 1;
        if i < host.len() && host[i] == b':' {
            if gap.is_some() {
                return None;
            }
            gap = Some(n);
            i += 1;
            if i == host.len() {
                break;
            }
        } else if i == host.len() {
            return None;
        }
    }
    match gap {
        None if n == 8 => {}
        // "::" stands for at least one zero group.
        Some(at) if n < 8 => {
            let tail = n - at;
            groups.copy_within(at..n, 8 - tail);
            groups[at..8 - tail].fill(0);
        }
        _ => return None,
    }
    Some(groups.iter().fold(0u128, |a, &g| a << 16 | u128::from(g)))
}

/// The networks of one repeatable flag: a host passes when it is in any.
/// Kept sorted and without repeats, so that one set of networks has one
/// form in a partial's settings however it was typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nets {
    nets: Vec<Net>,
    /// For each IPv4 network, the text every address inside it starts with.
    leads: Vec<Lead>,
}

/// The whole octets of an IPv4 network's prefix as an address inside it
/// writes them (`10.0.` for `10.0.0.0/16`; at most three, each with its
/// dot). Octets are written without leading zeros, so a host that does not
/// start so is not in the network, and most hosts a filter rejects are
/// told by a compare instead of a parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lead {
    text: [u8; 12],
    len: usize,
}

impl Lead {
    fn of(net: &Net) -> Lead {
        let octets = (net.bits as u32).to_be_bytes();
        let whole = usize::from(net.prefix / 8).min(3);
        let written: String = octets[..whole].iter().map(|o| format!("{o}.")).collect();
        let mut text = [0; 12];
        text[..written.len()].copy_from_slice(written.as_bytes());
        Lead {
            text,
            len: written.len(),
        }
    }

    #[inline]
    fn starts(&self, host: &[u8]) -> bool {
        host.get(..self.len) == Some(&self.text[..self.len])
    }
}

impl Nets {
    /// The set of `nets`.
    pub fn new(mut nets: Vec<Net>) -> Self {
        nets.sort_unstable();
        nets.dedup();
        let leads = nets.iter().filter(|n| !n.v6).map(Lead::of).collect();
        Nets { nets, leads }
    }

    /// Whether no network was given (every host passes).
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `host` is in any of the networks (not inlined, as
    /// [`Net::contains`]). A host of a family no network has is not read,
    /// nor an IPv4 host that starts as no network's address does.
    #[inline(never)]
    pub fn contains(&self, host: &[u8]) -> bool {
        let v6 = is_v6_form(host);
        let maybe = if v6 {
            self.nets.iter().any(|n| n.v6)
        } else {
            self.leads.iter().any(|l| l.starts(host))
        };
        maybe && parse_as(host, v6).is_some_and(|bits| self.nets.iter().any(|n| n.holds(v6, bits)))
    }

    /// The networks in their canonical form, joined by `sep`.
    pub fn join(&self, sep: &str) -> String {
        self.nets
            .iter()
            .map(Net::to_string)
            .collect::<Vec<_>>()
            .join(sep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn networks_parse_to_a_canonical_form() {
        for (given, canonical) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("192.0.2.7", "192.0.2.7/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("2001:DB8::1/32", "2001:db8::/32"),
            ("::1", "::1/128"),
            ("::/0", "::/0"),
        ] {
            assert_eq!(Net::parse(given).unwrap().to_string(), canonical, "{given}");
        }
        for (bad, says) in [
            ("10.0.0.0/33", "0 to 32"),
            ("2001:db8::/129", "0 to 128"),
            ("10.0.0.0/", "0 to 32"),
            ("10.0.0.0/+8", "0 to 32"),
            ("10.0.0.0/-1", "0 to 32"),
            ("10.0.0/8", "not an IP network"),
            ("web-01", "not an IP network"),
            ("", "not an IP network"),
        ] {
            let e = Net::parse(bad).unwrap_err();
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn a_host_matches_networks_of_its_own_family_only() {
        let v4 = Net::parse("10.1.0.0/16").unwrap();
        assert!(v4.contains(b"10.1.255.3"));
        assert!(!v4.contains(b"10.2.0.1"));
        assert!(!v4.contains(b"::ffff:10.1.0.1"), "IPv4-mapped is IPv6");
        assert!(
            !v4.contains(b"10.1.0.01"),
            "leading zeros are not an address"
        );
        assert!(!v4.contains(b"web-01"));
        let v6 = Net::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(b"2001:DB8:0:1::7"));
        assert!(!v6.contains(b"2001:db9::1"));
        assert!(!v6.contains(b"10.1.0.1"));
        assert!(!v6.contains(b"fe80::1%eth0"), "a zone is not an address");
        assert!(Net::parse("0.0.0.0/0")
            .unwrap()
            .contains(b"255.255.255.255"));
        assert!(!Net::parse("0.0.0.0/0").unwrap().contains(b"::"));
        let all = Nets::new(vec![v6, v4, v4]);
        assert_eq!(all.join("+"), "10.1.0.0/16+2001:db8::/32");
        assert!(all.contains(b"10.1.0.1") && all.contains(b"2001:db8::"));
        assert!(!all.contains(b"192.0.2.1"));
    }

    /// The standard library's reading of `text`.
    fn std_ip(text: &str) -> Option<(bool, u128)> {
        match text.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => Some((false, u128::from(u32::from(a)))),
            IpAddr::V6(a) => Some((true, u128::from(a))),
        }
    }

    #[test]
    fn reads_the_forms_of_ipv6() {
        for text in [
            "::",
            "::1",
            "1::",
            "2001:db8::",
            "2001:db8::1:0:0:1",
            "1:2:3:4:5:6:7:8",
            "::ffff:10.0.0.1",
            "64:ff9b::192.0.2.33",
            "1:2:3:4:5:6:1.2.3.4",
            "::1.2.3.4",
            "FE80::0202:B3FF:FE1E:8329",
            "0:0:0:0:0:0:0:0",
        ] {
            assert_eq!(parse_ip(text.as_bytes()), std_ip(text), "{text}");
            assert!(parse_ip(text.as_bytes()).is_some(), "{text}");
        }
        for text in [
            ":",
            ":::",
            "1:::2",
            "1::2::3",
            ":1::",
            "1::2:",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "12345::",
            "1:2:3:4:5:6:7::8",
            "::1.2.3",
            "1.2.3.4::",
            "::1.2.3.4:5",
            "g::",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::01.2.3.4",
            "fe80::1%eth0",
        ] {
            assert_eq!(parse_ip(text.as_bytes()), std_ip(text), "{text}");
        }
    }

    proptest! {
        /// The byte-level readers agree with the standard library on short
        /// strings of the characters addresses are made of, and on every
        /// address as the standard library writes it; and membership agrees
        /// with a comparison of the top bits.
        #[test]
        fn reads_addresses_as_the_standard_library_does(
            v4 in "[0-9.]{0,16}",
            v6 in "[0-9a-fA-F:.]{0,24}",
            any6: u128,
            addr: u32,
            other: u32,
            prefix in 0u8..=32,
        ) {
            prop_assert_eq!(parse_ip(v4.as_bytes()), std_ip(&v4));
            prop_assert_eq!(parse_ip(v6.as_bytes()), std_ip(&v6));
            let written = Ipv6Addr::from(any6).to_string();
            prop_assert_eq!(parse_ip(written.as_bytes()), Some((true, any6)));
            let net = Net::parse(&format!("{}/{prefix}", Ipv4Addr::from(addr))).unwrap();
            let host = Ipv4Addr::from(other).to_string();
            let same = prefix == 0 || (addr ^ other) >> (32 - u32::from(prefix)) == 0;
            prop_assert_eq!(net.contains(host.as_bytes()), same);
            // A set of networks holds what any of them holds, on addresses
            // and on strings that are not.
            let around = |bits: u8| Net::parse(&format!("{}/{bits}", Ipv4Addr::from(other))).unwrap();
            let nets = [net, around(prefix / 2), around(32 - prefix / 4)];
            let set = Nets::new(nets.to_vec());
            let longer = format!("{host}9");
            let zero = format!("0{host}");
            for text in [&host, &longer, &zero, &v4, &v6] {
                prop_assert_eq!(
                    set.contains(text.as_bytes()),
                    nets.iter().any(|n| n.contains(text.as_bytes())),
                    "{}", text
                );
            }
        }
    }
}
