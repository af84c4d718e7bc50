//! The address reader behind `--from_net`, `--to_net` and a network as
//! `--to_host` on arbitrary log bytes: it never panics, and a host is in the
//! whole IPv4 (IPv6) space exactly when the standard library reads it as an
//! IPv4 (IPv6) address. `Net::parse` on arbitrary text never panics, and a
//! network it accepts holds its own address.
#![no_main]

use std::net::IpAddr;

use connspy::hosts::net::Net;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let all_v4 = Net::parse("0.0.0.0/0").unwrap();
    let all_v6 = Net::parse("::/0").unwrap();
    let std = std::str::from_utf8(data).ok().and_then(|s| s.parse::<IpAddr>().ok());
    assert_eq!(all_v4.contains(data), matches!(std, Some(IpAddr::V4(_))), "{data:?}");
    assert_eq!(all_v6.contains(data), matches!(std, Some(IpAddr::V6(_))), "{data:?}");
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(net) = Net::parse(text) {
            let addr = text.split_once('/').map_or(text, |(a, _)| a);
            assert!(net.contains(addr.as_bytes()), "{text}");
        }
    }
});
