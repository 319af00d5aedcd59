//! The layout of the generated rank table, shared by the build script (which writes it) and
//! the library (which reads it): the hash of a token's bytes and the size of the slot array.

/// The slot array has `1 << SLOT_BITS` entries: about 2.6 per token of o200k_base (200k), so
/// linear probes stay short.
pub(crate) const SLOT_BITS: u32 = 19;

/// FNV-1a (64-bit) of a token's bytes: the slot it starts probing at is its low `SLOT_BITS`.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
