//! The HyperLogLog decoder on arbitrary bytes (partials come from other
//! machines): `Hll::from_bytes` never panics, and whatever it accepts
//! re-encodes canonically, reads back the same, estimates and merges.
#![no_main]

use connspy::sketch::Hll;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Hll::from_bytes(data) {
        let bytes = h.to_bytes();
        let back = Hll::from_bytes(&bytes).expect("a canonical image reads back");
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.estimate(), h.estimate());
        let mut twice = h.clone();
        twice.merge(&back);
        assert_eq!(
            twice.to_bytes(),
            bytes,
            "a union with itself changes nothing"
        );
    }
});
