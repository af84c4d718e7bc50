//! Hosts as table keys: case folded, inline up to 15 bytes, in an arena
//! beyond.

use crate::hash::{folded_multiply, load_upto16};
use crate::hosts::fold::fold_word;

pub(super) const SEED0: u64 = 0x243f_6a88_85a3_08d3;
pub(super) const SEED1: u64 = 0x1319_8a2e_0370_7344;

/// The longest host stored inline.
pub(super) const INLINE_MAX: usize = 15;
/// Byte 15 of a key: the inline length (0 to 15), or this for an arena key.
pub(super) const LONG: u8 = 0xff;

/// A case-folded host as a table key.
///
/// Inline: the bytes, zero padded, with the length in byte 15. Long: the arena
/// offset in bytes 0..8, 56 bits of the hash in bytes 8..15, [`LONG`] in byte 15.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Key(pub(super) [u8; 16]);

impl Key {
    #[inline(always)]
    pub(super) fn from_words(w0: u64, w1: u64) -> Key {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&w0.to_le_bytes());
        k[8..].copy_from_slice(&w1.to_le_bytes());
        Key(k)
    }

    #[inline(always)]
    pub(super) fn words(&self) -> (u64, u64) {
        let (a, b) = self.0.split_at(8);
        (
            u64::from_le_bytes(a.try_into().expect("eight bytes")),
            u64::from_le_bytes(b.try_into().expect("eight bytes")),
        )
    }

    #[inline(always)]
    pub(super) fn is_long(&self) -> bool {
        self.0[15] == LONG
    }

    /// The hash the table files this key under.
    #[inline(always)]
    pub(super) fn table_hash(&self) -> u64 {
        let (w0, w1) = self.words();
        if self.is_long() {
            // Only the 56 stored bits are known without the arena; mixing them
            // again spreads them over all 64 bits, which hashbrown needs.
            folded_multiply(w1 & 0x00ff_ffff_ffff_ffff, SEED1)
        } else {
            folded_multiply(w0 ^ SEED0, w1 ^ SEED1)
        }
    }

    /// The host's case-folded bytes.
    pub(super) fn bytes<'a>(&'a self, arena: &'a [u8]) -> &'a [u8] {
        if self.is_long() {
            let (off, _) = self.words();
            key_at(arena, off)
        } else {
            &self.0[..usize::from(self.0[15])]
        }
    }
}

/// The inline key of a host of at most [`INLINE_MAX`] bytes, case folded.
#[inline(always)]
pub(super) fn inline_key(host: &[u8]) -> Key {
    let n = host.len();
    let (w0, w1) = load_upto16(host);
    Key::from_words(fold_word(w0), fold_word(w1) | ((n as u64) << 56))
}

pub(super) fn push_key(arena: &mut Vec<u8>, key: &[u8]) {
    let mut len = key.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            arena.push(byte);
            break;
        }
        arena.push(byte | 0x80);
    }
    arena.extend_from_slice(key);
}

pub(super) fn key_at(arena: &[u8], off: u64) -> &[u8] {
    let mut pos = off as usize;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let byte = arena[pos];
        pos += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    &arena[pos..pos + len]
}
